"""Issue 16, additions: Help ▸ Keyboard Shortcuts (made from the window's actions, so it cannot
go stale), Help ▸ Documentation (the README, offline, by section), View ▸ Theme (System / Light
/ Dark, remembered; plots follow)."""

from __future__ import annotations

import ast
from pathlib import Path

import pyqtgraph as pg
import pytest
from PySide6.QtGui import QAction, QKeySequence, QPalette
from PySide6.QtWidgets import QApplication

from gui import help as help_module
from gui import theme
from gui.main_window import MainWindow
from gui.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def window(qtbot):
    win = MainWindow(Settings())
    qtbot.addWidget(win)
    win.show()
    yield win
    theme.apply("system")


def test_shortcut_list_is_made_from_the_actions(qtbot, window) -> None:
    rows = help_module.shortcut_rows(window)
    as_text = {(action, keys) for _menu, action, keys in rows}
    open_keys = QKeySequence(QKeySequence.StandardKey.Open).toString(
        QKeySequence.SequenceFormat.NativeText
    )
    assert ("Open File…", open_keys) in as_text
    assert ("Next Flagged Tensor", "F8") in as_text
    # an action added later is listed too: the list is never typed by hand
    extra = QAction("Frobnicate", window)
    extra.setShortcut(QKeySequence("Ctrl+Alt+J"))
    window.menuBar().actions()[0].menu().addAction(extra)
    assert ("Frobnicate", "Ctrl+Alt+J") in {
        (a, k) for _m, a, k in help_module.shortcut_rows(window)
    }
    dialog = help_module.ShortcutsDialog(window)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == len(help_module.shortcut_rows(window))
    texts = [a.text().replace("&", "") for a in window.help_menu.actions()]
    assert "Keyboard Shortcuts" in texts and "Documentation" in texts


def test_documentation_shows_the_readme_by_section(qtbot, window) -> None:
    dialog = help_module.DocumentationDialog(window)
    qtbot.addWidget(dialog)
    headings = [dialog.sections.item(i).text() for i in range(dialog.sections.count())]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    expected = [line[3:].strip() for line in readme.splitlines() if line.startswith("## ")]
    assert headings == expected
    assert "Safety" in headings
    dialog.sections.setCurrentRow(headings.index("Safety"))
    cursor = dialog.browser.textCursor()
    assert cursor.selectedText() == "Safety" or cursor.block().text() == "Safety"


def test_the_bundle_carries_the_readme() -> None:
    tree = ast.parse((ROOT / "packaging" / "paramscope.spec").read_text(encoding="utf-8"))
    datas = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "DATAS"
    )
    assert "README.md" in ast.unparse(datas)


def _is_dark(color) -> bool:
    return color.lightness() < 110


def test_theme_is_chosen_remembered_and_followed_by_plots(qtbot, window) -> None:
    window.theme_actions["dark"].trigger()
    app = QApplication.instance()
    assert _is_dark(app.palette().color(QPalette.ColorRole.Window))
    plots = window.findChildren(pg.PlotWidget)
    assert plots and all(_is_dark(p.backgroundBrush().color()) for p in plots)
    assert Settings().theme() == "dark"
    window.theme_actions["light"].trigger()
    assert not _is_dark(app.palette().color(QPalette.ColorRole.Window))
    assert all(not _is_dark(p.backgroundBrush().color()) for p in plots)
    # a new window starts in the remembered theme
    theme.apply("system")
    second = MainWindow(Settings())
    qtbot.addWidget(second)
    assert second.theme_actions["light"].isChecked()
    assert not _is_dark(app.palette().color(QPalette.ColorRole.Window))
