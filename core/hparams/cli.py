"""`paramscope hparams PATH`: the hyperparameters a checkpoint was trained with, on the command line.

    hparams PATH [--json] [--source NAME] [--set dotted.key=value ...] [--export OUT.yaml|.json|.toml]

`--set` parses the value to the existing key's type (a new key's value is read as a YAML scalar)
and refuses a mismatch with exit status 2; `--export` writes the shown set with the edits applied,
in the format its extension names. The checkpoint is never written. No Qt, no torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core import json_strict
from core.hparams.archcheck import check_architecture
from core.hparams.edit import MERGED, MISSING, EditableConfig, HParamError, HyperParamSet
from core.hparams.export import export, own_files
from core.hparams.keys import GROUPS, group_of
from core.hparams.merge import dotted, flatten

VALUE_WIDTH = 48


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a checkpoint file or model folder")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--source", default=MERGED, help="show one source (e.g. config.json) instead of all merged"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change a value (dotted key; typed like the existing value); repeatable",
    )
    parser.add_argument(
        "--export", metavar="OUT", help="write the values with the edits to OUT.yaml/.json/.toml"
    )


def run(args: argparse.Namespace) -> int:
    from core.open import open_checkpoint

    checkpoint = open_checkpoint(args.path)
    hset = HyperParamSet(checkpoint.hyperparams)
    try:
        config = hset.config(args.source) if hset.views else EditableConfig({})
        for assignment in args.set:
            _apply(config, assignment)
    except HParamError as error:
        print(f"paramscope: hparams: {error}", file=sys.stderr)
        return 2
    notes: list[str] = []
    if args.export:
        notes = export(config.current, args.export, protect=own_files(checkpoint))
    checks = check_architecture(checkpoint)
    if args.json:
        document = _as_json(hset, args.source, config, checks, notes)
        document["warnings"] = checkpoint.warnings  # a config beside it that could not be read…
        json_strict.dump(document, sys.stdout)
    else:
        sys.stdout.write(_as_text(checkpoint.name, hset, args.source, config, checks))
        if args.export:
            sys.stdout.write(f"\nwritten {args.export}\n")
        for warning in checkpoint.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    return 0


def _apply(config: EditableConfig, assignment: str) -> None:
    key, sep, value = assignment.partition("=")
    if not sep or not key.strip():
        raise HParamError(f"--set {assignment!r}: write it as dotted.key=value")
    path = config.resolve(key.strip())
    path = config.known_spelling(path) or path
    if config.get(path) is MISSING:
        config.add(path, value)
    else:
        config.set(path, value)


def _as_json(
    hset: HyperParamSet, view: str, config: EditableConfig, checks: list, notes: list[str]
) -> dict[str, Any]:
    return {
        "view": view,
        "values": config.current,
        "sources": hset.sources,
        "origin": {dotted(p): s for p, s in hset.merged.origin.items()},
        "conflicts": {dotted(p): v for p, v in hset.merged.conflicts.items()},
        "edits": [
            {
                "key": dotted(c.path),
                "kind": c.kind,
                "old": _jsonable(c.old),
                "new": _jsonable(c.new),
            }
            for c in config.diff()
        ],
        "architecture": [
            {
                "what": c.what,
                "key": c.key,
                "config": c.config_value,
                "tensors": c.tensor_value,
                "status": c.status,
                "reason": c.reason,
            }
            for c in checks
        ],
        "log_history": hset.log_history,
        "notes": notes,
    }


def _jsonable(value: Any) -> Any:
    return None if value is MISSING else value


def _as_text(
    name: str, hset: HyperParamSet, view: str, config: EditableConfig, checks: list
) -> str:
    if not hset.views:
        return f"{name}: no hyperparameters found inside or beside it\n"
    lines = [f"{name}: hyperparameters ({view}; sources: {', '.join(hset.sources)})"]
    leaves = flatten(config.current)
    by_group: dict[str, list] = {}
    for path, value in leaves.items():
        if path and path[0] == "log_history":
            continue
        by_group.setdefault(group_of(path, value), []).append((path, value))
    width = min(40, max((len(dotted(p)) for p in leaves), default=10))
    for group in (*GROUPS, "other"):
        rows = by_group.get(group)
        if not rows:
            continue
        lines.append(f"\n{group}")
        for path, value in rows:
            source = hset.source_of(view, path)
            mark = "✎ " if config.is_edited(path) else "  "
            text = _short(value)
            line = f" {mark}{dotted(path):<{width}}  {text:<{min(VALUE_WIDTH, max(len(text), 8))}}"
            if view == MERGED and source:
                line += f"  ({source})"
            conflict = hset.conflict(view, path)
            if conflict:
                others = "; ".join(f"{s} = {_short(v)}" for s, v in conflict.items())
                line += f"  ⚠ differs: {others}"
            lines.append(line.rstrip())
    if checks:
        lines.append("\narchitecture check (config vs tensors)")
        for check in checks:
            lines.append(f"  {check.mark} {check.what}: {check.config_value!r} — {check.reason}")
    if hset.log_history:
        lines.append(f"\nlog history: {len(hset.log_history)} entries")
        lines.extend(_log_table(hset.log_history))
    changes = config.diff()
    if changes:
        lines.append(f"\nedits ({len(changes)})")
        lines.extend(f"  {change}" for change in changes)
    return "\n".join(lines) + "\n"


def _log_table(rows: list[dict[str, Any]], limit: int = 12) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    shown = rows if len(rows) <= limit else rows[: limit // 2] + rows[-limit // 2 :]
    cells = [[_short(r.get(c, ""), 12) for c in columns] for r in shown]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    out = ["  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True))]
    out.extend("  " + "  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells)
    if len(rows) > limit:
        out.insert(1 + limit // 2, "  …")
    return out


def _short(value: Any, limit: int = VALUE_WIDTH) -> str:
    if isinstance(value, float):
        text = f"{value:.6g}"
        if text.lstrip("-").isdigit():
            text += ".0"  # a float stays visibly a float
    elif isinstance(value, str):
        text = value
    elif isinstance(value, list) and len(value) > limit:
        text = json.dumps(value[:limit], default=str)[:-1] + ", …]"
    else:
        text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"
