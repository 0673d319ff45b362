"""`paramscope diff A B`: what changed between two checkpoints, pair by pair and per module.

    python main.py diff A B [--json] [--module PREFIX] [--map auto|none|FILE] [--top N]
                            [--workers N] [--adapter LORA] [--no-undo]

`--json` prints one object: `a`, `b`, `pairs`, `only_a`, `only_b`, `modules`, `config_changes`,
`warnings` (and `adapter_impact` when one side is a LoRA adapter alone). A pair whose stored
bytes are identical is not decoded, so its `nan_a`/`nan_b` are null (equal bytes: equal NaNs). A
side that cannot be read prints one line naming that side and exits with status 2. Nothing here
imports Qt or torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from core import json_strict, units
from core.errors import CheckpointError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("a", help="the first checkpoint (file or model folder)")
    parser.add_argument("b", help="the second checkpoint")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--module", metavar="PREFIX", help="only tensors under this module")
    parser.add_argument(
        "--map",
        default="auto",
        metavar="auto|none|FILE",
        help="pair names: auto (wrapper prefixes, GGUF names, experts, fused QKV), none (equal "
        "names only) or a file of two names a line (default auto)",
    )
    parser.add_argument("--top", type=int, default=20, help="changed tensors to list (default 20)")
    parser.add_argument(
        "--workers", type=int, default=None, help="worker processes (default one per core)"
    )
    parser.add_argument(
        "--adapter", metavar="LORA", help="a LoRA adapter added to A (base + scale·B·A) first"
    )
    parser.add_argument(
        "--no-undo",
        action="store_true",
        help="compare tensors as stored (do not undo converter transforms)",
    )


def _open(path: str, side: str):
    from core.open import open_checkpoint

    try:
        return open_checkpoint(path)
    except CheckpointError as error:
        raise CheckpointError(error.path, f"side {side}: {error.what}", error.hint) from None


def run(args: argparse.Namespace) -> int:
    from core import adapters
    from core.analysis.compare import compare

    if args.top < 0:
        print("paramscope: --top must be 0 or more", file=sys.stderr)
        return 2
    if args.map not in ("auto", "none") and not Path(args.map).is_file():
        print(f"paramscope: --map {args.map}: no such file", file=sys.stderr)
        return 2
    a, b = _open(args.a, "A"), _open(args.b, "B")
    adapter = _open(args.adapter, "adapter") if args.adapter else None
    progress = _progress_printer() if sys.stderr.isatty() else None
    result = compare(
        a,
        b,
        mapping=args.map,
        undo=not args.no_undo,
        module=args.module,
        adapter=adapter,
        progress=progress,
        workers=args.workers,
    )
    if progress is not None:
        sys.stderr.write("\r\033[K")
    impact = None
    lone = [c for c in (a, b) if _adapter_only(c, adapters)]
    if len(lone) == 1 and adapter is None:
        from core.analysis.lora import impact as adapter_impact

        base = b if lone[0] is a else a
        impact = adapter_impact(base, lone[0])
    if args.json:
        document = result.to_json()
        document["config_changes"] = json_strict.strict(document["config_changes"])
        if impact is not None:
            document["adapter_impact"] = [
                {
                    "module": m.module,
                    "delta_l2": m.delta_norm,
                    "weight_l2": m.weight_norm,
                    "ratio": m.ratio,
                }
                for m in impact
            ]
        json.dump(json_strict.strict(document), sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
        return 0
    sys.stdout.write(_text(result, args.top, impact))
    return 0


def _adapter_only(checkpoint: Any, adapters: Any) -> bool:
    lora = adapters.lora_modules(checkpoint.tensors)
    owned = {t.name for pair in lora.values() for t in pair.values()}
    return bool(lora) and all(t.name in owned for t in checkpoint.tensors if t.section == "model")


def _progress_printer():
    def show(done: int, total: int) -> None:
        if total:
            sys.stderr.write(f"\rcomparing {units.size(done)} of {units.size(total)}")
            sys.stderr.flush()

    return show


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.3g} %"


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _cosine(value: float | None) -> str:
    # fixed decimals keep the column aligned; closeness to 1 is what the rel column shows
    return "–" if value is None else f"{value:.6f}"


def _text(result: Any, top: int, impact: Any) -> str:
    lines = [
        f"A: {result.a.path} ({result.a.format})",
        f"B: {result.b.path} ({result.b.format})",
        result.summary(),
        "",
    ]
    changed = [p for p in result.pairs if p.status in ("changed", "dtype")]
    changed.sort(key=lambda p: -(p.figures.rel or 0.0) if p.figures else 0.0)
    if changed and top:
        lines.append(f"{'rel change':>11} {'cosine':>9} {'max |Δ|':>10} {'SNR dB':>7}  tensor")
        for pair in changed[:top]:
            f = pair.figures
            name = pair.spec.a if pair.spec.a == pair.spec.b else f"{pair.spec.a} ↔ {pair.spec.b}"
            extra = f"  [{pair.spec.transform}]" if pair.spec.transform else ""
            if pair.status == "dtype":
                extra += f"  ({pair.spec.dtype_a} → {pair.spec.dtype_b})"
            lines.append(
                f"{_pct(f.rel):>11} {_cosine(f.cosine):>9} {_num(f.max_abs):>10} "
                f"{_num(f.snr_db, 3):>7}  {name}{extra}"
            )
        if len(changed) > top:
            lines.append(f"… and {len(changed) - top:,} more (--top N)")
        lines.append("")
    for label, names in (("only in A", result.only_a), ("only in B", result.only_b)):
        if names:
            shown = ", ".join(names[:8]) + (f" … (+{len(names) - 8:,})" if len(names) > 8 else "")
            lines.append(f"{label}: {shown}")
    if result.config_changes:
        lines.append(f"hyperparameters that differ ({len(result.config_changes):,}):")
        for change in result.config_changes[:20]:
            lines.append(f"  {change['key']}: {change['a']!r} → {change['b']!r}")
    if impact:
        lines.append("how much the adapter moves each layer (‖scale·B·A‖ / ‖W‖):")
        for m in sorted(impact, key=lambda m: -(m.ratio or 0.0))[: top or len(impact)]:
            lines.append(f"  {_pct(m.ratio):>10}  {m.module}")
    for warning in result.warnings:
        lines.append(f"warning: {warning}")
    return "\n".join(lines) + "\n"
