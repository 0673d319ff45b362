"""The Memory panel: will this model fit? A stacked bar of weights / KV cache / activations /
gradients / optimizer states against common GPU sizes, and one sentence saying where it fits.

All arithmetic is `core.memory_plan` (the same as `main.py memory`); this only gathers the
choices and draws the result.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core import memory_plan
from core.model import Checkpoint

GB = 1e9
PARTS = ("weights", "KV cache", "activations", "gradients", "optimizer")
COLOURS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3")
PRECISIONS = ("stored", "fp32", "bf16", "fp16", "fp8", "int8", "int4", "q8_0", "q6_k", "q4_k")
KV_PRECISIONS = ("fp16", "bf16", "fp32", "fp8", "q8_0", "q4_0")
MODES = (
    "inference",
    "full fine-tune (AdamW)",
    "full (8-bit Adam)",
    "full (SGD)",
    "full (Adafactor)",
    "LoRA",
)
_MODE_KEYS = ("", "adamw", "adamw8bit", "sgd", "adafactor", "lora")


class MemoryPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checkpoint: Checkpoint | None = None
        self.plan: memory_plan.MemoryPlan | None = None

        self.weights = _combo(PRECISIONS)
        self.kv = _combo(KV_PRECISIONS)
        self.context = QSpinBox()
        self.context.setRange(1, 10_000_000)
        self.context.setValue(8192)
        self.context.setSingleStep(1024)
        self.batch = QSpinBox()
        self.batch.setRange(1, 4096)
        self.mode = _combo(MODES)
        self.rank = QSpinBox()
        self.rank.setRange(1, 4096)
        self.rank.setValue(16)
        self.rank.setPrefix("r = ")
        self.gpus = QSpinBox()
        self.gpus.setRange(1, 4096)
        self.zero = _combo(("no ZeRO", "ZeRO-1", "ZeRO-2", "ZeRO-3"))
        self.overhead = QDoubleSpinBox()
        self.overhead.setRange(0, 1000)
        self.overhead.setSuffix(" GB")
        self.overhead.setDecimals(1)

        form = QFormLayout()
        form.addRow("Weights", self.weights)
        form.addRow("Context", self.context)
        form.addRow("Batch", self.batch)
        form.addRow("KV cache", self.kv)
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.mode, 1)
        mode_row.addWidget(self.rank)
        form.addRow("Mode", mode_row)
        gpu_row = QHBoxLayout()
        gpu_row.addWidget(self.gpus)
        gpu_row.addWidget(self.zero, 1)
        form.addRow("GPUs", gpu_row)
        form.addRow("Overhead", self.overhead)

        self.sentence = QLabel("Open a model to plan its memory.")
        self.sentence.setWordWrap(True)
        self.sentence.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QLabel("")
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "GB")
        self.plot.getAxis("bottom").setTicks([[(0, "")]])
        self.plot.setMinimumHeight(160)
        self.bars: list[pg.BarGraphItem] = []
        self.lines: list[pg.InfiniteLine] = []

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.sentence)
        layout.addWidget(self.plot, 1)
        layout.addWidget(self.details)

        for spin in (self.context, self.batch, self.rank, self.gpus):
            spin.valueChanged.connect(self.refresh)
        for combo in (self.weights, self.kv, self.mode, self.zero):
            combo.currentIndexChanged.connect(self.refresh)
        self.overhead.valueChanged.connect(self.refresh)
        self.refresh()

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        self.checkpoint = checkpoint
        self.refresh()

    def options(self) -> memory_plan.Options:
        mode = _MODE_KEYS[self.mode.currentIndex()]
        if mode == "lora":
            mode = f"lora:{self.rank.value()}"
        return memory_plan.Options(
            context=self.context.value(),
            batch=self.batch.value(),
            weights=self.weights.currentText(),
            kv=self.kv.currentText(),
            overhead_bytes=int(round(self.overhead.value() * GB)),
            train=mode,
            gpus=self.gpus.value(),
            zero=self.zero.currentIndex(),
        )

    def parts(self) -> dict[str, int]:
        """Bytes per bar segment on one GPU (training: its ZeRO share)."""
        plan = self.plan
        if plan is None:
            return {}
        if plan.training is None:
            return {
                "weights": plan.weights_bytes + plan.overhead_bytes,
                "KV cache": plan.kv_cache.bytes,
                "activations": plan.activations_bytes,
            }
        t = plan.training
        # the per-GPU figure, split in proportion when ZeRO partitions the states
        states = t.weights_bytes + t.gradients_bytes + t.optimizer_bytes
        share = (
            (t.per_gpu_bytes - t.activations_bytes - plan.overhead_bytes) / states if states else 1
        )
        return {
            "weights": int(t.weights_bytes * share) + plan.overhead_bytes,
            "activations": t.activations_bytes,
            "gradients": int(t.gradients_bytes * share),
            "optimizer": int(t.optimizer_bytes * share),
        }

    def refresh(self) -> None:
        self.rank.setEnabled(_MODE_KEYS[self.mode.currentIndex()] == "lora")
        self.zero.setEnabled(self.gpus.value() > 1)
        if self.checkpoint is None:
            self.plan = None
            self.sentence.setText("Open a model to plan its memory.")
            self.details.setText("")
            self._draw()
            return
        try:
            self.plan = memory_plan.plan(self.checkpoint, self.options())
        except ValueError as error:
            self.plan = None
            self.sentence.setText(str(error))
            self.details.setText("")
            self._draw()
            return
        self.sentence.setText(memory_plan.fits_sentence(self.plan))
        lines = [f"{name}: {n / GB:,.2f} GB" for name, n in self.parts().items() if n]
        kv = self.plan.kv_cache
        if kv.kind == "mla":
            lines.append(f"KV: {kv.layers} layers × latent {kv.head_dim} (MLA)")
        elif kv.layers or kv.sliding_layers:
            text = f"KV: {kv.layers} layers × {kv.kv_heads} KV heads × head_dim {kv.head_dim}"
            if kv.sliding_layers:
                text += f" + {kv.sliding_layers} sliding ({kv.window:,})"
            lines.append(text)
        if self.plan.training is not None:
            lines.append(f"trainable: {self.plan.training.trainable_params:,}")
        lines += self.plan.notes
        self.details.setText(" · ".join(lines))
        self._draw()

    def _draw(self) -> None:
        for item in self.bars + self.lines:
            self.plot.removeItem(item)
        self.bars, self.lines = [], []
        parts = self.parts()
        bottom = 0.0
        for name, colour in zip(PARTS, COLOURS, strict=True):
            height = parts.get(name, 0) / GB
            if height <= 0:
                continue
            bar = pg.BarGraphItem(
                x=[0], height=[height], y0=[bottom], width=0.6, brush=colour, name=name
            )
            self.plot.addItem(bar)
            self.bars.append(bar)
            bottom += height
        top = max(bottom, 8.0)
        for size in memory_plan.GPU_SIZES_GB:
            if size > top * 1.6 and self.lines:
                break
            line = pg.InfiniteLine(
                pos=size,
                angle=0,
                pen=pg.mkPen("#888", style=Qt.PenStyle.DashLine),
                label=f"{size} GB",
                labelOpts={"position": 0.9, "color": "#888"},
            )
            self.plot.addItem(line)
            self.lines.append(line)
        self.plot.setXRange(-1, 1.5, padding=0)
        self.plot.setYRange(0, max(top, self.lines[-1].value() if self.lines else top) * 1.05)


def _combo(items: tuple[str, ...]) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(items))
    return combo
