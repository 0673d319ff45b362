"""Open files that change on disk: training rewrites `last.ckpt` and `model.safetensors` over and
over while people look at them.

`FileWatcher` watches each tab's files and their folders (a writer that saves to a temporary file
and renames it over the old one replaces the file, which a watch on the file alone loses), waits
for a burst of events to settle, and reports a tab only when one of its files really has another
size or modification time. `ReloadBar` is the non-modal offer on that tab. `Place` is what a
person had on screen — selected rows, expanded rows, scroll — so a reload can put it back.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QFileSystemWatcher,
    QItemSelectionModel,
    QModelIndex,
    QObject,
    QTimer,
    Signal,
)
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from gui.colors import ALERT

if TYPE_CHECKING:
    from gui.layer_tree import LayerTree

DEBOUNCE_MS = 700  # a writer saves in many pieces: offer once it has been quiet this long

Stamp = tuple[int, int] | None  # (size, mtime_ns), None when the file is gone


def _stamp(path: Path) -> Stamp:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_size, status.st_mtime_ns


class FileWatcher(QObject):
    """Says which watched owner (a tab) has a file that changed, once per settled burst."""

    changed = Signal(object)  # the owner

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._watcher = QFileSystemWatcher(self)
        self._watcher.fileChanged.connect(self._poke)
        self._watcher.directoryChanged.connect(self._poke)
        self.debounce = QTimer(self)
        self.debounce.setSingleShot(True)
        self.debounce.setInterval(DEBOUNCE_MS)
        self.debounce.timeout.connect(self._settled)
        self._stamps: dict[object, dict[Path, Stamp]] = {}
        self._reported: set[object] = set()

    def watch(self, owner: object, files: list[Path]) -> None:
        """Watch these files for `owner`, taking their state now as the one it shows."""
        self._stamps[owner] = {Path(f): _stamp(Path(f)) for f in files}
        self._reported.discard(owner)
        self._update_paths()

    def unwatch(self, owner: object) -> None:
        self._stamps.pop(owner, None)
        self._reported.discard(owner)
        self._update_paths()

    def changed_files(self, owner: object) -> list[Path]:
        return [f for f, stamp in self._stamps.get(owner, {}).items() if _stamp(f) != stamp]

    def _update_paths(self) -> None:
        wanted: set[str] = set()
        for stamps in self._stamps.values():
            for file in stamps:
                wanted.add(str(file.parent))
                if file.exists():
                    wanted.add(str(file))
        present = set(self._watcher.files()) | set(self._watcher.directories())
        if present - wanted:
            self._watcher.removePaths(sorted(present - wanted))
        if wanted - present:
            self._watcher.addPaths(sorted(wanted - present))

    def _poke(self, _path: str) -> None:
        self.debounce.start()  # restarts: one check after the burst

    def _settled(self) -> None:
        self._update_paths()  # a file replaced by a rename is watched again under its name
        for owner in list(self._stamps):
            if owner not in self._reported and self.changed_files(owner):
                self._reported.add(owner)
                self.changed.emit(owner)


class ReloadBar(QFrame):
    """'model.safetensors changed on disk — Reload' above a tab's contents; never modal."""

    reloadRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("reloadBar")
        self.setStyleSheet(
            f"#reloadBar {{ border: 1px solid {ALERT}; border-radius: 4px; padding: 2px; }}"
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.reload_button = QPushButton("Reload")
        self.reload_button.setToolTip("Open the file again, keeping your place and your edits")
        self.reload_button.clicked.connect(self.reloadRequested)
        close = QToolButton()
        close.setText("×")
        close.setAutoRaise(True)
        close.setToolTip("Keep showing what was read before")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 2, 4, 2)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.reload_button)
        layout.addWidget(close)
        self.hide()

    def text(self) -> str:
        return self.label.text()

    @property
    def offered(self) -> bool:
        """Shown on its tab (visible once that tab is the current one)."""
        return not self.isHidden()

    def offer(self, message: str) -> None:
        self.label.setText(message)
        self.reload_button.setEnabled(True)
        self.show()

    def reloading(self, name: str) -> None:
        self.label.setText(f"Reloading {name} …")
        self.reload_button.setEnabled(False)


def changed_message(files: list[Path], fallback: str) -> str:
    names = ", ".join(f.name for f in files[:3]) + (" …" if len(files) > 3 else "")
    return f"{names or fallback} changed on disk"


# --- keeping a person's place across a reload -----------------------------------------------------

_Row = tuple[str, ...]  # a row by the labels from the root down to it (group rows have no path)


@dataclass(slots=True)
class Place:
    """What a tab's tree showed: selected paths, expanded rows, the scroll position."""

    selection: list[str] = field(default_factory=list)
    expanded: set[_Row] = field(default_factory=set)
    scroll: int = 0

    @staticmethod
    def of(tree: LayerTree) -> Place:
        place = Place(tree.selected_paths(), set(), tree.view.verticalScrollBar().value())
        proxy, view = tree.proxy, tree.view
        todo: list[tuple[QModelIndex, _Row]] = [(QModelIndex(), ())]
        while todo:
            parent, row_key = todo.pop()
            for row in range(proxy.rowCount(parent)):
                child = proxy.index(row, 0, parent)
                if view.isExpanded(child):
                    key = (*row_key, str(proxy.data(child)))
                    place.expanded.add(key)
                    todo.append((child, key))
        return place

    def restore(self, tree: LayerTree) -> None:
        proxy, view = tree.proxy, tree.view
        todo: list[tuple[QModelIndex, _Row]] = [(QModelIndex(), ())]
        while todo:
            parent, row_key = todo.pop()
            for row in range(proxy.rowCount(parent)):
                child = proxy.index(row, 0, parent)
                key = (*row_key, str(proxy.data(child)))
                if key in self.expanded:
                    view.expand(child)
                    todo.append((child, key))
        found = [path for path in self.selection if _index_of(tree, path).isValid()]
        if found:
            tree.select_path(found[0])  # the current row, revealed
            flags = QItemSelectionModel.SelectionFlag.Select
            flags |= QItemSelectionModel.SelectionFlag.Rows
            for path in found[1:]:
                view.selectionModel().select(_index_of(tree, path), flags)
        view.doItemsLayout()
        view.verticalScrollBar().setValue(self.scroll)


def _index_of(tree: LayerTree, path: str) -> QModelIndex:
    """The visible row of a tensor or module path (rows inside collapsed groups are found too)."""
    from gui.layer_tree import PATH_ROLE  # noqa: PLC0415 - the layer tree imports much

    proxy = tree.proxy
    todo = [QModelIndex()]
    while todo:
        parent = todo.pop()
        for row in range(proxy.rowCount(parent)):
            child = proxy.index(row, 0, parent)
            child_path = proxy.data(child, PATH_ROLE)
            if child_path == path:
                return child
            if not child_path or path.startswith(child_path + "."):
                todo.append(child)
    return QModelIndex()
