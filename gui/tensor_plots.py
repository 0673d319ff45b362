"""The Distribution panel: histograms, overlays, depth plots and heatmaps of tensors (pyqtgraph).

`DistributionPanel.set_checkpoint(checkpoint)` then `show_selection(paths)` with tensor names or
module paths from the tree: one path draws its histogram beside an exact statistics table; several
overlay their histograms over one shared range, with a legend. A quantised weight with a scale
beside it (int8 + `weight_scale`, …) gets a stored / effective choice: its effective values,
(stored − zero point) × scale, by default (`core.effective`), or the integers as stored. The Depth tab follows the selected
name across numbered blocks (`layers.*.mlp.down_proj.weight`); the Heatmap tab shows a 2-D tensor
reduced to screen size by a stated rule. Numbers come from `core.stats` in background jobs; a newer
selection cancels the older job, and the window never waits.
"""

from __future__ import annotations

import csv
import html
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import effective, stats, units
from core.model import Checkpoint
from gui import read_guard
from gui.colors import ALERT, category_color, series_color
from gui.elided_label import ElidedLabel
from gui.plot_axes import number_axes, plain_numbers
from gui.plot_export import DEFAULT_SIZE, FILTERS, SizeDialog, export_plot
from gui.plot_layout import arrange_plot_and_table, fit_columns
from gui.prefetch import HIST_BINS  # the default, shared with the prefetch
from gui.workers import Job

RANGE_MODES = ("min – max", "mean ± 4σ", "custom")
VALUE_MODES = ("effective", "stored")  # for a quantised weight with a scale

# --- jobs ------------------------------------------------------------------------------------------


class _Runner(QObject):
    """One background job at a time for a view: a newer request cancels the older one."""

    busy = Signal(bool)
    progress = Signal(int, int)
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._job: Job | None = None
        self._jobs: list[Job] = []  # kept alive until they end: their signals must outlive them

    @property
    def running(self) -> bool:
        return self._job is not None

    def run(self, fn: Callable[[Any, Any], Any]) -> Job:
        self.cancel()
        job = Job(fn)
        job.signals.finished.connect(self._finished)
        job.signals.progress.connect(self._progress)
        job.signals.failed.connect(self._failed)
        job.signals.cancelled.connect(self._cancelled)
        self._jobs = [j for j in self._jobs if not j.is_done()] + [job]
        self._job = job
        self.busy.emit(True)
        job.start()
        return job

    def cancel(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self._job = None
            self.busy.emit(False)

    def wait(self, timeout: float = 30.0) -> None:
        """For tests and shutdown: block until every job has ended."""
        for job in self._jobs:
            job.wait(timeout)

    def _current(self) -> bool:
        return self._job is not None and self.sender() is self._job.signals

    def _finished(self, result: object) -> None:
        if self._current():
            self._job = None
            self.busy.emit(False)
            self.done.emit(result)

    def _progress(self, done: int, total: int) -> None:
        if self._current():
            self.progress.emit(done, total)

    def _failed(self, message: str) -> None:
        if self._current():
            self._job = None
            self.busy.emit(False)
            self.failed.emit(message)

    def _cancelled(self) -> None:
        pass  # a newer request already took over


def _scaled(progress: Callable[[int, int], None], index: int, count: int):
    """Progress of the index-th of `count` steps, as one bar from 0 to 1000."""

    def report(done: int, total: int) -> None:
        share = done / total if total else 1.0
        progress(int(1000 * (index + share) / count), 1000)

    return report


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write through a temporary file beside `path`, then replace it in one step."""
    temporary = path.with_name(f".{path.stem}.partial{path.suffix}")
    try:
        write(temporary)
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def _number(value: float | None) -> str:
    return units.number(value)


def _plot_widget() -> pg.PlotWidget:
    """A PlotWidget drawn in the window palette's colours, so it suits light and dark themes."""
    widget = pg.PlotWidget(axisItems=number_axes(), enableMenu=False)  # no menus: made for none
    palette = widget.palette()
    text = palette.color(QPalette.ColorRole.Text)
    widget.setBackground(palette.color(QPalette.ColorRole.Base))
    plot = widget.getPlotItem()
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setPen(pg.mkPen(text))
        axis.setTextPen(pg.mkPen(text))
    plot.titleLabel.opts["color"] = text
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(False)
    return widget


def _show_axes(plot: pg.PlotItem, shown: bool) -> None:
    """An empty plot shows no axes: the last selection's ranges would read as this one's."""
    for side in ("left", "bottom"):
        plot.showAxis(side, shown)


def _hover_label() -> QLabel:
    # one line that shortens itself: a long reading must not widen the dock or the window
    return ElidedLabel(" ")


# --- histogram -------------------------------------------------------------------------------------


_TABLE_ROWS: tuple[tuple[str, str], ...] = (
    ("dtype", "element type as stored"),
    ("shape", "tensor shape, or how many tensors a module holds"),
    ("elements", "number of values"),
    ("min", "smallest finite value"),
    ("max", "largest finite value"),
    ("mean", "mean of the finite values"),
    ("std", "population standard deviation (ddof = 0) of the finite values"),
    ("mean |x|", "mean absolute value of the finite values"),
    ("L2 norm", "square root of the sum of squares of the finite values (Frobenius norm)"),
    ("zeros", "values exactly zero, and their share"),
    ("NaN", "values that are not a number"),
    ("Inf", "values that are ±infinity"),
    ("median", "50th percentile (exact, as numpy.percentile computes it)"),
    ("1% – 99%", "1st and 99th percentiles (exact, as numpy.percentile computes them)"),
    ("outside range", "finite values beyond the histogram's chosen range"),
    ("flags", "health warnings; hover for what each means"),
)


def _table_cells(s: stats.TensorStats) -> list[tuple[str, str]]:
    """(text, tooltip) per _TABLE_ROWS row; tooltips hold the exact values."""
    shape = "×".join(map(str, s.shape)) or "scalar" if s.tensors == 1 else f"{s.tensors} tensors"
    share = f" ({s.zeros / s.numel:.1%})" if s.numel else ""
    p = s.percentiles or {}
    shape_tip = str(s.shape)
    if s.skipped:  # a module's tensors whose data could not be read: said, not silently dropped
        shape = f"{s.tensors} tensors, {len(s.skipped)} unreadable"
        names = "\n".join(s.skipped[:20]) + ("\n…" if len(s.skipped) > 20 else "")
        shape_tip = f"not included (their data cannot be read):\n{names}"
    return [
        (s.dtype, s.dtype),
        (shape, shape_tip),
        (units.count(s.numel), units.exact(s.numel)),
        (_number(s.min), repr(s.min)),
        (_number(s.max), repr(s.max)),
        (_number(s.mean), repr(s.mean)),
        (_number(s.std), repr(s.std)),
        (_number(s.abs_mean), repr(s.abs_mean)),
        (_number(s.l2), repr(s.l2)),
        (units.count(s.zeros) + share, units.exact(s.zeros)),
        (units.count(s.nan), units.exact(s.nan)),
        (units.count(s.inf), units.exact(s.inf)),
        (_number(p.get(50.0)), repr(p.get(50.0))),
        (
            f"{_number(p.get(1.0))} – {_number(p.get(99.0))}" if p else "–",
            f"{p.get(1.0)!r} – {p.get(99.0)!r}",
        ),
        (units.count(s.outside), units.exact(s.outside)),
        (", ".join(s.flags) or "none", "\n".join(s.flag_meanings()) or "nothing looks wrong"),
    ]


# what a module's histogram takes together
KIND_CHOICES: dict[str, tuple[str, ...]] = {
    "all": ("weight", "bias", "other"),
    "weights": ("weight",),
    "biases": ("bias",),
    "other": ("other",),
}


class HistogramView(QWidget):
    """Histogram(s) with style, scale, bins and range controls, and the statistics table."""

    request = Signal()  # the controls changed what must be computed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.results: list[stats.TensorStats] = []
        self.categories: list[str] = []
        self.curves: list[pg.PlotDataItem] = []

        self.style_box = QComboBox()
        self.style_box.addItems(["step", "filled"])
        self.style_box.setToolTip("Draw the histogram as an outline or filled")
        self.log_box = QCheckBox("&log counts")
        self.log_box.setToolTip(
            "Counts on a logarithmic scale (an empty bin at 0): rare values in the tails show"
        )
        self.bins_box = QSpinBox()
        self.bins_box.setRange(4, 4096)
        self.bins_box.setValue(HIST_BINS)
        self.bins_box.setPrefix("bins ")
        self.bins_box.setKeyboardTracking(False)
        self.scheme: effective.Scheme | None = None  # the selected tensor's scales, if any
        self.values_box = QComboBox()
        self.values_box.addItems(VALUE_MODES)
        self.values_box.setToolTip(
            "A quantised weight: its effective values, (stored − zero point) × scale, "
            "or the integers as stored"
        )
        self.values_box.hide()
        self.kinds_box = QComboBox()
        self.kinds_box.addItems(list(KIND_CHOICES))
        self.kinds_box.setToolTip(
            "For a module: which of its parameters to take together — all, its weights (norm "
            "scales included), its biases, or the other parameters"
        )
        self.kinds_box.hide()
        self.range_box = QComboBox()
        self.range_box.addItems(RANGE_MODES)
        self.range_box.setToolTip("The span the bins cover; values beyond it are counted apart")
        self.low_edit = QLineEdit()
        self.high_edit = QLineEdit()
        for edit, text in ((self.low_edit, "from"), (self.high_edit, "to")):
            edit.setPlaceholderText(text)
            edit.setMaximumWidth(90)
            edit.setEnabled(False)
            edit.editingFinished.connect(self._custom_range_changed)

        controls = QHBoxLayout()
        for widget in (
            self.values_box,
            self.kinds_box,
            self.style_box,
            self.log_box,
            self.bins_box,
            self.range_box,
        ):
            controls.addWidget(widget)
        controls.addWidget(self.low_edit)
        controls.addWidget(self.high_edit)
        controls.addStretch(1)

        self.plot_widget = _plot_widget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setLabel("bottom", "value")
        self.legend = self.plot.addLegend(offset=(-10, 10))
        self.legend.setLabelTextColor(self.palette().color(QPalette.ColorRole.Text))
        self.marker = pg.InfiniteLine(
            angle=90, movable=False, pen=pg.mkPen((128, 128, 128), width=1)
        )
        self.plot.addItem(self.marker, ignoreBounds=True)
        self.marker.hide()
        self.hover = _hover_label()
        self.plot_widget.scene().sigMouseMoved.connect(self._mouse_moved)

        self.table = QTableWidget(len(_TABLE_ROWS), 0)
        self.table.setVerticalHeaderLabels([name for name, _ in _TABLE_ROWS])
        for row, (_, meaning) in enumerate(_TABLE_ROWS):
            self.table.verticalHeaderItem(row).setToolTip(meaning)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        # sized by fit_columns: values in full, long tensor names elided in the middle
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumWidth(160)  # a wider minimum would widen the dock for good
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.plot_widget, 1)
        left_layout.addWidget(self.hover)
        splitter = QSplitter()
        splitter.addWidget(left)
        splitter.addWidget(self.table)
        splitter.setStretchFactor(0, 1)  # room beyond the table's columns goes to the plot
        splitter.setStretchFactor(1, 0)
        splitter.setSizes([700, 300])
        self.splitter = splitter
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(splitter, 1)

        self.style_box.currentIndexChanged.connect(self.redraw)
        self.log_box.toggled.connect(self.redraw)
        self.bins_box.valueChanged.connect(lambda _: self.request.emit())
        self.range_box.currentIndexChanged.connect(self._range_mode_changed)
        self.values_box.currentIndexChanged.connect(lambda _: self.request.emit())
        self.kinds_box.currentIndexChanged.connect(lambda _: self.request.emit())

    # what to compute

    @property
    def bins(self) -> int:
        return self.bins_box.value()

    def set_scheme(self, scheme: effective.Scheme | None) -> None:
        """The selected tensor's scaling (None: not a scaled weight); the choice starts at
        effective when the scales can be applied, and stays disabled, with the reason, if not."""
        self.scheme = scheme
        self.values_box.blockSignals(True)
        self.values_box.setCurrentText("effective" if scheme and scheme.supported else "stored")
        self.values_box.blockSignals(False)
        self.values_box.setVisible(scheme is not None)
        self.values_box.setEnabled(scheme is not None and scheme.supported)
        if scheme is not None:
            self.values_box.setToolTip(
                f"effective: {scheme.describe()}; stored: the {scheme.weight.dtype} values"
                if scheme.supported
                else f"stored {scheme.weight.dtype} values only: {scheme.problem}"
            )

    @property
    def effective(self) -> bool:
        """Whether the histogram shows effective values (of a scaled weight) right now."""
        return (
            self.scheme is not None
            and self.scheme.supported
            and self.values_box.currentText() == "effective"
        )

    def set_module_selected(self, selected: bool) -> None:
        """Offer the choice of parameter kinds while a module (not a tensor) is shown."""
        self.kinds_box.setVisible(selected)

    @property
    def kinds(self) -> tuple[str, ...]:
        return KIND_CHOICES[self.kinds_box.currentText()]

    def values_title(self) -> str:
        """What the title says about the values shown: "" for an ordinary tensor."""
        if self.kinds_box.isVisibleTo(self) and self.kinds_box.currentIndex() > 0:
            return f"{self.kinds_box.currentText()} only"
        if self.scheme is None:
            return ""
        if self.effective:
            return f"effective values: {self.scheme.describe()}"
        return f"stored {self.scheme.weight.dtype} values"

    def custom_range(self) -> tuple[float, float] | None:
        try:
            low, high = float(self.low_edit.text()), float(self.high_edit.text())
        except ValueError:
            return None
        return (low, high) if math.isfinite(low) and math.isfinite(high) and low < high else None

    def compute(self, checkpoint: Checkpoint, paths: Sequence[str]):
        """The job function for the current controls."""
        bins, mode, custom = self.bins, self.range_box.currentText(), self.custom_range()
        scheme = self.scheme if self.effective and len(paths) == 1 else None
        kinds = self.kinds

        def one(path: str, **options: Any) -> stats.TensorStats:
            if scheme is not None:
                return effective.effective_stats(checkpoint, scheme.weight, bins, **options)
            return stats.stats_for_path(checkpoint, path, bins, kinds=kinds, **options)

        def run(progress, cancelled) -> tuple[list[stats.TensorStats], list[str]]:
            categories = [_category(checkpoint, p) for p in paths]
            tensors = [checkpoint.tensor(p) for p in paths]
            if len(paths) > 1 and all(t is not None for t in tensors):
                # Several tensors: moments of all in one parallel pass, then histograms of all
                # over the shared range in a second one.
                first = stats.many_stats(tensors, 0, _scaled(progress, 0, 2), cancelled)
                span = _shared_range(first, mode, custom)
                results = stats.many_stats(
                    tensors, bins, _scaled(progress, 1, 2), cancelled, value_range=span
                )
                return results, categories
            count = len(paths)
            steps = count * (2 if mode != "min – max" or count > 1 else 1)
            results = [
                one(p, progress=_scaled(progress, i, steps), cancelled=cancelled)
                for i, p in enumerate(paths)
            ]
            span = _shared_range(results, mode, custom)
            if span is not None and (count > 1 or mode != "min – max"):
                results = [
                    one(
                        p,
                        value_range=span,
                        progress=_scaled(progress, count + i, steps),
                        cancelled=cancelled,
                    )
                    for i, p in enumerate(paths)
                ]
            return results, categories

        return run

    def _range_mode_changed(self) -> None:
        custom = self.range_box.currentText() == "custom"
        self.low_edit.setEnabled(custom)
        self.high_edit.setEnabled(custom)
        if custom and self.results and not self.low_edit.text():
            edges = self.results[0].edges
            if len(edges):
                self.low_edit.setText(f"{edges[0]:.6g}")
                self.high_edit.setText(f"{edges[-1]:.6g}")
        if not custom or self.custom_range() is not None:
            self.request.emit()

    def _custom_range_changed(self) -> None:
        if self.custom_range() is not None:
            self.request.emit()

    # drawing

    def show_results(self, payload: tuple[list[stats.TensorStats], list[str]]) -> None:
        self.results, self.categories = payload
        self.redraw()
        self._fill_table()

    def clear(self) -> None:
        self.results, self.categories = [], []
        self.redraw()
        self._fill_table()

    def colors(self) -> list[QColor]:
        if len(self.results) == 1:
            return [category_color(self.categories[0])]
        return [series_color(i) for i in range(len(self.results))]

    def plotted_counts(self, result: stats.TensorStats) -> np.ndarray:
        counts = result.counts.astype(np.float64)
        return np.log10(counts + 1) if self.log_box.isChecked() else counts

    def redraw(self) -> None:
        for curve in self.curves:
            self.plot.removeItem(curve)
        self.curves = []
        self.legend.clear()
        filled = self.style_box.currentText() == "filled"
        log = self.log_box.isChecked()
        self.plot.setLabel("left", "count (log scale)" if log else "count")
        self.plot.getAxis("left").set_log_counts(log)
        labels = short_names([r.name for r in self.results])
        for result, color, label in zip(self.results, self.colors(), labels, strict=True):
            if not len(result.counts):
                continue
            fill = QColor(color)
            fill.setAlpha(45 if len(self.results) > 1 else 140)
            curve = pg.PlotDataItem(
                result.edges,
                self.plotted_counts(result),
                stepMode="center",
                pen=pg.mkPen(color, width=1.6),
                fillLevel=0 if filled else None,
                brush=fill if filled else None,
                name=label if len(self.results) > 1 else None,
            )
            self.plot.addItem(curve)
            self.curves.append(curve)
        self.legend.setVisible(len(self.curves) > 1)
        _show_axes(self.plot, bool(self.curves))
        self.plot.enableAutoRange()

    def _fill_table(self) -> None:
        self._fill_table_cells()
        fit_columns(self.table)
        self._arrange()

    def _fill_table_cells(self) -> None:
        self.table.setColumnCount(len(self.results))
        labels = short_names([r.name for r in self.results])
        for column, result in enumerate(self.results):
            header = QTableWidgetItem(labels[column] if len(self.results) > 1 else "value")
            header.setToolTip(result.name)
            if len(self.results) > 1:
                header.setForeground(self.colors()[column])
            self.table.setHorizontalHeaderItem(column, header)
            for row, (text, tip) in enumerate(_table_cells(result)):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if _TABLE_ROWS[row][0] == "flags" and result.flags:
                    item.setForeground(QColor(ALERT))
                self.table.setItem(row, column, item)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        """The table beside the plot when both fit, else below it: its columns stay in sight
        and the plot keeps the width (several tensors make the table wide)."""
        arrange_plot_and_table(self.splitter, self.table, self.width())

    def hover_text(self, x: float) -> str:
        """What the hover line says at value x: the bin's range and each curve's count there."""
        parts = []
        labels = short_names([r.name for r in self.results])
        for result, name in zip(self.results, labels, strict=True):
            edges = result.edges
            if not len(edges) or x < edges[0] or x > edges[-1]:
                continue
            index = min(int(np.searchsorted(edges, x, side="right")) - 1, len(result.counts) - 1)
            closing = "]" if index == len(result.counts) - 1 else ")"
            label = f"{name}: " if len(self.results) > 1 else ""
            parts.append(
                f"{label}[{_number(edges[index])}, {_number(edges[index + 1])}{closing} "
                f"{units.exact(int(result.counts[index]))}"
            )
        return "   ".join(parts) or " "

    def _mouse_moved(self, position: QPointF) -> None:
        if not self.results or not self.plot.sceneBoundingRect().contains(position):
            return
        x = self.plot.vb.mapSceneToView(position).x()
        self.marker.setPos(x)
        self.marker.show()
        self.hover.setText(self.hover_text(x))

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["name", "bin_start", "bin_end", "count"])
            for result in self.results:
                for i, count in enumerate(result.counts):
                    writer.writerow(
                        [
                            result.name,
                            repr(float(result.edges[i])),
                            repr(float(result.edges[i + 1])),
                            int(count),
                        ]
                    )


def short_names(names: Sequence[str]) -> list[str]:
    """Distinguishing parts of dotted names: `h.0`, `h.1` for `….h.0.attn.weight`, `….h.1.attn.weight`."""
    if len(names) < 2:
        return [n or "(whole model)" for n in names]
    parts = [n.split(".") for n in names]
    shortest = min(len(p) for p in parts)
    head = 0
    while head < shortest - 1 and len({p[head] for p in parts}) == 1:
        head += 1
    tail = 0
    while tail < shortest - head - 1 and len({p[-1 - tail] for p in parts}) == 1:
        tail += 1
    head = max(0, head - 1)  # keep one shared component for context (`h.0` rather than `0`)
    short = [".".join(p[head : len(p) - tail]) for p in parts]
    return short if len(set(short)) == len(short) else [n or "(whole model)" for n in names]


def _category(checkpoint: Checkpoint, path: str) -> str:
    t = checkpoint.tensor(path)
    if t is not None:
        return t.category
    node = checkpoint.tree.find(path) if path else None
    if node is not None and node.role == "norm":
        return "norm scales"
    if node is not None and node.role == "embedding":
        return "embeddings"
    return "weights"


def _shared_range(
    results: list[stats.TensorStats], mode: str, custom: tuple[float, float] | None
) -> tuple[float, float] | None:
    """One range for all curves, so overlaid histograms share their bins."""
    if mode == "custom":
        return custom
    usable = [r for r in results if r.min is not None]
    if not usable:
        return None
    if mode == "mean ± 4σ":
        low = min(r.mean - 4 * r.std for r in usable)  # type: ignore[operator]
        high = max(r.mean + 4 * r.std for r in usable)  # type: ignore[operator]
    else:
        low, high = min(r.min for r in usable), max(r.max for r in usable)  # type: ignore[type-var]
    return (low, high) if high > low else None


# --- depth -----------------------------------------------------------------------------------------


# the Depth tab's choices: the statistics, and α of the spectra (View ▸ Compute Spectra)
DEPTH_CHOICES = {**stats.DEPTH_STATISTICS, "alpha": "α (power-law fit of the spectrum)"}


class DepthView(QWidget):
    """A statistic against block index for one name pattern across repeated blocks."""

    request = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.series: stats.DepthSeries | None = None
        self.checkpoint: Checkpoint | None = None  # whose spectra give α per block
        self.category = "weights"
        self.statistic_box = QComboBox()
        for key, label in DEPTH_CHOICES.items():
            self.statistic_box.addItem(label, key)
        self.pattern_edit = QLineEdit()
        self.pattern_edit.setPlaceholderText(
            "name pattern, * = block number, e.g. layers.*.mlp.weight"
        )
        self.pattern_edit.setToolTip(
            "Tensors (or modules) whose names differ only in the block number"
        )
        self.pattern_edit.editingFinished.connect(self.request.emit)
        self.statistic_box.currentIndexChanged.connect(self.redraw)
        self.zero_box = QCheckBox("from &0")
        self.zero_box.setChecked(True)
        self.zero_box.setToolTip("Start the axis at zero, so small changes across depth look small")
        self.zero_box.toggled.connect(self.redraw)
        controls = QHBoxLayout()
        controls.addWidget(self.statistic_box)
        controls.addWidget(self.zero_box)
        controls.addWidget(self.pattern_edit, 1)
        self.plot_widget = _plot_widget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setLabel("bottom", "block")
        self.curve = pg.PlotDataItem(symbol="o", symbolSize=7)
        self.plot.addItem(self.curve)
        self.hover = _hover_label()
        self.plot_widget.scene().sigMouseMoved.connect(self._mouse_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.hover)

    @property
    def statistic(self) -> str:
        return self.statistic_box.currentData()

    def compute(self, checkpoint: Checkpoint, pattern: str):
        def run(progress, cancelled) -> stats.DepthSeries:
            return stats.depth_series(checkpoint, pattern, progress=progress, cancelled=cancelled)

        return run

    def values(self) -> np.ndarray:
        """The chosen statistic per block; α from the spectra computed for the file (a module's
        mean over its matrices), NaN where there is none."""
        assert self.series is not None
        if self.statistic != "alpha":
            return self.series.values(self.statistic)
        from gui.spectrum_line import computed_alphas

        alphas = computed_alphas(self.checkpoint)
        out = []
        for name in self.series.names:
            found = [alphas[name]] if name in alphas else []
            found = found or [a for n, a in alphas.items() if n.startswith(name + ".")]
            found = [a for a in found if a is not None and math.isfinite(a)]
            out.append(sum(found) / len(found) if found else np.nan)
        return np.array(out, dtype=float)

    def show_series(self, series: stats.DepthSeries) -> None:
        self.series = series
        self.hover.setText(" ")  # a note about an earlier selection is not about this plot
        self.redraw()

    def clear(self) -> None:
        self.series = None
        self.redraw()

    def redraw(self) -> None:
        color = category_color(self.category)
        _show_axes(self.plot, self.series is not None)
        if self.series is None:
            self.curve.setData([], [])
            self.plot.setTitle(None)
            return
        values = self.values()
        self.curve.setData(
            np.array(self.series.blocks, dtype=float),
            values,
            pen=pg.mkPen(color, width=1.6),
            symbolBrush=color,
            symbolPen=color,
        )
        blocks = len(self.series.blocks)
        self.plot.getAxis("bottom").setTickSpacing(max(1, blocks // 10), 1)
        self.plot.setLabel("left", DEPTH_CHOICES[self.statistic])
        self.plot.setTitle(self.series.pattern, size="9pt")
        self.plot.enableAutoRange()
        if self.statistic == "alpha" and not np.isfinite(values).any():
            self.hover.setText("No α yet for these blocks: View ▸ Compute Spectra")
        finite = values[np.isfinite(values)]
        if self.zero_box.isChecked() and finite.size:
            low, high = min(0.0, float(finite.min())), max(0.0, float(finite.max()))
            self.plot.setYRange(low, high if high > low else low + 1.0, padding=0.05)

    def _mouse_moved(self, position: QPointF) -> None:
        if self.series is None or not self.series.blocks:
            return
        x = self.plot.vb.mapSceneToView(position).x()
        index = int(np.argmin(np.abs(np.array(self.series.blocks) - x)))
        value = self.values()[index]
        self.hover.setText(f"{self.series.names[index]}: {DEPTH_CHOICES[self.statistic]} {value!r}")

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            keys = list(stats.DEPTH_STATISTICS)
            writer.writerow(["block", "name", *keys])
            if self.series is not None:
                for block, name, s in zip(
                    self.series.blocks, self.series.names, self.series.stats, strict=True
                ):
                    writer.writerow([block, name, *(repr(s.value(k)) for k in keys)])


# --- heatmap ---------------------------------------------------------------------------------------


class HeatmapView(QWidget):
    """A 2-D tensor (conv kernels as out × in·kh·kw) reduced to tiles, with a colour bar."""

    request = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.picture: stats.Heatmap | None = None
        self.rule_box = QComboBox()
        for key, label in stats.HEATMAP_RULES.items():
            self.rule_box.addItem(label, key)
        self.rule_box.setToolTip("How the values in each screen tile are reduced to one colour")
        self.rule_box.currentIndexChanged.connect(self.request.emit)
        self.description = ElidedLabel(" ")
        controls = QHBoxLayout()
        controls.addWidget(self.rule_box)
        controls.addWidget(self.description, 1)
        self.plot_widget = _plot_widget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=False, y=False)
        self.plot.invertY(True)
        self.plot.setAspectLocked(False)
        self.plot.setLabel("left", "row")
        self.plot.setLabel("bottom", "column")
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.color_bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False)
        self.color_bar.setImageItem(self.image, insert_in=self.plot)
        self.color_bar.hide()
        _show_axes(self.plot, False)
        plain_numbers(self.color_bar.axis)
        self.hover = _hover_label()
        self.plot_widget.scene().sigMouseMoved.connect(self._mouse_moved)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.hover)

    @property
    def rule(self) -> str:
        return self.rule_box.currentData()

    def compute(self, checkpoint: Checkpoint, name: str):
        rule = self.rule

        def run(progress, cancelled) -> stats.Heatmap:
            t = checkpoint.tensor(name)
            assert t is not None
            return stats.heatmap(t, 512, 512, rule, progress=progress, cancelled=cancelled)

        return run

    def show_heatmap(self, picture: stats.Heatmap) -> None:
        self.picture = picture
        values = picture.values
        finite = values[np.isfinite(values)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        if picture.rule == "mean":  # diverging, centred on zero
            bound = max(abs(low), abs(high)) or 1.0
            low, high = -bound, bound
            self.color_bar.setColorMap(pg.colormap.get("CET-CBD1"))
        else:
            self.color_bar.setColorMap(pg.colormap.get("viridis"))
        if high <= low:
            high = low + 1.0
        # draw tiles at tensor coordinates, so axes read rows and columns of the tensor
        self.image.setImage(values, autoLevels=False)
        self.image.setRect(0, 0, picture.cols, picture.rows)
        self.color_bar.setLevels((low, high))
        self.color_bar.show()
        _show_axes(self.plot, True)
        self.description.setText(picture.description)
        self.plot.autoRange()

    def clear(self, message: str = " ") -> None:
        self.picture = None
        self.image.clear()
        self.color_bar.hide()  # no picture: no colour scale of the last one
        _show_axes(self.plot, False)
        self.description.setText(message)

    def _mouse_moved(self, position: QPointF) -> None:
        picture = self.picture
        if picture is None:
            return
        point = self.plot.vb.mapSceneToView(position)
        row, col = int(point.y()), int(point.x())
        if not (0 <= row < picture.rows and 0 <= col < picture.cols):
            self.hover.setText(" ")
            return
        r, c = row // picture.row_step, col // picture.col_step
        rows = (
            f"rows {r * picture.row_step:,}–{min((r + 1) * picture.row_step, picture.rows) - 1:,}"
        )
        cols = (
            f"cols {c * picture.col_step:,}–{min((c + 1) * picture.col_step, picture.cols) - 1:,}"
        )
        label = stats.HEATMAP_RULES[picture.rule]
        self.hover.setText(f"{rows}, {cols}: {label} = {picture.values[r, c]!r}")

    def write_csv(self, path: Path) -> None:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["row_start", "col_start", "rows", "cols", self.rule])
            if self.picture is not None:
                p = self.picture
                for r in range(p.values.shape[0]):
                    for c in range(p.values.shape[1]):
                        writer.writerow(
                            [
                                r * p.row_step,
                                c * p.col_step,
                                p.row_step,
                                p.col_step,
                                repr(float(p.values[r, c])),
                            ]
                        )


# --- the panel -------------------------------------------------------------------------------------


def _refuse_drops(view: QWidget) -> None:
    """Plots take drops for themselves; a file dropped on them should open as anywhere else in
    the window, so they refuse them and the window gets them."""
    for scroll in view.findChildren(QAbstractScrollArea):
        scroll.setAcceptDrops(False)
        scroll.viewport().setAcceptDrops(False)


_TAB_TITLES = {
    "histogram": "&Histogram",
    "depth": "&Depth",
    "heatmap": "Heat&map",
    "spectrum": "&Spectrum",
}
_TABS = tuple(_TAB_TITLES)  # the views in their tabs' order
_LAZY_VIEWS = _TABS[1:]  # all but the histogram: made when their tab is first shown
# what each view draws a finished job's result with
_SHOW = {
    "histogram": "show_results",
    "depth": "show_series",
    "heatmap": "show_heatmap",
    "spectrum": "show_spectrum",
}


class DistributionPanel(QWidget):
    """What the numbers of the selected tensors or modules look like.

    API for the main window: `set_checkpoint(checkpoint | None)` and `show_selection(paths)`.
    `statusMessage` carries failures and short notes for the status bar.
    """

    statusMessage = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checkpoint: Checkpoint | None = None
        self.paths: list[str] = []
        self._stale = {"histogram": False, "depth": False, "heatmap": False, "spectrum": False}
        self.image_size = DEFAULT_SIZE  # of an exported plot; the last one chosen

        self.title = QLabel("Select a tensor or module in the tree to see its distribution.")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.title.setWordWrap(True)
        # a long dotted name cannot wrap: let it clip (the tooltip has it whole) rather than
        # widen the dock and push the tree's columns out of sight
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setMinimumWidth(120)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(160)
        self.progress.setFormat("scanning %p%")
        self.progress.hide()
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop reading the selected tensors (Esc)")
        self.cancel_button.setShortcut("Esc")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.stop)
        self.retry_button = QPushButton("&Retry")
        self.retry_button.setToolTip("Read the selected tensors again")
        self.retry_button.clicked.connect(self.retry)
        self.retry_button.hide()
        self.png_button = QPushButton("Image…")
        self.png_button.setToolTip("Save the current plot as PNG or SVG, at a size you choose")
        self.csv_button = QPushButton("CSV…")
        self.csv_button.setToolTip("Save the current plot's numbers as CSV")
        self.png_button.clicked.connect(self._ask_png)
        self.csv_button.clicked.connect(self._ask_csv)
        self.message = QLabel("")
        self.message.setStyleSheet(f"color: {ALERT}")
        self.message.setWordWrap(True)
        self.message.hide()
        self.read_prompt = read_guard.ReadPrompt()
        self.read_prompt.accepted.connect(self._read_accepted)
        self._allowed: set[tuple[str, tuple[str, ...]]] = set()  # (plot, paths) asked and allowed
        self._asking: dict[str, int] = {}  # plot → bytes it waits to read
        self._reading: dict[str, tuple[int, float]] = {}  # plot → (bytes, start) for throughput

        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.progress)
        header.addWidget(self.cancel_button)
        header.addWidget(self.png_button)
        header.addWidget(self.csv_button)

        self.histogram = HistogramView()  # always shown (its statistics table is always wanted)
        _refuse_drops(self.histogram)
        # the other views are made when their tab is first shown or they are asked for: each
        # holds a plot, 40 ms of the panel's start for views most selections never look at
        self._views: dict[str, QWidget] = {"histogram": self.histogram}
        self._depth_pattern = ""  # what the depth view follows, kept until it is made
        self._depth_category = ""
        self.tabs = QTabWidget()
        self.tabs.addTab(self.histogram, "&Histogram")
        for name in _LAZY_VIEWS:
            self.tabs.addTab(QWidget(), _TAB_TITLES[name])
        self.tabs.currentChanged.connect(self._tab_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(header)
        note = QHBoxLayout()
        note.addWidget(self.message, 1)
        note.addWidget(self.retry_button)
        layout.addLayout(note)
        layout.addWidget(self.read_prompt)
        layout.addWidget(self.tabs, 1)

        self._progress_delay = QTimer(self)
        self._progress_delay.setSingleShot(True)
        self._progress_delay.setInterval(150)
        self._progress_delay.timeout.connect(self._reveal_progress)
        self.histogram.values_box.currentIndexChanged.connect(lambda _: self._show_title())
        self.histogram.kinds_box.currentIndexChanged.connect(lambda _: self._show_title())
        self.runners: dict[str, _Runner] = {}
        for name in _TABS:
            runner = _Runner(self)
            runner.done.connect(lambda result, n=name: self._show_result(n, result))
            runner.done.connect(lambda _result, n=name: self._record_throughput(n))
            runner.failed.connect(self._failed)
            runner.busy.connect(self._busy_changed)
            runner.progress.connect(self._progress)
            self.runners[name] = runner
        self.histogram.request.connect(lambda: self._start("histogram"))
        self._update_buttons()

    # the views

    @property
    def depth(self) -> DepthView:
        return self._view("depth")  # type: ignore[return-value]

    @property
    def heatmap(self) -> HeatmapView:
        return self._view("heatmap")  # type: ignore[return-value]

    @property
    def spectrum(self):  # -> gui.spectrum_view.SpectrumView
        return self._view("spectrum")

    def _made(self, name: str) -> QWidget | None:
        return self._views.get(name)

    def _view(self, name: str) -> QWidget:
        """The view of a tab, made (in place of its tab's placeholder) on first use."""
        view = self._views.get(name)
        if view is not None:
            return view
        if name == "depth":
            view = DepthView()
            view.checkpoint = self.checkpoint
            view.pattern_edit.setText(self._depth_pattern)
            view.category = self._depth_category
        elif name == "heatmap":
            view = HeatmapView()
        else:
            from gui.spectrum_view import SpectrumView

            view = SpectrumView()
        self._views[name] = view
        view.request.connect(lambda n=name: self._start(n))
        _refuse_drops(view)
        index = _TABS.index(name)
        current = self.tabs.currentIndex()
        self.tabs.blockSignals(True)
        placeholder = self.tabs.widget(index)
        self.tabs.removeTab(index)
        self.tabs.insertTab(index, view, _TAB_TITLES[name])
        self.tabs.setCurrentIndex(current)
        self.tabs.blockSignals(False)
        placeholder.deleteLater()
        return view

    def _show_result(self, name: str, result: object) -> None:
        getattr(self._view(name), _SHOW[name])(result)

    # public API

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        """Show a newly opened checkpoint (or none): clears the plots and cancels running work."""
        self.cancel()
        self.checkpoint = checkpoint
        self.paths = []
        self.histogram.clear()
        self._depth_pattern = ""
        for name in _LAZY_VIEWS:
            view = self._made(name)
            if view is not None:
                view.clear()
        if self._made("depth") is not None:
            self.depth.checkpoint = checkpoint
            self.depth.pattern_edit.clear()
        self.histogram.set_scheme(None)
        self._show_message("")
        self.title.setText(
            "Select a tensor or module in the tree to see its distribution."
            if checkpoint is not None
            else "Open a checkpoint to see the distributions of its tensors."
        )
        self._update_buttons()

    def show_selection(self, paths: list[str]) -> None:
        """Plot these tensor names or module paths ("" = whole model); newer calls win."""
        if self.checkpoint is None:
            return
        paths = list(dict.fromkeys(paths))
        self.paths = paths
        self._show_message("")
        self._asking.clear()
        self.read_prompt.hide()
        if not paths:
            self.cancel()
            self.set_checkpoint(self.checkpoint)
            return
        tensor = self.checkpoint.tensor(paths[0]) if len(paths) == 1 else None
        self.histogram.set_scheme(
            effective.scheme_for(self.checkpoint, tensor) if tensor is not None else None
        )
        self.histogram.set_module_selected(any(self.checkpoint.tensor(p) is None for p in paths))
        self._show_title()
        self.title.setToolTip("\n".join(p or "(whole model)" for p in paths))
        pattern = stats.depth_pattern(paths[0], self.checkpoint) if paths[0] else None
        self._depth_pattern = pattern or ""
        self._depth_category = _category(self.checkpoint, paths[0])
        if self._made("depth") is not None:
            self.depth.pattern_edit.setText(self._depth_pattern)
            self.depth.category = self._depth_category
        self._stale = dict.fromkeys(self._stale, True)
        self._start_visible()
        self._update_buttons()

    def cancel(self) -> None:
        for runner in self.runners.values():
            runner.cancel()

    def stop(self) -> None:
        """Cancel asked for by the person: say so, and offer to read again."""
        stopped = [name for name, runner in self.runners.items() if runner.running]
        self.cancel()
        if stopped:
            for name in stopped:
                self._stale[name] = True
            self._show_message("Cancelled: the plots were not drawn.")
            self.retry_button.show()

    def retry(self) -> None:
        self._show_message("")
        self._start_visible()

    def _show_title(self) -> None:
        """The selection's names, and for a scaled weight which values the histogram shows."""
        paths = self.paths
        if not paths:
            return
        # a long dotted name may wrap after any dot instead of running off the panel's edge
        names = ", ".join(
            html.escape(p).replace(".", ".\u200b") if p else "(whole model)" for p in paths[:3]
        )
        more = f" and {len(paths) - 3} more" if len(paths) > 3 else ""
        values = self.histogram.values_title()
        values = html.escape(values)
        self.title.setText(f"<b>{names}</b>{more}" + (f" — {values}" if values else ""))

    def wait(self, timeout: float = 30.0) -> None:
        """For tests and shutdown: block until background work has ended."""
        for runner in self.runners.values():
            runner.wait(timeout)

    def export_png(self, path: str | Path) -> None:
        self.export_image(path, self.image_size)

    def export_image(self, path: str | Path, size: QSize = DEFAULT_SIZE) -> None:
        """The current plot as PNG, or SVG by the name's suffix, laid out at `size`."""
        widget = self._view(self._tab_name()).plot_widget
        _write_atomic(Path(path), lambda p: export_plot(widget, p, size))

    def export_csv(self, path: str | Path) -> None:
        _write_atomic(Path(path), self._view(self._tab_name()).write_csv)

    # work

    def _tab_name(self) -> str:
        return _TABS[self.tabs.currentIndex()]

    def _start_visible(self) -> None:
        if self._stale["histogram"]:
            self._start("histogram")  # the statistics table is always wanted
        if self._tab_name() != "histogram" and self._stale[self._tab_name()]:
            self._start(self._tab_name())

    def _tab_changed(self) -> None:
        self._view(self._tab_name())  # a tab shown for the first time: its view is made now
        if self.paths:
            self._start_visible()

    def _start(self, name: str) -> None:
        checkpoint, paths = self.checkpoint, self.paths
        if checkpoint is None or not paths:
            return
        nbytes = self._bytes_to_read(name, checkpoint, paths)
        if nbytes > read_guard.ask_above() and (name, tuple(paths)) not in self._allowed:
            self._ask_before_reading(name, nbytes)
            return
        self._reading[name] = (nbytes, time.perf_counter())
        self._stale[name] = False
        if name == "histogram":
            self.runners[name].run(self.histogram.compute(checkpoint, paths))
        elif name == "depth":
            pattern = self.depth.pattern_edit.text().strip()
            if not pattern or "*" not in pattern:
                self.runners[name].cancel()
                self.depth.clear()
                self.depth.hover.setText("This name has no numbered block to follow across depth.")
                return
            self.depth.hover.setText(" ")
            self.runners[name].run(self.depth.compute(checkpoint, pattern))
        elif name == "spectrum":
            from core.analysis.spectrum import spectrum_possible

            t = checkpoint.tensor(paths[0])
            if t is None or not spectrum_possible(t):
                self.runners[name].cancel()
                self.spectrum.clear("A spectrum needs one readable weight matrix (or conv kernel).")
                return
            self.runners[name].run(self.spectrum.compute(checkpoint, paths[0]))
        else:
            t = checkpoint.tensor(paths[0])
            if t is None or stats.matrix_shape(t) is None or t.source is None:
                self.runners[name].cancel()
                self.heatmap.clear("A heatmap needs one readable tensor of 2 or more dimensions.")
                return
            self.runners[name].run(self.heatmap.compute(checkpoint, paths[0]))

    def _bytes_to_read(self, name: str, checkpoint: Checkpoint, paths: list[str]) -> int:
        if name == "depth":
            return read_guard.depth_bytes(checkpoint, self.depth.pattern_edit.text().strip())
        if name == "heatmap":
            return read_guard.paths_bytes(checkpoint, paths[:1], ())
        return read_guard.paths_bytes(checkpoint, paths, self.histogram.kinds)

    def _ask_before_reading(self, name: str, nbytes: int) -> None:
        """Minutes of reading wait for a click (the same size rule as the health check)."""
        self.runners[name].cancel()
        view = self._made(name)
        if view is not None:
            view.clear()  # not the previous selection's plot under this one's title
        self._asking[name] = nbytes
        self.read_prompt.ask(max(self._asking.values()))

    def _read_accepted(self) -> None:
        self._allowed |= {(name, tuple(self.paths)) for name in self._asking}
        self._asking.clear()
        self.read_prompt.hide()
        self._start_visible()

    def _record_throughput(self, name: str) -> None:
        nbytes, started = self._reading.pop(name, (0, 0.0))
        if nbytes:
            read_guard.THROUGHPUT.record(nbytes, time.perf_counter() - started)

    def _busy_changed(self, _busy: bool) -> None:
        # Show the bar only for work that takes a moment: quick answers should not flicker.
        if self.busy:
            self.progress.setValue(0)
            self._progress_delay.start()
        else:
            self._progress_delay.stop()
            self.progress.hide()
            self.cancel_button.hide()

    @property
    def busy(self) -> bool:
        return any(r.running for r in self.runners.values())

    def _reveal_progress(self) -> None:
        if self.busy:
            self.progress.show()
            self.cancel_button.show()

    def _progress(self, done: int, total: int) -> None:
        self.progress.setValue(int(1000 * done / total) if total else 0)

    def _failed(self, message: str) -> None:
        self._show_message(message)
        self._stale = dict.fromkeys(self._stale, True)
        self.retry_button.show()
        self.statusMessage.emit(message)

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
        self.retry_button.hide()

    def _update_buttons(self) -> None:
        enabled = bool(self.paths)
        self.png_button.setEnabled(enabled)
        self.csv_button.setEnabled(enabled)

    def _ask_png(self) -> None:
        path, chosen = QFileDialog.getSaveFileName(
            self, "Save plot as an image", "distribution.png", FILTERS
        )
        if not path:
            return
        if Path(path).suffix.lower() not in (".png", ".svg"):
            path += ".svg" if chosen.startswith("SVG") else ".png"
        dialog = SizeDialog(self.image_size, self)
        if dialog.exec() != SizeDialog.DialogCode.Accepted:
            return
        self.image_size = dialog.chosen()
        self.export_image(path, self.image_size)

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save plot data as CSV", "distribution.csv", "CSV (*.csv)"
        )
        if path:
            self.export_csv(path)
