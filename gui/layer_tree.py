"""The layer tree: a lazy QAbstractItemModel over `core.model.ModuleNode`, a find filter, a view.

Like silx's Hdf5TreeModel, rows are made on first access: an item creates its child items only when
the view (or the filter) asks for them, so a model with 100,000 tensors opens as fast as one with
ten. Every count comes precomputed from the engine's tree; nothing is summed per repaint. Cells
hold short numbers (`11.7 M`); tooltips and copied text hold exact ones (`11,700,224`).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QItemSelection,
    QModelIndex,
    QPoint,
    QRect,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QGuiApplication, QIcon, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from core import units
from core.flags import FLAGS
from core.health_report import HealthReport, NodeHealth
from core.info import stored_shape
from core.model import Checkpoint, ModuleNode, TensorInfo
from core.tree import WIDE, group_size, grouped, level_entries, natural_key
from gui.colors import ALERT, category_color

if TYPE_CHECKING:
    from core.stats import TensorStats

COLUMNS = (
    "Name",
    "Role",
    "Shape",
    "dtype",
    "Weights",
    "Biases",
    "Other",
    "Buffers",
    "Quant",
    "Parameters",
    "% of model",
    "Bytes",
    "State",
    "Zeros",
    "Health",
    "α",
)
(
    NAME,
    ROLE,
    SHAPE,
    DTYPE,
    WEIGHTS,
    BIASES,
    OTHER,
    BUFFERS,
    QUANT,
    PARAMS,
    PERCENT,
    BYTES,
    STATE,
    ZEROS,
    HEALTH,
    ALPHA,
) = range(len(COLUMNS))
NUMERIC = {WEIGHTS, BIASES, OTHER, BUFFERS, QUANT, PARAMS, PERCENT, BYTES, STATE}  # element counts
RIGHT = NUMERIC | {ZEROS, ALPHA}
HEADER_TIPS = {
    NAME: "Module or tensor name; numbered blocks are grouped (layers ×80)",
    ROLE: "What the tensors are: embedding, linear, conv, norm, buffer; tied/optimizer/EMA copy",
    WEIGHTS: "Elements of weight tensors",
    BIASES: "Elements of bias tensors",
    OTHER: "Parameter elements that are neither weights nor biases",
    BUFFERS: "Elements of buffers (running statistics, position ids …): not parameters",
    QUANT: "Elements of quantisation metadata (scales, zero points of integer weights): "
    "not parameters",
    PARAMS: "Parameters: weights + biases + other (tied tensors counted once)",
    PERCENT: "Share of the model's parameters",
    BYTES: "Bytes as stored in the file",
    STATE: "Elements that are not the model's: optimizer moments, EMA copies, training state",
    ZEROS: "Share of values that are exactly zero (after a health check)",
    HEALTH: "Health flags from reading every value: nan, inf, dead, outliers, sparse "
    "(hover a cell for what each means)",
    ALPHA: "Power-law exponent of the weight matrix's eigenvalue spectrum (View ▸ Compute "
    "Spectra): 2–6 typical of well-trained layers, > 6 under-trained, < 2 over-trained; "
    "a module shows the mean over its matrices",
}

SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # raw value for sorting
PATH_ROLE = Qt.ItemDataRole.UserRole + 2  # tensor name or module path
SHARE_ROLE = Qt.ItemDataRole.UserRole + 3  # 0..1 share of the model, for the % bar
CATEGORY_ROLE = Qt.ItemDataRole.UserRole + 4  # core.model.CATEGORIES entry, for the bar colour
EXACT_ROLE = Qt.ItemDataRole.UserRole + 5  # cell text with exact numbers, for copying

SECTION_LABELS = {"optimizer": "optimizer", "copy": "EMA copy", "training": "training"}
ROLE_CATEGORY = {
    "embedding": "embeddings",
    "norm": "norm scales",
    "buffer": "buffers",
    "quant": "quantisation",
    "linear": "weights",
    "conv": "weights",
}

FIND_REVEAL_ROWS = 2_000  # rows the find field may reveal by opening the way to matches
EXPAND_ALL_ROWS = 10_000  # rows Expand All may open; beyond, it opens the levels that fit
CHAIN_ROWS = 1_000  # a level wider than this is not a chain of wrappers to open on its own
# A module with more direct entries than this shows them in groups (`t0 … t999`): laying out
# 100,000 sibling rows costs the view seconds, and no one scrolls through them anyway.
GROUP_ROWS = WIDE
_ROOT = QModelIndex()  # the invalid index: the root of the tree
_CELL_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable  # made once: | is slow


def shape_text(shape: tuple[int, ...]) -> str:
    return "×".join(str(d) for d in shape) if shape else "scalar"


# --- items: made lazily, one per row the view or the filter has asked for --------------------------


@dataclass(eq=False, slots=True)
class _Item:
    parent: _Item | None
    row: int
    node: ModuleNode | None = None
    tensor: TensorInfo | None = None
    group: bool = False  # a row standing for a run of its parent's entries, not a module
    order: int = 0  # its place in the file's order, to which sorting by no column returns
    _children: list[_Item] | None = field(default=None, repr=False)
    _label: str | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        """The Name cell, made once: `layers ×80` for a stack of numbered blocks."""
        if self._label is None:
            if self.tensor is not None:
                self._label = self.tensor.name.rpartition(".")[2]
            else:
                node = self.node
                assert node is not None
                repeat = 0 if self.group else node.repeat
                alike = not self.group and repeat > 1 and _alike(node)
                self._label = f"{node.name} ×{repeat}" if alike else node.name
        return self._label

    @property
    def path(self) -> str:
        """The tensor name or module path; "" for a group row, which is neither."""
        if self.tensor is not None:
            return self.tensor.name
        return "" if self.group else self.node.path  # type: ignore[union-attr]

    def entry_paths(self) -> list[str]:
        """A group row's entries: the paths of the modules and tensors it stands for."""
        assert self.node is not None
        return [e.path if isinstance(e, ModuleNode) else e.name for e in level_entries(self.node)]

    def child_count(self) -> int:
        if self.node is None:
            return 0
        entries = len(self.node.children) + len(self.node.tensors)
        if entries > GROUP_ROWS and not self.group:
            if node_groups := self.node.groups:
                return len(node_groups)
            return -(-entries // group_size(entries, GROUP_ROWS))
        return entries

    def children(self) -> list[_Item]:
        if self._children is None:
            node = self.node
            made: list[_Item] = []
            if node is not None:
                entries = len(node.children) + len(node.tensors)
                if entries > GROUP_ROWS and not self.group:
                    for group in _file_order_groups(node):
                        made.append(_Item(self, len(made), node=group, group=True, order=len(made)))
                else:
                    made = [self.entry_item(e, i) for i, e in enumerate(level_entries(node))]
            self._children = made
        return self._children

    def entry_item(self, entry: ModuleNode | TensorInfo, order: int) -> _Item:
        if isinstance(entry, ModuleNode):
            return _Item(self, order, node=entry, order=order)
        return _Item(self, order, tensor=entry, order=order)


def _file_order_groups(node: ModuleNode) -> list[ModuleNode]:
    """A wide level's groups in the file's order: made while opening, or here when GROUP_ROWS is
    narrower than the engine's WIDE."""
    entries = level_entries(node)
    return node.groups or grouped(node.path, entries, group_size(len(entries), GROUP_ROWS))


def _alike(node: ModuleNode) -> bool:
    """Whether most numbered children are the same block (a stack of layers, not a Sequential
    of different modules): compared by their precomputed counts, in constant time each."""
    signatures: dict[tuple[int, ...], int] = {}
    for child in node.children.values():
        key = (child.params, child.buffer, child.state, child.nbytes, child.tensor_count)
        signatures[key] = signatures.get(key, 0) + 1
    return max(signatures.values()) * 2 > len(node.children)


def _blocks_note(node: ModuleNode) -> str:
    """How the numbered children compare: all alike, or which ones differ from the most."""
    by_key: dict[tuple[int, ...], list[str]] = {}
    for name, child in node.children.items():
        key = (child.params, child.buffer, child.state, child.nbytes, child.tensor_count)
        by_key.setdefault(key, []).append(name)
    if len(by_key) == 1:
        return f"{node.repeat} numbered blocks, all alike"
    common = max(by_key.values(), key=len)
    others = [name for names in by_key.values() if names is not common for name in names]
    shown = ", ".join(others[:8]) + (" …" if len(others) > 8 else "")
    verb = "differs" if len(others) == 1 else "differ"
    return f"{node.repeat} numbered blocks; {len(others)} {verb} from the rest: {shown}"


def _section(node: ModuleNode) -> str:
    """'optimizer'/'copy'/'training' when everything under the node is that kind of state."""
    if node.params or node.buffer or node.quant or not node.state:
        return ""
    first = next(_first_tensors(node), None)
    return first.section if first is not None and first.section != "model" else ""


def _first_tensors(node: ModuleNode):
    stack = [node]
    while stack:
        current = stack.pop()
        yield from current.tensors
        stack.extend(current.children.values())


def _flag_tooltip(flags: list[str]) -> str:
    return "\n".join(f"{flag}: {FLAGS[flag]}" for flag in flags)


class LayerTreeModel(QAbstractItemModel):
    """The module tree of one checkpoint; tensors are the leaves."""

    def __init__(self, checkpoint: Checkpoint | None = None, parent=None) -> None:
        super().__init__(parent)
        self.checkpoint: Checkpoint | None = None
        self._root = _Item(None, 0, node=ModuleNode(name="", path=""))
        self._total = 0
        self._fixed = QFont()
        self._fixed.setFeature(QFont.Tag("tnum"), 1)  # tabular figures: digits line up
        self._state_font = QFont()
        self._state_font.setItalic(True)
        self.health: dict[str, TensorStats] = {}
        self._node_health: dict[int, NodeHealth] = {}
        self.alphas: dict[str, float] = {}
        self._node_alpha: dict[int, float | None] = {}
        self._warning: QIcon | None = None
        self._sort_column = -1  # the file's order until a column is chosen
        self._sort_order = Qt.SortOrder.AscendingOrder
        if checkpoint is not None:
            self.set_checkpoint(checkpoint)

    def set_alphas(self, alphas: dict[str, float]) -> None:
        """Each weight matrix's power-law α, for the α column (modules show their mean)."""
        self.alphas = alphas
        self._node_alpha = {}
        top, bottom = self.index(0, ALPHA), self.index(self.rowCount() - 1, ALPHA)
        if top.isValid():
            self.dataChanged.emit(top, bottom)

    def _alpha_of(self, item: _Item) -> float | None:
        if item.tensor is not None:
            return self.alphas.get(item.tensor.name)
        if item.node is None or not self.alphas:
            return None
        key = id(item.node)
        if key not in self._node_alpha:
            found: list[float] = []
            stack = [item.node]
            while stack:
                node = stack.pop()
                found += [self.alphas[t.name] for t in node.tensors if t.name in self.alphas]
                stack.extend(node.children.values())
            self._node_alpha[key] = sum(found) / len(found) if found else None
        return self._node_alpha[key]

    def set_health(self, report: HealthReport | None) -> None:
        """Show a health check's findings in the Zeros and Health columns (None: no check)."""
        self.health = report.results if report is not None else {}
        self._node_health = report.by_node if report is not None else {}
        top, bottom = self.index(0, ZEROS), self.index(self.rowCount() - 1, HEALTH)
        if top.isValid():
            self.dataChanged.emit(top, bottom)  # children repaint as they are shown

    # sorting: here, by one key per row, not in the proxy, which compares rows pairwise through
    # data() — millions of calls into Python for 100,000 rows — and could not rank rows across
    # groups: a grouped level is grouped again in the sorted order

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        held = [(index.internalPointer(), index.column()) for index in old]
        self._sort_column, self._sort_order = column, order
        self._resort(self._root)
        self.changePersistentIndexList(old, [self._index_of(item, col) for item, col in held])
        self.layoutChanged.emit()

    def _kids(self, item: _Item) -> list[_Item]:
        if item._children is None:
            item.children()
            if self._sort_column >= 0:
                self._arrange(item)
        return item._children  # type: ignore[return-value]

    def _resort(self, item: _Item) -> None:
        if item._children is None:
            return
        self._arrange(item)
        for kid in item._children:
            self._resort(kid)

    def _arrange(self, item: _Item) -> None:
        kids = item._children
        if not kids:
            return
        if kids[0].group:
            self._regroup(item)
            return
        kids.sort(key=self._sort_key, reverse=self._descending())
        for row, kid in enumerate(kids):
            kid.row = row

    def _descending(self) -> bool:
        return self._sort_column >= 0 and self._sort_order == Qt.SortOrder.DescendingOrder

    def _sort_key(self, item: _Item) -> tuple:
        if self._sort_column < 0:
            return (False, item.order)
        value = self._sort_value(item, self._sort_column)
        return (isinstance(value, str), value)  # numbers before text, never compared

    def _regroup(self, item: _Item) -> None:
        """A grouped level, grouped again: in the file's order, or in the sorted order."""
        node = item.node
        assert node is not None
        made: dict[int, _Item] = {}  # id(entry) → its row item, kept where one exists
        for group in item._children or []:
            for kid in group._children or []:
                made[id(kid.node if kid.node is not None else kid.tensor)] = kid
        if self._sort_column < 0:
            groups = _file_order_groups(node)
        else:
            entries = level_entries(node)
            rows = [made.get(id(e)) or item.entry_item(e, i) for i, e in enumerate(entries)]
            rows.sort(key=self._sort_key, reverse=self._descending())
            ordered = [r.node if r.node is not None else r.tensor for r in rows]
            groups = grouped(node.path, ordered, group_size(len(ordered), GROUP_ROWS))  # type: ignore[arg-type]
        item._children = []
        for row, group in enumerate(groups):
            group_item = _Item(item, row, node=group, group=True, order=row)
            kids = [
                made.get(id(e)) or group_item.entry_item(e, i)
                for i, e in enumerate(group.entry_order)
            ]
            for i, kid in enumerate(kids):
                kid.parent, kid.row = group_item, i
            group_item._children = kids
            item._children.append(group_item)

    def _index_of(self, item: _Item, column: int) -> QModelIndex:
        """The index of an item still in the tree (an old group row is not: invalid)."""
        up = item
        while up.parent is not None:
            kids = up.parent._children
            if kids is None or up.row >= len(kids) or kids[up.row] is not up:
                return QModelIndex()
            up = up.parent
        if up is not self._root:
            return QModelIndex()
        return self.createIndex(item.row, column, item)

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        self.beginResetModel()
        self.checkpoint = checkpoint
        tree = checkpoint.tree if checkpoint is not None else ModuleNode(name="", path="")
        self._root = _Item(None, 0, node=tree)
        self._total = checkpoint.totals.params if checkpoint is not None else 0
        self.health, self._node_health = {}, {}
        self.alphas, self._node_alpha = {}, {}
        self.endResetModel()

    # structure

    def _item(self, index: QModelIndex) -> _Item:
        return index.internalPointer() if index.isValid() else self._root

    def index(self, row: int, column: int, parent: QModelIndex = _ROOT) -> QModelIndex:
        if column < 0 or column >= len(COLUMNS) or row < 0:
            return QModelIndex()
        if parent.isValid() and parent.column() != 0:
            return QModelIndex()
        children = self._kids(self._item(parent))
        if row >= len(children):
            return QModelIndex()
        return self.createIndex(row, column, children[row])

    def parent(self, index: QModelIndex = _ROOT) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        up = index.internalPointer().parent
        if up is None or up is self._root:
            return QModelIndex()
        return self.createIndex(up.row, 0, up)

    def rowCount(self, parent: QModelIndex = _ROOT) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return self._item(parent).child_count()

    def columnCount(self, parent: QModelIndex = _ROOT) -> int:
        return len(COLUMNS)

    def hasChildren(self, parent: QModelIndex = _ROOT) -> bool:
        return self.rowCount(parent) > 0

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if role == Qt.ItemDataRole.ToolTipRole:
            return HEADER_TIPS.get(section)
        if role == Qt.ItemDataRole.TextAlignmentRole and section in RIGHT:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        return _CELL_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def child_item(self, parent: QModelIndex, row: int) -> _Item | None:
        children = self._kids(self._item(parent))
        return children[row] if 0 <= row < len(children) else None

    def path_of(self, index: QModelIndex) -> str:
        return self._item(index).path

    # cells

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        item: _Item = index.internalPointer()
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, column)
        if role == Qt.ItemDataRole.DecorationRole:
            # a flagged tensor shows it by its name, where the eye already is
            if column == NAME and item.tensor is not None and self._flags_of(item):
                return self._warning_icon()
            return None
        if role == SORT_ROLE:
            return self._sort_value(item, column)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            if column in RIGHT:
                return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            return None
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, column)
        if role == Qt.ItemDataRole.FontRole:
            if self._is_state(item):
                return self._state_font
            return self._fixed if column in RIGHT else None
        if role == Qt.ItemDataRole.BackgroundRole and column == ALPHA:
            from gui.spectrum_line import alpha_color

            return alpha_color(self._alpha_of(item))
        if role == Qt.ItemDataRole.ForegroundRole:
            if column == HEALTH and self._flags_of(item):
                return QColor(ALERT)
            if self._is_state(item) or (item.tensor is not None and item.tensor.tied_to):
                return QGuiApplication.palette().color(
                    QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text
                )
            return None
        if role == PATH_ROLE:
            return item.path
        if role == SHARE_ROLE:
            params = self._numbers(item)[PARAMS]
            return params / self._total if self._total else 0.0
        if role == CATEGORY_ROLE:
            if item.tensor is not None:
                return item.tensor.category
            return ROLE_CATEGORY.get(item.node.role, "weights")  # type: ignore[union-attr]
        if role == EXACT_ROLE:
            return self._exact(item, column)
        return None

    def _is_state(self, item: _Item) -> bool:
        if item.tensor is not None:
            return item.tensor.section != "model"
        return bool(_section(item.node))  # type: ignore[arg-type]

    def _numbers(self, item: _Item) -> dict[int, int]:
        """Raw numbers of the numeric columns (PERCENT holds the parameter count)."""
        t = item.tensor
        if t is None:
            n = item.node
            assert n is not None
            params = n.params
            return {
                WEIGHTS: n.weight,
                BIASES: n.bias,
                OTHER: n.other,
                BUFFERS: n.buffer,
                QUANT: n.quant,
                PARAMS: params,
                PERCENT: params,
                BYTES: n.nbytes,
                STATE: n.state,
            }
        numbers = dict.fromkeys(NUMERIC, 0)
        if t.tied_to is not None:
            return numbers
        numbers[BYTES] = t.nbytes
        if t.is_parameter:
            numbers[{"weight": WEIGHTS, "bias": BIASES}.get(t.kind, OTHER)] = t.numel
            numbers[PARAMS] = numbers[PERCENT] = t.numel
        elif t.is_buffer:
            numbers[BUFFERS] = t.numel
        elif t.is_quant_state:
            numbers[QUANT] = t.numel
        else:
            numbers[STATE] = t.numel
        return numbers

    def _role_text(self, item: _Item) -> str:
        t = item.tensor
        if t is not None:
            if t.tied_to:
                return "tied"
            if t.section != "model":
                return SECTION_LABELS.get(t.section, t.section)
            return t.role
        node = item.node
        assert node is not None
        section = _section(node)
        if section:
            return SECTION_LABELS.get(section, section)
        if node.tensors and not node.children and all(t.tied_to for t in node.tensors):
            return "tied"
        return node.role

    def _warning_icon(self) -> QIcon:
        if self._warning is None:
            style = QApplication.style()
            self._warning = style.standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
        return self._warning

    def _health_of(self, item: _Item) -> tuple[int, int] | None:
        """(zeros, values) the health check read under this row, or None if it read none."""
        if item.tensor is not None:
            result = self.health.get(item.tensor.name)
            return (result.zeros, result.numel) if result is not None else None
        health = self._node_health.get(id(item.node))  # none for a group row
        return (health.zeros, health.numel) if health is not None and health.checked else None

    def _flags_of(self, item: _Item) -> dict[str, list[str]]:
        """Flag → flagged tensor names, for a tensor row or everything under a module row."""
        if item.tensor is not None:
            result = self.health.get(item.tensor.name)
            return {flag: [item.tensor.name] for flag in result.flags} if result else {}
        health = self._node_health.get(id(item.node))
        return health.flags if health is not None else {}

    def _health_text(self, item: _Item) -> str:
        if self._health_of(item) is None:
            return ""
        flags = self._flags_of(item)
        if item.tensor is not None:
            return ", ".join(flags) if flags else "ok"
        return (
            " · ".join(f"{units.exact(len(names))} {flag}" for flag, names in flags.items()) or "ok"
        )

    def _health_tooltip(self, item: _Item, column: int) -> str | None:
        numbers = self._health_of(item)
        if numbers is None:
            return None
        zeros, values = numbers
        if column == ZEROS:
            return f"{units.exact(zeros)} of {units.exact(values)} values are exactly zero"
        flags = self._flags_of(item)
        if not flags:
            return "no NaN or Inf, not dead, no extreme outliers, not mostly zeros"
        if item.tensor is not None:
            return _flag_tooltip(list(flags))
        lines = []
        for flag, names in flags.items():
            shown = ", ".join(names[:5]) + (" …" if len(names) > 5 else "")
            lines.append(f"{len(names)} {flag}: {shown}\n    ({FLAGS[flag]})")
        return "\n".join(lines)

    def _display(self, item: _Item, column: int) -> str | None:
        t, node = item.tensor, item.node
        if column == NAME:
            return item.label
        if column == ZEROS:
            numbers = self._health_of(item)
            return f"{numbers[0] / numbers[1]:.1%}" if numbers and numbers[1] else ""
        if column == HEALTH:
            return self._health_text(item)
        if column == ALPHA:
            alpha = self._alpha_of(item)
            return "" if alpha is None else f"{alpha:.2f}"
        if column == ROLE:
            return self._role_text(item)
        if column == SHAPE:
            return shape_text(t.shape) if t is not None else ""
        if column == DTYPE:
            if t is not None:
                return t.dtype
            dtypes = node.dtypes  # type: ignore[union-attr]
            return (
                dtypes[0]
                if len(dtypes) == 1
                else (f"{dtypes[0]} +{len(dtypes) - 1}" if dtypes else "")
            )
        if column == PERCENT:
            params = self._numbers(item)[PARAMS]
            return units.percent(params, self._total) if params else "–"
        value = self._numbers(item)[column]
        if column == BYTES:
            return units.size(value) if (t is None or t.tied_to is None) else "–"
        return units.count(value) if value else "–"

    def _exact(self, item: _Item, column: int) -> str:
        if column in NUMERIC and column != PERCENT:
            value = self._numbers(item)[column]
            return units.exact(value) if value else "–"
        if column == NAME:
            return item.path or item.label  # a group row has no path: its label says what it holds
        return self._display(item, column) or ""

    def _sort_value(self, item: _Item, column: int):
        if column == NAME:
            return natural_key((self._display(item, NAME) or "").lower())
        if column == ZEROS:
            numbers = self._health_of(item)
            return numbers[0] / numbers[1] if numbers and numbers[1] else -1.0
        if column == HEALTH:
            return float(sum(len(names) for names in self._flags_of(item).values()))
        if column == ALPHA:
            alpha = self._alpha_of(item)
            return -1.0 if alpha is None else alpha
        if column in NUMERIC:
            return float(self._numbers(item)[column])
        if column == SHAPE and item.tensor is not None:
            return float(item.tensor.numel)
        return self._display(item, column) or ""

    def _tooltip(self, item: _Item, column: int) -> str | None:
        t, node = item.tensor, item.node
        if column in (ZEROS, HEALTH):
            return self._health_tooltip(item, column)
        if column == NAME:
            if t is not None:
                lines = [t.name, f"{shape_text(t.shape)} · {t.dtype} · {units.exact(t.numel)}"]
                if t.tied_to:
                    lines.append(f"shares its storage with {t.tied_to} (counted once)")
                if t.section != "model":
                    lines.append(
                        f"{SECTION_LABELS.get(t.section, t.section)} state, not a parameter"
                    )
                stored = stored_shape(self.checkpoint, t) if self.checkpoint else None
                if stored is not None:
                    lines.append(f"in the file (ggml order, fastest dimension first): {stored}")
                if t.truncated == "partial":
                    lines.append("partial: the file is truncated inside its data")
                elif t.truncated == "missing":
                    lines.append("missing: its data lies past the end of the truncated file")
                elif t.source is None:
                    lines.append("its data cannot be read from the file")
                flags = self._flags_of(item)
                if flags:
                    lines.append(_flag_tooltip(list(flags)))
                return "\n".join(lines)
            assert node is not None
            if item.group:
                held = len(node.children) + len(node.tensors)
                return (
                    f"{units.exact(held)} of the rows under {node.path or '(whole model)'}, "
                    f"grouped {units.exact(GROUP_ROWS)} or more at a time so the tree stays "
                    f"quick\n{units.exact(node.tensor_count)} tensors"
                )
            lines = [node.path or "(whole model)", f"{units.exact(node.tensor_count)} tensors"]
            if node.repeat > 1:
                lines.append(_blocks_note(node))
            return "\n".join(lines)
        if column == PERCENT:
            params = self._numbers(item)[PARAMS]
            if not params:
                return None
            return f"{units.exact(params)} of {units.exact(self._total)} parameters"
        if column in NUMERIC:
            value = self._numbers(item)[column]
            if column == BYTES:
                return f"{units.exact(value)} bytes"
            return f"{units.exact(value)} elements" if value else None
        if column == DTYPE and node is not None and node.dtypes:
            return ", ".join(node.dtypes)
        if column == SHAPE and t is not None:
            return f"{shape_text(t.shape)} = {units.exact(t.numel)} elements"
        return None


# --- filter ---------------------------------------------------------------------------------------


def compile_pattern(text: str) -> re.Pattern[str] | None:
    """Find text → a regex matching whole lines of lower-case dotted names that contain it,
    where `*` stands for any run of characters and `?` for one. Wildcards work inside the
    search, as plain text does: `experts.12?.w` finds `model.….experts.123.w1.weight`."""
    text = text.strip().lower()
    if not text:
        return None
    parts = ("[^\n]*" if c == "*" else "[^\n]" if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^[^\n]*{''.join(parts)}[^\n]*$", re.MULTILINE)


def _all_names(checkpoint: Checkpoint) -> str:
    """Every tensor name and module path, lower case, one per line: one regex pass finds all."""
    names = [t.name for t in checkpoint.tensors]
    modules: set[str] = set()
    for name in names:  # each module path once, from the names (cheaper than walking the tree)
        module = name.rpartition(".")[0]
        while module and module not in modules:
            modules.add(module)
            module = module.rpartition(".")[0]
    names.extend(modules)
    return "\n".join(names).lower()


class LayerFilterModel(QSortFilterProxyModel):
    """Shows the rows whose path matches, their ancestors (to reach them) and their contents.

    The matches are found once per pattern by one regex pass over all names (fast even for
    100,000 tensors); the proxy then only asks about rows of the levels a view shows, so the
    source model stays lazy. Paths in the sets are lower case: find ignores case.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self._pattern: re.Pattern[str] | None = None
        self._visible: set[str] = set()  # matches and their ancestors
        self._matched: set[str] = set()
        self._names: tuple[Checkpoint, str] | None = None  # made on the first find
        self.match_count = 0
        self.only: list[str] | None = None  # tensor names to show alone (a health finding)
        self._text = ""

    def set_only(self, names: list[str] | None) -> int:
        """Show only these tensors (and what leads to them), still narrowed by the find text."""
        self.only = names
        return self.set_pattern(self._text)

    def set_pattern(self, text: str) -> int:
        """Filter by `text`; returns the number of matches (those not inside another match)."""
        self._text = text
        self._pattern = compile_pattern(text)
        self._visible = set()
        self._matched = set()
        self.match_count = 0
        source: LayerTreeModel | None = self.sourceModel()  # type: ignore[assignment]
        if self.only is not None:
            self._collect_only(self.only)
        elif self._pattern is not None and source is not None and source.checkpoint is not None:
            self._collect(source.checkpoint)
        # A full invalidate drops the mappings of every level filtered before; refiltering
        # them all (invalidateFilter) would visit every row ever shown, for nothing.
        self.invalidate()
        return self.match_count

    @property
    def visible_paths(self) -> set[str]:
        return self._visible

    @property
    def matched_paths(self) -> set[str]:
        return self._matched

    def _collect(self, checkpoint: Checkpoint) -> None:
        if self._names is None or self._names[0] is not checkpoint:
            self._names = (checkpoint, _all_names(checkpoint))
        matched = set(self._pattern.findall(self._names[1]))  # type: ignore[union-attr]
        self._matched = matched
        visible = self._visible
        for path in matched:
            parent = path.rpartition(".")[0]
            inside = False
            while parent:
                if parent in matched:
                    inside = True
                    break
                parent = parent.rpartition(".")[0]
            if inside:
                continue  # shown with the match that holds it, not counted again
            self.match_count += 1
            while path and path not in visible:
                visible.add(path)
                path = path.rpartition(".")[0]

    def _collect_only(self, names: list[str]) -> None:
        pattern = self._pattern
        for name in names:
            path = name.lower()
            if pattern is not None and not pattern.search(path):
                continue
            self._matched.add(path)
            self.match_count += 1
            while path and path not in self._visible:
                self._visible.add(path)
                path = path.rpartition(".")[0]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sorting is the source model's (one key per row); this proxy only filters."""
        source = self.sourceModel()
        if source is not None:
            source.sort(column, order)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        if self._pattern is None and self.only is None:
            return True
        source: LayerTreeModel = self.sourceModel()  # type: ignore[assignment]
        item = source.child_item(source_parent, source_row)
        if item is None:
            return False
        if item.group:
            shown = any(path.lower() in self._visible for path in item.entry_paths())
        else:
            shown = item.path.lower() in self._visible
        # inside a matched module: show its contents too
        return shown or any(
            up.node is not None and up.node.path.lower() in self._matched
            for up in _ancestors(item.parent)
        )


def _place_on_screen(index: QModelIndex) -> tuple[int, ...]:
    """Rows from the top of the tree down to `index`: sorting by it gives the order shown."""
    rows: list[int] = []
    while index.isValid():
        rows.append(index.row())
        index = index.parent()
    return tuple(reversed(rows))


def _ancestors(item: _Item | None):
    while item is not None:
        yield item
        item = item.parent


# --- the % bar ------------------------------------------------------------------------------------


class ShareBarDelegate(QStyledItemDelegate):
    """The share of the model as a small bar in the category's colour, the number beside it."""

    def paint(self, painter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        self.initStyleOption(option, index)
        widget = option.widget
        style = widget.style() if widget is not None else QApplication.style()
        text = option.text
        option.text = ""
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, option, painter, widget)
        rect = option.rect.adjusted(4, 0, -4, 0)
        number_width = option.fontMetrics.horizontalAdvance("100.0") + 6
        share = min(1.0, float(index.data(SHARE_ROLE) or 0.0))
        track = QRect(rect.left(), rect.center().y() - 3, rect.width() - number_width, 6)
        if share > 0 and track.width() > 4:
            color = QColor(category_color(index.data(CATEGORY_ROLE) or "weights"))
            width = max(1, round(track.width() * share))
            painter.fillRect(QRect(track.left(), track.top(), width, track.height()), color)
        role = (
            QPalette.ColorRole.HighlightedText
            if option.state & QStyle.StateFlag.State_Selected
            else QPalette.ColorRole.Text
        )
        style.drawItemText(
            painter,
            rect,
            int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter),
            option.palette,
            True,
            text,
            role,
        )


# --- the widget -----------------------------------------------------------------------------------


class FindField(QLineEdit):
    """The find field: Escape clears it (and a second Escape leaves it to the window); Down or
    Enter goes on into the results."""

    intoResults = Signal()

    def event(self, event) -> bool:
        # claim Escape before any window shortcut on it (a panel's Cancel) while there is text
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and event.key() == Qt.Key.Key_Escape
            and self.text()
        ):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Escape and self.text():
            self.clear()
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.intoResults.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class LayerTree(QWidget):
    """Find field + tree view for one checkpoint. `selectionChanged(paths)` feeds the other panels."""

    selectionChanged = Signal(list)

    def __init__(self, checkpoint: Checkpoint | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LayerTreeModel(parent=self)
        self.proxy = LayerFilterModel(self)
        self.proxy.setSourceModel(self.model)

        self.find = FindField()
        self.find.setAcceptDrops(False)  # a dropped file opens; it is not text to search for
        self.find.setAccessibleName("Find layers")
        self.find.setPlaceholderText("Find layers: part of a name, with * and ? as wildcards")
        self.find.setClearButtonEnabled(True)
        self.find.setToolTip(
            "Ctrl+F · any part of the full names; * and ? as wildcards · Esc clears"
        )
        self.matches = QLabel("")
        self.matches.setMinimumWidth(90)
        self.matches.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self._find_timer = QTimer(self)
        self._find_timer.setSingleShot(True)
        self._find_timer.setInterval(120)
        self._find_timer.timeout.connect(self._apply_find)
        self.find.textChanged.connect(lambda _t: self._find_timer.start())
        self.find.intoResults.connect(self.enter_results)

        self.view = QTreeView()
        self.view.setModel(self.proxy)
        self.view.setAccessibleName("Layers")
        self.view.setUniformRowHeights(True)  # constant-time scrolling for huge trees
        self.view.setIndentation(14)  # deep module paths keep room for their names
        self.view.setSortingEnabled(True)
        self.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # the file's order until asked
        self.view.setAlternatingRowColors(True)
        # `weight_ih_l0` and `weight_hh_l0` differ in the middle: keep both ends in sight
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setAllColumnsShowFocus(True)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._context_menu)
        self.view.setItemDelegateForColumn(PERCENT, ShareBarDelegate(self.view))
        header = self.view.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        self._fitting = False
        self._name_width_chosen = False
        header.sectionResized.connect(self._section_resized)

        # "showing only the 17 outliers · Show all": a health finding's filter, and the way back
        self.only_bar = QLabel()
        self.only_bar.setTextFormat(Qt.TextFormat.RichText)
        self.only_bar.setWordWrap(True)
        self.only_bar.linkActivated.connect(lambda _link: self.show_only(None))
        self.only_bar.hide()

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.find, 1)
        top.addWidget(self.matches)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.only_bar)
        layout.addWidget(self.view, 1)
        if checkpoint is not None:
            self.set_checkpoint(checkpoint)

    def set_checkpoint(self, checkpoint: Checkpoint | None) -> None:
        self.model.set_checkpoint(checkpoint)
        # columns with nothing in them for this file stay out of the way (the header menu shows them)
        totals = checkpoint.totals if checkpoint is not None else None
        empty = {
            OTHER: not (totals and totals.counts.get("other")),
            BUFFERS: not (totals and totals.buffers),
            QUANT: not (totals and totals.quant_state),
            STATE: not (
                totals and (totals.optimizer_state or totals.copies or totals.training_state)
            ),
        }
        empty[ZEROS] = empty[HEALTH] = True  # until a health check has run
        empty[ALPHA] = not self.model.alphas  # until spectra are computed
        for column, hide in empty.items():
            self.view.setColumnHidden(column, hide)
        self._size_columns()
        if self.find.text():
            self._apply_find()
        elif checkpoint is not None:
            self._expand_single_chain()

    def set_spectra(self, results: dict | None) -> None:
        """Show each matrix's α (a dict: tensor name → core.analysis.spectrum.LayerSpectrum)."""
        self.model.set_alphas(
            {name: r.alpha for name, r in (results or {}).items() if r.alpha is not None}
        )
        self.view.setColumnHidden(ALPHA, not self.model.alphas)

    def set_health(self, report: HealthReport | None) -> None:
        self.model.set_health(report)
        for column in (ZEROS, HEALTH):
            self.view.setColumnHidden(column, report is None or not report.results)
        if report is not None and report.results:
            # next to the names, where it is seen without scrolling sideways
            header = self.view.header()
            header.moveSection(header.visualIndex(HEALTH), 1)
            self.view.resizeColumnToContents(HEALTH)
        if report is None and self.proxy.only is not None:
            self.show_only(None)

    def show_only(self, names: list[str] | None, what: str = "") -> None:
        """Show only these tensors (a health finding: `what` says which); None shows all again."""
        self.view.collapseAll()
        count = self.proxy.set_only(names)
        self.only_bar.setVisible(names is not None)
        if names is not None:
            self.only_bar.setText(
                f"Showing only the {html.escape(what or 'chosen tensors')} "
                f"({units.exact(count)} shown) · <a href='show-all'>Show all</a>"
            )
            self._expand_to_matches(QModelIndex(), [FIND_REVEAL_ROWS])
            if names:
                self.select_path(names[0])
        self.matches.setText("")

    def flagged_names(self) -> list[str]:
        """Tensors the health check flagged (of the finding shown, if one is), in file order."""
        if self.proxy.only is not None:
            return list(self.proxy.only)
        checkpoint = self.model.checkpoint
        health = self.model.health
        if checkpoint is None or not health:
            return []
        return [t.name for t in checkpoint.tensors if (r := health.get(t.name)) and r.flags]

    def select_flagged(self, step: int) -> str | None:
        """Select the next (step 1) or previous (-1) flagged tensor after the selection, round."""
        names = self.flagged_names()
        if not names:
            return None
        current = self.selected_paths()
        order = {t.name: i for i, t in enumerate(self.model.checkpoint.tensors)}  # type: ignore[union-attr]
        here = order.get(current[-1] if current else "", -1 if step > 0 else len(order))
        if step > 0:
            after = [n for n in names if order[n] > here]
            target = after[0] if after else names[0]
        else:
            before = [n for n in names if order[n] < here]
            target = before[-1] if before else names[-1]
        self.view.clearSelection()
        self.select_path(target)
        return target

    def _size_columns(self) -> None:
        """Widths from the font: numbers need ~7 digits; headers must stay readable."""
        char = self.view.fontMetrics().horizontalAdvance("0")
        header = self.view.header().fontMetrics()
        widths = {
            NAME: 19,
            ROLE: 8,
            SHAPE: 11,
            DTYPE: 7,
            PERCENT: 8,
            BYTES: 8,
            HEALTH: 12,
        }  # "28672×8192" fits
        self._fitting = True
        for column in range(len(COLUMNS)):
            chars = widths.get(column, 6) * char + 14
            self.view.setColumnWidth(
                column, max(chars, header.horizontalAdvance(COLUMNS[column]) + 18)
            )
        self._fitting = False

    def _header_menu(self, position) -> None:
        menu = QMenu(self)
        for column in range(1, len(COLUMNS)):
            action = menu.addAction(COLUMNS[column])
            action.setCheckable(True)
            action.setChecked(not self.view.isColumnHidden(column))
            action.toggled.connect(lambda on, c=column: self.view.setColumnHidden(c, not on))
        menu.exec(self.view.header().mapToGlobal(position))

    def _expand_single_chain(self) -> None:
        """Open the way to the bulk of the model: wrappers (state_dict ▸ model ▸ …) and any row
        holding most of its parent's parameters, down to the first group of repeated blocks."""
        index = QModelIndex()
        for _ in range(6):
            count = self.proxy.rowCount(index)
            if count > CHAIN_ROWS:
                break
            children = [self.proxy.index(row, 0, index) for row in range(count)]
            if not children:
                break
            biggest = max(children, key=lambda c: c.siblingAtColumn(PARAMS).data(SORT_ROLE) or 0)
            item: _Item = self.proxy.mapToSource(biggest).internalPointer()
            if item.group:
                break  # a huge level shown in groups: nothing in it stands out to open
            node = item.node
            total = sum(c.siblingAtColumn(PARAMS).data(SORT_ROLE) or 0 for c in children)
            if node is None or (count > 1 and node.params * 2 < total):
                break
            self.view.expand(biggest)
            if node.repeat > 1:
                break  # a stack of blocks: the group with its count is the view to start from
            index = biggest
        self.fit_names()

    def fit_names(self) -> None:
        """Size the Name column to the shown names, within what the view leaves beside the
        other columns (so Bytes stays in sight); a width the person dragged is kept."""
        if self._name_width_chosen:
            return
        char = self.view.fontMetrics().horizontalAdvance("0")
        wanted = min(self._names_in_sight_width() + 8, 34 * char)
        others = sum(
            self.view.columnWidth(c)
            for c in range(1, len(COLUMNS))
            if not self.view.isColumnHidden(c)
        )
        room = self.view.viewport().width() - others - 4
        # names first: the numbers may scroll, names not; the header always reads "Name"
        header = self.view.header().fontMetrics().horizontalAdvance(COLUMNS[NAME]) + 24
        floor = max(min(wanted, 24 * char), header, 12 * char)
        width = max(floor, min(wanted, room))
        self._fitting = True
        self.view.setColumnWidth(NAME, width)
        self._fitting = False

    def _names_in_sight_width(self) -> int:
        """The widest Name cell among the rows in sight, indentation included. Qt's
        sizeHintForColumn would ask every row of a level: seconds for 100,000 siblings."""
        view = self.view
        index = view.indexAt(QPoint(1, 1))
        if not index.isValid():
            index = self.proxy.index(0, NAME)
        rows = view.viewport().height() // max(1, view.sizeHintForIndex(index).height()) + 2
        widest = 0
        for _ in range(min(rows, 400)):
            if not index.isValid():
                break
            depth, up = 0, index.parent()
            while up.isValid():
                depth, up = depth + 1, up.parent()
            indent = view.indentation() * (depth + int(view.rootIsDecorated()))
            widest = max(widest, view.sizeHintForIndex(index).width() + indent)
            index = view.indexBelow(index)
        return widest

    def _section_resized(self, column: int, _old: int, _new: int) -> None:
        if column == NAME and not self._fitting and self.view.isVisible():
            self._name_width_chosen = True

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self.model.checkpoint is not None:
            self.fit_names()

    def expand_all(self) -> bool:
        """Expand every row, or — when that would show more than EXPAND_ALL_ROWS rows and
        freeze the window laying them out — the levels that fit, top down (False says so)."""
        checkpoint = self.model.checkpoint
        if checkpoint is None:
            return True
        if checkpoint.totals.tensors + _module_count(checkpoint.tree) <= EXPAND_ALL_ROWS:
            self.view.expandAll()
            return True
        level = [QModelIndex()]
        shown = self.proxy.rowCount(QModelIndex())
        while level:
            below: list[QModelIndex] = []
            for parent in level:
                if shown > EXPAND_ALL_ROWS:
                    return False
                for row in range(self.proxy.rowCount(parent)):
                    child = self.proxy.index(row, NAME, parent)
                    if self.proxy.hasChildren(child):
                        below.append(child)
                        shown += self.proxy.rowCount(child)
            if shown > EXPAND_ALL_ROWS:
                return False
            for index in below:
                self.view.expand(index)
            level = below
        return True

    # find

    def focus_find(self) -> None:
        self.find.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.find.selectAll()

    def enter_results(self) -> None:
        """From the find field into the tree: the first match (or the first row) selected."""
        if self._find_timer.isActive():
            self._find_timer.stop()
            self._apply_find()
        matched = self.proxy.matched_paths if self.find.text().strip() else set()
        index = self.proxy.index(0, NAME)
        first = index
        for _ in range(FIND_REVEAL_ROWS):
            if not index.isValid() or not matched:
                break
            if self.model.path_of(self.proxy.mapToSource(index)).lower() in matched:
                first = index
                break
            index = self.view.indexBelow(index)
        if first.isValid():
            self.view.setCurrentIndex(first)
            self.view.scrollTo(first)
        self.view.setFocus(Qt.FocusReason.TabFocusReason)

    def set_find_text(self, text: str) -> None:
        self.find.setText(text)
        self._find_timer.stop()
        self._apply_find()

    def _apply_find(self) -> None:
        text = self.find.text()
        self.view.collapseAll()  # the old filter's expansions would all be re-mapped
        count = self.proxy.set_pattern(text)
        if not text.strip():
            self.matches.setText("")
            return
        self.matches.setText("1 match" if count == 1 else f"{units.exact(count)} matches")
        if count:
            self._expand_to_matches(QModelIndex(), [FIND_REVEAL_ROWS])

    def _expand_to_matches(self, parent: QModelIndex, budget: list[int]) -> None:
        """Open the rows that lead to matches (not the matches' contents) while the rows this
        reveals stay within a budget: "t" in 100,000 tensors must not lay out all of them."""
        visible, matched = self.proxy.visible_paths, self.proxy.matched_paths
        for row in range(self.proxy.rowCount(parent)):
            if budget[0] <= 0:
                return
            index = self.proxy.index(row, 0, parent)
            path = self.proxy.data(index, PATH_ROLE).lower()
            if path == "" or (path in visible and path not in matched):  # "": a group row
                revealed = self.proxy.rowCount(index)
                if revealed > budget[0]:
                    continue  # a smaller sibling may still fit
                budget[0] -= revealed
                self.view.expand(index)
                self._expand_to_matches(index, budget)

    # selection and copying

    def selected_paths(self) -> list[str]:
        rows = self.view.selectionModel().selectedRows(NAME)
        paths = (self.proxy.data(index, PATH_ROLE) for index in rows)
        return [path for path in paths if path]  # a group row stands for no one module

    def select_path(self, path: str) -> bool:
        """Select (and reveal) the row of a tensor name or module path."""
        index = QModelIndex()
        while True:
            for row in range(self.proxy.rowCount(index)):
                child = self.proxy.index(row, 0, index)
                child_path = self.proxy.data(child, PATH_ROLE)
                if child_path == "":  # a group row: open it if it holds the way to `path`
                    item: _Item = self.proxy.mapToSource(child).internalPointer()
                    if any(path == p or path.startswith(p + ".") for p in item.entry_paths()):
                        self.view.expand(child)
                        index = child
                        break
                    continue
                if child_path == path:
                    self.view.setCurrentIndex(child)
                    self.view.scrollTo(child, QAbstractItemView.ScrollHint.PositionAtCenter)
                    return True
                if path.startswith(child_path + "."):
                    self.view.expand(child)
                    index = child
                    break
            else:
                return False

    def _selection_changed(self, _new: QItemSelection, _old: QItemSelection) -> None:
        self.selectionChanged.emit(self.selected_paths())

    def copy_text(self, column: int | None = None) -> str:
        """The selected rows as text: one column, or every visible column tab-separated."""
        lines = []
        for index in sorted(self.view.selectionModel().selectedRows(NAME), key=_place_on_screen):
            if column is not None:
                lines.append(self.proxy.index(index.row(), column, index.parent()).data(EXACT_ROLE))
                continue
            cells = [
                self.proxy.index(index.row(), c, index.parent()).data(EXACT_ROLE) or ""
                for c in range(len(COLUMNS))
                if not self.view.isColumnHidden(c)
            ]
            lines.append("\t".join(cells))
        return "\n".join(lines)

    def copy(self, column: int | None = None) -> None:
        text = self.copy_text(column)
        if text:
            QGuiApplication.clipboard().setText(text)

    def _context_menu(self, position) -> None:
        index = self.view.indexAt(position)
        if not index.isValid():
            return
        menu = QMenu(self)
        menu.addAction("Copy &name", lambda: self.copy(NAME))
        shape = menu.addAction("Copy &shape", lambda: self.copy(SHAPE))
        shape.setEnabled(bool(self.proxy.index(index.row(), SHAPE, index.parent()).data()))
        menu.addAction("Copy &row", lambda: self.copy(None))
        menu.addSeparator()
        menu.addAction("&Expand all below", lambda: self.view.expandRecursively(index))
        menu.exec(self.view.viewport().mapToGlobal(position))


def _module_count(node: ModuleNode) -> int:
    return 1 + sum(_module_count(child) for child in node.children.values())
