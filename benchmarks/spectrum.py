"""`spectrum` as a whole process vs WeightWatcher's import + analyze(), and one big matrix.

    python benchmarks/spectrum.py MODEL_DIR [--ww PYTHON]   (PYTHON: a venv with weightwatcher)
    python benchmarks/spectrum.py --big                      (a sparse-file 128k×4096 bf16 embedding)

Times are wall-clock of whole processes; RSS is the peak of the process and its children
(`resource.RUSAGE_CHILDREN`). WeightWatcher is never a project dependency: install it into a
scratch environment (`pip install weightwatcher==0.7.7 torch==2.13.0`).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WW_SCRIPT = """
import sys, time, resource
t0 = time.perf_counter()
import weightwatcher as ww
details = ww.WeightWatcher(model=sys.argv[1]).analyze()
print(len(details))
"""


def _run(command: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS MiB) of a child process."""
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def big_embedding(folder: Path, rows: int = 131072, cols: int = 4096) -> Path:
    """A safetensors file with one rows×cols bf16 tensor whose data is a sparse hole (zeros)
    except one row per 1,024, so the file costs no disk and the spectrum is not trivial."""
    header = {
        "embed.weight": {
            "dtype": "BF16",
            "shape": [rows, cols],
            "data_offsets": [0, rows * cols * 2],
        }
    }
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path = folder / "big.safetensors"
    with open(path, "wb") as handle:
        handle.write(len(text).to_bytes(8, "little") + text)
        start = handle.tell()
        handle.truncate(start + rows * cols * 2)
        row = bytes([0x80, 0x3F]) * cols  # 1.0 in bf16
        for r in range(0, rows, 1024):
            handle.seek(start + (r * cols + r % cols) * 2)
            handle.write(row[: 2 * min(cols, 64)])
    return path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model", nargs="?")
    parser.add_argument("--ww", help="a Python with weightwatcher installed")
    parser.add_argument("--big", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    ours = [sys.executable, str(ROOT / "main.py"), "spectrum"]
    if args.big:
        with tempfile.TemporaryDirectory() as folder:
            path = big_embedding(Path(folder))
            seconds, rss = _run([*ours, str(path), "--json"])
            print(f"128k×4096 bf16 embedding: {seconds:.1f} s, peak RSS {rss:.0f} MiB")
        return
    target = Path(args.model)
    files = sorted(target.glob("*.safetensors")) if target.is_dir() else [target]
    for _ in range(args.repeat):
        seconds, rss = _run([*ours, str(files[0]), "--json"])
        print(f"paramscope spectrum: {seconds:.2f} s, peak RSS {rss:.0f} MiB")
    if args.ww:
        folder = target if target.is_dir() else target.parent
        seconds, rss = _run([args.ww, "-c", WW_SCRIPT, str(folder)])
        print(f"weightwatcher import + analyze(): {seconds:.2f} s, peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
