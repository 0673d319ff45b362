"""Chunk sources: a tensor's elements read in bounded chunks, whatever holds them.

A `_Unit` names a byte range (or a strided view) of one file and how to read it; `_chunks` yields
its raw elements a chunk at a time into one reused buffer with `readinto` (plain data), inflated
(`np.savez_compressed`), decoded from protobuf varints (ONNX), dequantised by gguf-py (GGUF
blocks), or gathered from a strided view in bounded pieces. Every read checks that the file did
not change since the request began (`core.fileread`). `core.stats` and `core.analysis.compare`
both read through these.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core import inflate, pbvalues
from core.decode import storage_dtype
from core.errors import Cancelled, CheckpointError
from core.fileread import FileChanged, Version, check_unchanged, read_exact
from core.model import DataSource

CancelledFn = Callable[[], bool]

CHUNK_BYTES = 2 << 20  # bytes read at a time: big enough for speed, small enough to stay in cache


@dataclass(frozen=True, slots=True)
class _Unit:
    """A piece of work a worker process can do alone: read a byte range (or a strided view)."""

    file: str
    offset: int
    nbytes: int
    dtype: str
    mode: str  # "count" (bit patterns), "moments", or "hist"
    shape: tuple[int, ...] | None = None  # set for strided views
    strides: tuple[int, ...] | None = None
    bins: int = 0
    lo: float = 0.0
    hi: float = 0.0
    nonfinite: bool = True  # for "hist": whether NaN/Inf must be filtered out
    chunk_bytes: int = CHUNK_BYTES
    encoding: str = ""  # a GGML block type: chunks are dequantised float32 values
    shift: int = 0  # for "digits": which 16 bits of the order key to count
    prefixes: tuple[int, ...] = ()  # for "digits": only keys whose higher bits are one of these
    version: Version | None = None  # the file as the request found it: checked every chunk
    repeat: int = 1  # how often each value read stands in the tensor (its stride-0 axes)

    def check(self) -> None:
        if self.version is not None:
            check_unchanged(self.file, self.version)


def _chunks(
    unit: _Unit, cancelled: CancelledFn | None, advance: Callable[[int], None] | None
) -> Iterator[np.ndarray]:
    """Raw elements of the unit, a bounded chunk at a time (each chunk valid until the next)."""
    if inflate.is_deflate(unit.encoding):
        yield from _inflated_chunks(unit, cancelled, advance)
        return
    if pbvalues.is_protobuf(unit.encoding):
        yield from _protobuf_chunks(unit, cancelled, advance)
        return
    if unit.encoding:
        yield from _dequantized_chunks(unit, cancelled, advance)
        return
    if unit.strides is not None:
        yield from _strided_chunks(unit, cancelled, advance)
        return
    raw = storage_dtype(unit.dtype)
    step = max(raw.itemsize, unit.chunk_bytes // raw.itemsize * raw.itemsize)
    buffer = bytearray(min(step, unit.nbytes))
    view = memoryview(buffer)
    with open(unit.file, "rb", buffering=0) as handle:
        handle.seek(unit.offset)
        remaining = unit.nbytes
        while remaining > 0:
            if cancelled is not None and cancelled():
                raise Cancelled
            size = min(len(buffer), remaining)
            read_exact(handle, view[:size], unit.file, unit.version)
            unit.check()
            yield np.frombuffer(buffer, raw, count=size // raw.itemsize)
            remaining -= size
            if advance is not None:
                advance(size)


def _inflated_chunks(
    unit: _Unit, cancelled: CancelledFn | None, advance: Callable[[int], None] | None
) -> Iterator[np.ndarray]:
    """Raw elements of a deflate-compressed array (`np.savez_compressed`), a chunk at a time."""
    source = DataSource(Path(unit.file), unit.offset, unit.nbytes, encoding=unit.encoding)
    chunks = inflate.iter_raw(source, storage_dtype(unit.dtype), unit.chunk_bytes)
    for values, consumed in _checked(unit, chunks):
        if cancelled is not None and cancelled():
            raise Cancelled
        if values.size:
            yield values
        if advance is not None and consumed:
            advance(consumed)


def _protobuf_chunks(
    unit: _Unit, cancelled: CancelledFn | None, advance: Callable[[int], None] | None
) -> Iterator[np.ndarray]:
    """Elements an ONNX file stores as protobuf numbers (core.pbvalues): small, read at once."""
    if cancelled is not None and cancelled():
        raise Cancelled
    source = DataSource(Path(unit.file), unit.offset, unit.nbytes, encoding=unit.encoding)
    for values, consumed in pbvalues.iter_raw(source, storage_dtype(unit.dtype)):
        unit.check()
        yield values
        if advance is not None:
            advance(consumed)


def _dequantized_chunks(
    unit: _Unit, cancelled: CancelledFn | None, advance: Callable[[int], None] | None
) -> Iterator[np.ndarray]:
    """float32 values of a block-quantised tensor, dequantised a bounded run of blocks at a time
    by gguf's own code (core.dequant); the statistics are those of the values the model uses."""
    from core import dequant

    source = DataSource(Path(unit.file), unit.offset, unit.nbytes, encoding=unit.encoding)
    block, block_bytes = dequant.block_geometry(unit.encoding)
    for values in _checked(unit, dequant.iter_values(source, unit.chunk_bytes)):
        if cancelled is not None and cancelled():
            raise Cancelled
        yield values
        if advance is not None:
            advance(values.size // block * block_bytes)


def _checked(unit: _Unit, chunks: Iterator[Any]) -> Iterator[Any]:
    """The chunks of a reader that opens the file itself, each after checking the file did not
    change; a short read of a file that changed is reported as the change."""
    try:
        for chunk in chunks:
            unit.check()
            yield chunk
    except FileChanged:
        raise
    except CheckpointError:
        unit.check()
        raise


def _strided_chunks(
    unit: _Unit, cancelled: CancelledFn | None, advance: Callable[[int], None] | None
) -> Iterator[np.ndarray]:
    """Elements of a strided view, a bounded stretch of storage at a time.

    Statistics do not depend on order, so the axes are visited in storage order (largest stride
    first): each piece then lies in one stretch of the file, read with `readinto`.
    """
    raw = storage_dtype(unit.dtype)
    assert unit.shape is not None and unit.strides is not None
    order = sorted(range(len(unit.shape)), key=lambda axis: -unit.strides[axis])
    shape = tuple(unit.shape[axis] for axis in order)
    strides = tuple(unit.strides[axis] for axis in order)
    with _StridedFile(unit, raw) as reader:
        for offset, piece_shape, piece_strides in _pieces(shape, strides, reader.limit):
            if cancelled is not None and cancelled():
                raise Cancelled
            chunk = reader.read(offset, piece_shape, piece_strides).reshape(-1)
            yield chunk
            if advance is not None:
                advance(chunk.nbytes)


def _extent(shape: Sequence[int], strides: Sequence[int]) -> int:
    """Elements of storage a strided view spans, from its first element to its last."""
    return 1 + sum((n - 1) * s for n, s in zip(shape, strides, strict=True))


def _pieces(
    shape: tuple[int, ...], strides: tuple[int, ...], limit: int
) -> Iterator[tuple[int, tuple[int, ...], tuple[int, ...]]]:
    """(storage offset, shape, strides) of sub-views of a strided view, in its C order, each with
    at most `limit` elements spanning at most `limit` elements of storage (one element always
    fits), so reading one costs a bounded buffer however the view is laid out."""
    count = math.prod(shape)
    if count == 0:
        return
    if len(shape) == 0 or (count <= limit and _extent(shape, strides) <= limit):
        yield 0, shape, strides
        return
    step = strides[0]
    if len(shape) == 1:
        per = max(1, min(limit, limit // step if step else limit))
        for start in range(0, shape[0], per):
            yield start * step, (min(per, shape[0] - start),), strides
        return
    rest, rest_strides = shape[1:], strides[1:]
    row, row_extent = math.prod(rest), _extent(rest, rest_strides)
    if row <= limit and row_extent <= limit:
        rows = min(limit // row, (limit - row_extent) // step + 1 if step else limit // row)
        rows = max(1, rows)
        for start in range(0, shape[0], rows):
            yield start * step, (min(rows, shape[0] - start), *rest), strides
        return
    for index in range(shape[0]):
        for offset, sub_shape, sub_strides in _pieces(rest, rest_strides, limit):
            yield index * step + offset, (1, *sub_shape), (step, *sub_strides)


class _StridedFile:
    """Pieces of a strided view read from the file with `readinto` into one reused buffer."""

    def __init__(self, unit: _Unit, raw: np.dtype) -> None:
        if unit.strides is not None and min(unit.strides, default=0) < 0:
            raise CheckpointError(unit.file, "a tensor has negative strides", "corrupt file")
        self.unit, self.raw = unit, raw
        self.limit = max(1, unit.chunk_bytes // raw.itemsize)
        self.buffer = bytearray(min(self.limit, max(1, unit.nbytes // raw.itemsize)) * raw.itemsize)
        self.handle = open(unit.file, "rb", buffering=0)  # noqa: SIM115 - closed by __exit__

    def __enter__(self) -> _StridedFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def read(self, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
        """The piece at element `offset` of the unit's storage, contiguous (a view of the
        buffer when the piece already is: valid until the next read)."""
        itemsize, unit = self.raw.itemsize, self.unit
        span = _extent(shape, strides)
        if (offset + span) * itemsize > unit.nbytes:
            raise CheckpointError(
                unit.file,
                "a strided tensor reaches beyond the bytes its storage holds",
                "corrupt file",
            )
        view = memoryview(self.buffer)[: span * itemsize]
        self.handle.seek(unit.offset + offset * itemsize)
        read_exact(self.handle, view, unit.file, unit.version)
        unit.check()
        flat = np.frombuffer(self.buffer, self.raw, count=span)
        byte_strides = tuple(s * itemsize for s in strides)
        piece = np.lib.stride_tricks.as_strided(flat, shape, byte_strides, writeable=False)
        return np.ascontiguousarray(piece)

    def gather(self, offset: int, shape: tuple[int, ...], strides: tuple[int, ...]) -> np.ndarray:
        """The view at element `offset` as a new C-ordered array, read piece by piece."""
        out = np.empty(math.prod(shape), self.raw)
        at = 0
        for start, piece_shape, piece_strides in _pieces(shape, strides, self.limit):
            piece = self.read(offset + start, piece_shape, piece_strides).reshape(-1)
            out[at : at + piece.size] = piece
            at += piece.size
        return out.reshape(shape)
