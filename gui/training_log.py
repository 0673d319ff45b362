"""The Training log tab: loss curves (left axis) and the learning rate (right axis, its own scale)
against the step, beside the logged rows as a table. Fed a core.training_log.TrainingLog."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QStackedWidget,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.training_log import TrainingLog
from gui.colors import series_color

if TYPE_CHECKING:
    import pyqtgraph as pg


class TrainingLogView(QWidget):
    def __init__(self, table: QTableWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.log: TrainingLog | None = None
        self._waiting = False  # a log set while the tab was out of sight, not drawn yet
        # the plot (and pyqtgraph) is made with the first log to draw, not with the window
        self.plot_widget: pg.PlotWidget | None = None
        self.plot: pg.PlotItem | None = None
        self.curves: dict[str, pg.PlotDataItem] = {}
        # the key above the plot, not a legend over the curves of a plot this small
        self.title = QLabel(" ")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        # the plot gets the whole tab (it is small); the logged rows are a click away
        self.table_button = QToolButton()
        self.table_button.setText("&Table")
        self.table_button.setCheckable(True)
        self.table_button.setToolTip("Show the logged rows as a table instead of the plot")
        self.table_button.toggled.connect(self._show_table)
        self.stack = QStackedWidget()
        self.stack.addWidget(QWidget())  # the plot's place until there is something to plot
        self.stack.addWidget(table)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 1)
        top.addWidget(self.table_button, 0, Qt.AlignmentFlag.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.stack, 1)

    def _ensure_plot(self) -> None:
        if self.plot_widget is not None:
            return
        import pyqtgraph as pg

        from gui.plot_axes import NumberAxis
        from gui.theme import plot_colours

        plot_colours()
        self.axes = {side: NumberAxis(side) for side in ("left", "bottom", "right")}
        self.plot_widget = pg.PlotWidget(axisItems=self.axes)
        self.plot_widget.setMinimumHeight(120)
        palette = self.plot_widget.palette()
        self.plot_widget.setBackground(palette.color(QPalette.ColorRole.Base))
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setMenuEnabled(False)
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.showAxis("right")
        self.plot.setLabel("bottom", "step")
        # the learning rate on its own scale: a second view box tied to the right axis
        self.rate_box = pg.ViewBox()
        self.plot.scene().addItem(self.rate_box)
        self.plot.getAxis("right").linkToView(self.rate_box)
        self.rate_box.setXLink(self.plot)
        self.plot.vb.sigResized.connect(self._fit_rate_box)
        text = palette.color(QPalette.ColorRole.Text)
        for axis in self.axes.values():
            axis.setPen(pg.mkPen(text))
            axis.setTextPen(pg.mkPen(text))
        placeholder = self.stack.widget(0)
        self.stack.insertWidget(0, self.plot_widget)
        self.stack.removeWidget(placeholder)
        placeholder.deleteLater()
        self.stack.setCurrentIndex(1 if self.table_button.isChecked() else 0)

    def _show_table(self, on: bool) -> None:
        self.stack.setCurrentIndex(1 if on else 0)

    def _fit_rate_box(self) -> None:
        self.rate_box.setGeometry(self.plot.vb.sceneBoundingRect())
        self.rate_box.linkedViewChanged(self.plot.vb, self.rate_box.XAxis)

    def curve_names(self) -> list[str]:
        """The curves the plot shows (drawn now if they were waiting for the tab to show)."""
        self._draw_if_waiting()
        return list(self.curves)

    def set_log(self, log: TrainingLog | None) -> None:
        """Plot this log (None: nothing); drawn when the tab is in sight, so a checkpoint that
        opens with its hyperparameters in front loads no plotting library for it."""
        self.log = log
        self._waiting = True
        if self.isVisible():
            self._draw_if_waiting()

    def showEvent(self, event) -> None:  # noqa: N802 — Qt's name
        super().showEvent(event)
        self._draw_if_waiting()

    def _draw_if_waiting(self) -> None:
        if self._waiting:
            self._waiting = False
            self._draw(self.log)

    def _draw(self, log: TrainingLog | None) -> None:
        for curve in self.curves.values():
            (self.rate_box if curve.getViewBox() is self.rate_box else self.plot).removeItem(curve)
        self.curves = {}
        if log is None or not log.series:
            self.title.setText(" ")
            return
        self._ensure_plot()
        import pyqtgraph as pg

        losses, rates = log.losses, log.learning_rates
        self.plot.setLabel("bottom", log.x_name)
        self.plot.setLabel("left", "loss" if losses else "")
        self.plot.setLabel("right", "learning rate" if rates else "")
        shown = losses or [n for n in log.series if n not in rates][:3]  # no loss: other metrics
        for i, name in enumerate(shown + rates):
            xs, ys = log.series[name]
            rate = name in rates
            pen = pg.mkPen(
                series_color(i),
                width=1.6,
                style=Qt.PenStyle.DashLine if rate else Qt.PenStyle.SolidLine,
            )
            curve = pg.PlotDataItem(
                xs,
                ys,
                pen=pen,
                symbol="o" if len(xs) < 40 else None,
                symbolSize=4,
                symbolBrush=series_color(i),
                symbolPen=None,
            )
            (self.rate_box if rate else self.plot).addItem(curve)
            self.curves[name] = curve
        self.plot.enableAutoRange()
        self.rate_box.enableAutoRange()
        self._fit_rate_box()
        keys = " &nbsp;".join(
            f"<span style='color:{series_color(i).name()}'>{'┄' if n in rates else '━'}</span> "
            f"{html.escape(n)}{' (right)' if n in rates else ''}"
            for i, n in enumerate(shown + rates)
        )
        others = [n for n in log.series if n not in shown and n not in rates]
        more = f"also logged: {', '.join(others[:6])}{' …' if len(others) > 6 else ''}"
        source = f"from {html.escape(log.source)}" + (
            f" · {html.escape(log.note)}" if log.note else ""
        )
        self.title.setText(keys + "<br>" + source + (f" · {html.escape(more)}" if others else ""))
