"""The health check as a person meets it: small models are checked when they open, flagged tensors
are marked in the tree (with what each flag means) and counted in the summary; a big model waits
to be asked; closing a tab stops its check."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtCore import QModelIndex, Qt
from safetensors.torch import save_file

from core.stats import FLAGS
from gui import health as health_module
from gui.layer_tree import HEALTH, NAME, PATH_ROLE, ZEROS
from gui.main_window import MainWindow


@pytest.fixture
def troubled(tmp_path: Path) -> Path:
    """A model with one tensor of each kind of trouble, made with torch."""
    generator = torch.Generator().manual_seed(0)
    healthy = torch.randn(64, 64, generator=generator)
    with_nan = torch.randn(32, 32, generator=generator)
    with_nan[3, 4] = float("nan")
    outlier = torch.randn(100, 100, generator=generator)
    outlier[0, 0] = 1000.0
    sparse = torch.randn(50, 50, generator=generator)
    sparse[:40] = 0.0
    tensors = {
        "encoder.0.weight": healthy,
        "encoder.0.bias": torch.zeros(64),  # dead: every value zero
        "encoder.1.weight": with_nan,
        "decoder.weight": outlier,
        "decoder.bias": torch.randn(100, generator=generator),
        "head.weight": sparse,
    }
    path = tmp_path / "troubled.safetensors"
    save_file(tensors, str(path))
    return path


def find_row(tree, path: str) -> QModelIndex:
    model = tree.proxy
    stack = [QModelIndex()]
    while stack:
        parent = stack.pop()
        for row in range(model.rowCount(parent)):
            index = model.index(row, NAME, parent)
            if index.data(PATH_ROLE) == path:
                return index
            stack.append(index)
    raise AssertionError(f"no row {path}")


def opened(qtbot, window: MainWindow, path: Path):
    window.open_path(path)
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=30_000)
    return window.current_tab()


def test_a_small_model_is_checked_and_its_troubles_marked(qtbot, window, troubled) -> None:
    tab = opened(qtbot, window, troubled)
    qtbot.waitUntil(lambda: tab.health.results is not None, timeout=30_000)
    tree = tab.tree
    assert not tree.view.isColumnHidden(HEALTH) and not tree.view.isColumnHidden(ZEROS)

    expected = {
        "encoder.0.weight": "ok",
        "encoder.0.bias": "dead",
        "encoder.1.weight": "nan",
        "decoder.weight": "outliers",
        "head.weight": "sparse",
    }
    for name, text in expected.items():
        row = find_row(tree, name)
        assert row.siblingAtColumn(HEALTH).data() == text, name
        if text != "ok":
            assert FLAGS[text] in row.siblingAtColumn(HEALTH).data(Qt.ItemDataRole.ToolTipRole)
            assert row.data(Qt.ItemDataRole.DecorationRole) is not None  # marked by its name
    sparse = find_row(tree, "head.weight")
    zeros = int((np.arange(50 * 50) < 40 * 50).sum())
    assert sparse.siblingAtColumn(ZEROS).data() == f"{zeros / 2500:.1%}"
    # a module counts the flags of everything under it
    encoder = find_row(tree, "encoder")
    assert encoder.siblingAtColumn(HEALTH).data() == "1 dead · 1 nan"
    assert "encoder.0.bias" in encoder.siblingAtColumn(HEALTH).data(Qt.ItemDataRole.ToolTipRole)

    line = tab.health.label.text()
    assert "6 tensors checked" in line
    for found in ("1 dead", "1 with NaN", "1 outlier<", "1 mostly zero"):  # plurals right
        assert found in line


def test_a_big_model_waits_to_be_asked(qtbot, window, troubled, monkeypatch) -> None:
    monkeypatch.setattr(health_module, "AUTO_CHECK_BYTES", 0)
    tab = opened(qtbot, window, troubled)
    assert tab.health.results is None and not tab.health.busy
    assert "not checked yet" in tab.health.label.text()
    assert tab.tree.view.isColumnHidden(HEALTH)

    window.health_action.trigger()  # View ▸ Check Health
    qtbot.waitUntil(lambda: tab.health.results is not None, timeout=30_000)
    assert not tab.tree.view.isColumnHidden(HEALTH)


def test_closing_a_tab_stops_its_check(qtbot, window, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(health_module, "AUTO_CHECK_BYTES", 0)
    big = {f"layers.{i}.weight": torch.randn(512, 512) for i in range(24)}
    path = tmp_path / "big.safetensors"
    save_file(big, str(path))
    tab = opened(qtbot, window, path)
    tab.health.start()
    job = tab.health.job
    assert job is not None
    window.close_current()
    assert job.is_cancelled()
    assert job.wait(30)
    assert window.health_checks() == []
