"""How fast `stats --all` reads a 512 MiB bfloat16 model, against a plain numpy pass, in one run.

Writes a safetensors file of 64 bfloat16 tensors of 2048×2048 (512 MiB), reads it once so both
contenders start from a warm page cache, then runs, each in a fresh process:
- the plain numpy pass: per tensor, read the bytes, decode bf16 → float32, then min, max, mean,
  std and a 100-bin `np.histogram` of the finite values;
- `python main.py stats FILE --all --json` (exact statistics plus a 128-bin histogram per tensor);
- the same engine call in-process with one worker and with the default workers, to show what the
  processes add.
Prints seconds, GB/s, speedup and the peak RSS of the whole process tree (mapped pages included,
sampled every 5 ms from /proc in a separate run; workers counted too). Targets: ≥ 3× the numpy pass, < 300 MiB.

    .venv/bin/python benchmarks/stats_throughput.py [--keep FILE] [--reps 3] [--layout transposed]

`--layout transposed` writes the same tensors as a PyTorch `.pt` of transposed views (stored
column by column), so the engine takes its strided path; the numpy pass is skipped there.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TENSORS, ROWS, COLS = 64, 2048, 2048

NUMPY_PASS = """
import json, struct, sys, numpy as np
path = sys.argv[1]
with open(path, 'rb') as f:
    n = struct.unpack('<Q', f.read(8))[0]
    header = json.loads(f.read(n))
start = 8 + n
for name, info in header.items():
    if name == '__metadata__':
        continue
    begin, end = info['data_offsets']
    raw = np.fromfile(path, dtype='<u2', count=(end - begin) // 2, offset=start + begin)
    x = (raw.astype(np.uint32) << 16).view(np.float32)
    finite = x[np.isfinite(x)]
    lo, hi = finite.min(), finite.max()
    finite.mean(); finite.std()
    np.histogram(finite, 100, range=(lo, hi))
"""

ENGINE = """
import sys, time
sys.path.insert(0, '.')
from core import open_checkpoint, stats
checkpoint = open_checkpoint(sys.argv[1])
workers = int(sys.argv[2])
stats.many_stats(checkpoint.tensors[:8], workers=workers)  # start the pool outside the timing
stats.clear_cache()
t = time.perf_counter()
stats.many_stats(checkpoint.tensors, workers=workers)
print(time.perf_counter() - t)
"""


def write_model(path: Path, layout: str = "contiguous") -> None:
    import torch
    from safetensors.torch import save_file

    generator = torch.Generator().manual_seed(0)
    tensors = {
        f"model.layers.{i}.mlp.down_proj.weight": (
            torch.randn(ROWS, COLS, generator=generator) * 0.02
        ).to(torch.bfloat16)
        for i in range(TENSORS)
    }
    if layout == "transposed":  # each tensor keeps its storage; its strides say (1, ROWS)
        torch.save({name: t.t() for name, t in tensors.items()}, str(path))
    else:
        save_file(tensors, str(path))


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def measure(command: list[str], sample_rss: bool = False) -> tuple[float, int, str]:
    """Wall seconds, peak tree RSS (if sampled, else 0) and stdout of one run of `command`.

    Sampling /proc costs CPU that the measured workers would otherwise use, so timed runs do
    not sample; a separate run measures memory.
    """
    start = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, tree_rss(process.pid))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    if sample_rss:
        sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - start
    stop.set()
    if sample_rss:
        sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{command} failed: {err}")
    return seconds, peak, out


def best(command: list[str], reps: int) -> tuple[float, int, str]:
    """Best time of `reps` unsampled runs, and the peak RSS of one more, sampled run."""
    runs = [measure(command) for _ in range(reps)]
    _, peak, _ = measure(command, sample_rss=True)
    return min(r[0] for r in runs), peak, runs[-1][2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write (or reuse) the model at this path")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--layout", choices=("contiguous", "transposed"), default="contiguous")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    name = "model.safetensors" if args.layout == "contiguous" else "model.pt"
    path = args.keep or Path(folder.name) / name
    if not path.exists():
        print(f"writing {path} …", flush=True)
        write_model(path, args.layout)
    size = path.stat().st_size
    with open(path, "rb") as f:  # warm the page cache so both contenders read from memory
        while f.read(16 << 20):
            pass
    python = sys.executable
    print(
        f"model: {TENSORS} bf16 tensors of {ROWS}×{COLS}, {size / 2**20:.0f} MiB, {os.cpu_count()} cores"
    )

    if args.layout == "contiguous":
        numpy_s, numpy_rss, _ = best([python, "-c", NUMPY_PASS, str(path)], args.reps)
    else:  # the plain pass reads safetensors only; compare the engine with itself instead
        numpy_s, numpy_rss = float("nan"), 0
    cli_s, cli_rss, out = best(
        [python, "main.py", "stats", str(path), "--all", "--json"], args.reps
    )
    assert out.count('"name"') == TENSORS, "stats --all did not report every tensor"
    engine_one = min(
        float(measure([python, "-c", ENGINE, str(path), "1"])[2]) for _ in range(args.reps)
    )
    engine_all = min(
        float(measure([python, "-c", ENGINE, str(path), str(os.cpu_count() or 1)])[2])
        for _ in range(args.reps)
    )

    def line(label: str, seconds: float, rss: int | None = None) -> str:
        text = f"{label:<44} {seconds:6.3f} s  {size / seconds / 1e9:5.2f} GB/s"
        text += f"  {numpy_s / seconds:5.1f}× numpy"
        if rss is not None:
            text += f"  peak RSS {rss / 2**20:6.1f} MiB"
        return text

    print(line("plain numpy pass (fresh process)", numpy_s, numpy_rss))
    print(line("stats --all --json (whole command)", cli_s, cli_rss))
    print(line("engine only, 1 process", engine_one))
    print(line(f"engine only, {os.cpu_count()} worker processes", engine_all))
    speed = f"{'met' if numpy_s / cli_s >= 3 else 'NOT met'}" if numpy_s == numpy_s else "n/a"
    print(
        f"target: ≥ 3× numpy → {speed}; "
        f"peak RSS < 300 MiB → {'met' if cli_rss < 300 * 2**20 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
