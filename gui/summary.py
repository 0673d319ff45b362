"""The summary above a checkpoint's layer tree: what is in the file, at a glance.

Parameters with their split into weights, biases, norm scales, embeddings, quantisation metadata
(scales and zero points) and buffers (a stacked bar in the category colours), bytes as stored, memory at common precisions and for Adam training,
files, metadata and warnings. Every number is short on screen and exact in its tooltip.
"""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QUrl, Signal
from PySide6.QtGui import QPainter, QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from core import units
from core.model import CATEGORIES, Checkpoint
from gui.colors import ALERT, category_color

MEMORY_LABELS = (
    ("fp32", "fp32"),
    ("bf16", "bf16"),
    ("fp16", "fp16"),
    ("int8", "int8"),
    ("int4", "int4"),
    ("adam_training", "Adam training"),
)
MAX_METADATA = 6


def _muted() -> str:
    palette = QPalette()
    return palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText).name()


def _esc(text: object) -> str:
    return html.escape(str(text))


class CategoryBar(QWidget):
    """A thin stacked bar: one segment per category, in the category's colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.parts: list[tuple[str, int]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_parts(self, parts: list[tuple[str, int]]) -> None:
        self.parts = [(c, n) for c, n in parts if n > 0]
        total = sum(n for _, n in self.parts)
        self.setToolTip(
            "\n".join(f"{c}: {units.exact(n)} ({units.percent(n, total)}%)" for c, n in self.parts)
        )
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(300, 10)

    def paintEvent(self, _event) -> None:
        total = sum(n for _, n in self.parts)
        if not total:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        x = 0.0
        width = float(self.width())
        for category, n in self.parts:
            w = width * n / total
            painter.fillRect(QRectF(x, 0, max(w, 1.0), self.height()), category_color(category))
            x += w
        painter.end()


class SummaryView(QWidget):
    """Headline, category split, memory and details of one checkpoint."""

    # a path to open in a tab of its own: an alternative copy of the model, clicked
    openRequested = Signal(str)

    def __init__(self, checkpoint: Checkpoint, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checkpoint = checkpoint
        # name shown → link target, for each alternative copy beside the opened file
        self.alternative_links: dict[str, str] = {}
        self.headline = QLabel()
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.headline.setFont(font)
        self.bar = CategoryBar()
        self.legend = QLabel()
        self.memory = QLabel()
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.warnings = QLabel()
        self.warnings.setWordWrap(True)
        self.alternatives = QLabel()
        self.alternatives.setWordWrap(True)
        for label in (self.headline, self.legend, self.memory, self.details, self.warnings):
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setWordWrap(True)  # a long line wraps rather than widen the window
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.alternatives.setTextFormat(Qt.TextFormat.RichText)
        self.alternatives.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        self.alternatives.setOpenExternalLinks(False)
        self.alternatives.linkActivated.connect(self._open_link)

        bar_row = QHBoxLayout()
        bar_row.setContentsMargins(0, 0, 0, 0)
        bar_row.addWidget(self.bar, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 6)
        layout.setSpacing(3)
        layout.addWidget(self.headline)
        layout.addLayout(bar_row)
        layout.addWidget(self.legend)
        layout.addWidget(self.memory)
        layout.addWidget(self.details)
        layout.addWidget(self.alternatives)
        layout.addWidget(self.warnings)
        self.refresh()

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # dark mode switched: recolour the text
            self.refresh()

    def refresh(self) -> None:
        ckpt = self.checkpoint
        totals = ckpt.totals
        muted = _muted()

        dtypes = sorted(totals.dtypes.items(), key=lambda kv: -kv[1])
        dtype_text = ", ".join(d for d, _ in dtypes[:3]) + (" …" if len(dtypes) > 3 else "")
        parts = [
            f"<b>{_esc(units.count(totals.params))}</b> parameters",
            _esc(ckpt.format),
        ]
        if dtype_text:
            parts.append(_esc(dtype_text))
        parts.append(f"{_esc(units.size(totals.param_bytes))} of weights")
        if totals.buffers:
            parts.append(f"{_esc(units.count(totals.buffers))} buffer elements")
        if totals.quant_state:
            parts.append(f"{_esc(units.count(totals.quant_state))} scale/zero-point elements")
        self.headline.setText(" · ".join(parts))
        self.headline.setToolTip(
            f"{units.exact(totals.params)} parameters in {units.exact(totals.tensors)} tensors\n"
            f"{units.exact(totals.param_bytes)} bytes of parameters as stored\n"
            f"{units.exact(totals.nbytes)} bytes of tensors in the file(s)"
        )

        split = [(c, totals.categories.get(c, 0)) for c in CATEGORIES]
        self.bar.set_parts(split)
        whole = sum(n for _, n in split)
        legend = []
        for category, n in split:
            if not n:
                continue
            color = category_color(category).name()
            legend.append(
                f"<span style='color:{color}'>■</span> {_esc(category)} "
                f"<b>{_esc(units.count(n))}</b> <span style='color:{muted}'>"
                f"{_esc(units.percent(n, whole))}%</span>"
            )
        self.legend.setText("&nbsp;&nbsp; ".join(legend) or "no parameters")
        self.legend.setToolTip(self.bar.toolTip())

        memory = ckpt.memory
        cells = [
            f"{_esc(label)} <b>{_esc(units.size(memory[key]))}</b>"
            for key, label in MEMORY_LABELS
            if key in memory
        ]
        self.memory.setText(f"<span style='color:{muted}'>memory</span>&nbsp; " + " · ".join(cells))
        self.memory.setToolTip(
            "Bytes of the parameters at each precision (weights only, no activations).\n"
            "Adam training: weights, gradients and two moments in fp32, 16 bytes per parameter.\n"
            + "\n".join(
                f"{label}: {units.exact(memory[key])} bytes"
                for key, label in MEMORY_LABELS
                if key in memory
            )
        )

        self.details.setText(" &nbsp;·&nbsp; ".join(self._detail_parts(muted)))
        self.details.setToolTip("\n".join(str(f) for f in ckpt.files))

        self._show_alternatives(muted)

        if ckpt.warnings:
            shown = ckpt.warnings[:3]
            more = len(ckpt.warnings) - len(shown)
            text = "<br>".join(f"⚠ {_esc(w)}" for w in shown)
            if more:
                text += f"<br>… and {more} more (see tooltip)"
            self.warnings.setText(f"<span style='color:{ALERT}'>{text}</span>")
            self.warnings.setToolTip("\n".join(ckpt.warnings))
            self.warnings.show()
        else:
            self.warnings.hide()

    def _show_alternatives(self, muted: str) -> None:
        """The other copies of the model beside the opened file, each a link to its own tab."""
        files = self.checkpoint.alternatives
        self.alternative_links = {}
        for file in files:
            try:
                shown = file.relative_to(self.checkpoint.path.parent).as_posix()
            except ValueError:
                shown = file.name
            self.alternative_links[shown] = QUrl.fromLocalFile(str(file)).toString()
        if not files:
            self.alternatives.hide()
            return
        links = ", ".join(
            f"<a href='{_esc(url)}'>{_esc(shown)}</a>"
            for shown, url in self.alternative_links.items()
        )
        self.alternatives.setText(
            f"<span style='color:{muted}'>also in the folder</span> {links} "
            f"<span style='color:{muted}'>(other copies of this model: click to open)</span>"
        )
        self.alternatives.setToolTip("\n".join(str(f) for f in files))
        self.alternatives.show()

    def _open_link(self, url: str) -> None:
        self.openRequested.emit(QUrl(url).toLocalFile())

    def _detail_parts(self, muted: str) -> list[str]:
        ckpt = self.checkpoint
        totals = ckpt.totals

        def label(text: str) -> str:
            return f"<span style='color:{muted}'>{text}</span>"

        files = ckpt.files
        file_text = (
            _esc(files[0].name)
            if len(files) == 1
            else f"{len(files)} files ({_esc(files[0].name)} …)"
        )
        parts = [f"{label('file')} {file_text}", f"{label('tensors')} {totals.tensors:,}"]
        parts.append(f"{label('stored')} {_esc(units.size(totals.nbytes))}")
        if totals.optimizer_state:
            parts.append(f"{label('optimizer state')} {_esc(units.count(totals.optimizer_state))}")
        if totals.copies:
            parts.append(f"{label('EMA copies')} {_esc(units.count(totals.copies))}")
        if totals.training_state:
            parts.append(f"{label('training state')} {_esc(units.count(totals.training_state))}")
        if totals.tied:
            noun = "tensor" if totals.tied == 1 else "tensors"
            parts.append(f"{label('tied')} {_esc(units.exact(totals.tied))} {noun} counted once")
        for key, value in list(ckpt.facts.items())[:MAX_METADATA]:
            parts.append(f"{label(_esc(key))} {_esc(_short(value))}")
        shown = 0
        said = {str(v) for v in ckpt.facts.values()}
        for key, value in ckpt.metadata.items():
            if shown >= MAX_METADATA or key in ckpt.facts or _repeats(value, said):
                continue
            parts.append(f"{label(_esc(key))} {_esc(_short(value))}")
            shown += 1
        return parts


def _repeats(value: object, said: set[str]) -> bool:
    """Whether a metadata entry only restates a fact already on the line (ONNX `ir_version` beside
    "IR 14", GGUF `general.architecture` beside "architecture llama")."""
    if isinstance(value, dict):
        return bool(value) and all(str(v) in said for v in value.values())
    return str(value) in said


def _short(value: object, limit: int = 60) -> str:
    if isinstance(value, str) and value.isdigit() and len(value) > 4:
        value = int(value)  # a byte count or size: readable with separators
    return units.human(value, limit)
