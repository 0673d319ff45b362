"""A few of a tensor's values, read from the file on demand: the Raw values table.

Only the requested elements are read — never the whole tensor: plain and strided tensors read
each row's stretch of storage (or its elements one by one when the stretch is mostly other
data), GGML-quantised tensors read and dequantise only the blocks holding the requested
elements, and deflate-compressed zip members are inflated only up to the last element asked for.

Ranges are written as a person types them: `0:10, 5:20` (rows 0–9, columns 5–19), `3` (one
index), `:` (from the start, up to the table's limit), negative numbers counting from the end.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core import dequant, inflate
from core.decode import decode, is_supported, storage_dtype
from core.errors import CheckpointError
from core.fileread import read_exact
from core.model import TensorInfo

MAX_CELLS = 100_000  # a table a person can scroll through; more is a job for statistics
DEFAULT_EDGE = 32  # rows and columns shown before the person asks for others
_SPARSE_FACTOR = 16  # read elements one by one when a row's stretch is this much larger


@dataclass(frozen=True, slots=True)
class RawValues:
    """The values of `ranges` (one range per dimension) of a tensor, as an n-dimensional array
    (float64 for floating types, int64 / bool for integer and boolean ones)."""

    name: str
    dtype: str
    ranges: tuple[range, ...]
    values: np.ndarray


def default_ranges(shape: Sequence[int], edge: int = DEFAULT_EDGE) -> tuple[range, ...]:
    """The first rows and columns: the first `edge` of the last two dimensions, index 0 of the
    others (a 4-D convolution kernel shows its first 2-D plane)."""
    ranges = [range(min(n, 1)) for n in shape]
    for axis in range(max(0, len(shape) - 2), len(shape)):
        ranges[axis] = range(min(shape[axis], edge))
    return tuple(ranges)


def parse_ranges(text: str, shape: Sequence[int]) -> tuple[range, ...]:
    """`0:10, 5:20` → (range(0, 10), range(5, 20)); dimensions not written default as in
    default_ranges. ValueError with a message for a person on anything else."""
    text = text.strip().strip("[]()")
    parts = [p.strip() for p in text.split(",")] if text else []
    if len(parts) > len(shape):
        raise ValueError(f"{len(parts)} ranges for a tensor of {len(shape)} dimensions")
    ranges = list(default_ranges(shape))
    for axis, part in enumerate(parts):
        if part:
            ranges[axis] = _parse_one(part, shape[axis], axis)
    cells = math.prod(len(r) for r in ranges)
    if cells > MAX_CELLS:
        raise ValueError(f"{cells:,} values asked for; the table shows at most {MAX_CELLS:,}")
    return tuple(ranges)


def _parse_one(part: str, size: int, axis: int) -> range:
    pieces = part.split(":")
    if len(pieces) > 3:
        raise ValueError(f"{part!r} is not a range like 0:10")
    try:
        numbers = [int(p) if p.strip() else None for p in pieces]
    except ValueError:
        raise ValueError(f"{part!r} is not a range like 0:10 or an index like 3") from None
    if len(numbers) == 1:
        index = numbers[0]
        assert index is not None
        if not -size <= index < size:
            raise ValueError(f"index {index} is outside dimension {axis} of size {size}")
        index %= size
        return range(index, index + 1)
    start, stop, *rest = numbers
    step = rest[0] if rest and rest[0] is not None else 1
    if step <= 0:
        raise ValueError("a range steps forward: 0:10:2, not a negative or zero step")
    chosen = range(size)[slice(start, stop, step)]
    if stop is None and len(chosen) > DEFAULT_EDGE * 32:  # ":" alone: a screenful, not all
        chosen = chosen[: DEFAULT_EDGE * 32]
    if not len(chosen):
        raise ValueError(f"{part!r} selects nothing of dimension {axis} (size {size})")
    return chosen


def read_values(t: TensorInfo, ranges: Sequence[range]) -> RawValues:
    """Read the elements of `ranges` of tensor `t` from its file (and nothing much more)."""
    source = t.source
    if source is None:
        why = f"its data is {t.truncated}" if t.truncated else "its data is not in the file"
        raise CheckpointError("", f"{t.name}: values cannot be read ({why})")
    ranges = tuple(ranges)
    if len(ranges) != len(t.shape):
        raise ValueError(f"{len(ranges)} ranges for a tensor of {len(t.shape)} dimensions")
    strides = source.strides or _c_strides(t.shape)
    # the storage index of every requested element, in the table's order
    index = np.zeros([len(r) for r in ranges], np.int64)
    for axis, (chosen, stride) in enumerate(zip(ranges, strides, strict=True)):
        shape = [1] * len(ranges)
        shape[axis] = len(chosen)
        index = index + (np.asarray(chosen, np.int64) * stride).reshape(shape)
    flat = index.reshape(-1)
    encoding = source.encoding
    if encoding and inflate.is_deflate(encoding):
        values = _inflated(t, flat)
    elif encoding:
        values = _dequantised(t, flat)
    else:
        values = _plain(t, flat)
    return RawValues(t.name, t.dtype, ranges, values.reshape(index.shape))


def _c_strides(shape: Sequence[int]) -> tuple[int, ...]:
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def _as_values(raw: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "bool":
        return raw != 0
    if dtype.startswith(("int", "uint")):
        return raw.astype(np.int64) if dtype != "uint64" else raw
    return decode(raw, dtype)


def _plain(t: TensorInfo, flat: np.ndarray) -> np.ndarray:
    if not is_supported(t.dtype):
        raise CheckpointError(t.source.file, f"{t.name}: values of {t.dtype} cannot be shown yet")
    raw_type = storage_dtype(t.dtype)
    size = raw_type.itemsize
    out = np.empty(flat.size, raw_type)
    order = np.argsort(flat, kind="stable")
    wanted = flat[order]
    source = t.source
    with open(source.file, "rb") as f:
        start = 0
        while start < wanted.size:
            # one run: the elements that lie close enough together to read in one stretch
            stop = start + 1
            while stop < wanted.size and wanted[stop] - wanted[stop - 1] <= _SPARSE_FACTOR:
                stop += 1
            first, last = int(wanted[start]), int(wanted[stop - 1])
            buffer = np.empty(last - first + 1, raw_type)
            f.seek(source.offset + first * size)
            read_exact(f, memoryview(buffer.view(np.uint8)), source.file)
            out[order[start:stop]] = buffer[wanted[start:stop] - first]
            start = stop
    return _as_values(out, t.dtype)


def _dequantised(t: TensorInfo, flat: np.ndarray) -> np.ndarray:
    source = t.source
    if not dequant.supported(source.encoding):
        raise CheckpointError(
            source.file, f"{t.name}: {source.encoding} blocks cannot be dequantised yet"
        )
    block, block_bytes = dequant.block_geometry(source.encoding)
    blocks = np.unique(flat // block)
    out = np.empty(flat.size, np.float32)
    with open(source.file, "rb") as f:
        start = 0
        while start < blocks.size:  # runs of consecutive blocks: one read, one dequantise
            stop = start + 1
            while stop < blocks.size and blocks[stop] == blocks[stop - 1] + 1:
                stop += 1
            first, count = int(blocks[start]), stop - start
            raw = bytearray(count * block_bytes)
            f.seek(source.offset + first * block_bytes)
            read_exact(f, memoryview(raw), source.file)
            values = dequant.dequantize(raw, source.encoding, (count * block,))
            inside = (flat >= first * block) & (flat < (first + count) * block)
            out[inside] = values[flat[inside] - first * block]
            start = stop
    return out.astype(np.float64)


def _inflated(t: TensorInfo, flat: np.ndarray) -> np.ndarray:
    """Inflate from the member's start up to the last element wanted, keeping only those."""
    raw_type = storage_dtype(t.dtype)
    out = np.empty(flat.size, raw_type)
    last = int(flat.max()) if flat.size else -1
    done = 0  # elements seen so far
    for chunk, _consumed in inflate.iter_raw(t.source, raw_type, 1 << 20):
        inside = (flat >= done) & (flat < done + chunk.size)
        out[inside] = chunk[flat[inside] - done]
        done += chunk.size
        if done > last:
            break
    return _as_values(out, t.dtype)
