"""The layer tree of a comparison: modules, pairs, and tensors only one side holds.

Rows carry the figures of `core.analysis.compare`: a status icon, the relative change (with a heat
bar), cosine, max |Δ| and SNR. Module rows show their aggregated figures (exact, from sums).
Sorting goes through a QSortFilterProxyModel on SORT_ROLE, which holds the plain numbers, so
"largest change first" is one click on the column header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, QRect, Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

from core.analysis.compare import Comparison, ModuleResult, PairResult
from gui.colors import OKABE_ITO

COLUMNS = ("Name", "Status", "Rel. change", "Cosine", "Max |Δ|", "SNR dB")
NAME, STATUS, REL, COSINE, MAX_ABS, SNR = range(len(COLUMNS))
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
HEAT_ROLE = Qt.ItemDataRole.UserRole + 2  # rel as a share of the largest rel shown (0 … 1)
NODE_ROLE = Qt.ItemDataRole.UserRole + 3

STATUS_COLORS = {
    "identical": OKABE_ITO["bluish green"],
    "changed": OKABE_ITO["orange"],
    "dtype": OKABE_ITO["sky blue"],
    "shape": OKABE_ITO["vermillion"],
    "only A": OKABE_ITO["grey"],
    "only B": OKABE_ITO["grey"],
}
STATUS_TEXT = {
    "identical": "identical",
    "changed": "changed",
    "dtype": "dtype changed",
    "shape": "shape differs",
    "only A": "only in A",
    "only B": "only in B",
}


@dataclass(eq=False)
class Node:
    name: str
    path: str
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    pair: PairResult | None = None
    only: str = ""  # "A" or "B" for a tensor one side lacks
    module: ModuleResult | None = None
    _by_name: dict[str, Node] = field(default_factory=dict, repr=False)

    def child(self, name: str) -> Node:
        found = self._by_name.get(name)
        if found is None:
            path = f"{self.path}.{name}" if self.path else name
            found = Node(name, path, self)
            self._by_name[name] = found
            self.children.append(found)
        return found

    @property
    def status(self) -> str:
        if self.pair is not None:
            return self.pair.status
        if self.only:
            return f"only {self.only}"
        if self.module is not None:
            return "changed" if self.module.changed else "identical"
        return ""

    @property
    def rel(self) -> float | None:
        if self.pair is not None:
            f = self.pair.figures
            return f.rel if f else None
        return self.module.rel if self.module is not None else None

    @property
    def cosine(self) -> float | None:
        if self.pair is not None:
            f = self.pair.figures
            return f.cosine if f else None
        return self.module.cosine if self.module is not None else None

    @property
    def max_abs(self) -> float | None:
        f = self.pair.figures if self.pair is not None else None
        return f.max_abs if f else None

    @property
    def snr_db(self) -> float | None:
        if self.pair is not None:
            f = self.pair.figures
            return f.snr_db if f else None
        m = self.module
        if m is not None and m.d2 > 0 and m.a2 > 0:
            return 10 * math.log10(m.a2 / m.d2)
        return None


def _place(root: Node, module: str, leaf: str) -> Node:
    node = root
    for part in module.split(".") if module else []:
        node = node.child(part)
    return node.child(leaf)


def build_tree(comparison: Comparison) -> Node:
    root = Node("", "")
    for pair in comparison.pairs:
        module, name = pair.spec.module, pair.spec.a
        leaf = name[len(module) + 1 :] if module and name.startswith(module + ".") else name
        _place(root, module, leaf).pair = pair
    for side, names in (("A", comparison.only_a), ("B", comparison.only_b)):
        for name in names:
            module, _, leaf = name.rpartition(".")
            node = _place(root, module, leaf)
            if node.pair is None:
                node.only = side
    modules = {m.path: m for m in comparison.modules}
    stack = [root]
    while stack:
        node = stack.pop()
        if node.pair is None and not node.only:
            node.module = modules.get(node.path)
        stack.extend(node.children)
    return root


def _icon(color: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor(color))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


def _fmt(value: float | None, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "pct":
        pct = value * 100
        return "0" if pct == 0 else f"{pct:.3g} %"
    if kind == "cos":
        return f"{value:.6f}"
    if kind == "db":
        return f"{value:.1f}"
    return "0" if value == 0 else f"{value:.3g}"


_TOP = QModelIndex()  # the invisible root's index, as a default argument


class CompareModel(QAbstractItemModel):
    def __init__(self, comparison: Comparison, parent=None) -> None:
        super().__init__(parent)
        self.comparison = comparison
        self.root = build_tree(comparison)
        rels = [r for r in (self._rel_of(n) for n in self._walk(self.root)) if r]
        self.largest_rel = max(rels, default=0.0)
        self._icons = {status: _icon(color) for status, color in STATUS_COLORS.items()}
        self._grey = QBrush(QColor(OKABE_ITO["grey"]))

    @staticmethod
    def _rel_of(node: Node) -> float | None:
        return node.rel if node.pair is not None else None

    def _walk(self, node: Node):
        yield node
        for child in node.children:
            yield from self._walk(child)

    # --- structure ---------------------------------------------------------------------------

    def node(self, index: QModelIndex | QPersistentModelIndex) -> Node:
        return index.internalPointer() if index.isValid() else self.root

    def index(self, row: int, column: int, parent=_TOP) -> QModelIndex:
        node = self.node(parent)
        if 0 <= row < len(node.children) and 0 <= column < len(COLUMNS):
            return self.createIndex(row, column, node.children[row])
        return QModelIndex()

    def parent(self, index=_TOP) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        node = index.internalPointer().parent
        if node is None or node is self.root or node.parent is None:
            return QModelIndex()
        return self.createIndex(node.parent.children.index(node), 0, node)

    def rowCount(self, parent=_TOP) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).children)

    def columnCount(self, parent=_TOP) -> int:
        return len(COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        node: Node = index.internalPointer()
        column = index.column()
        if role == NODE_ROLE:
            return node
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(node, column)
        if role == SORT_ROLE:
            return self._sort_value(node, column)
        if role == HEAT_ROLE and column == REL:
            rel = node.rel
            return 0.0 if not rel or not self.largest_rel else min(1.0, rel / self.largest_rel)
        if role == Qt.ItemDataRole.DecorationRole and column == NAME:
            icon = self._icons.get(node.status)
            return icon
        if role == Qt.ItemDataRole.ForegroundRole and node.only:
            return self._grey
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(node)
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= REL:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _text(self, node: Node, column: int) -> str:
        if column == NAME:
            return node.name
        if column == STATUS:
            return STATUS_TEXT.get(node.status, "")
        if column == REL:
            return _fmt(node.rel, "pct")
        if column == COSINE:
            return _fmt(node.cosine, "cos")
        if column == MAX_ABS:
            return _fmt(node.max_abs, "num")
        return _fmt(node.snr_db, "db")

    def _sort_value(self, node: Node, column: int):
        if column == NAME:
            return node.name
        if column == STATUS:
            return node.status
        value = (node.rel, node.cosine, node.max_abs, node.snr_db)[column - REL]
        return -math.inf if value is None else float(value)

    def _tooltip(self, node: Node) -> str:
        if node.pair is not None:
            spec = node.pair.spec
            lines = [f"A: {spec.a} {list(spec.shape_a)} {spec.dtype_a}",
                     f"B: {spec.b} {list(spec.shape_b)} {spec.dtype_b}"]  # fmt: skip
            if spec.transform:
                lines.append(f"undone: {spec.transform}")
            return "\n".join(lines)
        if node.only:
            return f"{node.path}: only in {node.only}"
        return node.path


class HeatBarDelegate(QStyledItemDelegate):
    """The relative change as a bar behind its number, longest for the largest change shown."""

    def paint(self, painter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().paint(painter, option, index)
        share = float(index.data(HEAT_ROLE) or 0.0)
        if share > 0:  # over the text, translucent: it reads through
            rect = option.rect.adjusted(2, 3, -2, -3)
            width = max(2, round(rect.width() * share))
            color = QColor(OKABE_ITO["vermillion"])
            color.setAlpha(70)
            painter.fillRect(QRect(rect.left(), rect.top(), width, rect.height()), color)
