"""The command line: `info`, `stats`, `hparams`, `diff`, `spectrum` and `memory`, on the same engine
as the window.

Errors print one line naming the file and what is wrong, and exit with status 2. Nothing here
imports Qt or torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core import json_strict
from core.errors import CheckpointError
from core.info import info_json, info_text

COMMANDS = ("info", "stats", "hparams", "diff", "spectrum", "memory")


def _parser(wanted: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the sub-command `wanted` imports its module (`info` needs no numpy)."""
    parser = argparse.ArgumentParser(prog="paramscope", description="Inspect model checkpoints.")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="what is in a checkpoint: tensors, layers, counts")
    info.add_argument("path", help="a checkpoint file or model folder")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument("--depth", type=int, default=3, help="tree levels to print (default 3)")
    for name, module, help_text in (
        ("stats", "core.stats_cli", "exact statistics and histograms of tensors"),
        ("hparams", "core.hparams.cli", "the hyperparameters a model was trained with"),
        (
            "spectrum",
            "core.spectrum_cli",
            "eigenvalue spectra and heavy-tail metrics (α) per matrix",
        ),
        ("diff", "core.diff_cli", "what changed between two checkpoints, layer by layer"),
        ("memory", "core.memory_cli", "the memory a model needs to run or train"),
    ):
        sub = commands.add_parser(name, help=help_text)
        if wanted is not None and wanted != name:
            continue
        try:
            mod = __import__(module, fromlist=["add_arguments"])
        except ImportError:
            sub.add_argument("path")
            sub.set_defaults(missing=module)
            continue
        mod.add_arguments(sub)
        sub.set_defaults(run=mod.run)
    return parser


def main(argv: list[str]) -> int:
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    args = _parser(wanted).parse_args(argv)
    if getattr(args, "path", None) is not None:  # diff takes two paths, a and b
        args.path = _address(args.path)
    try:
        if args.command == "info":
            return _info(args)
        if getattr(args, "missing", None):
            print(
                f"paramscope: the {args.command} command is not available",
                file=sys.stderr,
            )
            return 2
        return int(args.run(args))
    except CheckpointError as error:
        print(f"paramscope: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        return 0


def _address(path: str) -> str:
    """`org/name` that is no local path means the Hub repository of that name."""
    from pathlib import Path

    from core import remote

    if remote.looks_remote(path) or Path(path).expanduser().exists():
        return path
    if remote.is_repo_name(path):
        return "hf://" + path
    return path


def _info(args: Any) -> int:
    from core.open import open_checkpoint

    checkpoint = open_checkpoint(args.path)
    if args.json:
        document = info_json(checkpoint)
        # the only parts that hold values from the file itself (a `best_metric: nan`)
        for key in ("hyperparameters", "metadata"):
            document[key] = json_strict.strict(document[key])
        json.dump(document, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(info_text(checkpoint, depth=args.depth))
    return 0
