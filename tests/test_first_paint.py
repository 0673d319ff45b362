"""The window paints a model's tree before it loads the plots; a screenshot waits on events.

How long these take is measured in benchmarks/first_paint.py; here only what must hold.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gui.app import main, settle
from gui.main_window import MainWindow
from gui.settings import Settings
from tests.checkpoints import make_model, save_safetensors

ROOT = Path(__file__).resolve().parent.parent

# Launches the window as `main.py PATH` does and reports, at the tree's first paint, whether
# pyqtgraph was loaded, then whether the plots panel came after it with the checkpoint.
_PROBE = """
import os, sys
from PySide6.QtCore import QTimer
from gui.app import launch, make_app, parse
from gui.first_paint import after_first_paint

args, qt_args = parse([sys.argv[1], "--fresh", "--new-window"])
app = make_app(qt_args)
started = launch(args, qt_args)
window = started.window

def opened(tab):
    after_first_paint(tab.tree.view.viewport(), painted)

def painted():
    print("pyqtgraph at first paint:", "pyqtgraph" in sys.modules, flush=True)
    QTimer.singleShot(2000, later)

def later():
    panel = window._distribution
    print("panel made:", panel is not None, flush=True)
    print("panel shows it:", panel is not None and panel.checkpoint is window.current_tab().checkpoint, flush=True)
    os._exit(0)

window.opened.connect(opened)
QTimer.singleShot(60000, lambda: os._exit(3))
app.exec()
"""


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return save_safetensors(make_model(), tmp_path / "tiny.safetensors")


def test_the_tree_paints_before_pyqtgraph_loads_and_the_plots_follow(model_file):
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(model_file)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "pyqtgraph at first paint: False" in done.stdout, done.stdout
    assert "panel made: True" in done.stdout
    assert "panel shows it: True" in done.stdout


def test_a_selection_made_before_the_plots_exist_is_plotted(qtbot, model_file):
    win = MainWindow(Settings())
    qtbot.addWidget(win)
    win.open_path(model_file)  # not shown: nothing paints, so the panel is not made yet
    qtbot.waitUntil(lambda: not win.loading_jobs(), timeout=30_000)
    assert win._distribution is None
    name = win.select_largest_tensor()
    assert name is not None
    panel = win.distribution  # the selection asked for it
    assert panel is not None and panel.paths == [name]
    assert settle(win, 30.0)
    assert not panel.busy and len(panel.histogram.curves) == 1


def test_screenshot_draws_the_largest_tensor_without_sleeping(tmp_path, model_file, monkeypatch):
    import time

    slept: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    out = tmp_path / "shot.png"
    assert main(["--screenshot", str(out), str(model_file)]) == 0
    assert out.exists()
    assert sum(slept) < 0.05, slept  # settled on events, not on fixed waits


def test_the_workers_server_starts_with_the_window_not_with_the_first_big_model():
    import multiprocessing
    import os
    from multiprocessing import forkserver

    from gui.app import warm_workers

    if "forkserver" not in multiprocessing.get_all_start_methods() or (os.cpu_count() or 1) < 2:
        pytest.skip("the window uses no process server here")
    warm_workers()
    pid = forkserver._forkserver._forkserver_pid
    assert pid is not None
    os.kill(pid, 0)  # alive


def test_the_workers_server_is_warmed_only_for_files_that_need_workers(tmp_path, model_file):
    from core.stats import POOL_MIN_BYTES
    from gui.app import WARM_WORKERS_BYTES, _bytes_on_disk

    assert WARM_WORKERS_BYTES == POOL_MIN_BYTES
    big = tmp_path / "folder"
    big.mkdir()
    (big / "model.safetensors").write_bytes(b"\0" * 1000)
    (big / "config.json").write_text("{}")
    size = model_file.stat().st_size
    assert _bytes_on_disk([str(model_file), str(big)]) == size + 1002
    assert _bytes_on_disk([str(tmp_path / "missing")]) == 0
