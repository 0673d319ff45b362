"""`paramscope stats`: exact statistics and histograms of a tensor, a module or every tensor.

    python main.py stats PATH --tensor NAME [--bins N] [--json] [--effective | --stored]
    python main.py stats PATH --module PREFIX      (all of its parameters together; "" = model)
    python main.py stats PATH --all                (each tensor; JSON results under "tensors")

A quantised weight with a scale beside it (int8 + `weight_scale`, FP8 + `weight_scale_inv`, …)
shows its stored values by default; `--effective` shows the values they stand for,
(stored − zero point) × scale (core/effective.py says which layouts are supported).

Bad names and unreadable data print one line on stderr and exit with status 2. Nothing here
imports Qt or torch.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any

from core import stats as engine
from core import units
from core.effective import Scheme, effective_stats, scheme_for
from core.errors import CheckpointError
from core.readers.truncation import REASONS

_SPARK = " ▁▂▃▄▅▆▇█"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a checkpoint file or model folder")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument(
        "--tensor", action="append", metavar="NAME", help="a tensor's full name (repeatable)"
    )
    which.add_argument(
        "--module",
        metavar="PREFIX",
        help='all parameters under a module taken together ("" for the whole model)',
    )
    which.add_argument("--all", action="store_true", help="every tensor, one result each")
    parser.add_argument(
        "--bins", type=int, default=128, help="histogram bins over [min, max] (default 128)"
    )
    parser.add_argument(
        "--kinds",
        default="weight,bias,other",
        help="with --module: kinds to include, from weight,bias,other,buffer",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes for big jobs (default: one per core; 0 or 1: none)",
    )
    values = parser.add_mutually_exclusive_group()
    values.add_argument(
        "--effective",
        action="store_true",
        help="with --tensor: a quantised weight's real values, (stored − zero point) × scale",
    )
    values.add_argument(
        "--stored",
        action="store_true",
        help="with --tensor: the values as stored, integers included (the default)",
    )
    parser.add_argument(
        "--fetch",
        action="store_true",
        help="a remote model: download the chosen tensors' bytes first (their size is printed)",
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def _fetch(checkpoint: Any, args: argparse.Namespace) -> None:
    """Download the byte ranges the request reads from a remote model, saying how much first."""
    from core import remote

    if args.all or args.module == "":
        tensors = [t for t in checkpoint.tensors if t.source is not None]
    elif args.module is not None:
        prefix = args.module + "."
        tensors = [t for t in checkpoint.tensors if t.source and t.name.startswith(prefix)]
    else:
        tensors = [t for n in args.tensor if (t := checkpoint.tensor(n)) and t.source]
        if args.effective:  # the scales and zero points beside a quantised weight are read too
            tensors = [
                t
                for t in checkpoint.tensors
                if t.source
                and any(t.name.startswith(n.rsplit(".", 1)[0] + ".") for n in args.tensor)
            ]
    need = sum(
        remote.missing_bytes(t.source.file, t.source.offset, t.source.nbytes) for t in tensors
    )
    if not need:
        return
    print(
        f"paramscope: fetching {units.size(need)} ({units.exact(need)} bytes) of "
        f"{len(tensors)} tensor(s) from {checkpoint.facts.get('source', 'the server')}",
        file=sys.stderr,
    )
    for t in tensors:
        remote.fetch_range(t.source.file, t.source.offset, t.source.nbytes)


def run(args: argparse.Namespace) -> int:
    from core.open import open_checkpoint

    if args.bins < 1:
        print("paramscope: --bins must be at least 1", file=sys.stderr)
        return 2
    if args.effective and not args.tensor:
        print("paramscope: --effective works with --tensor", file=sys.stderr)
        return 2
    try:
        checkpoint = open_checkpoint(args.path)
        if args.fetch and "remote" in checkpoint.facts:
            _fetch(checkpoint, args)
        progress = _progress_printer() if sys.stderr.isatty() else None
        options: dict[str, Any] = {"progress": progress, "workers": args.workers}
        if args.all:
            readable, unreadable = [], []
            for t in checkpoint.tensors:
                if t.truncated:
                    why = REASONS[t.truncated]
                elif t.source is None:
                    why = "its data cannot be read"
                elif not engine.statistics_possible(t):
                    why = f"statistics of {t.source.encoding or t.dtype} are not supported yet"
                else:
                    readable.append(t)
                    continue
                unreadable.append(t.name)
                print(f"paramscope: {t.name}: {why}; skipped", file=sys.stderr)
            if not readable:
                print(f"paramscope: {checkpoint.name}: no tensor data can be read", file=sys.stderr)
                return 2
            results = engine.many_stats(readable, args.bins, **options)
            # written one tensor at a time below: a million results never sit in memory as JSON
            document: dict[str, Any] = {"path": str(checkpoint.path)}
            if unreadable:
                document["unreadable"] = unreadable
        elif args.module is not None:
            if args.module and checkpoint.tree.find(args.module) is None:
                print(
                    f"paramscope: {checkpoint.name}: no module is called {args.module!r}",
                    file=sys.stderr,
                )
                return 2
            kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
            results = [engine.module_stats(checkpoint, args.module, kinds, args.bins, **options)]
            document = results[0].to_json()
            skipped = results[0].skipped
            if skipped:
                shown = ", ".join(skipped[:5]) + (" …" if len(skipped) > 5 else "")
                print(
                    f"paramscope: {len(skipped)} tensors under {args.module or 'the model'!r} "
                    f"cannot be read and are not included: {shown}",
                    file=sys.stderr,
                )
                document["unreadable"] = list(skipped)
        else:
            missing = [n for n in args.tensor if checkpoint.tensor(n) is None]
            if missing:
                hint = _closest(checkpoint, missing[0])
                print(
                    f"paramscope: {checkpoint.name}: no tensor is called {missing[0]!r}{hint}",
                    file=sys.stderr,
                )
                return 2
            tensors = [t for t in (checkpoint.tensor(n) for n in args.tensor) if t]
            for t in tensors:
                if t.truncated:
                    print(
                        f"paramscope: {checkpoint.name}: {t.name}: {REASONS[t.truncated]}",
                        file=sys.stderr,
                    )
                    return 2
                if t.source is None:  # say why, with the file's own words if it has any
                    why = next((w for w in checkpoint.warnings if t.name in w), "")
                    print(
                        f"paramscope: {checkpoint.name}: {t.name}: its data cannot be read"
                        + (f" — {why}" if why else ""),
                        file=sys.stderr,
                    )
                    return 2
            schemes = [scheme_for(checkpoint, t) for t in tensors]
            if args.effective:
                results = [
                    effective_stats(checkpoint, t, args.bins, progress=progress) for t in tensors
                ]
            else:
                results = [engine.tensor_stats(t, args.bins, **options) for t in tensors]
            shown = [
                _with_values(result.to_json(), scheme, args.effective)
                for result, scheme in zip(results, schemes, strict=True)
            ]
            document = shown[0] if len(shown) == 1 else {"tensors": shown}
        if progress is not None:
            sys.stderr.write("\r\033[K")
    except CheckpointError as error:
        print(f"paramscope: {error}", file=sys.stderr)
        return 2
    if args.json and args.all:
        _write_all_json(document, results)
    elif args.json:
        json.dump(document, sys.stdout, indent=1, default=_json_number)
        sys.stdout.write("\n")
    elif args.all:
        for line in _table(results):
            sys.stdout.write(line)
    elif args.tensor:
        for result, scheme in zip(results, schemes, strict=True):
            sys.stdout.write(_describe(result) + _values_note(scheme, args.effective))
    else:
        for result in results:
            sys.stdout.write(_describe(result))
    return 0


def _with_values(document: dict[str, Any], scheme: Scheme | None, effective: bool) -> dict:
    """A scaled tensor's JSON says which values it describes and how they are scaled."""
    if scheme is not None:
        document["values"] = "effective" if effective else "stored"
        document["scheme"] = scheme.describe() if scheme.supported else scheme.problem
    return document


def _values_note(scheme: Scheme | None, effective: bool) -> str:
    if scheme is None:
        return ""
    if effective:
        return f"  effective values: {scheme.describe()}\n"
    if scheme.supported:
        return f"  stored values; --effective shows them as {scheme.describe()}\n"
    return f"  stored values ({scheme.problem})\n"


def _json_number(value: Any) -> Any:
    return float(value)


def _progress_printer():
    def show(done: int, total: int) -> None:
        if total:
            sys.stderr.write(f"\rreading {units.size(done)} of {units.size(total)}")
            sys.stderr.flush()

    return show


def _closest(checkpoint: Any, name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, [t.name for t in checkpoint.tensors], n=1)
    return f" (did you mean {close[0]!r}?)" if close else " (`paramscope info PATH` lists them)"


def _number(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.6g}"
    return f"{value:.4e}"


def _sparkline(counts: Any, width: int = 64) -> str:
    if len(counts) == 0 or max(counts) == 0:
        return ""
    groups = max(1, -(-len(counts) // width))
    sums = [sum(counts[i : i + groups]) for i in range(0, len(counts), groups)]
    top = max(sums)
    return "".join(_SPARK[0 if s == 0 else max(1, round(8 * s / top))] for s in sums)


def _describe(s: engine.TensorStats) -> str:
    shape = "×".join(str(d) for d in s.shape) if s.tensors == 1 else f"{s.tensors} tensors"
    zero_share = f" ({s.zeros / s.numel:.2%})" if s.numel else ""
    lines = [
        f"{s.name}  {s.dtype}  {shape or 'scalar'}  {units.exact(s.numel)} values",
        f"  min {_number(s.min)}  max {_number(s.max)}  mean {_number(s.mean)}  "
        f"std {_number(s.std)}",
        f"  mean|x| {_number(s.abs_mean)}  L2 {_number(s.l2)}  "
        f"zeros {units.exact(s.zeros)}{zero_share}  NaN {units.exact(s.nan)}  "
        f"Inf {units.exact(s.inf)}",
    ]
    if s.percentiles:
        lines.append(
            "  percentiles  " + "  ".join(f"{p:g}% {_number(v)}" for p, v in s.percentiles.items())
        )
    if len(s.counts):
        lines.append(
            f"  histogram {len(s.counts)} bins [{_number(s.edges[0])}, {_number(s.edges[-1])}]  "
            f"|{_sparkline(s.counts)}|"
        )
    lines.extend(f"  ⚑ {meaning}" for meaning in s.flag_meanings())
    if not s.flags:
        lines.append("  flags: none")
    return "\n".join(lines) + "\n"


def _write_all_json(document: dict[str, Any], results: Sequence[engine.TensorStats]) -> None:
    """`document` with a "tensors" list, as json.dump(indent=1) writes it, one tensor at a time."""
    out = sys.stdout
    out.write('{\n "path": ' + json.dumps(document["path"]) + ',\n "tensors": [')
    for index, result in enumerate(results):
        text = json.dumps(result.to_json(), indent=1, default=_json_number)
        out.write(("\n" if index == 0 else ",\n") + textwrap.indent(text, "  "))
    out.write("\n ]")
    for key, value in document.items():
        if key != "path":
            text = json.dumps(value, indent=1, default=_json_number)
            out.write(f",\n {json.dumps(key)}: " + textwrap.indent(text, " ")[1:])
    out.write("\n}\n")


def _table(results: Sequence[engine.TensorStats]) -> Iterator[str]:
    """The lines of `stats --all`'s table, one at a time."""
    width = min(60, max((len(t.name) for t in results), default=4))
    yield (
        f"{'tensor':<{width}}  {'dtype':<13} {'min':>11} {'max':>11} {'mean':>11} "
        f"{'std':>11}  flags\n"
    )
    for r in results:
        yield (
            f"{r.name:<{width}}  {r.dtype:<13} {_number(r.min):>11} {_number(r.max):>11} "
            f"{_number(r.mean):>11} {_number(r.std):>11}  {','.join(r.flags) or '-'}\n"
        )
