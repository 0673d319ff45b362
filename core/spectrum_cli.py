"""`paramscope spectrum`: eigenvalue spectra and WeightWatcher's heavy-tail metrics per matrix.

    python main.py spectrum PATH [--tensor NAME ...] [--randomize] [--workers N] [--json]

One row per weight matrix (2-D weights, embeddings, conv kernels) and the means over them, like
WeightWatcher's get_summary; `--json` prints {path, layers, summary, warnings}. Errors print one
line on stderr and exit with status 2. Nothing here imports Qt or torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator

from core.analysis import spectrum as engine
from core.errors import CheckpointError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a checkpoint file or model folder")
    parser.add_argument(
        "--tensor", action="append", metavar="NAME", help="a weight's full name (repeatable)"
    )
    parser.add_argument(
        "--randomize",
        action="store_true",
        help="also the spectrum of each matrix with its elements shuffled, and the distance",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: one per core; 0 or 1: none)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    from core.open import open_checkpoint

    if args.workers is not None and args.workers < 0:
        print("paramscope: --workers must be 0 or more", file=sys.stderr)
        return 2
    checkpoint = open_checkpoint(args.path)
    progress = _progress_printer() if sys.stderr.isatty() else None
    report = engine.checkpoint_spectra(
        checkpoint,
        args.tensor,
        randomize=args.randomize,
        workers=args.workers,
        progress=progress,
    )
    if progress is not None:
        sys.stderr.write("\r\033[K")
    for name, why in report.skipped:
        print(f"paramscope: {name}: {why}; skipped", file=sys.stderr)
    if not report.layers and args.tensor is None:
        raise CheckpointError(checkpoint.path, "no weight matrix with readable data")
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=1, allow_nan=False)
        sys.stdout.write("\n")
    else:
        for line in _table(report, args.randomize):
            sys.stdout.write(line + "\n")
    return 0


def _progress_printer():
    def show(done: int, total: int) -> None:
        sys.stderr.write(f"\rspectra: {100 * done // max(total, 1)}%")
        sys.stderr.flush()

    return show


def _number(value: float | None, digits: int = 3) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _table(report: engine.SpectrumReport, randomize: bool) -> Iterator[str]:
    width = max([len(layer.name) for layer in report.layers] + [6])
    head = (
        f"{'tensor':<{width}}  {'shape':>14}  {'evals':>6}  {'λmax':>10}  {'α':>6}  "
        f"{'xmin':>9}  {'D':>6}  {'tail':>5}  {'α_w':>7}  {'stable':>8}  {'rank':>6}"
    )
    if randomize:
        head += "  rand_dist"
    yield head + "  warning"
    for layer in report.layers:
        shape = "×".join(map(str, layer.shape))
        line = (
            f"{layer.name:<{width}}  {shape:>14}  {layer.num_evals:>6}  "
            f"{layer.lambda_max:>10.4g}  {_number(layer.alpha):>6}  "
            f"{'—' if layer.xmin is None else format(layer.xmin, '.4g'):>9}  "
            f"{_number(layer.D):>6}  {layer.num_pl_spikes:>5}  "
            f"{_number(layer.alpha_weighted):>7}  {layer.stable_rank:>8.2f}  {layer.rank:>6}"
        )
        if randomize:
            line += f"  {_number(layer.rand_distance):>9}"
        flags = [layer.warning] if layer.warning else []
        if layer.looks_random:
            flags.append("looks random")
        yield line + "  " + ", ".join(flags)
    yield ""
    means = report.summary
    yield f"{len(report.layers)} matrices; means: " + ", ".join(
        f"{key} {_number(value)}" for key, value in means.items()
    )
    for warning in report.warnings:
        yield f"warning: {warning}"
