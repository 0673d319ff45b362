"""How fast the window shows big models: a 70B-shaped sharded folder and 100,000 tensors.

Prints, for each model: the engine's open, the tree's first paint, a few finds and Expand All;
then the longest freeze of the UI thread while the whole window opens each 100k-tensor file.
Run: QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/window_tree.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import open_checkpoint  # noqa: E402
from gui.app import make_app, wait_until  # noqa: E402
from gui.layer_tree import PARAMS, LayerTree  # noqa: E402


def write_moe(path: Path) -> Path:
    """100 blocks × 250 experts × 4 matrices = 100,000 tiny tensors."""
    arrays = {
        f"model.blocks.{b}.mlp.experts.{e}.w{k}.weight": np.zeros((2, 2), np.float16)
        for b in range(100)
        for e in range(250)
        for k in range(4)
    }
    save_file(arrays, str(path))
    return path


def write_wide(path: Path, names: str) -> Path:
    """100,000 tensors that are siblings: at the top level ("flat") or under one module
    ("stack", `layers.N.weight`), the shapes that give a view one parent with 100k rows."""
    if names == "flat":
        keys = [f"t{i}" for i in range(100_000)]
    else:
        keys = [f"layers.{i}.weight" for i in range(100_000)]
    save_file({k: np.zeros((2,), np.float16) for k in keys}, str(path))
    return path


def write_just_below_limit(path: Path) -> Path:
    """20,000 tensors: Expand All opens every row."""
    arrays = {
        f"blocks.{b}.experts.{e}.weight": np.zeros((2,), np.float16)
        for b in range(100)
        for e in range(200)
    }
    save_file(arrays, str(path))
    return path


def write_70b(folder: Path) -> Path:
    spec = importlib.util.spec_from_file_location(
        "open_sharded", ROOT / "benchmarks" / "open_sharded.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_sparse_model(folder)
    return folder


def timed(label: str, fn) -> None:
    started = time.perf_counter()
    result = fn()
    extra = f"  ({result})" if isinstance(result, str) else ""
    print(f"  {label:<28} {1000 * (time.perf_counter() - started):8.1f} ms{extra}")


def measure(path: Path, finds: list[str]) -> None:
    print(path.name)
    started = time.perf_counter()
    checkpoint = open_checkpoint(path)
    print(f"  {'open (engine)':<28} {1000 * (time.perf_counter() - started):8.1f} ms")
    tree = LayerTree()
    tree.resize(1000, 700)
    tree.show()

    def first_paint() -> None:
        tree.set_checkpoint(checkpoint)
        tree.view.viewport().repaint()

    timed("tree shown and painted", first_paint)
    for text in finds:

        def find(text: str = text) -> str:
            tree.set_find_text(text)
            tree.view.viewport().repaint()
            return tree.matches.text()

        timed(f"find {text!r}", find)
    timed("clear find", lambda: tree.set_find_text(""))

    def sort(column: int, order: Qt.SortOrder) -> None:
        tree.view.sortByColumn(column, order)
        tree.view.viewport().repaint()

    timed("sort by Parameters", lambda: sort(PARAMS, Qt.SortOrder.DescendingOrder))
    timed("back to the file's order", lambda: sort(-1, Qt.SortOrder.AscendingOrder))
    timed("resize (fits names)", lambda: tree.resize(1100, 700) or tree.fit_names())
    timed("Expand All", lambda: "every row" if tree.expand_all() else "the levels that fit")
    tree.close()


def main() -> None:
    make_app([])
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        measure(write_70b(base / "llama-70b"), ["*mlp*", "layers.42."])
        measure(write_moe(base / "moe-100k.safetensors"), ["*experts.7.*", "w1", "blocks.3"])
        measure(write_wide(base / "flat-100k.safetensors", "flat"), ["t7*", "t99999"])
        measure(write_wide(base / "stack-100k.safetensors", "stack"), ["layers.7*"])
        measure(write_just_below_limit(base / "experts-20k.safetensors"), ["*.7.*"])
        window_heartbeat(sorted(base.glob("*-*k.safetensors")))
    wait_until(lambda: False, 0.05)


def window_heartbeat(paths: list[Path]) -> None:
    """Open each file in the whole window (summary, tree, automatic health check) with a 10 ms
    timer ticking on the UI thread; the longest gap between ticks is the worst freeze."""
    from benchmarks.ui_heartbeat import heartbeat, report
    from gui.main_window import MainWindow
    from gui.settings import Settings

    app = make_app([])
    for path in paths:
        window = MainWindow(Settings(fresh=True, persist=False))
        window.resize(1400, 900)
        window.show()

        def done(window: MainWindow = window) -> bool:
            opened = window.tabs.count() == 1 and not window.loading_jobs()
            return opened and not window.health_checks()

        seconds, gaps = heartbeat(app, lambda p=path, w=window: w.open_path(p), done)
        report(f"window opens {path.name}", seconds, gaps)
        window.close()


if __name__ == "__main__":
    main()
