"""The hyperparameter panel: how a model was trained, editable with validation and undo.

A sources selector (all merged, or one file), a tree of key / value / type / source grouped as a
practitioner thinks of them (architecture, optimisation, schedule …), typed editors, conflicts
and edits marked, the architecture check (✓ / ✗ against the tensors) and trainer_state's log
history. Every edit goes through `core.hparams.edit` (validation) inside a QUndoCommand; export
and "save beside" call `core.hparams.export`. No format logic lives here.

Each checkpoint keeps its own edits and undo stack while it stays open (`forget` drops them), so
switching between open files loses nothing. The actions (`undo_action`, `redo_action`,
`export_action`, `save_beside_action`) are meant for the main window's menus.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QKeySequence, QUndoCommand, QUndoStack
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSplitter,
    QStyledItemDelegate,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolBar,
    QTreeView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from core import units
from core.errors import CheckpointError
from core.hparams.archcheck import ArchCheck, check_architecture, edited_sources, related_keys
from core.hparams.edit import (
    MERGED,
    MISSING,
    EditableConfig,
    HParamError,
    HyperParamSet,
    coerce,
    type_name,
)
from core.hparams.keys import GROUPS, group_of, spec_for
from core.hparams.merge import KeyPath, dotted, flatten
from core.model import Checkpoint
from core.training_log import training_log
from gui.colors import ALERT, OKABE_ITO
from gui.training_log import TrainingLogView

KEY, VALUE, TYPE, SOURCE = range(4)
HEADERS = ("Key", "Value", "Type", "Source")
PATH_ROLE = Qt.ItemDataRole.UserRole + 1
ORDER = (*GROUPS, "other")
EXPORT_FILTERS = "YAML (*.yaml *.yml);;JSON (*.json);;TOML (*.toml)"
_FILTER_SUFFIX = {"YAML": ".yaml", "JSON": ".json", "TOML": ".toml"}


def value_text(value: Any, limit: int = 200) -> str:
    """A value as a person reads (and types) it: true, null, 0.0003, [0.9, 0.95]."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = units.float_text(value)  # float32 noise hidden; the tooltip has the exact value
    elif isinstance(value, str):
        text = value
    elif isinstance(value, list) and len(value) > limit:
        # a tokenizer's 50,000 entries: show the start without writing all of them out
        text = _json_like(value[:limit])[:-1] + ", …]"
    else:
        text = _json_like(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_like(value: Any) -> str:
    """JSON as a person types it back, with floats in their shortest form (float32 noise
    hidden) and bytes described, not as Python's b'\\x1c…'."""
    if isinstance(value, float):
        return units.float_text(value)
    if isinstance(value, bytes | bytearray):
        return json.dumps(units.human(bytes(value)), ensure_ascii=False)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_json_like(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}: {_json_like(v)}" for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    return json.dumps(value, default=str, ensure_ascii=False)


# --- the model -------------------------------------------------------------------------------------

_ROLES_SHOWN = frozenset(
    int(role)
    for role in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.EditRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.TextAlignmentRole,
        PATH_ROLE,
    )
)


@dataclass(frozen=True)
class _Look:
    """How one key's row looks: computed once, until a value, check or highlight changes."""

    value: Any
    edited: bool
    conflict: dict
    mismatch: bool  # an edited value the tensors disagree with (✗)
    highlighted: bool
    texts: tuple[str, str, str, str]  # per column


def _bold_font() -> QFont:
    font = QFont()
    font.setBold(True)
    return font


class HyperparamModel(QAbstractItemModel):
    """Groups at the top, one row per leaf key (dotted path) under its group."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hset: HyperParamSet | None = None
        self.view = MERGED
        self.groups: list[tuple[str, list[KeyPath]]] = []
        self._highlighted: set[str] = set()
        self._checks: dict[tuple[str, KeyPath], ArchCheck] = {}  # (source, path) → check
        self._looks: dict[KeyPath, _Look] = {}
        self.edit_handler = None  # callable(path, value) -> bool, set by the panel
        # with a filter set, how many of a group's keys it leaves (the panel's proxy knows):
        # "data (1 of 2)", never the unfiltered count over fewer rows
        self.shown_count: Callable[[int], int] | None = None

    @property
    def highlighted(self) -> set[str]:
        return self._highlighted

    @highlighted.setter
    def highlighted(self, keys: set[str]) -> None:
        self._highlighted = keys
        self._looks.clear()

    @property
    def checks(self) -> dict[tuple[str, KeyPath], ArchCheck]:
        return self._checks

    @checks.setter
    def checks(self, checks: dict[tuple[str, KeyPath], ArchCheck]) -> None:
        self._checks = checks
        self._looks.clear()

    @property
    def config(self) -> EditableConfig | None:
        return self.hset.config(self.view) if self.hset and self.hset.views else None

    def set_view(self, hset: HyperParamSet | None, view: str = MERGED) -> None:
        self.beginResetModel()
        self.hset, self.view = hset, view
        self.groups = self._grouped()
        self._looks.clear()
        self.endResetModel()

    def rebuild(self) -> None:
        """After a key was added or removed: rows change."""
        self.set_view(self.hset, self.view)

    def refresh(self) -> None:
        """After a value changed: same rows, new texts and marks."""
        self._looks.clear()
        if self.groups:
            last = self.index(len(self.groups) - 1, SOURCE)
            self.dataChanged.emit(self.index(0, 0), last)
            for row, (_, paths) in enumerate(self.groups):
                parent = self.index(row, 0)
                if paths:
                    self.dataChanged.emit(
                        self.index(0, 0, parent), self.index(len(paths) - 1, SOURCE, parent)
                    )

    def _grouped(self) -> list[tuple[str, list[KeyPath]]]:
        config = self.config
        if config is None:
            return []
        by_group: dict[str, list[KeyPath]] = {}
        for path, value in flatten(config.current).items():
            if not path or path[0] == "log_history":
                continue
            by_group.setdefault(group_of(path, value), []).append(path)
        return [(g, by_group[g]) for g in ORDER if g in by_group]

    # --- structure ----------------------------------------------------------------------------
    def index(self, row: int, column: int, parent: QModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        # bounds checked here, not with hasIndex: that calls back into rowCount and columnCount
        if not 0 <= column < len(HEADERS) or row < 0:
            return QModelIndex()
        if not parent.isValid():
            return self.createIndex(row, column, 0) if row < len(self.groups) else QModelIndex()
        group = parent.row()
        if parent.internalId() != 0 or parent.column() != 0 or row >= len(self.groups[group][1]):
            return QModelIndex()
        return self.createIndex(row, column, group + 1)

    def parent(self, index: QModelIndex = QModelIndex()) -> QModelIndex:  # type: ignore[override]  # noqa: B008
        if not index.isValid() or index.internalId() == 0:
            return QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self.groups)
        if parent.internalId() == 0 and parent.column() == 0:
            return len(self.groups[parent.row()][1])
        return 0

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: B008
        return len(HEADERS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def path_of(self, index: QModelIndex) -> KeyPath | None:
        if not index.isValid() or index.internalId() == 0:
            return None
        return self.groups[index.internalId() - 1][1][index.row()]

    def index_of(self, path: KeyPath, column: int = KEY) -> QModelIndex:
        for row, (_, paths) in enumerate(self.groups):
            if path in paths:
                return self.index(paths.index(path), column, self.index(row, 0))
        return QModelIndex()

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        path = self.path_of(index)
        editable = path is not None and index.column() == VALUE and self.config is not None
        if editable and not isinstance(self.config.get(path), dict):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    # --- contents -------------------------------------------------------------------------------
    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        # a view asks for a dozen roles of every cell on each paint: the roles shown answer
        # from a look computed once per row, the rest at once
        if role not in _ROLES_SHOWN or not index.isValid() or self.config is None:
            return None
        path = self.path_of(index)
        if path is None:
            return self._group_data(index, role)
        look, column = self._look(path), index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return look.texts[column]
        if role == Qt.ItemDataRole.EditRole:
            return value_text(look.value, limit=1 << 20) if column == VALUE else None
        if role == PATH_ROLE:
            return path
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(path, look.value, look.edited, look.conflict)
        if role == Qt.ItemDataRole.FontRole and look.edited:
            return _bold_font()
        alert = (look.conflict and column in (VALUE, SOURCE)) or (column == VALUE and look.mismatch)
        if role == Qt.ItemDataRole.ForegroundRole and alert:
            return QBrush(QColor(ALERT))
        if role == Qt.ItemDataRole.BackgroundRole and look.highlighted:
            color = QColor(OKABE_ITO["sky blue"])
            color.setAlpha(70)
            return QBrush(color)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == TYPE:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    def _look(self, path: KeyPath) -> _Look:
        look = self._looks.get(path)
        if look is None:
            config = self.config
            value = config.get(path)
            edited = config.is_edited(path)
            conflict = self.hset.conflict(self.view, path) if self.hset else {}
            mark = self._check_mark(path, value, edited)
            source = self.hset.source_of(self.view, path) if self.hset else ""
            texts = (
                dotted(path) + ("  ✎" if edited else ""),
                value_text(value) + mark,
                type_name(value),
                source + ("  ⚠" if conflict else ""),
            )
            look = _Look(value, edited, conflict, mark == "  ✗", self._is_highlighted(path), texts)
            self._looks[path] = look
        return look

    def _group_data(self, index: QModelIndex, role: int):
        name, paths = self.groups[index.row()]
        if role == Qt.ItemDataRole.DisplayRole and index.column() == KEY:
            if self.shown_count is not None:
                return f"{name} ({self.shown_count(index.row())} of {len(paths)})"
            return f"{name} ({len(paths)})"
        if role == Qt.ItemDataRole.FontRole:
            return _bold_font()
        return None

    def _check(self, path: KeyPath) -> ArchCheck | None:
        if not self.checks or self.hset is None:
            return None
        return self.checks.get((self.hset.source_of(self.view, path), path))

    def _check_mark(self, path: KeyPath, value: Any, edited: bool) -> str:
        """✓ / ✗ against the tensors; an edited value is compared again with what they say."""
        check = self._check(path)
        if check is None or check.status == "unknown":
            return ""
        if not edited:
            return f"  {check.mark}"
        if check.tensor_value is None:
            return ""
        return "  ✓" if value == check.tensor_value else "  ✗"

    def _is_highlighted(self, path: KeyPath) -> bool:
        spec = spec_for(path)
        return spec is not None and spec.canonical in self.highlighted

    def _tooltip(self, path: KeyPath, value: Any, edited: bool, conflict: dict) -> str:
        spec = spec_for(path)
        lines = [dotted(path)]
        if isinstance(value, float) and units.float_text(value) != repr(value):
            lines.append(f"exactly {value!r}")
        if spec is not None:
            lines.append(f"{spec.explanation}  ({spec.group}; known as {spec.canonical})")
        if self.hset is not None:
            lines.append(f"from {self.hset.source_of(self.view, path)}")
        if edited and self.config is not None:
            original = self.config.original_value(path)
            was = "not present" if original is MISSING else value_text(original)
            lines.append(f"edited; originally {was}")
        check = self._check(path)
        if check is not None:
            lines.append(f"{check.mark} tensors: {check.reason}")
        if conflict:
            lines.append("sources disagree:")
            lines.extend(f"  {source}: {value_text(v)}" for source, v in conflict.items())
        return "\n".join(lines)

    def setData(self, index: QModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        path = self.path_of(index)
        if path is None or role != Qt.ItemDataRole.EditRole or self.edit_handler is None:
            return False
        return bool(self.edit_handler(path, value))


# --- editors ---------------------------------------------------------------------------------------


class ValueDelegate(QStyledItemDelegate):
    """Typed editors: true/false for bools, known choices for enums (optimizer, scheduler …),
    a line for numbers, text and lists. Validation happens on commit, in core."""

    def __init__(self, model: HyperparamModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.source_model = model

    def _path(self, index: QModelIndex) -> KeyPath | None:
        return index.data(PATH_ROLE)

    def createEditor(self, parent: QWidget, option, index: QModelIndex) -> QWidget:
        path = self._path(index)
        config = self.source_model.config
        value = config.get(path) if config is not None and path is not None else None
        spec = spec_for(path) if path else None
        if isinstance(value, bool):
            box = QComboBox(parent)
            box.addItems(["true", "false"])
            return box
        if isinstance(value, str) and spec is not None and spec.choices:
            box = QComboBox(parent)
            box.setEditable(not spec.strict)
            choices = list(spec.choices)
            if value not in choices:
                choices.insert(0, value)
            box.addItems(choices)
            return box
        line = QLineEdit(parent)
        if path is not None:
            line.setToolTip(
                f"{type_name(value)} — {spec.explanation}" if spec else type_name(value)
            )
        return line

    def setEditorData(self, editor: QWidget, index: QModelIndex) -> None:
        text = index.data(Qt.ItemDataRole.EditRole) or ""
        if isinstance(editor, QComboBox):
            found = editor.findText(text)
            if found >= 0:
                editor.setCurrentIndex(found)
            elif editor.isEditable():
                editor.setEditText(text)
        elif isinstance(editor, QLineEdit):
            editor.setText(text)

    def setModelData(self, editor: QWidget, model, index: QModelIndex) -> None:
        text = editor.currentText() if isinstance(editor, QComboBox) else editor.text()
        if text == index.data(Qt.ItemDataRole.EditRole):
            return  # nothing changed: no undo step
        model.setData(index, text, Qt.ItemDataRole.EditRole)


class _ValueTree(QTreeView):
    """F2, Enter or a double click anywhere on a row edits its value."""

    def edit(self, index: QModelIndex, trigger=None, event=None) -> bool:  # type: ignore[override]
        if trigger is None:
            return super().edit(index)
        starts = (
            QTreeView.EditTrigger.DoubleClicked,
            QTreeView.EditTrigger.EditKeyPressed,
            QTreeView.EditTrigger.AnyKeyPressed,
        )
        if index.isValid() and index.column() != VALUE and trigger in starts:
            value = index.siblingAtColumn(VALUE)
            if value.flags() & Qt.ItemFlag.ItemIsEditable:
                self.setCurrentIndex(value)
                return super().edit(value, trigger, event)
        return super().edit(index, trigger, event)


# --- undoable edits ------------------------------------------------------------------------------


class _PutCommand(QUndoCommand):
    """Store values at paths (already validated) and restore the previous ones on undo.

    A command holds the config it edits (one checkpoint's, one view's), not the panel's current
    one: undo always lands where the edit was made."""

    def __init__(self, panel: HyperparamPanel, changes: list, text: str, rows: bool) -> None:
        super().__init__(text)
        self.panel, self.changes, self.rows = panel, changes, rows
        self.view = panel.view
        self.config = panel.config

    def redo(self) -> None:
        for path, _, new in self.changes:
            self.config.put(path, new)
        self.panel.after_edit(self.config, self.view, self.rows)

    def undo(self) -> None:
        for path, old, _ in reversed(self.changes):
            self.config.put(path, old)
        self.panel.after_edit(self.config, self.view, self.rows)


class _ResetAllCommand(QUndoCommand):
    def __init__(self, panel: HyperparamPanel) -> None:
        super().__init__("reset all edits")
        self.panel, self.view, self.config = panel, panel.view, panel.config
        self.before = self.config.current

    def redo(self) -> None:
        self.before = self.config.current
        self.config.reset()  # a fresh copy of the original: `before` stays as it was
        self.panel.after_edit(self.config, self.view, True)

    def undo(self) -> None:
        self.config.current = self.before
        self.panel.after_edit(self.config, self.view, True)


_UNREAD = object()


class _State:
    """What the panel keeps per open checkpoint: its sources, edits and undo history."""

    def __init__(self, checkpoint: Checkpoint, parent: QWidget) -> None:
        self.checkpoint = checkpoint
        self.hset = HyperParamSet(checkpoint.hyperparams)
        self.stack = QUndoStack(parent)
        self.view = MERGED
        self.checks: list[ArchCheck] = []  # filled (of the edited values) when shown
        self.log: Any = _UNREAD  # its TrainingLog (or None), read when first shown


# --- the panel -----------------------------------------------------------------------------------


class HyperparamPanel(QWidget):
    """Dock contents: hyperparameters of the current checkpoint, with edits, undo and export."""

    status_message = Signal(str)  # for the main window's status bar
    edits_changed = Signal(int)  # number of edits in the shown view

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._states: dict[int, _State] = {}
        self._state: _State | None = None
        self._empty_stack = QUndoStack(self)
        self.undo_stack: QUndoStack = self._empty_stack
        self.model = HyperparamModel(self)
        self.model.edit_handler = self.edit_value
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.proxy.setFilterKeyColumn(-1)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self._make_actions()
        self._build()
        self.set_checkpoint(None)

    @property
    def hset(self) -> HyperParamSet | None:
        return self._state.hset if self._state else None

    @property
    def view(self) -> str:
        return self._state.view if self._state else MERGED

    @property
    def config(self) -> EditableConfig | None:
        return self.model.config

    # --- construction ---------------------------------------------------------------------------
    def _make_actions(self) -> None:
        self.undo_action = QAction("&Undo", self)
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.undo_action.triggered.connect(lambda: self.undo_stack.undo())
        self.redo_action = QAction("&Redo", self)
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        self.redo_action.triggered.connect(lambda: self.undo_stack.redo())
        self.export_action = QAction("&Export Hyperparameters…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setToolTip("Write the shown hyperparameters to YAML, JSON or TOML")
        self.export_action.triggered.connect(self.export_dialog)
        self.save_beside_action = QAction("&Save Hyperparameters Beside the Checkpoint", self)
        self.save_beside_action.setShortcut(QKeySequence("Ctrl+S"))
        self.save_beside_action.setToolTip("Write <checkpoint name>.hparams.yaml next to it")
        self.save_beside_action.triggered.connect(self.save_beside)
        self.add_action = QAction("&Add Key…", self)
        self.add_action.triggered.connect(self.add_key_dialog)
        self.remove_action = QAction("Re&move Key", self)
        self.remove_action.setShortcut(QKeySequence.StandardKey.Delete)
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(self.remove_selected)
        self.reset_action = QAction("Rese&t", self)
        self.reset_action.setToolTip("Back to the original value (the selected key, or all)")
        self.reset_action.triggered.connect(self.reset_selected)
        self.diff_action = QAction("Show &Edits…", self)
        self.diff_action.triggered.connect(self.show_diff)
        for action, short in (
            (self.add_action, "Add"),
            (self.remove_action, "Remove"),
            (self.reset_action, "Reset"),
            (self.undo_action, "Undo"),
            (self.redo_action, "Redo"),
            (self.diff_action, "Edits"),
            (self.export_action, "Export"),
        ):
            action.setIconText(short)  # what the panel's toolbar shows; menus show the full text
        for action in (self.undo_action, self.redo_action, self.export_action):
            self.addAction(action)
        self.addAction(self.save_beside_action)
        self.addAction(self.remove_action)

    def _build(self) -> None:
        self.sources = QComboBox()
        self.sources.setToolTip("All sources merged, or one file's values as it holds them")
        self.sources.currentIndexChanged.connect(self._view_chosen)
        self.edit_label = QLabel()
        self.find = QLineEdit()
        self.find.setPlaceholderText("find key or value")
        self.find.setClearButtonEnabled(True)
        self.find.textChanged.connect(self._filter)
        top = QHBoxLayout()
        top.addWidget(QLabel("Source"))
        top.addWidget(self.sources, 2)
        top.addWidget(self.find, 2)
        top.addWidget(self.edit_label)
        toolbar = QToolBar()
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in (
            self.add_action,
            self.remove_action,
            self.reset_action,
            self.undo_action,
            self.redo_action,
            self.diff_action,
            self.export_action,
        ):
            toolbar.addAction(action)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.hide()
        self.tree = _ValueTree()
        self.tree.setModel(self.proxy)
        self.tree.selectionModel().currentChanged.connect(self._update_remove)
        self.remove_action.setEnabled(False)
        self.tree.setItemDelegateForColumn(VALUE, ValueDelegate(self.model, self.tree))
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setEditTriggers(
            QTreeView.EditTrigger.DoubleClicked
            | QTreeView.EditTrigger.EditKeyPressed
            | QTreeView.EditTrigger.AnyKeyPressed
        )
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(KEY, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(VALUE, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(TYPE, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(SOURCE, QHeaderView.ResizeMode.Interactive)
        self.checks = QTreeWidget()
        self.checks.setHeaderLabels(["", "Check", "Config", "Tensors", "Why"])
        self.checks.setRootIsDecorated(False)
        self.log_table = QTableWidget()
        self.log_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        rows = self.log_table.verticalHeader()
        rows.setDefaultSectionSize(self.fontMetrics().height() + 6)
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.checks, "Architecture check")
        self.training_view = TrainingLogView(self.log_table)  # curves beside the logged rows
        self.tabs.addTab(self.training_view, "Training log")
        self.empty = QLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.tree)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([600, 170])
        self.split = split
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        top.addWidget(toolbar, 3)  # overflows into a » menu in a narrow dock
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.empty, 1)
        layout.addWidget(split, 1)

    # --- the current checkpoint -----------------------------------------------------------------
    def resizeEvent(self, event) -> None:
        # in a wide, low dock (below the tree) the checks sit beside the values, else below them
        super().resizeEvent(event)
        wide = event.size().width() > 1.8 * event.size().height()
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.split.orientation() != orientation:
            self.split.setOrientation(orientation)
            total = self.split.width() if wide else self.split.height()
            self.split.setSizes([total * 2 // 3, total // 3] if wide else [600, 170])

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        """Show this checkpoint's hyperparameters (its edits and undo history are kept while it
        stays open); None shows the empty state."""
        if checkpoint is None:
            self._state = None
        else:
            state = self._states.get(id(checkpoint))
            if state is None or state.checkpoint is not checkpoint:
                if state is not None:  # a closed checkpoint nobody forgot, its id reused
                    state.stack.deleteLater()
                state = self._states[id(checkpoint)] = _State(checkpoint, self)
                state.stack.indexChanged.connect(self._stack_changed)
            self._state = state
        self.undo_stack = self._state.stack if self._state else self._empty_stack
        self._show_message("")
        self.model.highlighted = set()
        self._recheck()
        self.sources.blockSignals(True)
        self.sources.clear()
        views = self.hset.views if self.hset else []
        for view in views:
            data = self.hset.merged.data if view == MERGED else self.hset.sources[view]
            keys = len(flatten(data))
            label = "all sources, merged" if view == MERGED else view
            self.sources.addItem(f"{label}  ({keys} keys)", view)
        if views:
            self.sources.setCurrentIndex(max(0, self.sources.findData(self.view)))
        self.sources.blockSignals(False)
        self.sources.setEnabled(bool(views))
        self.model.set_view(self.hset, self.view)
        self._fill_checks()
        self._fill_log()
        self._show_empty(checkpoint, bool(views))
        self._view_shown()

    def carry_over(self, old: Checkpoint, new: Checkpoint) -> None:
        """A reloaded checkpoint keeps the edits made on the one it replaces, on top of the
        values its files hold now (the undo history starts afresh)."""
        state = self._states.pop(id(old), None)
        if state is None:
            return
        fresh = self._states[id(new)] = _State(new, self)
        fresh.stack.indexChanged.connect(self._stack_changed)
        fresh.view = state.view if state.view in fresh.hset.views else MERGED
        for view in state.hset.views:
            if view in fresh.hset.views:
                target = fresh.hset.config(view)
                for change in state.hset.config(view).diff():
                    target.put(change.path, change.new)
        if state is self._state:
            self._state = fresh
        state.stack.deleteLater()

    def forget(self, checkpoint: Checkpoint) -> None:
        """Drop a closed checkpoint's edits and undo history."""
        state = self._states.pop(id(checkpoint), None)
        if state is None:
            return
        if state is self._state:
            self.set_checkpoint(None)
        state.stack.deleteLater()

    def _show_empty(self, checkpoint: Checkpoint | None, has_values: bool) -> None:
        if checkpoint is None:
            self.empty.setText("Open a checkpoint to see how it was trained.")
        elif not has_values:
            self.empty.setText(
                f"No hyperparameters found in {checkpoint.name} or beside it "
                "(config.json, hparams.yaml, trainer_state.json, .hydra/ …)."
            )
        self.empty.setVisible(not has_values)
        self.split.setVisible(has_values)
        for action in (self.export_action, self.save_beside_action, self.add_action):
            action.setEnabled(has_values)
        self._update_remove()

    def _view_chosen(self, row: int) -> None:
        if self._state is None or row < 0:
            return
        self._state.view = self.sources.itemData(row)
        self.model.set_view(self.hset, self.view)
        self._view_shown()

    def _view_shown(self) -> None:
        # one source's rows all come from it: its name in every row says nothing
        self.tree.setColumnHidden(SOURCE, self.view != MERGED)
        self.tree.expandAll()
        # the value is what matters: keys and source names get their width up to a point
        for column, widest in ((KEY, 240), (SOURCE, 160)):
            self.tree.resizeColumnToContents(column)
            self.tree.setColumnWidth(column, min(self.tree.columnWidth(column), widest))
        self._update_edits()

    def select_view(self, view: str) -> None:
        """Show one source by name, or MERGED."""
        self.sources.setCurrentIndex(self.sources.findData(view))

    def _shown_count(self, group: int) -> int:
        return self.proxy.rowCount(self.proxy.mapFromSource(self.model.index(group, 0)))

    def _filter(self, text: str) -> None:
        self.proxy.setFilterFixedString(text)
        self.model.shown_count = self._shown_count if text else None
        self.tree.expandAll()

    # --- shared selection -----------------------------------------------------------------------
    def highlight_for(self, paths: list[str]) -> None:
        """Highlight the keys that concern the selected tensors or modules (e.g. the hidden
        size for a matrix as wide as it, the layer count for the block stack)."""
        if self._state is None:
            return
        self.model.highlighted = related_keys(self._state.checkpoint, list(paths))
        self.model.refresh()
        for _, group_paths in self.model.groups:
            for path in group_paths:
                if self.model._is_highlighted(path):
                    index = self.proxy.mapFromSource(self.model.index_of(path))
                    if index.isValid():
                        self.tree.scrollTo(index)
                    return

    # --- editing --------------------------------------------------------------------------------
    def edit_value(self, path: KeyPath, value: Any) -> bool:
        """Validate and store a new value as an undoable step; a refused value shows why."""
        config = self.config
        if config is None:
            return False
        old = config.get(path)
        try:
            new = coerce(path, value, old)
        except HParamError as error:
            self._show_message(str(error), error=True)
            return False
        self._show_message("")
        if new == old and type(new) is type(old):
            return True
        self.undo_stack.push(
            _PutCommand(self, [(path, old, new)], f"set {dotted(path)}", rows=False)
        )
        return True

    def add_key(self, dotted_key: str, text: str) -> bool:
        config = self.config
        if config is None:
            return False
        path = config.resolve(dotted_key.strip())
        try:
            if config.get(path) is not MISSING:
                raise HParamError(f"{dotted(path)} already exists")
            spelling = config.known_spelling(path)
            if spelling is not None:
                raise HParamError(
                    f"{dotted(path)} is already here as {dotted(spelling)}: edit that value"
                )
            parent = config.get(path[:-1]) if len(path) > 1 else config.current
            if parent is not MISSING and not isinstance(parent, dict):
                raise HParamError(f"{dotted(path[:-1])} holds a value, not a mapping of keys")
            if not all(path):
                raise HParamError("a key needs a name")
            new = coerce(path, text)
        except HParamError as error:
            self._show_message(str(error), error=True)
            return False
        self._show_message("")
        self.undo_stack.push(
            _PutCommand(self, [(path, MISSING, new)], f"add {dotted(path)}", rows=True)
        )
        return True

    def remove_key(self, path: KeyPath) -> bool:
        config = self.config
        if config is None or config.get(path) is MISSING:
            return False
        old = config.get(path)
        self.undo_stack.push(
            _PutCommand(self, [(path, old, MISSING)], f"remove {dotted(path)}", True)
        )
        return True

    def reset_key(self, path: KeyPath) -> None:
        config = self.config
        if config is None or not config.is_edited(path):
            return
        change = (path, config.get(path), config.original_value(path))
        self.undo_stack.push(_PutCommand(self, [change], f"reset {dotted(path)}", True))

    def reset_all(self) -> None:
        if self.config is not None and self.config.diff():
            self.undo_stack.push(_ResetAllCommand(self))

    def selected_path(self) -> KeyPath | None:
        index = self.proxy.mapToSource(self.tree.currentIndex())
        return self.model.path_of(index)

    def _update_remove(self, *_args: object) -> None:
        # only a selected key can be removed; with nothing shown there is nothing to select
        self.remove_action.setEnabled(self.split.isVisible() and self.selected_path() is not None)

    def remove_selected(self) -> None:
        path = self.selected_path()
        if path is not None:
            self.remove_key(path)

    def reset_selected(self) -> None:
        path = self.selected_path()
        if path is not None and self.config is not None and self.config.is_edited(path):
            self.reset_key(path)
        else:
            self.reset_all()

    def add_key_dialog(self) -> None:
        key, ok = QInputDialog.getText(self, "Add key", "Key (dotted for nesting, e.g. optim.lr):")
        if not ok or not key.strip():
            return
        spec = spec_for(key.strip())
        hint = f"\n{spec.explanation}" if spec else ""
        text, ok = QInputDialog.getText(self, "Add key", f"Value of {key.strip()}:{hint}")
        if ok:
            self.add_key(key, text)

    def after_edit(self, config: EditableConfig, view: str, rows_changed: bool) -> None:
        """Called by undo commands: show the view that changed (of the shown checkpoint)."""
        if self.hset is None or config is not self.hset.config(view):
            return  # another checkpoint's edit: shown when that checkpoint is
        if view != self.view:
            self.select_view(view)
        self._recheck()
        self._fill_checks()
        if rows_changed:
            expanded = self.find.text()
            self.model.rebuild()
            self.tree.expandAll()
            self._filter(expanded)
        else:
            self.model.refresh()
        self._update_edits()

    def unsaved_edits(self) -> list[Checkpoint]:
        """Open checkpoints with edits that were not exported since (to ask before quitting)."""
        return [
            state.checkpoint
            for state in self._states.values()
            if not state.stack.isClean() and any(c.diff() for c in state.hset.configs())
        ]

    def _stack_changed(self, _index: int) -> None:
        self._update_edits()

    def _update_edits(self) -> None:
        count = self.config.edit_count if self.config is not None else 0
        self.edit_label.setText(f"✎ {count} edit{'s' if count != 1 else ''}" if count else "")
        self.edit_label.setToolTip(
            "\n".join(str(c) for c in self.config.diff()) if count and self.config else ""
        )
        self.undo_action.setEnabled(self.undo_stack.canUndo())
        self.redo_action.setEnabled(self.undo_stack.canRedo())
        self.undo_action.setToolTip(f"Undo {self.undo_stack.undoText()} (Ctrl+Z)")
        self.redo_action.setToolTip(f"Redo {self.undo_stack.redoText()} (Ctrl+Shift+Z)")
        self.reset_action.setEnabled(count > 0)
        self.diff_action.setEnabled(count > 0)
        self.edits_changed.emit(count)

    def diff_text(self) -> str:
        if self.config is None:
            return ""
        return "\n".join(str(change) for change in self.config.diff())

    def show_diff(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle(f"Edits against the original ({self.sources.currentText()})")
        text = QPlainTextEdit(self.diff_text() or "No edits.")
        text.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(dialog.reject)
        layout = QVBoxLayout(dialog)
        layout.addWidget(text)
        layout.addWidget(buttons)
        dialog.resize(520, 320)
        dialog.exec()

    # --- export ---------------------------------------------------------------------------------
    def export_to(self, target: str | Path) -> bool:
        """Write the shown values with the edits; notes on what the format cannot hold are shown."""
        if self._state is None or self.config is None:
            return False
        from core.hparams import export as writing  # noqa: PLC0415 — PyYAML and TOML: when asked

        try:
            protect = writing.own_files(self._state.checkpoint)
            notes = writing.export(self.config.current, target, protect=protect)
        except CheckpointError as error:
            self._show_message(str(error), error=True)
            return False
        self._written(Path(target), notes)
        return True

    def save_beside(self) -> Path | None:
        if self._state is None or self.config is None:
            return None
        checkpoint = self._state.checkpoint
        from core.hparams import export as writing  # noqa: PLC0415 — as in export_to

        try:
            protect = writing.own_files(checkpoint)
            target, notes = writing.save_beside(checkpoint.path, self.config.current, protect)
        except CheckpointError as error:
            self._show_message(str(error), error=True)
            return None
        self._written(target, notes)
        return target

    def export_dialog(self) -> bool:
        """Ask where, then export; whether a file was written."""
        if self._state is None:
            return False
        from core.hparams.export import beside_path  # noqa: PLC0415 — as in export_to

        start = str(beside_path(self._state.checkpoint.path))
        name, chosen = QFileDialog.getSaveFileName(
            self, "Export hyperparameters", start, EXPORT_FILTERS
        )
        if not name:
            return False
        target = Path(name)
        if target.suffix.lower() not in (".yaml", ".yml", ".json", ".toml"):
            chosen_format = chosen.split()[0] if chosen else ""
            target = target.with_name(target.name + _FILTER_SUFFIX.get(chosen_format, ".yaml"))
        return self.export_to(target)

    def _written(self, target: Path, notes: list[str]) -> None:
        self.undo_stack.setClean()
        text = f"Saved {target.name}"
        if notes:
            text += " — " + "; ".join(notes)
        self._show_message(text, error=any(not n.startswith("run state") for n in notes))
        self.status_message.emit(f"Hyperparameters written to {target}")

    # --- side views -----------------------------------------------------------------------------
    def _recheck(self) -> None:
        """The architecture check of the values as edited (an edit to 81 layers says ✗ there)."""
        state = self._state
        if state is not None:
            state.checks = check_architecture(state.checkpoint, edited_sources(state.hset))
        checks = state.checks if state else []
        self.model.checks = {(c.source, c.path): c for c in checks}

    def _fill_checks(self) -> None:
        self.checks.clear()
        checks = self._state.checks if self._state else []
        for check in checks:
            item = QTreeWidgetItem(
                [
                    check.mark,
                    check.what,
                    value_text(check.config_value),
                    "–" if check.tensor_value is None else value_text(check.tensor_value),
                    check.reason,
                ]
            )
            color = {"match": OKABE_ITO["bluish green"], "mismatch": ALERT}.get(check.status)
            if color:
                item.setForeground(0, QBrush(QColor(color)))
                font = item.font(0)
                font.setBold(True)
                item.setFont(0, font)
            for column in range(5):
                item.setToolTip(column, f"{check.key}\n{check.reason}")
            self.checks.addTopLevelItem(item)
        for column in range(4):
            self.checks.resizeColumnToContents(column)
        mismatches = sum(c.status == "mismatch" for c in checks)
        title = "Architecture check" + (f" ✗ {mismatches}" if mismatches else "")
        self.tabs.setTabText(0, title)
        self.tabs.setTabVisible(0, bool(checks))

    def _fill_log(self) -> None:
        state = self._state
        if state is not None and state.log is _UNREAD:  # read once per checkpoint, when shown
            state.log = training_log(state.checkpoint)
        log = state.log if state is not None else None
        self.training_view.set_log(log)
        rows = log.rows if log is not None else []
        columns: list[str] = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
        self.log_table.clear()
        self.log_table.setColumnCount(len(columns))
        self.log_table.setRowCount(len(rows))
        self.log_table.setHorizontalHeaderLabels(columns)
        for r, row in enumerate(rows):
            for c, column in enumerate(columns):
                value = row.get(column, "")
                text = value_text(value)  # floats shortest, as in the tree
                if isinstance(value, float) and text.lstrip("-").isdigit():
                    text += ".0"  # an epoch of 1.0 stays visibly a float
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.log_table.setItem(r, c, item)
        self.log_table.resizeColumnsToContents()
        self.tabs.setTabVisible(1, bool(rows))
        self.tabs.setVisible(bool(rows) or bool(self._state and self._state.checks))

    def _show_message(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {ALERT};" if error else "")
        self.message.setVisible(bool(text))
