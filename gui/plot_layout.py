"""How a plot shares its room with the statistics table beside it.

The plot is what a person came for: it keeps at least PLOT_MIN_WIDTH beside the table, and when
the table's columns (one per selected tensor) leave less than that, the table goes below the
plot, where the panel's whole width holds its columns.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QTableWidget

PLOT_MIN_WIDTH = 480


def table_width(table: QTableWidget) -> int:
    """The width that shows every column of `table` without scrolling."""
    scroll = table.verticalScrollBar().sizeHint().width()
    return (
        table.verticalHeader().width()
        + table.horizontalHeader().length()
        + 2 * table.frameWidth()
        + scroll
    )


def arrange_plot_and_table(splitter: QSplitter, table: QTableWidget, width: int) -> None:
    needed = table_width(table)
    beside = width - needed - splitter.handleWidth() >= PLOT_MIN_WIDTH
    wanted = Qt.Orientation.Horizontal if beside else Qt.Orientation.Vertical
    if splitter.orientation() != wanted:
        splitter.setOrientation(wanted)
    if beside:
        splitter.setSizes([width - needed, needed])
    else:
        height = max(splitter.height(), 1)
        rows = table.verticalHeader().length() + table.horizontalHeader().height() + 4
        splitter.setSizes([max(height - rows, height * 3 // 5), min(rows, height * 2 // 5)])
