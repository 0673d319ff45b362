"""A pair side's values as one float64 stream in C order, read through `core.stats`' sources.

Each `Part` is one tensor: read in bounded chunks by `core.stats._chunks` (plain, inflated,
dequantised GGUF blocks, strided views already in C order), as effective values (int8 × scale,
`core.effective`), through core.stats' strided reader in the view's own order when storage order
is not C order, or as its transpose (a GPT-2 Conv1D weight). Files are read, never mapped.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from core import stats
from core.analysis import transforms
from core.decode import decode, storage_dtype
from core.effective import Scheme
from core.errors import Cancelled, CheckpointError
from core.fileread import check_unchanged, read_exact, version
from core.model import TensorInfo

CancelledFn = Callable[[], bool] | None
AdvanceFn = Callable[[int], None] | None


@dataclass(frozen=True, slots=True)
class Part:
    tensor: TensorInfo
    scheme: Scheme | None = None  # read as (stored − zero point) × scale
    transposed: bool = False  # a 2-D tensor read as its transpose


@dataclass(frozen=True, slots=True)
class Side:
    """What one side of a pair reads: its parts one after another, then the undo steps."""

    parts: tuple[Part, ...]
    steps: tuple[transforms.Step, ...] = ()

    @property
    def plain(self) -> bool:
        """One tensor read byte for byte as stored: eligible for the identical-bytes check."""
        if len(self.parts) != 1 or self.steps:
            return False
        part = self.parts[0]
        source = part.tensor.source
        return (
            part.scheme is None
            and not part.transposed
            and source is not None
            and source.strides is None
        )

    @property
    def pass_bytes(self) -> int:
        return sum(stats._pass_bytes(p.tensor) for p in self.parts)


def check(side: Side) -> None:
    """CheckpointError now (naming the file) if a part's data cannot be read or is cut short."""
    for part in side.parts:
        stats._check_size(part.tensor)
        if part.scheme is not None:
            for extra in (part.scheme.scale, part.scheme.zero_point):
                if extra is not None:
                    stats._check_size(extra)
    for step in side.steps:
        for extra in (step.down, step.up):
            if extra is not None:
                stats._check_size(extra)


def values(
    side: Side, chunk_bytes: int, cancelled: CancelledFn, advance: AdvanceFn
) -> Iterator[np.ndarray]:
    stream: Iterator[np.ndarray] = (
        chunk
        for part in side.parts
        for chunk in _part_values(part, chunk_bytes, cancelled, advance)
    )
    for step in side.steps:
        stream = transforms.apply(step, stream, chunk_bytes // 8)
    return stream


def _part_values(
    part: Part, chunk_bytes: int, cancelled: CancelledFn, advance: AdvanceFn
) -> Iterator[np.ndarray]:
    t = part.tensor
    if part.scheme is not None:
        from core.effective import _effective_chunks

        yield from _effective_chunks(part.scheme, chunk_bytes, cancelled, advance)
        return
    source = stats._readable(t)
    if t.numel == 0:
        return
    if part.transposed:
        yield from _transposed_chunks(t, chunk_bytes, cancelled, advance)
        return
    if source.strides is not None and not _storage_is_c_order(source.strides):
        yield from _logical_chunks(t, chunk_bytes, cancelled, advance)
        return
    wide = _wide(t)
    buffer = np.zeros(0, np.float32)
    for unit in stats._units_of(t, stats._key(t), "moments", chunk_bytes):
        for chunk in stats._chunks(unit, cancelled, advance):
            if t.dtype in ("bfloat16", "float16") and not source.encoding:
                # decoded into one reused buffer: a fresh array per chunk costs page faults
                if buffer.size < chunk.size:
                    buffer = np.empty(chunk.size, np.float32)
                out = buffer[: chunk.size]
                if t.dtype == "bfloat16":
                    np.left_shift(chunk, 16, out=out.view(np.uint32), dtype=np.uint32)
                else:
                    np.copyto(out, chunk)
                yield out
            else:
                yield decode(chunk, t.dtype, wide)


# float32 holds every value of these exactly; the kernel widens them a cache-sized piece at a time
_EXACT_IN_FLOAT32 = frozenset(
    {"float32", "float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu",
     "int16", "int8", "uint16", "uint8", "bool"}
)  # fmt: skip


def _wide(t: TensorInfo) -> type:
    from core import inflate

    encoding = t.source.encoding if t.source is not None else ""
    if t.dtype in _EXACT_IN_FLOAT32 or (encoding and not inflate.is_deflate(encoding)):
        return np.float32  # dequantised blocks come as float32 already
    return np.float64


def _storage_is_c_order(strides: tuple[int, ...]) -> bool:
    """`core.stats` visits a strided view by falling stride, without its stride-0 axes: that is
    C order only when the strides fall and none is 0."""
    return all(a >= b for a, b in zip(strides, strides[1:], strict=False)) and 0 not in strides


def _logical_chunks(
    t: TensorInfo, chunk_bytes: int, cancelled: CancelledFn, advance: AdvanceFn
) -> Iterator[np.ndarray]:
    """A strided view's values in its own C order (core.stats reads them in storage order),
    through core.stats' bounded strided reader: `readinto`, never a mapping."""
    source = stats._readable(t)
    assert source.strides is not None
    raw = storage_dtype(t.dtype)
    unit = stats._Unit(
        str(source.file),
        source.offset,
        source.nbytes,
        t.dtype,
        "moments",
        shape=t.shape,
        strides=source.strides,
        chunk_bytes=chunk_bytes,
        version=version(source.file),
    )
    with stats._StridedFile(unit, raw) as reader:
        for offset, shape, strides in stats._pieces(t.shape, source.strides, reader.limit):
            if cancelled is not None and cancelled():
                raise Cancelled
            chunk = reader.read(offset, shape, strides).reshape(-1)
            yield decode(chunk, t.dtype, _wide(t))
            if advance is not None:
                advance(chunk.nbytes)


def _transposed_chunks(
    t: TensorInfo, chunk_bytes: int, cancelled: CancelledFn, advance: AdvanceFn
) -> Iterator[np.ndarray]:
    """A C-contiguous (m × n) tensor's values in the C order of its transpose (n × m): a block
    of w columns at a time, each gathered with one read of w elements per row (m reads)."""
    source = stats._readable(t)
    if source.encoding or source.strides is not None or len(t.shape) != 2:
        raise CheckpointError(source.file, f"{t.name}: only a plain matrix can be read transposed")
    raw = storage_dtype(t.dtype)
    rows, cols = t.shape
    width = max(1, min(cols, chunk_bytes // raw.itemsize // max(rows, 1)))
    expected = version(source.file)
    block = np.empty((rows, width), raw)
    with open(source.file, "rb", buffering=0) as handle:
        for c0 in range(0, cols, width):
            if cancelled is not None and cancelled():
                raise Cancelled
            w = min(width, cols - c0)
            part = block[:, :w] if w == width else np.empty((rows, w), raw)
            for r in range(rows):
                handle.seek(source.offset + (r * cols + c0) * raw.itemsize)
                read_exact(handle, memoryview(part[r]).cast("B"), source.file, expected)
            check_unchanged(source.file, expected)
            yield decode(np.ascontiguousarray(part.T).reshape(-1), t.dtype, _wide(t))
            if advance is not None:
                advance(part.nbytes)


def small_values(t: TensorInfo) -> np.ndarray:
    """A small tensor's values (a LoRA matrix, a scale), read whole as float64."""
    stats._check_size(t)
    parts = [c.astype(np.float64) for c in _part_values(Part(t), stats.CHUNK_BYTES, None, None)]
    return np.concatenate(parts) if parts else np.zeros(math.prod(t.shape), np.float64)


def raw_equal(
    a: TensorInfo, b: TensorInfo, chunk_bytes: int, cancelled: CancelledFn, advance: AdvanceFn
) -> bool:
    """Whether two tensors' stored bytes are the same, compared a chunk at a time."""
    sa, sb = stats._readable(a), stats._readable(b)
    if sa.nbytes != sb.nbytes:
        return False
    if sa.file == sb.file and sa.offset == sb.offset:
        return True
    size = max(1, min(chunk_bytes, sa.nbytes))
    buffer_a, buffer_b = bytearray(size), bytearray(size)
    view_a, view_b = memoryview(buffer_a), memoryview(buffer_b)
    va, vb = version(sa.file), version(sb.file)
    with open(sa.file, "rb", buffering=0) as fa, open(sb.file, "rb", buffering=0) as fb:
        fa.seek(sa.offset)
        fb.seek(sb.offset)
        remaining = sa.nbytes
        while remaining > 0:
            if cancelled is not None and cancelled():
                raise Cancelled
            n = min(size, remaining)
            read_exact(fa, view_a[:n], sa.file, va)
            read_exact(fb, view_b[:n], sb.file, vb)
            # bytearray equality is one memcmp (a memoryview compares item by item)
            same = buffer_a == buffer_b if n == size else buffer_a[:n] == buffer_b[:n]
            if not same:
                return False
            remaining -= n
            if advance is not None:
                advance(2 * n)
    check_unchanged(sa.file, va)
    check_unchanged(sb.file, vb)
    return True
