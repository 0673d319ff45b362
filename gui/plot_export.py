"""Plots saved as images at a size a person chooses, not as the sliver the dock shows.

The plot item is laid out at the chosen size for the moment of the export (its legend and axes
move with it, so nothing is clipped) and put back after. PNG comes from pyqtgraph's
ImageExporter; SVG from Qt's own generator, since pyqtgraph 0.14's SVGExporter fails on the
closed paths Qt 6.10+ writes (pyqtgraph issue 3495).
"""

from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
from pyqtgraph.exporters import ImageExporter
from PySide6.QtCore import QRect, QRectF, QSize
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QSpinBox, QWidget

DEFAULT_SIZE = QSize(1600, 1000)
FILTERS = "PNG image (*.png);;SVG drawing (*.svg)"


def export_plot(widget: pg.PlotWidget, path: Path, size: QSize = DEFAULT_SIZE) -> None:
    """Write the plot of `widget` to `path` (.svg, else PNG) laid out at `size` pixels."""
    plot = widget.getPlotItem()
    before = plot.geometry()
    plot.setGeometry(QRectF(0, 0, size.width(), size.height()))
    plot.layout.activate()
    try:
        if Path(path).suffix.lower() == ".svg":
            _write_svg(widget, plot, Path(path), size)
        else:
            exporter = ImageExporter(plot)
            exporter.parameters()["width"] = size.width()
            exporter.parameters()["height"] = size.height()
            exporter.export(str(path))
    finally:
        plot.setGeometry(before)
        plot.layout.activate()


def _write_svg(widget: pg.PlotWidget, plot: pg.PlotItem, path: Path, size: QSize) -> None:
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size)
    generator.setViewBox(QRect(0, 0, size.width(), size.height()))
    generator.setTitle("ParamScope plot")
    painter = QPainter(generator)
    target = QRectF(0, 0, size.width(), size.height())
    painter.fillRect(target, widget.backgroundBrush())
    widget.scene().render(painter, target, plot.sceneBoundingRect())
    painter.end()


class SizeDialog(QDialog):
    """Width and height of an exported plot, in pixels."""

    def __init__(self, size: QSize, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Image size")
        self.width_box, self.height_box = QSpinBox(), QSpinBox()
        for box, value in ((self.width_box, size.width()), (self.height_box, size.height())):
            box.setRange(200, 8000)
            box.setSuffix(" px")
            box.setValue(value)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form = QFormLayout(self)
        form.addRow("&Width", self.width_box)
        form.addRow("&Height", self.height_box)
        form.addRow(buttons)

    def chosen(self) -> QSize:
        return QSize(self.width_box.value(), self.height_box.value())
