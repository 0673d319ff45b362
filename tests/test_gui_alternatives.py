"""The summary of a folder of alternative copies names the copies it did not open, and each one
opens in its own tab with one click."""

from __future__ import annotations

from pathlib import Path

import torch

from gui.main_window import MainWindow
from tests.checkpoints import make_model, save_safetensors
from tests.test_gui_window import wait_opened


def test_an_alternative_opens_in_its_own_tab(qtbot, window: MainWindow, tmp_path: Path) -> None:
    model = make_model(layers=1)
    save_safetensors(model, tmp_path / "model.safetensors")
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    window.open_path(tmp_path)
    (tab,) = wait_opened(qtbot, window, 1)
    label = tab.summary.alternatives
    assert not label.isHidden()
    assert "pytorch_model.bin" in label.text() and "<a href" in label.text()
    assert tab.checkpoint.path == tmp_path / "model.safetensors"

    label.linkActivated.emit(tab.summary.alternative_links["pytorch_model.bin"])
    second = wait_opened(qtbot, window, 2)[1]
    assert second.path == tmp_path / "pytorch_model.bin"
    assert second.checkpoint.format == "pytorch"
    assert window.tabs.currentWidget() is second


def test_a_single_file_shows_no_alternatives(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.open_path(save_safetensors(make_model(layers=1), tmp_path / "model.safetensors"))
    (tab,) = wait_opened(qtbot, window, 1)
    assert tab.summary.alternatives.isHidden()
