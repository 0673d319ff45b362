"""The compare tab as a person uses it: File ▸ Compare With…, Compare Tabs…, Shift+drop; the
sortable Δ columns, greyed one-sided rows, plots for the selected row, Cancel."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QPointF, Qt
from PySide6.QtGui import QDropEvent, QKeySequence
from PySide6.QtWidgets import QFileDialog

from gui import compare_tab
from gui.compare_model import NAME, NODE_ROLE, REL, STATUS
from gui.compare_tab import CompareTab
from gui.main_window import MainWindow
from tests.diff_fixtures import torch_pair
from tests.test_gui_window import drag_events, wait_opened


def wait_compared(qtbot, tab: CompareTab) -> None:
    qtbot.waitUntil(lambda: not tab.busy, timeout=60_000)
    assert tab.state == "done", tab.summary.text()


def top_rows(tab: CompareTab) -> list[str]:
    proxy = tab.proxy
    return [proxy.index(r, NAME, QModelIndex()).data() for r in range(proxy.rowCount())]


def test_compare_with_menu(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    path_a, path_b, _, _ = torch_pair(tmp_path)
    window.open_path(path_a)
    wait_opened(qtbot, window, 1)
    assert window.compare_action.shortcut() == QKeySequence("Ctrl+Shift+D")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path_b), ""))
    window.compare_action.trigger()
    tab = window.tabs.currentWidget()
    assert isinstance(tab, CompareTab)
    assert window.tabs.tabText(window.tabs.currentIndex()) == "a.pt ↔ b.pt"
    wait_compared(qtbot, tab)
    summary = tab.summary.text()
    assert summary.startswith("6 tensors paired · 3 identical · 3 changed (largest: enc.0.bias,")
    assert "1 only in A" in summary and "1 only in B" in summary
    # sorted by relative change, largest first: the module holding the changed layers leads
    assert top_rows(tab)[0] == "enc"
    tab.view.sortByColumn(REL, Qt.SortOrder.AscendingOrder)
    assert top_rows(tab)[-1] == "enc"
    # a tensor only one side holds is greyed
    extra = next(
        tab.proxy.index(r, NAME, QModelIndex())
        for r in range(tab.proxy.rowCount())
        if tab.proxy.index(r, NAME, QModelIndex()).data() == "extra"
    )
    weight = tab.proxy.index(0, STATUS, extra)
    assert weight.data() == "only in B"
    assert weight.data(Qt.ItemDataRole.ForegroundRole) is not None
    # selecting a pair: the Δ histogram now, A and B histograms when their job ends
    assert tab.select_path("enc.1.weight")
    node = tab.view.currentIndex().data(NODE_ROLE)
    assert node.pair.status == "changed"
    assert tab.delta_plot.getPlotItem().listDataItems() or tab.delta_plot.getPlotItem().items
    qtbot.waitUntil(lambda: len(tab.hist_plot.getPlotItem().listDataItems()) == 2, timeout=30_000)
    # closing the tab leaves the checkpoint tab
    window.close_tab(window.tabs.currentIndex())
    assert window.tabs.count() == 1


def test_compare_tabs_and_depth_plot(qtbot, window: MainWindow, tmp_path: Path) -> None:
    import torch

    blocks = {f"layers.{i}.w": torch.randn(8, 8) for i in range(4)}
    moved = {k: v * (1 + 0.01 * i) for i, (k, v) in enumerate(blocks.items())}
    torch.save(blocks, tmp_path / "base.pt")
    torch.save(moved, tmp_path / "tuned.pt")
    window.open_path(tmp_path / "base.pt")
    window.open_path(tmp_path / "tuned.pt")
    first, second = wait_opened(qtbot, window, 2)
    tab = compare_tab.open_compare(window, first.checkpoint, second.checkpoint)
    wait_compared(qtbot, tab)
    parent, numbers, rels = compare_tab.depth_series(tab.comparison)
    assert parent == "layers" and numbers == [0, 1, 2, 3]
    assert rels == pytest.approx([0.0, 0.01, 0.02, 0.03], abs=1e-6)
    assert tab.depth_plot.getPlotItem().listDataItems()


def test_shift_drop_compares_with_the_current_tab(qtbot, window: MainWindow, tmp_path) -> None:
    path_a, path_b, _, _ = torch_pair(tmp_path)
    window.open_path(path_a)
    wait_opened(qtbot, window, 1)
    mime, _ = drag_events([path_b])
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.ShiftModifier,
    )
    window.dropEvent(event)
    tab = window.tabs.currentWidget()
    assert isinstance(tab, CompareTab)
    wait_compared(qtbot, tab)


def test_cancel_and_a_bad_side(qtbot, window: MainWindow, tmp_path: Path) -> None:
    path_a, path_b, _, _ = torch_pair(tmp_path)
    tab = CompareTab(path_a, path_b)
    qtbot.addWidget(tab)
    tab.cancel()
    tab.start()
    qtbot.waitUntil(lambda: not tab.busy, timeout=30_000)
    assert tab.state == "cancelled" and tab.summary.text() == "Cancelled."
    (tmp_path / "broken.pt").write_bytes(b"PK\x03\x04 not a zip")
    bad = compare_tab.open_compare(window, path_a, tmp_path / "broken.pt")
    qtbot.waitUntil(lambda: not bad.busy, timeout=30_000)
    assert bad.state == "failed" and "side B" in bad.summary.text()


def test_the_two_configs_side_by_side_with_the_changed_keys(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    """What is compared includes the hyperparameters: the two merged configs side by side,
    only the keys that differ, a key one side lacks said to be missing."""
    import json

    from tests.diff_fixtures import llama_weights, save_hf

    weights = llama_weights()
    a = save_hf(tmp_path / "base", weights)
    b = save_hf(tmp_path / "tuned", weights)
    config = json.loads((tmp_path / "tuned" / "config.json").read_text())
    config["vocab_size"] += 1
    config["rope_theta"] = 500000.0
    (tmp_path / "tuned" / "config.json").write_text(json.dumps(config))
    tab = compare_tab.open_compare(window, a.parent, b.parent)
    wait_compared(qtbot, tab)
    rows = {
        tab.configs.topLevelItem(i).text(0): (
            tab.configs.topLevelItem(i).text(1),
            tab.configs.topLevelItem(i).text(2),
        )
        for i in range(tab.configs.topLevelItemCount())
    }
    keys = {change["key"] for change in tab.comparison.config_changes}
    assert set(rows) == keys and any(k.endswith("vocab_size") for k in keys)
    (rope,) = [k for k in keys if k.endswith("rope_theta")]
    assert rows[rope][0].startswith("—") and rows[rope][1] == "500000"
    assert "changed" in tab.left.tabText(1)
