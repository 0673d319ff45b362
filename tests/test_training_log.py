"""Training logs: the Trainer's log_history and Lightning's metrics.csv become loss and learning
rate curves, in the panel as plots (not only as a table)."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.open import open_checkpoint
from core.training_log import training_log
from gui.hparams_panel import HyperparamPanel
from tests import hparams_files as files

# As Lightning's CSVLogger writes it: one row per log call, blanks where a metric was not logged.
METRICS_CSV = """epoch,lr-Adam,step,train_loss,val_loss
0,0.001,49,2.31,
0,,49,,2.05
1,0.0005,99,1.72,
1,,99,,1.66
2,0.00025,149,1.41,
"""


@pytest.fixture
def lightning(tmp_path: Path) -> Path:
    ckpt = files.lightning_run(tmp_path / "run")
    (ckpt.parent.parent / "metrics.csv").write_text(METRICS_CSV)
    return ckpt


def test_trainer_state_history(tmp_path: Path) -> None:
    log = training_log(open_checkpoint(files.hf_trainer_folder(tmp_path / "m")))
    assert log is not None and log.source == "trainer_state.json" and log.x_name == "step"
    assert log.series["loss"] == ([10.0, 20.0, 30.0], [2.5, 1.9, 1.6])
    assert log.losses == ["loss"] and log.learning_rates == ["learning_rate"]


def test_lightning_metrics_csv(lightning: Path) -> None:
    log = training_log(open_checkpoint(lightning))
    assert log is not None and log.source.endswith("metrics.csv")
    assert log.series["train_loss"] == ([49.0, 99.0, 149.0], [2.31, 1.72, 1.41])
    assert log.series["val_loss"] == ([49.0, 99.0], [2.05, 1.66])
    assert log.learning_rates == ["lr-Adam"]
    assert "epoch" not in log.series


def test_panel_plots_the_curves(qtbot, lightning: Path, tmp_path: Path) -> None:
    panel = HyperparamPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 700)
    panel.show()
    panel.set_checkpoint(open_checkpoint(lightning))
    view = panel.training_view
    assert panel.tabs.isTabVisible(panel.tabs.indexOf(view))
    assert sorted(view.curve_names()) == ["lr-Adam", "train_loss", "val_loss"]
    assert panel.log_table.rowCount() == 5
    panel.set_checkpoint(open_checkpoint(files.hf_trainer_folder(tmp_path / "m")))
    assert sorted(view.curve_names()) == ["learning_rate", "loss"]
    panel.set_checkpoint(open_checkpoint(files.namespace_dict(tmp_path / "n.pt")))
    assert not panel.tabs.isTabVisible(panel.tabs.indexOf(view))
