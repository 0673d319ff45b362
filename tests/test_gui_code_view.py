"""The Code tab: a TorchScript archive's code/ files, read-only, in the checkpoint's tab."""

from __future__ import annotations

from pathlib import Path

import torch
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QTabWidget

from gui.code_view import CodeView
from gui.layer_tree import LayerTree
from gui.main_window import CheckpointTab, MainWindow
from tests.torchscript_fixtures import save_scripted


def opened(qtbot, win: MainWindow, path: Path) -> CheckpointTab:
    win.open_path(path)
    qtbot.waitUntil(lambda: not win.loading_jobs(), timeout=30_000)
    tab = win.current_tab()
    assert tab is not None and tab.checkpoint is not None
    return tab


def test_torchscript_tab_shows_its_code_read_only(qtbot, window, tmp_path: Path):
    path = tmp_path / "scripted.pt"
    save_scripted(path)
    tab = opened(qtbot, window, path)
    tabs = tab.findChild(QTabWidget)
    assert tabs is not None
    assert [tabs.tabText(i) for i in range(tabs.count())] == ["Layers", "Code"]
    assert isinstance(tabs.widget(0), LayerTree)
    code = tabs.widget(1)
    assert isinstance(code, CodeView)
    names = [code.files.item(i).text() for i in range(code.files.count())]
    assert "__torch__/torch/nn/modules/batchnorm.py" in names
    assert code.text.isReadOnly()
    assert code.text.toPlainText().startswith("class ")  # the first file is shown at once
    code.files.setCurrentRow(names.index("__torch__/torch/nn/modules/batchnorm.py"))
    assert '__buffers__ = ["running_mean", "running_var"' in code.text.toPlainText()
    assert code.text.font() == QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def test_plain_pytorch_has_no_code_tab(qtbot, window, tmp_path: Path):
    path = tmp_path / "state.pt"
    torch.save({"layer.weight": torch.ones(3, 2)}, path)
    tab = opened(qtbot, window, path)
    assert tab.findChild(CodeView) is None
    assert tab.findChild(QTabWidget) is None
