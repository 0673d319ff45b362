"""The window paints a model's tree before it loads the plots; a screenshot waits on events.

How long these take is measured in benchmarks/first_paint.py; here only what must hold.
"""

from __future__ import annotations

import json
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
    for name in ("pyqtgraph", "numpy", "core.stats", "yaml"):
        print(f"{name} at first paint:", name in sys.modules, flush=True)
    QTimer.singleShot(2000, later)

def later():
    tab = window.current_tab()
    print("health checked after:", tab.health.results is not None or tab.health.busy, flush=True)
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


@pytest.fixture
def model_folder(tmp_path: Path) -> Path:
    """A Hugging Face folder: weights, a config.json with float hyperparameters (shown in the
    hyperparameter panel as the tree paints) and a trainer_state.json with a loss curve."""
    folder = tmp_path / "tiny-model"
    folder.mkdir()
    save_safetensors(make_model(), folder / "model.safetensors")
    config = {"hidden_size": 32, "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.1}
    (folder / "config.json").write_text(json.dumps(config))
    history = [{"step": s, "loss": 3.0 / s, "learning_rate": 1e-3} for s in range(1, 6)]
    (folder / "trainer_state.json").write_text(json.dumps({"log_history": history}))
    return folder


def test_the_tree_paints_before_the_engine_and_plots_load_and_they_follow(model_folder):
    """numpy, the statistics engine, PyYAML and pyqtgraph load after the tree's first paint
    (a tenth of a second sooner on screen); the health check and the plots follow it."""
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, str(model_folder)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    for name in ("pyqtgraph", "numpy", "core.stats", "yaml"):
        assert f"{name} at first paint: False" in done.stdout, done.stdout
    assert "health checked after: True" in done.stdout
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
    starting = warm_workers()
    assert starting is not None
    starting.join(10)
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


def test_screenshot_renders_the_window_once_and_starts_no_spectra(
    tmp_path, model_file, monkeypatch
):
    """Off screen the window still painted into its backing store after every change (the
    tree and each plot again and again) before grab() rendered it once more; and the spectra
    started beside the screenshot's own work, though they are not in it."""
    from collections import Counter

    import shiboken6
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QAbstractItemView, QApplication

    from gui import spectrum_line

    class CountPaints(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.paints: Counter[int] = Counter()

        def eventFilter(self, watched, event) -> bool:  # noqa: N802 — Qt's name
            if event.type() == QEvent.Type.Paint and isinstance(
                watched.parent(), QAbstractItemView
            ):
                self.paints[shiboken6.getCppPointer(watched)[0]] += 1
            return False

    started: list[object] = []
    monkeypatch.setattr(spectrum_line.SpectrumLine, "start", lambda line: started.append(line))
    counter = CountPaints()
    QApplication.instance().installEventFilter(counter)
    try:
        out = tmp_path / "shot.png"
        assert main(["--screenshot", str(out), str(model_file)]) == 0
    finally:
        QApplication.instance().removeEventFilter(counter)
    assert out.exists()
    assert counter.paints, "the grab paints the views"
    assert max(counter.paints.values()) == 1, counter.paints  # by grab(), once
    assert not started


def test_pysides_uses_pyside_question_is_answered_from_the_file_alike():
    """PySide asks of each module imported after it whether it uses PySide6; the window answers
    from the file's bytes (faster than PySide's inspect.getsource), with the same answers."""
    import importlib
    import sys

    import gui.app

    gui.app.faster_feature_check()
    feature = sys.modules["shibokensupport.feature"]
    fast = feature._mod_uses_pyside
    assert getattr(fast, "reads_bytes", False)
    import inspect

    for name in ("gui.app", "gui.main_window", "core.units", "json", "numpy", "pyqtgraph"):
        module = importlib.import_module(name)
        assert fast(module) == ("PySide6" in inspect.getsource(module)), name
    assert fast(sys) is False  # a built-in module: no source, PySide's own answer


def test_a_screenshot_run_ends_at_once_and_cleanly(tmp_path):
    """`main.py --screenshot` skips the interpreter's teardown once its work is done (40 ms),
    but still shuts its worker pool down: no leaked-semaphore warnings, the exit code kept."""
    import numpy as np
    from safetensors.numpy import save_file

    from core.stats import POOL_MIN_BYTES

    rows = POOL_MIN_BYTES // (4 * 1024) + 64  # big enough for the health check's workers
    weights = np.random.default_rng(0).standard_normal((rows, 1024), dtype=np.float32)
    model = tmp_path / "big.safetensors"
    save_file({"layers.0.fc.weight": weights}, str(model))
    out = tmp_path / "shot.png"
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(
        [sys.executable, "main.py", "--screenshot", str(out), str(model)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.exists() and "saved" in done.stdout
    assert "leaked" not in done.stderr and "Traceback" not in done.stderr
    missing = subprocess.run(
        [sys.executable, "main.py", "--screenshot", str(out), str(tmp_path / "missing.pt")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert missing.returncode == 1 and "missing.pt" in missing.stderr
