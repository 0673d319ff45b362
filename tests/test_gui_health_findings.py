"""Issue 16 #8: health findings can be acted on — a finding filters the tree to its tensors (and
"Show all" brings the rest back), F8 / Shift+F8 walk the flagged tensors, plurals read right,
and the Health column is in sight once there is something in it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QKeySequence
from safetensors.torch import save_file

from gui.layer_tree import HEALTH, NAME, PATH_ROLE
from gui.main_window import MainWindow
from gui.settings import Settings


@pytest.fixture
def window(qtbot) -> MainWindow:
    win = MainWindow(Settings())
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    yield win
    for tab in map(win.tabs.widget, range(win.tabs.count())):
        if getattr(tab, "health", None) is not None:
            tab.health.wait()


@pytest.fixture
def troubled(tmp_path: Path) -> Path:
    generator = torch.Generator().manual_seed(0)
    tensors = {}
    for i in range(4):
        tensors[f"layers.{i}.weight"] = torch.randn(64, 64, generator=generator)
        tensors[f"layers.{i}.bias"] = torch.randn(64, generator=generator)
    for i in (1, 3):
        tensors[f"layers.{i}.weight"][0, 0] = 1000.0
    tensors["layers.2.bias"] = torch.zeros(64)
    tensors["position_ids"] = torch.zeros(1, 64, dtype=torch.int64)
    path = tmp_path / "troubled.safetensors"
    save_file(tensors, str(path))
    return path


def _visible_tensors(tree) -> list[str]:
    model, found, stack = tree.proxy, [], [QModelIndex()]
    while stack:
        parent = stack.pop()
        for row in range(model.rowCount(parent)):
            index = model.index(row, NAME, parent)
            if model.rowCount(index) == 0:
                found.append(index.data(PATH_ROLE))
            stack.append(index)
    return sorted(found)


def test_findings_filter_the_tree_and_f8_walks_them(qtbot, window, troubled) -> None:
    window.open_path(troubled)
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=30_000)
    tab = window.current_tab()
    qtbot.waitUntil(lambda: tab.health.results is not None, timeout=30_000)
    text = tab.health.label.text()
    assert "2 outliers" in text and "1 dead" in text and "1 dead tensors" not in text
    assert "href" in text  # each finding is a link

    tab.health.label.linkActivated.emit("flag:outliers")
    assert _visible_tensors(tab.tree) == ["layers.1.weight", "layers.3.weight"]
    assert tab.tree.only_bar.isVisible() and "2 outliers" in tab.tree.only_bar.text()
    tab.tree.only_bar.linkActivated.emit("show-all")
    assert len(_visible_tensors(tab.tree)) == 9
    assert not tab.tree.only_bar.isVisible()

    # the Health column is in sight: right after the name
    header = tab.tree.view.header()
    assert not tab.tree.view.isColumnHidden(HEALTH) and header.visualIndex(HEALTH) == 1

    assert window.next_flagged_action.shortcut() == QKeySequence(Qt.Key.Key_F8)
    assert tab.tree.selected_paths() == ["layers.1.weight"]  # the finding's first, kept
    window.next_flagged_action.trigger()
    assert tab.tree.selected_paths() == ["layers.2.bias"]
    window.next_flagged_action.trigger()
    assert tab.tree.selected_paths() == ["layers.3.weight"]
    window.next_flagged_action.trigger()  # wraps around
    assert tab.tree.selected_paths() == ["layers.1.weight"]
    window.previous_flagged_action.trigger()
    assert tab.tree.selected_paths() == ["layers.3.weight"]


def test_plural_forms() -> None:
    from core.health_report import finding_text

    assert finding_text("outliers", 1) == "1 outlier"
    assert finding_text("outliers", 17) == "17 outliers"
    assert finding_text("dead", 1) == "1 dead"
    assert finding_text("nan", 2) == "2 with NaN"
    assert finding_text("sparse", 1_234) == "1,234 mostly zero"


def test_the_findings_line_follows_the_theme(qtbot, window, troubled) -> None:
    from gui import theme

    window.open_path(troubled)
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=30_000)
    tab = window.current_tab()
    qtbot.waitUntil(lambda: tab.health.results is not None, timeout=30_000)
    try:
        window.set_theme("light")
        qtbot.wait(50)  # palette changes reach widgets as events
        light = tab.health.label.text()
        window.set_theme("dark")
        qtbot.wait(50)
        assert tab.health.label.text() != light  # its muted grey is the dark palette's now
        assert "2 outliers" in tab.health.label.text()
    finally:
        theme.apply("system")
