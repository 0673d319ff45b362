"""Help ▸ Keyboard Shortcuts and Help ▸ Documentation.

The shortcut list is read from the window's own actions each time it is shown, so it lists what
the keys really do (never a hand-typed table that drifts). The documentation is the README that
ships with the program, shown offline with its sections in a list beside it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence, QTextCursor, QTextDocument
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QListWidget,
    QMainWindow,
    QMenu,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from gui import resources_dir


def readme_path() -> Path:
    """README.md beside the source tree, or at the top of a PyInstaller bundle."""
    return resources_dir().parent / "README.md"


def _plain(text: str) -> str:
    """A menu text without its mnemonic: `&Open File…` → `Open File…` (`&&` stays one `&`)."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def _keys(action: QAction) -> str:
    native = QKeySequence.SequenceFormat.NativeText
    return ", ".join(k.toString(native) for k in action.shortcuts() if not k.isEmpty())


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(menu, action, keys) of every action with a shortcut, in menu order, then the window's
    own actions that sit in no menu."""
    rows: list[tuple[str, str, str]] = []
    seen: set[int] = set()

    def walk(menu: QMenu, where: str) -> None:
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu(), f"{where} ▸ {_plain(action.menu().title())}")
                continue
            seen.add(id(action))
            if not action.isSeparator() and _keys(action):
                rows.append((where, _plain(action.text()), _keys(action)))

    for top in window.menuBar().actions():
        if top.menu() is not None:
            walk(top.menu(), _plain(top.menu().title()))
    for action in window.findChildren(QAction):
        if id(action) not in seen and _keys(action) and action.text():
            rows.append(("", _plain(action.text()), _keys(action)))
            seen.add(id(action))
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setWindowTitle("Keyboard Shortcuts")
        rows = shortcut_rows(window)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut", "Menu"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for r, (menu, text, keys) in enumerate(rows):
            for c, value in enumerate((text, keys, menu)):
                self.table.setItem(r, c, QTableWidgetItem(value))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(620, 560)


class DocumentationDialog(QDialog):
    """The README: its sections on the left, the text on the right; links open in a browser."""

    def __init__(self, parent: QWidget | None = None, path: Path | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("ParamScope Documentation")
        path = path or readme_path()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            text = f"# Documentation\n\nThe README could not be read ({path}): {error.strerror}."
        self.browser = QTextBrowser()
        self.browser.setOpenExternalLinks(True)
        self.browser.setMarkdown(text)
        self.sections = QListWidget()
        self.sections.addItems([ln[3:].strip() for ln in text.splitlines() if ln.startswith("## ")])
        self.sections.currentTextChanged.connect(self.show_section)
        split = QSplitter()
        split.addWidget(self.sections)
        split.addWidget(self.browser)
        split.setStretchFactor(1, 1)
        split.setSizes([180, 620])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(split, 1)
        layout.addWidget(buttons)
        self.resize(900, 680)

    def show_section(self, heading: str) -> None:
        """Scroll to the heading: found as a whole block of that text (Markdown gives no anchors)."""
        document = self.browser.document()
        cursor = QTextCursor(document)
        while True:
            cursor = document.find(heading, cursor, QTextDocument.FindFlag.FindCaseSensitively)
            if cursor.isNull() or cursor.block().text() == heading:
                break
        if cursor.isNull():
            return
        self.browser.setTextCursor(cursor)
        # put the heading at the top, not just somewhere in sight
        bar = self.browser.verticalScrollBar()
        bar.setValue(bar.maximum())
        self.browser.ensureCursorVisible()


def show_shortcuts(window: QMainWindow) -> None:
    ShortcutsDialog(window).exec()


def show_documentation(window: QWidget) -> None:
    dialog = DocumentationDialog(window)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
