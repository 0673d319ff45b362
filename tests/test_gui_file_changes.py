"""The window watches its open files: when training rewrites one, the tab offers Reload in a bar,
and reloading keeps the person's place (selection, expanded rows, scroll) and pending edits."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex

from core.fileread import CHANGED, FileChanged
from gui.layer_tree import PATH_ROLE
from gui.main_window import CheckpointTab, MainWindow
from tests.checkpoints import make_model, save_hf_folder, save_safetensors

SELECTED = "layers.1.linear1.weight"
EXPANDED = "layers.2"
EDIT = ("hidden_size",)


@pytest.fixture
def window(window: MainWindow) -> MainWindow:
    window.watcher.debounce.setInterval(50)  # the tests need not wait for a real writer's burst
    return window


def open_tab(qtbot, window: MainWindow, path: Path) -> CheckpointTab:
    tab = window.open_path(path)
    qtbot.waitUntil(
        lambda: tab.checkpoint is not None and not window.loading_jobs(), timeout=30_000
    )
    return tab


def index_of(tab: CheckpointTab, path: str) -> QModelIndex:
    proxy = tab.tree.proxy
    todo = [QModelIndex()]
    while todo:
        parent = todo.pop()
        for row in range(proxy.rowCount(parent)):
            child = proxy.index(row, 0, parent)
            if proxy.data(child, PATH_ROLE) == path:
                return child
            todo.append(child)
    raise AssertionError(f"no row for {path}")


def rewrite_in_place(path: Path) -> None:
    save_safetensors(make_model(seed=1), path)


def replace_atomically(path: Path) -> None:
    """What careful writers do: a temporary file beside it, renamed over it."""
    temporary = path.with_name(".model.tmp.safetensors")
    save_safetensors(make_model(seed=2), temporary)
    os.replace(temporary, path)


@pytest.mark.parametrize(
    "change", [rewrite_in_place, replace_atomically], ids=["rewrite", "rename"]
)
def test_a_rewritten_file_offers_reload_and_reload_keeps_the_place_and_edits(
    qtbot, window, tmp_path, change
):
    folder = save_hf_folder(make_model(), tmp_path / "hf")
    weights = folder / "model.safetensors"
    tab = open_tab(qtbot, window, folder)
    old = tab.checkpoint
    tab.tree.view.expand(index_of(tab, EXPANDED))
    assert tab.tree.select_path(SELECTED)
    if window.hparams is not None:
        assert window.hparams.edit_value(EDIT, 64)
    assert not tab.reload_bar.offered
    # the selection's statistics are read before the file changes: a job still reading during
    # the rewrite would rightly say "changed while it was read" instead of the watcher's words
    panel = window.distribution
    qtbot.waitUntil(lambda: panel is None or not panel.busy, timeout=10_000)

    status = weights.stat()
    change(weights)
    os.utime(weights, ns=(status.st_atime_ns, status.st_mtime_ns + 2_000_000_000))
    qtbot.waitUntil(lambda: tab.reload_bar.offered, timeout=10_000)
    assert "model.safetensors changed on disk" in tab.reload_bar.text()
    assert tab.checkpoint is old  # nothing reloads until the person asks

    tab.reload_bar.reload_button.click()
    qtbot.waitUntil(lambda: tab.checkpoint is not old and not window.loading_jobs(), timeout=30_000)
    assert not tab.reload_bar.offered
    assert tab.tree.selected_paths() == [SELECTED]
    assert tab.selection == [SELECTED]
    assert tab.tree.view.isExpanded(index_of(tab, EXPANDED))
    if window.hparams is not None:
        assert window.hparams.hset is not None
        assert window.hparams.config.get(EDIT) == 64
        assert window.hparams.config.is_edited(EDIT)
    if window.distribution is not None:
        assert window.distribution.checkpoint is tab.checkpoint
        assert window.distribution.paths == [SELECTED]


def test_a_burst_of_changes_is_one_offer_and_an_untouched_tab_is_left_alone(
    qtbot, window, tmp_path
):
    first = save_safetensors(make_model(), tmp_path / "first.safetensors")
    second = save_safetensors(make_model(seed=3), tmp_path / "second.safetensors")
    tab_one = open_tab(qtbot, window, first)
    tab_two = open_tab(qtbot, window, second)
    offers: list[CheckpointTab] = []
    window.watcher.changed.connect(offers.append)
    status = first.stat()
    for step in range(5):  # a writer saving in pieces
        with open(first, "r+b") as f:
            f.seek(200 + step)
            f.write(b"\0")
        os.utime(first, ns=(status.st_atime_ns, status.st_mtime_ns + (step + 1) * 10**9))
    qtbot.waitUntil(lambda: tab_one.reload_bar.offered, timeout=10_000)
    qtbot.wait(300)
    assert offers == [tab_one]
    assert not tab_two.reload_bar.offered


def test_stats_interrupted_by_a_change_offer_reload_not_an_error(qtbot, window, tmp_path):
    """A distribution job that stopped because the file changed says so in the Reload bar."""
    if window.distribution is None:
        pytest.skip("no distribution panel")
    path = save_safetensors(make_model(), tmp_path / "model.safetensors")
    tab = open_tab(qtbot, window, path)
    window.distribution.statusMessage.emit(str(FileChanged(path)))
    assert tab.reload_bar.offered
    assert CHANGED in tab.reload_bar.text() and "model.safetensors" in tab.reload_bar.text()
    assert not window.banner.isVisible()
    tab.reload_bar.reload_button.click()
    qtbot.waitUntil(
        lambda: not window.loading_jobs() and not tab.reload_bar.offered, timeout=30_000
    )
