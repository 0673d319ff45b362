"""The hyperparameter panel as a person uses it: open a training output, edit values in the tree
(bad ones are refused with a message), undo and redo, pick one source, export, see the
architecture check and the highlighted keys for a selected tensor."""

from __future__ import annotations

import hashlib
import tomllib
from pathlib import Path

import pytest
import yaml
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QComboBox, QLineEdit

from core.open import open_checkpoint
from gui.hparams_panel import KEY, SOURCE, VALUE, HyperparamPanel
from tests import hparams_files as files


@pytest.fixture
def panel(qtbot) -> HyperparamPanel:
    widget = HyperparamPanel()
    qtbot.addWidget(widget)
    widget.resize(640, 700)
    widget.show()
    return widget


@pytest.fixture
def lightning(tmp_path: Path):
    return open_checkpoint(files.lightning_run(tmp_path / "run"))


def _index(panel: HyperparamPanel, path: tuple[str, ...], column: int = VALUE):
    source = panel.model.index_of(path, column)
    assert source.isValid(), path
    return panel.proxy.mapFromSource(source)


def _commit(qtbot, editor) -> None:
    """Return in an editor: the delegate commits on the next turn of the event loop."""
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    QApplication.processEvents()


def _edit_in_tree(qtbot, panel: HyperparamPanel, path: tuple[str, ...], text: str) -> None:
    index = _index(panel, path)
    panel.tree.setCurrentIndex(index)
    panel.tree.edit(index)
    editor = panel.tree.indexWidget(index)
    assert isinstance(editor, QLineEdit | QComboBox)
    if isinstance(editor, QLineEdit):
        editor.setText(text)
    else:
        editor.setCurrentText(text)
    _commit(qtbot, editor)


def test_empty_state(panel: HyperparamPanel) -> None:
    assert "Open a checkpoint" in panel.empty.text() and panel.empty.isVisible()
    assert not panel.export_action.isEnabled()


def test_values_grouped_with_sources_and_conflicts(panel: HyperparamPanel, lightning) -> None:
    panel.set_checkpoint(lightning)
    groups = [name for name, _ in panel.model.groups]
    assert groups[:2] == ["architecture", "optimisation"]
    lr_source = _index(panel, ("lr",), SOURCE).data()
    assert lr_source == "checkpoint:hyper_parameters  ⚠"
    tooltip = _index(panel, ("lr",), KEY).data(Qt.ItemDataRole.ToolTipRole)
    assert "Step size" in tooltip and "../hparams.yaml: 0.001" in tooltip
    assert _index(panel, ("batch_size",)).data() == "32"
    assert panel.sources.count() == 1 + len(lightning.hyperparams)


def test_typed_edit_in_the_tree_with_undo_and_redo(qtbot, panel: HyperparamPanel, lightning):
    panel.set_checkpoint(lightning)
    _edit_in_tree(qtbot, panel, ("lr",), "1e-4")
    assert panel.config.get(("lr",)) == 1e-4
    assert _index(panel, ("lr",)).data() == "0.0001"
    assert _index(panel, ("lr",), KEY).data() == "lr  ✎"
    assert _index(panel, ("lr",), KEY).data(Qt.ItemDataRole.FontRole).bold()
    assert panel.edit_label.text() == "✎ 1 edit"
    assert panel.undo_action.shortcut() == QKeySequence(QKeySequence.StandardKey.Undo)
    assert QKeySequence("Ctrl+Shift+Z") in panel.redo_action.shortcuts()
    panel.undo_action.trigger()
    assert panel.config.get(("lr",)) == 3e-4 and panel.edit_label.text() == ""
    panel.redo_action.trigger()
    assert panel.config.get(("lr",)) == 1e-4


def test_invalid_input_is_refused_with_a_message(qtbot, panel: HyperparamPanel, lightning):
    panel.set_checkpoint(lightning)
    _edit_in_tree(qtbot, panel, ("lr",), "fast")
    assert panel.config.get(("lr",)) == 3e-4
    assert panel.message.isVisible() and "lr must be a number" in panel.message.text()
    _edit_in_tree(qtbot, panel, ("batch_size",), "-32")
    assert panel.config.get(("batch_size",)) == 32
    assert "above 0" in panel.message.text()
    assert panel.undo_stack.count() == 0  # nothing refused reached the history


def test_bool_and_enum_editors(qtbot, panel: HyperparamPanel, tmp_path: Path) -> None:
    panel.set_checkpoint(open_checkpoint(files.hf_trainer_folder(tmp_path / "m")))
    index = _index(panel, ("bf16",))
    panel.tree.edit(index)
    editor = panel.tree.indexWidget(index)
    assert isinstance(editor, QComboBox) and not editor.isEditable()
    assert [editor.itemText(i) for i in range(editor.count())] == ["true", "false"]
    editor.setCurrentIndex(1)
    _commit(qtbot, editor)
    assert panel.config.get(("bf16",)) is False
    index = _index(panel, ("lr_scheduler_type",))
    panel.tree.edit(index)
    editor = panel.tree.indexWidget(index)
    assert isinstance(editor, QComboBox)
    assert "linear" in [editor.itemText(i) for i in range(editor.count())]


def test_add_remove_reset_all_undoable(panel: HyperparamPanel, lightning) -> None:
    panel.set_checkpoint(lightning)
    assert panel.add_key("optim.momentum", "0.9")
    assert panel.config.get(("optim", "momentum")) == 0.9
    assert panel.model.index_of(("optim", "momentum")).isValid()
    assert not panel.add_key("lr", "1")  # exists
    assert "already exists" in panel.message.text()
    assert not panel.add_key("learning_rate", "1")  # the same key spelled another way
    assert "already here as lr" in panel.message.text()
    assert panel.remove_key(("notes",))
    assert not panel.model.index_of(("notes",)).isValid()
    assert "+ optim.momentum: 0.9" in panel.diff_text()
    assert "- notes: None" in panel.diff_text()
    panel.reset_all()
    assert panel.config.diff() == []
    panel.undo_stack.undo()  # the reset
    assert len(panel.config.diff()) == 2
    panel.undo_stack.undo()
    panel.undo_stack.undo()
    assert panel.config.diff() == [] and "optim" not in panel.config.current


def test_one_source_view_and_export(panel: HyperparamPanel, lightning, tmp_path: Path) -> None:
    before = hashlib.sha256(lightning.path.read_bytes()).hexdigest()
    panel.set_checkpoint(lightning)
    panel.select_view("../hparams.yaml")
    assert panel.view == "../hparams.yaml"
    assert _index(panel, ("lr",)).data() == "0.001"
    assert panel.edit_value(("lr",), "2e-3")
    target = tmp_path / "next.yaml"
    assert panel.export_to(target)
    back = yaml.safe_load(target.read_text())
    assert back["lr"] == 2e-3 and back["model"] == {"layers": 3, "hidden_dim": 16, "dropout": 0.1}
    assert panel.undo_stack.isClean()
    toml_target = tmp_path / "next.toml"
    assert panel.export_to(toml_target)
    assert "notes: null has no TOML form" in panel.message.text()  # reported, not dropped silently
    beside = panel.save_beside()
    assert beside == lightning.path.with_name(lightning.path.name + ".hparams.yaml")
    assert yaml.safe_load(beside.read_text())["lr"] == 2e-3
    assert not panel.export_to(lightning.path)  # the checkpoint is never a target
    assert hashlib.sha256(lightning.path.read_bytes()).hexdigest() == before


def test_edits_stay_with_their_checkpoint(panel: HyperparamPanel, lightning, tmp_path: Path):
    other = open_checkpoint(files.hf_trainer_folder(tmp_path / "m"))
    panel.set_checkpoint(lightning)
    panel.edit_value(("lr",), "5e-4")
    panel.set_checkpoint(other)
    assert panel.edit_label.text() == "" and not panel.undo_action.isEnabled()
    panel.set_checkpoint(lightning)
    assert panel.config.get(("lr",)) == 5e-4 and panel.undo_action.isEnabled()
    panel.forget(lightning)
    assert "Open a checkpoint" in panel.empty.text()


def test_architecture_check_and_highlight(panel: HyperparamPanel, tmp_path: Path) -> None:
    ckpt = open_checkpoint(files.hf_trainer_folder(tmp_path / "m", layers_in_config=6))
    panel.set_checkpoint(ckpt)
    rows = {
        panel.checks.topLevelItem(i).text(1): panel.checks.topLevelItem(i).text(0)
        for i in range(panel.checks.topLevelItemCount())
    }
    assert rows["layers"] == "✗" and rows["hidden size"] == "✓"
    assert panel.tabs.tabText(0) == "Architecture check ✗ 1"
    assert _index(panel, ("num_hidden_layers",)).data() == "6  ✗"
    panel.edit_value(("num_hidden_layers",), "3")
    assert _index(panel, ("num_hidden_layers",)).data() == "3  ✓"  # checked again when edited
    assert panel.log_table.rowCount() == 3
    panel.highlight_for(["embed.weight"])
    background = Qt.ItemDataRole.BackgroundRole
    assert _index(panel, ("hidden_size",)).data(background) is not None
    assert _index(panel, ("learning_rate",)).data(background) is None


def test_find_filters_rows(panel: HyperparamPanel, lightning) -> None:
    panel.set_checkpoint(lightning)
    panel.find.setText("dropout")
    visible = [
        panel.proxy.index(r, 0, panel.proxy.index(g, 0)).data()
        for g in range(panel.proxy.rowCount())
        for r in range(panel.proxy.rowCount(panel.proxy.index(g, 0)))
    ]
    assert visible == ["model.dropout"]


def test_screenshot_of_a_real_folder(panel: HyperparamPanel, tmp_path: Path) -> None:
    panel.set_checkpoint(open_checkpoint(files.hf_trainer_folder(tmp_path / "m")))
    image = panel.grab()
    assert image.width() > 0 and image.save(str(tmp_path / "hparams.png"))


def test_undo_returns_to_the_view_where_the_edit_was_made(panel: HyperparamPanel, lightning):
    panel.set_checkpoint(lightning)
    panel.select_view("../hparams.yaml")
    panel.edit_value(("lr",), "5e-3")
    panel.select_view("merged")
    assert panel.config.get(("lr",)) == 3e-4  # the merged view has its own values
    panel.undo_action.trigger()
    assert panel.view == "../hparams.yaml" and panel.config.get(("lr",)) == 1e-3


def test_unsaved_edits_are_listed_until_exported(panel: HyperparamPanel, lightning, tmp_path):
    panel.set_checkpoint(lightning)
    assert panel.unsaved_edits() == []
    panel.edit_value(("batch_size",), "16")
    assert panel.unsaved_edits() == [lightning]
    panel.export_to(tmp_path / "saved.json")
    assert panel.unsaved_edits() == []


def test_f2_on_a_key_edits_its_value(qtbot, panel: HyperparamPanel, lightning) -> None:
    panel.set_checkpoint(lightning)
    panel.tree.setFocus()
    panel.tree.setCurrentIndex(_index(panel, ("batch_size",), KEY))
    qtbot.keyClick(panel.tree, Qt.Key.Key_F2)
    editor = panel.tree.indexWidget(_index(panel, ("batch_size",)))
    assert isinstance(editor, QLineEdit) and editor.text() == "32"
    editor.setText("48")
    _commit(qtbot, editor)
    assert panel.config.get(("batch_size",)) == 48


def test_export_dialog_adds_the_chosen_format_suffix(
    panel: HyperparamPanel, lightning, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QFileDialog

    panel.set_checkpoint(lightning)
    chosen = str(tmp_path / "next-run")
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (chosen, "TOML (*.toml)"))
    )
    panel.export_action.trigger()
    assert (tmp_path / "next-run.toml").is_file()


def test_diff_dialog_lists_the_edits(
    panel: HyperparamPanel, lightning, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtWidgets import QDialog, QPlainTextEdit

    shown: list[str] = []

    def fake_exec(dialog: QDialog) -> int:
        shown.append(dialog.findChild(QPlainTextEdit).toPlainText())
        return 0

    monkeypatch.setattr(QDialog, "exec", fake_exec)
    panel.set_checkpoint(lightning)
    panel.edit_value(("lr",), "1e-3")
    panel.diff_action.trigger()
    assert shown == ["~ lr: 0.0003 → 0.001"]


def test_remove_needs_a_selected_key(panel: HyperparamPanel, lightning) -> None:
    assert not panel.remove_action.isEnabled()  # nothing open
    panel.set_checkpoint(lightning)
    assert not panel.remove_action.isEnabled()  # nothing selected yet
    panel.tree.setCurrentIndex(_index(panel, ("lr",)))
    assert panel.remove_action.isEnabled()
    panel.set_checkpoint(None)
    assert not panel.remove_action.isEnabled()


def test_export_of_yaml_dates_and_refusal_to_replace_a_source_config(
    panel: HyperparamPanel, tmp_path: Path
) -> None:
    weights = files.wandb_run(tmp_path)
    (tmp_path / "hparams.yaml").write_text("lr: 0.1\nstarted: 2024-01-15\n")
    panel.set_checkpoint(open_checkpoint(weights))
    target = tmp_path / "out.toml"
    assert panel.export_to(target)
    assert tomllib.loads(target.read_text())["started"] == "2024-01-15"
    before = (tmp_path / "hparams.yaml").read_bytes()
    assert not panel.export_to(tmp_path / "hparams.yaml")
    assert "never overwritten" in panel.message.text()
    assert (tmp_path / "hparams.yaml").read_bytes() == before
