"""The Code tab of a TorchScript archive: its `code/` files listed, each shown read-only as text.

Only text is shown: the files are read from the archive on request (`core.torchscript`), never run.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QSplitter,
    QTabWidget,
    QWidget,
)

from core import units
from core.errors import CheckpointError
from core.model import Checkpoint
from core.torchscript import CodeFile, checkpoint_code, read_code

NAME_ROLE = Qt.ItemDataRole.UserRole


class CodeView(QSplitter):
    """File list on the left, the selected file's text on the right."""

    def __init__(self, archive: Path, files: list[CodeFile], parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.archive = archive
        self.files = QListWidget()
        for code in files:
            item = QListWidgetItem(code.name)
            item.setData(NAME_ROLE, code.name)
            item.setToolTip(f"code/{code.name} · {units.exact(code.size)} bytes")
            self.files.addItem(item)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.addWidget(self.files)
        self.addWidget(self.text)
        self.setStretchFactor(1, 3)
        self.files.currentItemChanged.connect(self._show)
        if self.files.count():
            self.files.setCurrentRow(0)

    def _show(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is None:
            self.text.clear()
            return
        try:
            self.text.setPlainText(read_code(self.archive, item.data(NAME_ROLE)))
        except CheckpointError as error:
            self.text.setPlainText(str(error))


def with_code_tab(view: QWidget, checkpoint: Checkpoint) -> QWidget:
    """`view` as it is, or, for a TorchScript archive, tabs of `view` ("Layers") and its code."""
    code = checkpoint_code(checkpoint)
    if code is None:
        return view
    tabs = QTabWidget()
    tabs.setDocumentMode(True)
    tabs.addTab(view, "Layers")
    tabs.addTab(CodeView(*code), "Code")
    return tabs
