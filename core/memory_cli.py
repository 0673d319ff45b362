"""`paramscope memory`: what a model needs to run or train, from its headers and config.

    python main.py memory PATH|URL [--context N] [--batch N] [--weights DTYPE] [--kv DTYPE]
        [--overhead GB] [--train adamw|adamw8bit|sgd|adafactor|lora:R] [--checkpointing]
        [--gpus N --zero S] [--json]

The formulas and their sources are in docs/memory.md. Nothing here imports Qt or torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from core import memory_plan


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="a checkpoint file, model folder or URL")
    parser.add_argument("--context", type=int, default=4096, help="tokens of context (4096)")
    parser.add_argument("--batch", type=int, default=1, help="sequences at once (1)")
    parser.add_argument(
        "--weights",
        default="stored",
        help="precision of the weights: stored, fp32, bf16, fp16, "
        "fp8, int8, int4 or a GGUF type such as q4_k (stored)",
    )
    parser.add_argument("--kv", default="fp16", help="precision of the KV cache (fp16)")
    parser.add_argument("--overhead", type=float, default=0.0, help="extra GB to reserve (0)")
    parser.add_argument(
        "--train",
        default="",
        metavar="MODE",
        help="adamw, adamw8bit, sgd, adafactor or lora:R (rank R; plain lora for an adapter)",
    )
    parser.add_argument(
        "--checkpointing", action="store_true", help="training with activation checkpointing"
    )
    parser.add_argument("--gpus", type=int, default=1, help="data-parallel GPUs (1)")
    parser.add_argument("--zero", type=int, default=0, choices=(0, 1, 2, 3), help="ZeRO stage")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: Any) -> int:
    from core.open import open_checkpoint

    options = memory_plan.Options(
        context=args.context,
        batch=args.batch,
        weights=args.weights,
        kv=args.kv,
        overhead_bytes=int(round(args.overhead * 1e9)),
        train=args.train,
        gpus=args.gpus,
        zero=args.zero,
        checkpointing=args.checkpointing,
    )
    try:  # bad options before the (perhaps remote) open
        memory_plan.bits_of(options.kv)
        if options.weights != "stored":
            memory_plan.bits_of(options.weights)
    except ValueError as error:
        print(f"paramscope: {error}", file=sys.stderr)
        return 2
    checkpoint = open_checkpoint(args.path)
    try:
        plan = memory_plan.plan(checkpoint, options)
    except ValueError as error:
        print(f"paramscope: {checkpoint.path.name}: {error}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(plan.as_json(), sys.stdout, indent=1)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(memory_plan.plan_text(plan))
    return 0
