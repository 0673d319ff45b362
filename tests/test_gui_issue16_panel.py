"""Issue 16 (the hyperparameter panel): the architecture check follows edited values, and the
training log is plotted, not only listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.open import open_checkpoint
from gui.hparams_panel import VALUE, HyperparamPanel
from tests import hparams_files as files


@pytest.fixture
def panel(qtbot) -> HyperparamPanel:
    widget = HyperparamPanel()
    qtbot.addWidget(widget)
    widget.resize(640, 700)
    widget.show()
    return widget


def _check_rows(panel: HyperparamPanel) -> dict[str, tuple[str, str]]:
    items = [panel.checks.topLevelItem(i) for i in range(panel.checks.topLevelItemCount())]
    return {item.text(1): (item.text(0), item.text(2)) for item in items}


def test_architecture_check_follows_edits(panel: HyperparamPanel, tmp_path: Path) -> None:
    ckpt = open_checkpoint(files.hf_trainer_folder(tmp_path / "m"))
    panel.set_checkpoint(ckpt)
    assert _check_rows(panel)["layers"] == ("✓", "3")
    panel.edit_value(("num_hidden_layers",), "4")
    index = panel.proxy.mapFromSource(panel.model.index_of(("num_hidden_layers",), VALUE))
    assert index.data() == "4  ✗"
    assert _check_rows(panel)["layers"] == ("✗", "4")
    assert panel.tabs.tabText(0) == "Architecture check ✗ 1"
    panel.undo_action.trigger()
    assert _check_rows(panel)["layers"] == ("✓", "3")
    assert panel.tabs.tabText(0) == "Architecture check"
