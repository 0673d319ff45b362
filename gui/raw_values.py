"""The Values panel: a read-only table of a slice of the selected tensor, read from the file.

The first rows and columns by default, or the index ranges typed above the table (`0:10, 5:20`);
only those elements are read (core.raw_values), in a worker, so a 100 GiB tensor shows its corner
at once. Cells show the shortest decimal that reads back as the stored value at the tensor's
precision; the tooltip has the full float64 value; Copy puts the selected cells on the clipboard
as tab-separated text (with their indices when asked from the menu).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from core import units
from core.model import Checkpoint, TensorInfo
from core.readable import statistics_possible
from gui.colors import ALERT
from gui.workers import Job

if TYPE_CHECKING:
    from core.raw_values import RawValues

# Precision a dtype's values are shown at: the shortest decimal that reads back as the same value.
_BITS = {"float64": 64, "float16": 16, "float8_e4m3fn": 16, "float8_e5m2": 16}


def _bits(dtype: str) -> int:
    return _BITS.get(dtype, 32)  # float32, bfloat16 (a float32's upper half), dequantised blocks


def _range_text(r: range) -> str:
    if len(r) == 1:
        return str(r.start)
    step = f":{r.step}" if r.step != 1 else ""
    return f"{r.start}:{r.stop}{step}"


class _Nothing:
    """The table before any values: its shape is all the model asks of it."""

    shape = (0, 0)


_NOTHING = _Nothing()


class RawValuesModel(QAbstractTableModel):
    """Rows: every index of the leading dimensions; columns: the last dimension's indices."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.raw: RawValues | None = None
        self._table: Any = _NOTHING  # a 2-D array once values are read (numpy loads then)
        self._row_labels: list[str] = []
        self._column_labels: list[str] = []

    def set_values(self, raw: RawValues | None) -> None:
        self.beginResetModel()
        self.raw = raw
        if raw is None:
            self._table, self._row_labels, self._column_labels = _NOTHING, [], []
        else:
            import numpy as np  # noqa: PLC0415 — values were read: it is loaded already

            ranges = raw.ranges
            values = raw.values
            if values.size == 0:  # a dimension of size 0: nothing to show
                self._table, self._row_labels, self._column_labels = _NOTHING, [], []
            elif not ranges:  # a scalar
                self._table = values.reshape(1, 1)
                self._row_labels, self._column_labels = ["()"], ["value"]
            else:
                self._table = values.reshape(-1, len(ranges[-1]))
                self._column_labels = [str(i) for i in ranges[-1]]
                leading = [list(r) for r in ranges[:-1]]
                grid = np.array(np.meshgrid(*leading, indexing="ij")).reshape(len(leading), -1)
                self._row_labels = (
                    [", ".join(map(str, column)) for column in grid.T] if leading else ["·"]
                )
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self._table.shape[0]

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self._table.shape[1]

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        labels = (
            self._column_labels if orientation == Qt.Orientation.Horizontal else self._row_labels
        )
        return labels[section] if 0 <= section < len(labels) else None

    def text(self, row: int, column: int) -> str:
        import numpy as np

        value = self._table[row, column]
        if self.raw is None:
            return ""
        if isinstance(value, np.bool_ | bool):
            return "true" if value else "false"
        if np.issubdtype(self._table.dtype, np.integer):
            return str(int(value))
        return units.shortest(float(value), _bits(self.raw.dtype))

    def index_text(self, row: int, column: int) -> str:
        row_label = self._row_labels[row]
        parts = [] if row_label in ("·", "()") else [row_label]
        if self.raw is not None and self.raw.ranges:
            parts.append(self._column_labels[column])
        return f"[{', '.join(parts)}]"

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        import numpy as np

        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self.text(row, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            value = self._table[row, column]
            exact = repr(float(value)) if np.issubdtype(self._table.dtype, np.floating) else ""
            return f"{self.index_text(row, column)} = {self.text(row, column)}" + (
                f"\nexactly {exact}" if exact and exact != self.text(row, column) else ""
            )
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


class RawValuesView(QWidget):
    """Range field, note and table for one tensor; `set_tensor` is the way in."""

    loaded = Signal()  # the table shows what was asked (for tests and the screenshot mode)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checkpoint: Checkpoint | None = None
        self.tensor: TensorInfo | None = None
        self.job: Job | None = None
        self._jobs: list[Job] = []  # kept until they end: their signals must outlive them
        self._wanted = False  # the panel is in sight: read when a tensor comes
        self._pending = False

        self.title = QLabel("Select one tensor to see its values.")
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.ranges = QLineEdit()
        self.ranges.setPlaceholderText("index ranges, e.g. 0:10, 5:20")
        self.ranges.setToolTip(
            "One range per dimension, as in Python: start:stop or start:stop:step, one index "
            "like 3, negative from the end. Enter reads them from the file."
        )
        self.ranges.setAccessibleName("Index ranges")
        self.ranges.returnPressed.connect(self.read)
        self.copy_button = QPushButton("Copy")
        self.copy_button.setToolTip("Copy the selected values (all, if none is selected)")
        self.copy_button.clicked.connect(self.copy)
        self.note = QLabel(" ")
        self.note.setWordWrap(True)

        self.model = RawValuesModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setAccessibleName("Values")
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        copy = QAction("Copy", self.table)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy)
        self.table.addAction(copy)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.ranges, 1)
        top.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(top)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        self._enable(False)

    # --- the way in ---------------------------------------------------------------------------

    def set_tensor(self, checkpoint: Checkpoint | None, tensor: TensorInfo | None) -> None:
        """Show this tensor (None: a module, several or nothing selected)."""
        if tensor is self.tensor and checkpoint is self.checkpoint:
            return
        self.checkpoint, self.tensor = checkpoint, tensor
        self._cancel()
        self.model.set_values(None)
        if tensor is None:
            self.title.setText("Select one tensor to see its values.")
            self.note.setText(" ")
            self._enable(False)
            return
        shape = "×".join(map(str, tensor.shape)) or "scalar"
        self.title.setText(f"<b>{_escape(tensor.name)}</b> · {shape} · {tensor.dtype}")
        self.title.setToolTip(tensor.name)
        readable = statistics_possible(tensor)
        self._enable(readable)
        if not readable:
            self._say(
                "Values of this tensor cannot be read (no data in the file, or a type "
                "this engine cannot decode yet).",
                error=True,
            )
            return
        from core.raw_values import default_ranges  # noqa: PLC0415 — numpy: not before a tensor

        self.ranges.setText(", ".join(_range_text(r) for r in default_ranges(tensor.shape)))
        self._pending = True
        if self._wanted:
            self.read()

    def set_wanted(self, wanted: bool) -> None:
        """Read only while the panel is in sight (a hidden dock costs no reads)."""
        self._wanted = wanted
        if wanted and self._pending:
            self.read()

    def read(self) -> None:
        tensor = self.tensor
        if tensor is None:
            return
        from core.raw_values import parse_ranges, read_values  # noqa: PLC0415 — as above

        try:
            ranges = parse_ranges(self.ranges.text(), tensor.shape)
        except ValueError as error:
            self._say(str(error), error=True)
            return
        self._pending = False
        self._cancel()
        job = Job(lambda _progress, _cancelled: read_values(tensor, ranges))
        job.signals.finished.connect(self._finished)
        job.signals.failed.connect(self._failed)
        self.job = job
        self._jobs = [j for j in self._jobs if not j.is_done()] + [job]
        self._say("reading …")
        job.start()

    def wait(self, timeout: float = 30.0) -> None:
        for job in self._jobs:
            job.wait(timeout)

    # --- copying ------------------------------------------------------------------------------

    def copy_text(self) -> str:
        """The selected cells (or all) as tab-separated lines, each value exact at the tensor's
        precision."""
        selection = self.table.selectionModel().selectedIndexes()
        if selection:
            rows = sorted({i.row() for i in selection})
            columns = sorted({i.column() for i in selection})
            chosen = {(i.row(), i.column()) for i in selection}
        else:
            rows = list(range(self.model.rowCount()))
            columns = list(range(self.model.columnCount()))
            chosen = None
        lines = []
        for r in rows:
            cells = [
                self.model.text(r, c) if chosen is None or (r, c) in chosen else "" for c in columns
            ]
            lines.append("\t".join(cells))
        return "\n".join(lines)

    def copy(self) -> None:
        text = self.copy_text()
        if text:
            QGuiApplication.clipboard().setText(text)

    # --- results ------------------------------------------------------------------------------

    def _current(self) -> bool:
        return self.job is not None and self.sender() is self.job.signals

    def _finished(self, raw: RawValues) -> None:
        if not self._current():
            return
        self.job = None
        self.model.set_values(raw)
        self.table.resizeColumnsToContents()
        shown = (
            " × ".join(
                f"{len(r)} of {units.exact(n)}"
                for r, n in zip(raw.ranges, self.tensor.shape, strict=True)
            )
            if self.tensor is not None and raw.ranges
            else "the value"
        )
        self._say(f"showing {shown} · other ranges: type them, press Enter")
        self.loaded.emit()

    def _failed(self, message: str) -> None:
        if not self._current():
            return
        self.job = None
        self._say(message, error=True)

    def _cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job = None

    def _say(self, text: str, error: bool = False) -> None:
        self.note.setText(text)
        self.note.setStyleSheet(f"color: {ALERT};" if error else "")

    def _enable(self, on: bool) -> None:
        self.ranges.setEnabled(on)
        self.copy_button.setEnabled(on)


def _escape(text: str) -> str:
    import html

    return html.escape(text)
