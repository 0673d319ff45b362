"""The Values panel: a selected tensor's first rows and columns, other ranges as typed, values
shown at the tensor's precision and copied as tab-separated text; modules show no table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication
from safetensors.torch import save_file

from gui.main_window import MainWindow
from gui.settings import Settings


@pytest.fixture
def window(qtbot):
    win = MainWindow(Settings())
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    yield win
    win.values.wait()


@pytest.fixture
def model(tmp_path: Path) -> tuple[Path, torch.Tensor]:
    weight = torch.arange(60 * 40, dtype=torch.float32).reshape(60, 40) / 10
    path = tmp_path / "m.safetensors"
    save_file({"layer.weight": weight, "layer.bias": torch.zeros(60)}, str(path))
    return path, weight


def test_values_of_the_selected_tensor(qtbot, window, model) -> None:
    path, weight = model
    window.open_path(path)
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=30_000)
    tab = window.current_tab()
    window.values_dock.show()
    window.values_dock.raise_()
    with qtbot.waitSignal(window.values.loaded, timeout=10_000):
        assert tab.tree.select_path("layer.weight")
    view = window.values
    assert (view.model.rowCount(), view.model.columnCount()) == (32, 32)
    index = view.model.index(1, 3)
    assert index.data() == "4.3"  # float32 0.1 steps shown as typed, not 4.300000190734863
    assert "exactly 4.300000190734863" in index.data(0x0003)

    view.ranges.setText("10:12, 38:")
    with qtbot.waitSignal(view.loaded, timeout=10_000):
        view.ranges.returnPressed.emit()
    assert (view.model.rowCount(), view.model.columnCount()) == (2, 2)
    horizontal = Qt.Orientation.Horizontal
    assert [view.model.headerData(c, horizontal) for c in range(2)] == ["38", "39"]
    expected = weight[10:12, 38:].numpy()
    assert view.copy_text() == "\n".join(
        "\t".join(np.format_float_positional(v, unique=True, trim="-") for v in row)
        for row in expected
    )
    view.copy()
    assert QApplication.clipboard().text() == view.copy_text()

    view.ranges.setText("0:x")
    view.ranges.returnPressed.emit()
    assert "not a range" in view.note.text()

    assert tab.tree.select_path("layer")  # a module: no table
    assert view.model.rowCount() == 0 and not view.ranges.isEnabled()
