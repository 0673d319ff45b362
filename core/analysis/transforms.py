"""What converters do to tensors, and how to undo it on a stream of values.

A side of a pair is read as one stream of float64 values in C order; a transform turns the stream
of the converted tensor back into the layout of the original, a bounded block at a time:
- `unpermute`: llama.cpp's `LlamaModel.permute` (convert_hf_to_gguf.py) reorders the rows of Q and
  K for its rotary embedding: `w.reshape(n_head, 2, rows // n_head // 2, *rest).swapaxes(1, 2)`,
  with K using the KV-head count. Its inverse swaps the same axes back, one head at a time.
- `minus_one`: Gemma-family converters store norm weights as `w + 1` (the model computes
  `x * (1 + w)`; llama.cpp computes `x * w`).
- `lora`: base weight + scale · B·A, one block of whole rows at a time (B and A are small).
Transposes (GPT-2 Conv1D) are a way of reading a tensor (`Part.transposed`), not a stream step.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from core.model import TensorInfo


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # "unpermute", "minus_one" or "lora"
    heads: int = 0  # unpermute: heads the rows are split into
    rows: int = 0  # rows of the (2-D view of the) tensor
    cols: int = 1  # elements per row
    down: TensorInfo | None = None  # lora: A (r × in)
    up: TensorInfo | None = None  # lora: B (out × r)
    scale: float = 1.0  # lora: α / r (or α / √r for rsLoRA)


def regroup(stream: Iterator[np.ndarray], size: int, target: int) -> Iterator[np.ndarray]:
    """The stream cut into arrays of a whole number of `size` elements (about `target`)."""
    step = max(1, target // size) * size
    pending: list[np.ndarray] = []
    held = 0
    for chunk in stream:
        pending.append(chunk.copy())  # a source may reuse its chunk's buffer for the next one
        held += chunk.size
        if held < step:
            continue
        joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
        whole = joined.size // step * step
        for start in range(0, whole, step):
            yield joined[start : start + step]
        rest = joined[whole:]
        pending, held = ([rest.copy()], rest.size) if rest.size else ([], 0)
    if held:
        joined = np.concatenate(pending) if len(pending) > 1 else pending[0]
        if joined.size % size:
            raise ValueError(f"{joined.size} values left over, not whole groups of {size}")
        yield joined


def apply(step: Step, stream: Iterator[np.ndarray], target: int) -> Iterator[np.ndarray]:
    if step.kind == "minus_one":
        for chunk in stream:
            yield chunk.astype(np.float64) - 1.0  # in float64: w + 1 − 1 must not round again
        return
    if step.kind == "unpermute":
        head_rows = step.rows // step.heads
        half = head_rows // 2
        for block in regroup(stream, head_rows * step.cols, target):
            heads = block.size // (head_rows * step.cols)
            # stored (per head) as [half, 2, cols]: row 2i+p of the head was row p·half+i
            yield block.reshape(heads, half, 2, step.cols).swapaxes(1, 2).reshape(-1)
        return
    if step.kind == "lora":
        yield from _add_lora(step, stream, target)
        return
    raise ValueError(f"unknown transform {step.kind!r}")


def _add_lora(step: Step, stream: Iterator[np.ndarray], target: int) -> Iterator[np.ndarray]:
    from core.analysis.sides import small_values

    assert step.down is not None and step.up is not None
    down = small_values(step.down).reshape(step.down.shape[0], -1)  # r × in
    up = small_values(step.up).reshape(step.up.shape[0], -1)  # out × r
    row = 0
    for block in regroup(stream, step.cols, target):
        rows = block.size // step.cols
        delta = step.scale * (up[row : row + rows] @ down)
        yield block.astype(np.float64) + delta.reshape(-1)
        row += rows
