"""A compare tab, "A ↔ B": the pair's layer tree with Δ columns, plots for the selected row,
and the ways to open one (File ▸ Compare With…, Compare Tabs…, a Shift+drop onto a tab).

The comparison runs as a background Job (open either side if needed, then
`core.analysis.compare.compare`) with progress and Cancel in the tab. Selecting a pair shows the
A and B histograms overlaid (core.stats over a shared range, in another job), the Δ histogram by
sign and power of two, and beside them the relative change per numbered block (depth plot).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTabWidget,
    QTreeView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import units
from core.analysis.compare import Comparison, PairResult
from core.analysis.diff import delta_histogram
from core.model import Checkpoint
from gui.colors import SERIES
from gui.compare_model import NODE_ROLE, REL, SORT_ROLE, CompareModel, HeatBarDelegate
from gui.workers import Job

if TYPE_CHECKING:
    import pyqtgraph as pg

HISTOGRAM_BINS = 80


def _plot(title: str) -> pg.PlotWidget:
    import pyqtgraph as pg

    from gui.theme import plot_colours

    plot_colours()
    widget = pg.PlotWidget()
    palette = widget.palette()
    text = palette.color(QPalette.ColorRole.Text)
    widget.setBackground(palette.color(QPalette.ColorRole.Base))
    plot = widget.getPlotItem()
    for side in ("left", "bottom"):
        plot.getAxis(side).setPen(pg.mkPen(text))
        plot.getAxis(side).setTextPen(pg.mkPen(text))
    plot.setTitle(title, color=text, size="9pt")
    plot.showGrid(x=True, y=True, alpha=0.15)
    plot.setMenuEnabled(False)
    widget.setAcceptDrops(False)
    widget.viewport().setAcceptDrops(False)
    return widget


def depth_series(comparison: Comparison) -> tuple[str, list[int], list[float]]:
    """Relative change per numbered block (`layers.0` … `layers.N`) of the busiest block list."""
    blocks: dict[str, dict[int, float]] = {}
    for module in comparison.modules:
        found = re.fullmatch(r"(.*)\.(\d+)", module.path)
        if found and module.rel is not None:
            blocks.setdefault(found[1], {})[int(found[2])] = module.rel
    if not blocks:
        return "", [], []
    parent = max(blocks, key=lambda k: len(blocks[k]))
    numbers = sorted(blocks[parent])
    return parent, numbers, [blocks[parent][n] for n in numbers]


def _side_tensors(pair: PairResult, side: str) -> list:
    parts = (pair.spec.side_a if side == "a" else pair.spec.side_b).parts
    return [p.tensor for p in parts]


def pair_histograms(pair: PairResult, progress, cancelled) -> dict[str, Any]:
    """A's and B's histograms over one shared range (as stored: transforms do not apply)."""
    from core import stats

    ta, tb = _side_tensors(pair, "a"), _side_tensors(pair, "b")
    first_a = stats.group_stats(pair.spec.a, ta, 1, cancelled=cancelled)
    first_b = stats.group_stats(pair.spec.b, tb, 1, cancelled=cancelled)
    lows = [s.min for s in (first_a, first_b) if s.min is not None]
    highs = [s.max for s in (first_a, first_b) if s.max is not None]
    if not lows:
        return {}
    span = (min(lows), max(highs)) if min(lows) < max(highs) else (min(lows) - 1, max(highs) + 1)
    a = stats.group_stats(pair.spec.a, ta, HISTOGRAM_BINS, value_range=span, cancelled=cancelled)
    b = stats.group_stats(pair.spec.b, tb, HISTOGRAM_BINS, value_range=span, cancelled=cancelled)
    return {"edges": a.edges, "a": a.counts, "b": b.counts}


class CompareTab(QWidget):
    """One comparison. `finished` carries the Comparison; `failed` a message."""

    finished = Signal(object)
    failed = Signal(str)

    def __init__(
        self, a: Checkpoint | Path, b: Checkpoint | Path, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.a, self.b = a, b
        self.comparison: Comparison | None = None
        self.model: CompareModel | None = None
        self.proxy: QSortFilterProxyModel | None = None
        self.hist_job: Job | None = None
        self.state = "running"
        name_a, name_b = self.side_name(a), self.side_name(b)
        self.title = f"{name_a} ↔ {name_b}"
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 0)
        self.heading = QLabel(f"<b>A</b> {name_a} &nbsp;↔&nbsp; <b>B</b> {name_b}")
        layout.addWidget(self.heading)
        row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        row.addWidget(self.progress, 1)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.summary = QLabel("Comparing …")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.summary)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.view = QTreeView()
        self.view.setUniformRowHeights(True)
        self.view.setSortingEnabled(True)
        self.view.setAlternatingRowColors(True)
        self.view.setItemDelegateForColumn(REL, HeatBarDelegate(self.view))
        # the two merged configs side by side, only the keys whose values differ
        self.configs = QTreeWidget()
        self.configs.setHeaderLabels(["Hyperparameter", "A", "B"])
        self.configs.setRootIsDecorated(False)
        self.configs.setAlternatingRowColors(True)
        self.left = QTabWidget()
        self.left.addTab(self.view, "Tensors")
        self.left.addTab(self.configs, "Hyperparameters")
        splitter.addWidget(self.left)
        plots = QWidget()
        plots_layout = QVBoxLayout(plots)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        self.hist_plot = _plot("A and B values")
        self.hist_plot.getPlotItem().addLegend(offset=(-10, 10))
        self.delta_plot = _plot("Δ = B − A, by sign and power of two")
        self.depth_plot = _plot("relative change per block")
        for widget in (self.hist_plot, self.delta_plot, self.depth_plot):
            plots_layout.addWidget(widget, 1)
        splitter.addWidget(plots)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)
        splitter.setSizes([820, 560])
        layout.addWidget(splitter, 1)
        self.job = Job(self._run)
        self.job.signals.progress.connect(self._progress)
        self.job.signals.finished.connect(self._finished)
        self.job.signals.failed.connect(self._failed)
        self.job.signals.cancelled.connect(self._cancelled)

    @staticmethod
    def side_name(side: Checkpoint | Path) -> str:
        return side.name if isinstance(side, Checkpoint) else Path(side).name

    # --- the job ------------------------------------------------------------------------------

    def start(self) -> CompareTab:
        self.job.start()
        return self

    def cancel(self) -> None:
        self.job.cancel()
        if self.hist_job is not None:
            self.hist_job.cancel()

    @property
    def busy(self) -> bool:
        return self.state == "running"

    def _run(self, progress, cancelled) -> Comparison:
        from core.analysis.compare import compare
        from core.errors import CheckpointError
        from core.open import open_checkpoint

        sides = []
        for label, side in (("A", self.a), ("B", self.b)):
            if isinstance(side, Checkpoint):
                sides.append(side)
                continue
            try:
                sides.append(open_checkpoint(side))
            except CheckpointError as error:
                raise CheckpointError(
                    error.path, f"side {label}: {error.what}", error.hint
                ) from None
        return compare(sides[0], sides[1], progress=progress, cancelled=cancelled)

    def _progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(done)

    def _end(self, state: str) -> None:
        self.state = state
        self.progress.hide()
        self.cancel_button.hide()

    def _cancelled(self) -> None:
        self._end("cancelled")
        self.summary.setText("Cancelled.")

    def _failed(self, message: str) -> None:
        self._end("failed")
        self.summary.setText(f"Cannot compare: {message}")
        self.failed.emit(message)

    def _finished(self, comparison: Comparison) -> None:
        self._end("done")
        self.comparison = comparison
        self.a, self.b = comparison.a, comparison.b
        self.model = CompareModel(comparison, self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.view.setModel(self.proxy)
        self.view.sortByColumn(REL, Qt.SortOrder.DescendingOrder)
        header = self.view.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.view.setColumnWidth(0, 280)
        for column in range(1, self.model.columnCount()):
            self.view.resizeColumnToContents(column)
        self.view.expandToDepth(0)
        self.view.selectionModel().currentChanged.connect(self._selected)
        text = comparison.summary()
        if comparison.warnings:
            text += f" · {len(comparison.warnings)} warning{'s' * (len(comparison.warnings) > 1)}"
            self.summary.setToolTip("\n".join(comparison.warnings[:30]))
        self.summary.setText(text)
        self._show_configs(comparison.config_changes)
        self._show_depth()
        self.finished.emit(comparison)

    def _show_configs(self, changes: list[dict[str, Any]]) -> None:
        self.configs.clear()
        for change in changes:
            cells = [change["key"], _config_text(change["a"]), _config_text(change["b"])]
            item = QTreeWidgetItem(cells)
            for column in (1, 2):
                item.setToolTip(column, repr(change["a" if column == 1 else "b"]))
            if change["a"] is None or change["b"] is None:  # only on one side
                item.setForeground(1 if change["a"] is None else 2, self.palette().mid())
            self.configs.addTopLevelItem(item)
        for column in range(3):
            self.configs.resizeColumnToContents(column)
        count = len(changes)
        self.left.setTabText(
            1, f"Hyperparameters ({count:,} changed)" if count else "Hyperparameters"
        )

    # --- plots --------------------------------------------------------------------------------

    def _show_depth(self) -> None:
        import pyqtgraph as pg

        assert self.comparison is not None
        parent, numbers, rels = depth_series(self.comparison)
        plot = self.depth_plot.getPlotItem()
        plot.clear()
        if numbers:
            plot.setTitle(f"relative change per block of {parent} (%)")
            pen = pg.mkPen(SERIES[0], width=2)
            plot.plot(numbers, [r * 100 for r in rels], pen=pen, symbol="o", symbolSize=5,
                      symbolBrush=SERIES[0])  # fmt: skip

    def _selected(self, current: QModelIndex, _previous: QModelIndex) -> None:
        node = current.data(NODE_ROLE) if current.isValid() else None
        pair = node.pair if node is not None else None
        self.delta_plot.getPlotItem().clear()
        self.hist_plot.getPlotItem().clear()
        if pair is None or pair.sums is None:
            return
        self._show_delta(pair)
        if self.hist_job is not None:
            self.hist_job.cancel()
        job = Job(lambda progress, cancelled, p=pair: pair_histograms(p, progress, cancelled))
        job.signals.finished.connect(lambda result, j=job: self._histograms(j, result))
        self.hist_job = job
        job.start()

    def _show_delta(self, pair: PairResult) -> None:
        import pyqtgraph as pg

        assert pair.sums is not None
        bins = delta_histogram(pair.sums)
        plot = self.delta_plot.getPlotItem()
        if not bins:
            return
        x = np.arange(len(bins))
        heights = np.array([count for _, count in bins], float)
        colors = [SERIES[1] if low < 0 else SERIES[0] if low > 0 else "#8C8C8C" for low, _ in bins]
        plot.addItem(pg.BarGraphItem(x=x, height=heights, width=0.85, brushes=colors))
        step = max(1, len(bins) // 8)
        ticks = [(int(i), _power(bins[i][0])) for i in range(0, len(bins), step)]
        plot.getAxis("bottom").setTicks([ticks])

    def _histograms(self, job: Job, result: dict[str, Any]) -> None:
        import pyqtgraph as pg

        if job is not self.hist_job or not result:
            return
        plot = self.hist_plot.getPlotItem()
        plot.clear()
        edges = result["edges"]
        for key, label, color in (("a", "A", SERIES[0]), ("b", "B", SERIES[1])):
            plot.plot(edges, result[key], stepMode="center", pen=pg.mkPen(color, width=2),
                      name=label)  # fmt: skip

    # --- for tests and the window ------------------------------------------------------------

    def select_path(self, path: str) -> bool:
        """Select the row of a tensor or module by its dotted path (A's name)."""
        if self.model is None or self.proxy is None:
            return False
        stack = [QModelIndex()]
        while stack:
            parent = stack.pop()
            for row in range(self.proxy.rowCount(parent)):
                index = self.proxy.index(row, 0, parent)
                node = index.data(NODE_ROLE)
                if node.path == path:
                    self.view.setCurrentIndex(index)
                    return True
                stack.append(index)
        return False


def _config_text(value: Any) -> str:
    """A config value as a person reads it; a key one side lacks says so."""
    if value is None:
        return "— (not set)"
    return units.human(value) if not isinstance(value, str) else value


def _power(low: float) -> str:
    if low == 0:
        return "0"
    exponent = int(np.log2(abs(low)))
    return f"{'−' if low < 0 else '+'}2^{exponent}"


# --- the window's ways in --------------------------------------------------------------------------


def open_compare(window: Any, a: Checkpoint | Path, b: Checkpoint | Path) -> CompareTab:
    """A new compare tab in the window, started."""
    tab = CompareTab(a, b)
    index = window.tabs.addTab(tab, tab.title)
    window.tabs.setTabToolTip(index, tab.title)
    window.tabs.setCurrentIndex(index)
    window.stack.setCurrentWidget(window.tabs)
    tab.failed.connect(window.report_error)
    return tab.start()


def _loaded_tabs(window: Any) -> list[Any]:
    from gui.main_window import CheckpointTab

    tabs = (window.tabs.widget(i) for i in range(window.tabs.count()))
    return [t for t in tabs if isinstance(t, CheckpointTab) and t.checkpoint is not None]


def compare_with(window: Any) -> CompareTab | None:
    """File ▸ Compare With…: the current checkpoint (A) against a file picked now (B)."""
    current = window.current_tab()
    if current is None or current.checkpoint is None:
        return compare_tabs_dialog(window)
    path, _ = QFileDialog.getOpenFileName(
        window, f"Compare {current.checkpoint.name} with", str(current.path.parent)
    )
    if not path:
        return None
    return open_compare(window, current.checkpoint, Path(path))


class CompareDialog(QDialog):
    """Pick two open tabs: A and B."""

    def __init__(self, tabs: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Compare")
        self.tabs = tabs
        form = QFormLayout(self)
        self.first, self.second = QComboBox(), QComboBox()
        for combo in (self.first, self.second):
            for tab in tabs:
                combo.addItem(tab.checkpoint.name, str(tab.path))
        self.second.setCurrentIndex(min(1, len(tabs) - 1))
        form.addRow("A:", self.first)
        form.addRow("B:", self.second)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def chosen(self) -> tuple[Any, Any]:
        return self.tabs[self.first.currentIndex()], self.tabs[self.second.currentIndex()]


def compare_tabs_dialog(window: Any) -> CompareTab | None:
    tabs = _loaded_tabs(window)
    if len(tabs) < 2:
        window.statusBar().showMessage(
            "Open two checkpoints to compare them (or use File ▸ Compare With… on one)", 8000
        )
        return None
    dialog = CompareDialog(tabs, window)
    if dialog.exec() != QDialog.DialogCode.Accepted:
        return None
    first, second = dialog.chosen()
    return open_compare(window, first.checkpoint, second.checkpoint)


def shift_drop(window: Any, paths: list[Path], modifiers: Any) -> bool:
    """A file dropped with Shift held compares the current checkpoint with it."""
    if not modifiers & Qt.KeyboardModifier.ShiftModifier or not paths:
        return False
    current = window.current_tab()
    if current is None or current.checkpoint is None:
        return False
    open_compare(window, current.checkpoint, paths[0])
    return True


def close(window: Any, tab: QWidget) -> bool:
    """Close a compare tab (cancelling its work); False when `tab` is not one."""
    if not isinstance(tab, CompareTab):
        return False
    tab.cancel()
    window.tabs.removeTab(window.tabs.indexOf(tab))
    tab.deleteLater()
    if window.tabs.count() == 0:
        window._current_changed(-1)
    return True


def cancel_all(window: Any) -> None:
    """Stop every comparison still running (the window is closing)."""
    for index in range(window.tabs.count()):
        tab = window.tabs.widget(index)
        if isinstance(tab, CompareTab):
            tab.cancel()
