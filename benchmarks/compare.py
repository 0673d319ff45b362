"""How fast `diff` compares two checkpoints, and how much memory it holds, in one run.

1. Two 512 MiB bfloat16 models (64 tensors of 2048×2048; B is A fine-tuned: every tensor
   × 1.001 plus noise, rounded to bf16 again): `main.py diff A B --json` against
   `main.py stats A --all --json` + the same for B (target: diff ≤ 1.2× the two stats runs),
   and the peak RSS of the diff's whole process tree (target < 300 MiB).
2. Two byte-identical 70B Llama-shaped sharded folders (sparse files, benchmarks/open_sharded.py;
   `--layers N` keeps N of its 80 blocks for a shorter run):
   `main.py diff A B --json` against reading every data byte of both folders once, in two
   processes (one per folder; target: diff within that time).

    .venv/bin/python benchmarks/compare.py [--keep DIR] [--reps 2] [--skip-70b]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from open_sharded import write_sparse_model  # noqa: E402
from stats_throughput import COLS, ROWS, TENSORS, best, measure, write_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent

READ_ONCE = """
import sys
buffer = bytearray(8 << 20)
for name in sys.argv[1:]:
    with open(name, 'rb', buffering=0) as f:
        while f.readinto(buffer):
            pass
"""


def write_finetuned(source: Path, path: Path) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    generator = torch.Generator().manual_seed(1)
    tensors = {}
    for name, value in load_file(str(source)).items():
        noise = torch.randn(value.shape, generator=generator) * 1e-4
        tensors[name] = (value.float() * 1.001 + noise).to(torch.bfloat16)
    save_file(tensors, str(path))


def cpu_seconds(command: list[str]) -> float:
    """User + system CPU seconds of one run of `command` and the processes it waited for (its
    worker processes): on a shared machine wall time measures the neighbours too."""
    import resource
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def evict(files: list[str]) -> None:
    """Drop these files' pages from the page cache (ours only: nothing else is touched)."""
    import os

    for name in files:
        with open(name, "rb") as f:
            os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)


def warm(*paths: Path) -> None:
    for path in paths:
        with open(path, "rb") as f:
            while f.read(16 << 20):
                pass


def bf16_pair(folder: Path, reps: int) -> None:
    a, b = folder / "a.safetensors", folder / "b.safetensors"
    if not a.exists():
        print(f"writing {a} …", flush=True)
        write_model(a)
    if not b.exists():
        print(f"writing {b} …", flush=True)
        write_finetuned(a, b)
    warm(a, b)
    python = sys.executable
    size = a.stat().st_size + b.stat().st_size
    print(f"two models of {TENSORS} bf16 tensors of {ROWS}×{COLS}: {size / 2**20:.0f} MiB together")
    stats_a, rss_a, _ = best([python, "main.py", "stats", str(a), "--all", "--json"], reps)
    stats_b, rss_b, _ = best([python, "main.py", "stats", str(b), "--all", "--json"], reps)
    diff_s, diff_rss, out = best([python, "main.py", "diff", str(a), str(b), "--json"], reps)
    doc = json.loads(out)
    assert len(doc["pairs"]) == TENSORS and all(p["status"] == "changed" for p in doc["pairs"])
    both = stats_a + stats_b
    stats_cmds = [[python, "main.py", "stats", str(p), "--all", "--json"] for p in (a, b)]
    diff_cmd = [python, "main.py", "diff", str(a), str(b), "--json"]
    cpu_stats = min(sum(cpu_seconds(c) for c in stats_cmds) for _ in range(reps))
    cpu_diff = min(cpu_seconds(diff_cmd) for _ in range(reps))
    print(
        f"stats --all A + B (two commands)      {both:6.2f} s  peak RSS {max(rss_a, rss_b) / 2**20:6.1f} MiB"
    )
    print(
        f"diff A B --json                       {diff_s:6.2f} s  peak RSS {diff_rss / 2**20:6.1f} MiB"
    )
    print(
        f"CPU seconds (user + system, workers included): stats A + B {cpu_stats:.2f} s, "
        f"diff {cpu_diff:.2f} s → {cpu_diff / cpu_stats:.2f}×"
    )
    ratio = diff_s / both
    print(
        f"wall ratio {ratio:.2f}× (target ≤ 1.2×: {'met' if ratio <= 1.2 else 'NOT met'}); "
        f"RSS < 300 MiB: {'met' if diff_rss < 300 * 2**20 else 'NOT met'}"
    )


def identical_70b(folder: Path, layers: int) -> None:
    import open_sharded

    open_sharded.LAYERS = layers  # the shapes of Llama-2-70B, with this many decoder blocks
    a, b = folder / f"70b-{layers}-a", folder / f"70b-{layers}-b"
    for path in (a, b):
        if not path.exists():
            write_sparse_model(path)
    python = sys.executable
    files_a = sorted(str(p) for p in a.glob("*.safetensors"))
    files_b = sorted(str(p) for p in b.glob("*.safetensors"))
    apparent = sum(Path(p).stat().st_size for p in files_a + files_b)
    print(
        f"two sparse 70B-shaped folders ({layers} of 80 blocks): "
        f"{apparent / 1e9:.0f} GB apparent together"
    )
    import subprocess
    import time

    evict(files_a + files_b)
    start = time.perf_counter()
    readers = [subprocess.Popen([python, "-c", READ_ONCE, *files]) for files in (files_a, files_b)]
    for reader in readers:
        reader.wait()
    read_s = time.perf_counter() - start
    evict(files_a + files_b)  # both contenders start from a cold page cache
    diff_s, _, out = measure([python, "main.py", "diff", str(a), str(b), "--json"])
    doc = json.loads(out)
    statuses = {p["status"] for p in doc["pairs"]}
    print(
        f"reading both once (two processes)     {read_s:6.1f} s  {apparent / read_s / 1e9:5.2f} GB/s"
    )
    print(
        f"diff A B --json                       {diff_s:6.1f} s  {apparent / diff_s / 1e9:5.2f} GB/s"
    )
    print(
        f"{len(doc['pairs'])} pairs, statuses {sorted(statuses)}; "
        f"within the time of reading once: {'met' if diff_s <= read_s * 1.05 else 'NOT met'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write (or reuse) the models in this folder")
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--skip-70b", action="store_true")
    parser.add_argument("--skip-bf16", action="store_true")
    parser.add_argument(
        "--layers",
        type=int,
        default=80,
        help="decoder blocks of the sparse 70B folders (80: the whole model, 2 × 140 GB of holes "
        "to read; fewer for a quicker run on a slow disk)",
    )
    args = parser.parse_args()
    temporary = None
    folder = args.keep
    if folder is None:
        temporary = tempfile.mkdtemp(prefix="paramscope-compare-")
        folder = Path(temporary)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        if not args.skip_bf16:
            bf16_pair(folder, args.reps)
        if not args.skip_70b:
            identical_70b(folder, args.layers)
    finally:
        if temporary is not None:
            shutil.rmtree(temporary, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
