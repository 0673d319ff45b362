"""How a plot shares its room with the statistics table beside it.

The plot is what a person came for: it keeps at least PLOT_MIN_WIDTH beside the table, and when
the table's columns (one per selected tensor) leave less than that, the table goes below the
plot, where the panel's whole width holds its columns.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QTableWidget

PLOT_MIN_WIDTH = 480


HEADER_CAP = 130  # a column's header (a tensor's name) may widen it this far; then it elides


def column_widths(table: QTableWidget) -> list[int]:
    """Each column as wide as its values, and as its header up to HEADER_CAP: several long
    tensor names must not push the other columns out of sight (the tooltip has each name)."""
    header = table.horizontalHeader()
    return [
        max(table.sizeHintForColumn(c), min(header.sectionSizeHint(c), HEADER_CAP))
        for c in range(table.columnCount())
    ]


def fit_columns(table: QTableWidget) -> None:
    table.horizontalHeader().setTextElideMode(Qt.TextElideMode.ElideMiddle)
    for column, width in enumerate(column_widths(table)):
        table.setColumnWidth(column, width)


def table_width(table: QTableWidget) -> int:
    """The width that shows every column of `table` without scrolling."""
    # from the contents, not the sections' current widths: the last one stretches to the room
    scroll = table.verticalScrollBar().sizeHint().width()
    columns = sum(column_widths(table))
    return table.verticalHeader().width() + columns + 2 * table.frameWidth() + scroll


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
