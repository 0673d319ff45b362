"""File ▸ Export Report… in the window: a background job writes the current tab's report."""

from __future__ import annotations

import html
from pathlib import Path

import pytest
import torch
from PySide6.QtWidgets import QDialog
from safetensors.torch import save_file

from gui.main_window import MainWindow
from gui.report_action import ReportOptions
from tests.checkpoints import make_model, untied_state_dict

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    state = untied_state_dict(make_model())
    state[HOSTILE] = torch.zeros(4)
    path = tmp_path / "tiny.safetensors"
    save_file(state, str(path))
    return path


def opened(qtbot, win: MainWindow, path: Path):
    win.open_path(path)
    qtbot.waitUntil(lambda: not win.loading_jobs(), timeout=30_000)
    tab = win.current_tab()
    assert tab is not None and tab.checkpoint is not None
    qtbot.waitUntil(lambda: not win.health_checks(), timeout=30_000)
    return tab


def test_export_report_writes_the_tab_s_report_with_its_health(qtbot, window, model_file, tmp_path):
    tab = opened(qtbot, window, model_file)
    assert tab.health.results is not None  # a small model is checked as it opens
    window.menuBar().actions()[0].menu().aboutToShow.emit()
    assert window.reporter.action.isEnabled()
    assert window.reporter.action in window.menuBar().actions()[0].menu().actions()
    target = tmp_path / "out" / "tiny.html"
    target.parent.mkdir()
    with qtbot.waitSignal(window.reporter.written, timeout=60_000) as written:
        assert window.reporter.export_to(target, depth=2, top=2) is not None
        assert not window.reporter.action.isEnabled()  # one export at a time
    assert written.args == [str(target)]
    text = target.read_text(encoding="utf-8")
    assert HOSTILE not in text and html.escape(HOSTILE) in text
    assert "Modules (to depth 2)" in text and "Largest tensors (2)" in text
    assert "⚑ dead" in text  # the tab's own health findings
    assert "Report written" in window.statusBar().currentMessage()


def test_a_bad_target_is_reported_not_raised(qtbot, window, model_file, tmp_path):
    opened(qtbot, window, model_file)
    with qtbot.waitSignal(window.reporter.failed, timeout=5_000):
        assert window.reporter.export_to(tmp_path / "report.pdf") is None
    with qtbot.waitSignal(window.reporter.failed, timeout=30_000):
        window.reporter.export_to(tmp_path / "no such folder" / "report.html")
    assert "could not be written" in window.statusBar().currentMessage()


def test_the_dialog_offers_a_file_beside_the_checkpoint(qtbot, window, model_file, monkeypatch):
    opened(qtbot, window, model_file)
    seen: list[ReportOptions] = []

    def cancel(dialog: ReportOptions) -> int:
        seen.append(dialog)
        return QDialog.DialogCode.Rejected

    monkeypatch.setattr(ReportOptions, "exec", cancel)
    window.reporter.action.trigger()
    assert seen and seen[0].path.text() == str(model_file.with_name("tiny.report.html"))
    assert seen[0].health.isChecked()
    assert window.reporter.job is None  # cancelled: nothing written


def test_the_dialog_defaults_are_the_command_line_s():
    from core import report
    from gui import report_action

    assert (report_action.DEFAULT_DEPTH, report_action.DEFAULT_TOP) == (
        report.DEFAULT_DEPTH,
        report.DEFAULT_TOP,
    )
