"""The layer tree shows what torch counts: open real checkpoints, read the rows a person sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester
from safetensors.numpy import save_file

from core import open_checkpoint
from gui.layer_tree import (
    BUFFERS,
    EXACT_ROLE,
    EXPAND_ALL_ROWS,
    NAME,
    PARAMS,
    PATH_ROLE,
    ROLE,
    SHAPE,
    SORT_ROLE,
    STATE,
    WEIGHTS,
    LayerTree,
    LayerTreeModel,
    natural_key,
)
from tests.checkpoints import make_model, save_safetensors, save_training_dict, torch_counts


def rows(model, parent: QModelIndex | None = None) -> dict[str, QModelIndex]:
    """Top-level (or child) rows by the last part of their path."""
    parent = parent or QModelIndex()
    found = {}
    for r in range(model.rowCount(parent)):
        index = model.index(r, NAME, parent)
        found[index.data(PATH_ROLE).rpartition(".")[2]] = index
    return found


def cell(index: QModelIndex, column: int, role: int = SORT_ROLE):
    return index.siblingAtColumn(column).data(role)


@pytest.fixture
def tiny(tmp_path: Path):
    model = make_model(layers=3)
    return model, open_checkpoint(save_safetensors(model, tmp_path / "tiny.safetensors"))


def test_rows_and_counts_match_torch(qtbot, tiny) -> None:
    torch_model, ckpt = tiny
    tree = LayerTree(ckpt)
    qtbot.addWidget(tree)
    top = rows(tree.proxy)
    assert {"embed", "stem", "layers", "norm", "position_ids"} <= set(top)
    assert top["layers"].data() == "layers ×3"  # numbered blocks read as one group
    assert top["stem"].data() == "stem"  # a Sequential of different modules is no stack
    assert "3 numbered blocks, all alike" in top["layers"].data(Qt.ItemDataRole.ToolTipRole)
    assert "1 differs from the rest" in top["stem"].data(Qt.ItemDataRole.ToolTipRole)

    params, buffers = torch_counts(torch_model)
    assert sum(cell(i, PARAMS) for i in top.values()) == params
    assert sum(cell(i, BUFFERS) for i in top.values()) == buffers
    for name in ("embed", "stem", "norm"):
        module = getattr(torch_model, name)
        assert cell(top[name], PARAMS) == sum(p.numel() for p in module.parameters())
        assert cell(top[name], BUFFERS) == sum(b.numel() for b in module.buffers())
    layers = top["layers"]
    weights = sum(p.numel() for n, p in torch_model.layers.named_parameters() if "weight" in n)
    assert cell(layers, WEIGHTS) == weights
    assert cell(layers, WEIGHTS, Qt.ItemDataRole.ToolTipRole) == f"{weights:,} elements"
    assert top["embed"].siblingAtColumn(ROLE).data() == "embedding"

    # blocks 0..2 under the group, tensors with shapes under a block
    blocks = rows(tree.proxy, top["layers"])
    assert list(blocks) == ["0", "1", "2"]
    linear1 = rows(tree.proxy, rows(tree.proxy, blocks["1"])["linear1"])
    assert linear1["weight"].siblingAtColumn(SHAPE).data() == "32×16"
    assert linear1["weight"].data(PATH_ROLE) == "layers.1.linear1.weight"
    assert cell(linear1["bias"], PARAMS) == torch_model.layers[1].linear1.bias.numel()


def test_model_passes_qt_model_tester(qtbot, tiny) -> None:
    _, ckpt = tiny
    model = LayerTreeModel(ckpt)
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    tree = LayerTree(ckpt)
    qtbot.addWidget(tree)
    QAbstractItemModelTester(tree.proxy, QAbstractItemModelTester.FailureReportingMode.Fatal)
    tree.view.expandAll()
    tree.set_find_text("*norm*")
    tree.view.sortByColumn(PARAMS, Qt.SortOrder.DescendingOrder)
    tree.set_find_text("")
    model.set_checkpoint(None)
    assert model.rowCount() == 0


def test_training_checkpoint_keeps_optimizer_state_apart(qtbot, tmp_path: Path) -> None:
    torch_model = make_model()
    path = save_training_dict(torch_model, tmp_path / "train.pt")
    ckpt = open_checkpoint(path)
    saved = torch.load(path, weights_only=True)
    adam_state = sum(
        t.numel()
        for per_param in saved["optimizer_state_dict"]["state"].values()
        for t in per_param.values()
    )
    tree = LayerTree(ckpt)
    qtbot.addWidget(tree)
    top = rows(tree.proxy)
    params, _ = torch_counts(torch_model)
    assert cell(top["model_state_dict"], PARAMS) == params
    optimizer = top["optimizer_state_dict"]
    assert optimizer.siblingAtColumn(ROLE).data() == "optimizer"
    assert cell(optimizer, PARAMS) == 0
    assert cell(optimizer, STATE) == adam_state > 0  # exp_avg, exp_avg_sq, step
    assert not tree.view.isColumnHidden(STATE)
    assert optimizer.data(Qt.ItemDataRole.FontRole).italic()


def test_find_filters_keeps_ancestors_and_counts(qtbot, tiny) -> None:
    _, ckpt = tiny
    tree = LayerTree(ckpt)
    qtbot.addWidget(tree)
    tree.set_find_text("*linear1*")
    assert tree.matches.text() == "3 matches"  # the three linear1 modules, not their tensors
    top = rows(tree.proxy)
    assert list(top) == ["layers"]
    block = rows(tree.proxy, rows(tree.proxy, top["layers"])["2"])
    assert list(block) == ["linear1"]
    assert set(rows(tree.proxy, block["linear1"])) == {"weight", "bias"}  # a match's contents

    tree.set_find_text("norm2.bias")
    assert tree.matches.text() == "3 matches"
    tree.set_find_text("no such layer")
    assert tree.matches.text() == "0 matches" and tree.proxy.rowCount() == 0

    tree.find.setFocus()
    qtbot.keyClick(tree.find, Qt.Key.Key_Escape)
    assert tree.find.text() == ""
    qtbot.waitUntil(
        lambda: tree.proxy.rowCount() == len(ckpt.tree.children) + len(ckpt.tree.tensors)
    )
    assert tree.matches.text() == ""


def test_sorting_is_numeric(qtbot, tmp_path: Path) -> None:
    ckpt = open_checkpoint(save_safetensors(make_model(layers=12), tmp_path / "deep.safetensors"))
    tree = LayerTree(ckpt)
    qtbot.addWidget(tree)
    tree.view.sortByColumn(PARAMS, Qt.SortOrder.DescendingOrder)
    top = [tree.proxy.index(r, 0) for r in range(tree.proxy.rowCount())]
    values = [cell(i, PARAMS) for i in top]
    assert values == sorted(values, reverse=True)
    assert top[0].data() == "layers ×12"
    tree.view.sortByColumn(NAME, Qt.SortOrder.AscendingOrder)
    layers = rows(tree.proxy)["layers"]
    assert list(rows(tree.proxy, layers)) == [str(i) for i in range(12)]
    assert natural_key("layers.2") < natural_key("layers.10")


def test_copy_gives_exact_numbers(qtbot, tiny) -> None:
    torch_model, ckpt = tiny
    tree = LayerTree(ckpt)
    qtbot.addWidget(tree)
    assert tree.select_path("layers.0.linear1.weight")
    assert tree.selected_paths() == ["layers.0.linear1.weight"]
    assert tree.copy_text(NAME) == "layers.0.linear1.weight"
    assert tree.copy_text(SHAPE) == "32×16"
    row = tree.copy_text().split("\t")
    assert row[0] == "layers.0.linear1.weight" and "512" in row
    with qtbot.waitSignal(tree.selectionChanged) as signal:
        tree.select_path("embed")
    assert signal.args == [["embed"]]
    embed = rows(tree.proxy)["embed"]
    assert embed.siblingAtColumn(PARAMS).data(EXACT_ROLE) == f"{torch_model.embed.weight.numel():,}"


def test_100k_tensors_stay_lazy(qtbot, tmp_path: Path) -> None:
    """A model with 100,000 tensors: only the rows a view asks for become items."""
    arrays = {
        f"model.blocks.{b}.experts.{e}.w{k}.weight": np.zeros((2, 2), np.float16)
        for b in range(100)
        for e in range(250)
        for k in range(4)
    }
    path = tmp_path / "moe.safetensors"
    save_file(arrays, str(path))
    ckpt = open_checkpoint(path)
    assert ckpt.totals.tensors == 100_000
    tree = _shown_tree(qtbot, ckpt)
    qtbot.waitExposed(tree)
    made = _items_made(tree.model)
    assert made < 500, made  # model ▸ blocks ×100 expanded, nothing below
    tree.set_find_text("blocks.42.experts.7.w3")
    assert tree.matches.text() == "1 match"
    assert _items_made(tree.model) < 2_000
    assert tree.select_path("model.blocks.42.experts.7.w3.weight")
    assert tree.expand_all() is True  # the rows that match fit: all open
    tree.set_find_text("")
    assert tree.expand_all() is False  # too many rows to open at once: the levels that fit
    assert _items_made(tree.model) < 4 * EXPAND_ALL_ROWS


def _shown_tree(qtbot, ckpt) -> LayerTree:  # noqa: ANN001
    """A layer tree for `ckpt`, shown at the size of a window's tree."""
    tree = LayerTree(ckpt)
    qtbot.addWidget(tree)
    tree.resize(1000, 700)
    tree.show()
    return tree


def _items_made(model: LayerTreeModel) -> int:
    count, stack = 0, [model._root]
    while stack:
        item = stack.pop()
        count += 1
        if item._children is not None:
            stack.extend(item._children)
    return count


def _wide_model(tmp_path: Path, names: str):
    """100,000 sibling tensors: all at the top level, or all under `layers`."""
    if names == "flat":
        keys = [f"t{i}" for i in range(100_000)]
    else:
        keys = [f"layers.{i}.weight" for i in range(100_000)]
    path = tmp_path / f"{names}.safetensors"
    save_file({k: np.zeros((2,), np.float16) for k in keys}, str(path))
    return open_checkpoint(path)


def _count_data_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]
    data = LayerTreeModel.data

    def counting(self, index, role=Qt.ItemDataRole.DisplayRole):  # noqa: ANN001, ANN202
        calls[0] += 1
        return data(self, index, role)

    monkeypatch.setattr(LayerTreeModel, "data", counting)
    return calls


@pytest.mark.parametrize("names", ["flat", "stack"])
def test_showing_100k_siblings_reads_only_the_rows_in_sight(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, names: str
) -> None:
    """Opening (and resizing) must not ask every one of 100,000 rows for its name and count:
    that froze the window for seconds."""
    ckpt = _wide_model(tmp_path, names)
    tree = LayerTree()
    qtbot.addWidget(tree)
    tree.resize(1000, 700)
    tree.show()
    qtbot.waitExposed(tree)
    calls = _count_data_calls(monkeypatch)
    tree.set_checkpoint(ckpt)
    tree.view.viewport().repaint()
    tree.resize(1100, 700)
    tree.fit_names()
    assert calls[0] < 20_000, calls[0]
    assert tree.view.columnWidth(NAME) > tree.view.fontMetrics().horizontalAdvance("layers")


def _shown_rows(tree: LayerTree, parent: QModelIndex | None = None) -> int:
    parent = parent or QModelIndex()
    count = tree.proxy.rowCount(parent)
    total = count
    for row in range(count):
        index = tree.proxy.index(row, 0, parent)
        if tree.view.isExpanded(index):
            total += _shown_rows(tree, index)
    return total


def test_expand_all_on_100k_siblings_opens_a_bounded_number_of_rows(qtbot, tmp_path: Path) -> None:
    ckpt = _wide_model(tmp_path, "stack")
    tree = _shown_tree(qtbot, ckpt)
    assert tree.expand_all() is False
    assert _shown_rows(tree) <= EXPAND_ALL_ROWS + 100_000  # `layers` itself holds 100k rows
    assert not tree.view.isExpanded(tree.proxy.index(0, 0, tree.proxy.index(0, 0)))


def test_100k_siblings_are_shown_in_groups_that_add_up(qtbot, tmp_path: Path) -> None:
    ckpt = _wide_model(tmp_path, "flat")
    tree = _shown_tree(qtbot, ckpt)
    assert tree.proxy.rowCount() == 100
    first = tree.proxy.index(0, NAME)
    assert first.data() == "t0 … t999"
    assert first.data(PATH_ROLE) == ""  # not a module: selecting it selects nothing
    total = sum(tree.proxy.index(r, PARAMS).data(SORT_ROLE) for r in range(100))
    assert total == ckpt.totals.params == 200_000
    assert tree.proxy.rowCount(first) == 1_000
    tree.set_find_text("t99999")
    assert tree.matches.text() == "1 match"
    assert tree.proxy.rowCount() == 1  # only the group holding it
    assert tree.view.isExpanded(tree.proxy.index(0, NAME))
    tree.set_find_text("")
    assert tree.select_path("t54321")
    assert tree.selected_paths() == ["t54321"]
    tree.view.setCurrentIndex(tree.proxy.index(3, NAME))
    assert tree.selected_paths() == []


def test_grouped_model_passes_qt_model_tester(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gui.layer_tree as layer_tree

    monkeypatch.setattr(layer_tree, "GROUP_ROWS", 10)
    arrays = {f"layers.{i}.weight": np.zeros((2,), np.float32) for i in range(35)}
    arrays.update({f"head{i}": np.zeros((3,), np.float32) for i in range(25)})
    path = tmp_path / "wide.safetensors"
    save_file(arrays, str(path))
    ckpt = open_checkpoint(path)
    model = LayerTreeModel(ckpt)
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    assert model.rowCount() == 3  # `layers` and 25 tensors + … in groups of 10
    tree = LayerTree(ckpt)
    qtbot.addWidget(tree)
    QAbstractItemModelTester(tree.proxy, QAbstractItemModelTester.FailureReportingMode.Fatal)
    tree.view.expandAll()
    tree.set_find_text("layers.3*")
    assert tree.matches.text() == "6 matches"  # 3 and 30…34
    tree.view.sortByColumn(PARAMS, Qt.SortOrder.DescendingOrder)
    tree.set_find_text("")
    assert tree.select_path("layers.33.weight")


def test_find_matching_everything_in_100k_siblings_reveals_a_bounded_number_of_rows(
    qtbot, tmp_path: Path
) -> None:
    """Typing "t" matched all 100,000 tensors and opened every group: 14 s of layout."""
    from gui.layer_tree import FIND_REVEAL_ROWS

    ckpt = _wide_model(tmp_path, "flat")
    tree = _shown_tree(qtbot, ckpt)
    tree.set_find_text("t")
    assert tree.matches.text() == "100,000 matches"
    assert _shown_rows(tree) <= FIND_REVEAL_ROWS + 100


def test_copy_follows_the_order_on_screen_and_names_group_rows(qtbot, tmp_path: Path) -> None:
    ckpt = _wide_model(tmp_path, "flat")
    tree = LayerTree(ckpt)
    qtbot.addWidget(tree)
    tree.show()
    selection = tree.view.selectionModel()
    flags = selection.SelectionFlag.Select | selection.SelectionFlag.Rows
    selection.select(tree.proxy.index(2, NAME), flags)
    selection.select(tree.proxy.index(0, NAME), flags)
    assert tree.copy_text(NAME) == "t0 … t999\nt2000 … t2999"


def test_sorting_100k_siblings_is_done_by_key_not_row_by_row(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Clicking the Parameters header on 100,000 rows froze the window for 20 s: the proxy
    compared rows pairwise, two calls into Python each time."""
    ckpt = _wide_model(tmp_path, "flat")
    tree = _shown_tree(qtbot, ckpt)
    calls = _count_data_calls(monkeypatch)
    tree.view.sortByColumn(PARAMS, Qt.SortOrder.DescendingOrder)
    tree.view.viewport().repaint()
    tree.view.sortByColumn(NAME, Qt.SortOrder.AscendingOrder)
    tree.view.viewport().repaint()
    assert calls[0] < 20_000, calls[0]
    assert tree.proxy.index(0, NAME).data() == "t0 … t999"


def test_sorting_a_grouped_level_ranks_across_groups(
    qtbot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gui.layer_tree as layer_tree

    monkeypatch.setattr(layer_tree, "GROUP_ROWS", 10)
    arrays = {f"t{i}": np.zeros((1 + (i * 7) % 35,), np.float32) for i in range(35)}
    path = tmp_path / "wide.safetensors"
    save_file(arrays, str(path))
    tree = LayerTree(open_checkpoint(path))
    qtbot.addWidget(tree)
    QAbstractItemModelTester(tree.proxy, QAbstractItemModelTester.FailureReportingMode.Fatal)
    in_file_order = tree.proxy.index(0, NAME).data()
    tree.view.sortByColumn(PARAMS, Qt.SortOrder.DescendingOrder)
    first = tree.proxy.index(0, NAME)
    sizes = [tree.proxy.index(r, PARAMS, first).data(SORT_ROLE) for r in range(10)]
    assert sizes == sorted((float(1 + (i * 7) % 35) for i in range(35)), reverse=True)[:10]
    tree.select_path("t3")
    tree.view.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # back to the file's order
    assert tree.proxy.index(0, NAME).data() == in_file_order
    assert tree.select_path("t34")


def test_wildcards_work_inside_the_name_as_plain_text_does(qtbot, tmp_path: Path) -> None:
    arrays = {
        f"model.blocks.0.experts.{e}.w{k}.weight": np.zeros((2,), np.float16)
        for e in range(130)
        for k in (1, 2)
    }
    path = tmp_path / "moe.safetensors"
    save_file(arrays, str(path))
    tree = LayerTree(open_checkpoint(path))
    qtbot.addWidget(tree)
    tree.set_find_text("experts.12?.w1")
    assert tree.matches.text() == "10 matches"
    tree.set_find_text("experts.12")
    assert tree.matches.text() == "11 matches"  # 12 and 120…129
