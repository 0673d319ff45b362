"""Exact statistics and histograms of tensors of any size, streamed in bounded chunks.

What a person gets for a tensor, a module or the whole model (`TensorStats`): element count, NaN,
Inf and zero counts, and over the finite values min, max, mean, population std (ddof=0), mean |x|,
L2 norm and a histogram over [min, max] whose counts sum to the finite count — equal to numpy in
float64 over the same values. Health flags say what looks wrong (`FLAGS` holds their meanings).

How, and why this way:
- Data is read from `TensorInfo.source` with `readinto` into one reused buffer of `chunk_bytes`,
  so memory stays flat for any tensor (touching a whole mmap would count every page in RSS).
  Strided views (transposed PyTorch tensors, Fortran-order arrays) are read the same way, one
  bounded stretch of storage at a time. Nothing is mapped: a mapped page of a file another
  process truncates kills the process (SIGBUS); a short read is an error we can report.
- Every request takes each file's version (size, mtime) once, and every chunk checks it: a file
  touched, rewritten or replaced mid-job stops the job with `fileread.FileChanged`.
- Types of 16 bits or fewer (bf16, fp16, fp8, int8/16, bool) are summarised by counting their bit
  patterns with `np.bincount` (65,536 or 256 bins): one pass gives every statistic exactly, an
  exact histogram for any bin count or range, and exact percentiles, all from the counts.
- Wider types take two passes: moments first (per-chunk two-pass mean and squared deviations in
  float64, merged with Chan's formula so std is exact to ~1e-15), then the histogram over the
  range the first pass found. Their exact percentiles, asked for one tensor or module at a time,
  take a radix select over order-preserving integer keys: 16 bits per pass, counted only inside
  the buckets that hold the wanted ranks (two more passes for 32-bit types, four for 64-bit).
- `np.bincount` holds the GIL (two threads run slower than one), so big jobs (≥ 48 MiB) are
  spread over worker processes in units of ≤ 16 MiB; small ones run in the calling thread.
  Results are folded in as they arrive, so a whole-model request holds a few partial results,
  not one per tensor. Modules and the whole model add ≤ 16-bit tensors' pattern counts into one
  table per dtype (exact percentiles survive) and merge wider tensors' moments.
- Measured (benchmarks/stats_throughput.py, 512 MiB bf16, 2 cores): 1.4 GB/s on both cores,
  7× a plain numpy pass (4× for the whole `stats --all` command with start-up and JSON), peak
  RSS under 100 MiB for the whole process tree.
"""

from __future__ import annotations

import atexit
import functools
import math
import os
import queue
import re
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from core import inflate
from core.decode import decode, is_counted, pattern_values, storage_dtype
from core.decode import is_supported as dtype_supported
from core.dtypes import DTYPES
from core.errors import Cancelled, CheckpointError
from core.fileread import FileChanged, Version, check_unchanged, read_exact, version
from core.model import NOT_PARAMETERS, Checkpoint, DataSource, TensorInfo

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]

CHUNK_BYTES = 2 << 20  # bytes read at a time: big enough for speed, small enough to stay in cache
UNIT_BYTES = 16 << 20  # largest piece of work handed to a worker process
POOL_MIN_BYTES = 48 << 20  # below this, starting processes costs more than it saves
_BINCOUNT_ELEMENTS = 1 << 18  # bincount casts to intp; this keeps that copy in cache
# below this many elements, sorting the patterns beats counting into 65,536 slots and scanning
# them: a model of 100,000 small tensors is checked 3x faster
_SMALL_COUNT = 4096

OUTLIER_SIGMAS = 10.0
SPARSE_SHARE = 0.5
FLAGS: dict[str, str] = {
    "nan": "holds NaN values: something computed 0/0 or overflowed during training",
    "inf": "holds ±Inf values: something overflowed",
    "dead": "every value is zero or the same: the tensor carries no information "
    "(never trained, or a dead unit)",
    "outliers": f"its largest |x − mean| exceeds {OUTLIER_SIGMAS:g} standard deviations: "
    "extreme values (outlier features, a blown-up update, or clipping)",
    "sparse": f"more than {SPARSE_SHARE:.0%} of its values are exactly zero "
    "(pruned, masked or padded)",
}
PERCENTILES = (0.1, 1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0, 99.9)

# Statistics a depth plot can show, with what they mean.
DEPTH_STATISTICS: dict[str, str] = {
    "std": "standard deviation",
    "abs_mean": "mean |x|",
    "l2": "L2 norm",
    "max_abs": "max |x|",
    "zero_share": "share of zeros",
    "mean": "mean",
}

HEATMAP_RULES: dict[str, str] = {
    "max_abs": "largest |x| in each tile",
    "mean_abs": "mean |x| of each tile",
    "mean": "mean of each tile",
}


# --- results --------------------------------------------------------------------------------------


@dataclass(slots=True)
class TensorStats:
    """Exact statistics of one tensor or of several together (a module, the whole model).

    min … l2 are over the finite values and None when there are none. `edges`/`counts` are the
    histogram (len(edges) == len(counts) + 1); `outside` counts finite values beyond a chosen
    range. `percentiles` maps percent → value, exact as numpy's; None for a mix of ≤ 16-bit and
    wider types, or of wide types with different bits.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    numel: int
    nan: int
    inf: int
    zeros: int
    finite: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    abs_mean: float | None
    l2: float | None
    edges: np.ndarray
    counts: np.ndarray
    flags: list[str] = field(default_factory=list)
    percentiles: dict[float, float] | None = None
    tensors: int = 1
    outside: int = 0
    skipped: tuple[str, ...] = ()  # a module's tensors whose data could not be read (not included)

    @property
    def max_abs(self) -> float | None:
        if self.min is None or self.max is None:
            return None
        return max(abs(self.min), abs(self.max))

    @property
    def zero_share(self) -> float | None:
        return self.zeros / self.numel if self.numel else None

    def value(self, statistic: str) -> float | None:
        """One of DEPTH_STATISTICS by name."""
        return getattr(self, statistic)

    def flag_meanings(self) -> list[str]:
        return [f"{flag}: {FLAGS[flag]}" for flag in self.flags]

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "numel": self.numel,
            "nan": self.nan,
            "inf": self.inf,
            "zeros": self.zeros,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "abs_mean": self.abs_mean,
            "l2": self.l2,
            "flags": list(self.flags),
            "histogram": {
                "edges": [float(e) for e in self.edges],
                "counts": [int(c) for c in self.counts],
            },
        }


@dataclass(slots=True)
class _Moments:
    """Mergeable running statistics; mean/m2 over finite values (m2 = Σ(x − mean)²)."""

    numel: int = 0
    nan: int = 0
    inf: int = 0
    zeros: int = 0
    finite: int = 0
    min: float = math.inf
    max: float = -math.inf
    mean: float = 0.0
    m2: float = 0.0
    abs_sum: float = 0.0

    def merge(self, other: _Moments) -> None:
        """Chan et al.'s pairwise update: exact combination of two groups' mean and m2."""
        self.numel += other.numel
        self.nan += other.nan
        self.inf += other.inf
        self.zeros += other.zeros
        self.abs_sum += other.abs_sum
        if other.finite == 0:
            return
        self.min = min(self.min, other.min)
        self.max = max(self.max, other.max)
        n = self.finite + other.finite
        delta = other.mean - self.mean
        self.mean += delta * other.finite / n
        self.m2 += other.m2 + delta * delta * self.finite * other.finite / n
        self.finite = n


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """Σ a·b without BLAS: OpenBLAS threads its dot product, and its threads spin against our
    worker processes for the same cores (measured: 8 ms instead of 0.2 ms per 4 MiB)."""
    return float(np.einsum("i,i->", a, b))


def _moments_of(raw: np.ndarray) -> _Moments:
    """Moments of one chunk of a wide type (float32/64, 32/64-bit ints), two-pass in the chunk.

    Min, max, zeros and |x| are taken in the chunk's own float type (exact there); every sum is
    accumulated in float64, and the deviations are float64, as numpy over float64 values would.
    """
    result = _Moments(numel=int(raw.size))
    values = raw if raw.dtype.kind == "f" else raw.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):  # Inf − Inf: we look at the values next
        total = float(np.add.reduce(values, dtype=np.float64))
    if not math.isfinite(total):  # NaN or ±Inf somewhere: count them, keep the finite values
        finite = np.isfinite(values)
        result.nan = int(np.count_nonzero(np.isnan(values)))
        result.inf = int(values.size - np.count_nonzero(finite)) - result.nan
        values = values[finite]
        total = float(np.add.reduce(values, dtype=np.float64))
    n = int(values.size)
    if n:
        result.finite = n
        result.min = float(values.min())
        result.max = float(values.max())
        result.mean = total / n
        deviations = np.subtract(values, result.mean, dtype=np.float64)
        result.m2 = float(_dot(deviations, deviations))
        result.abs_sum = float(np.add.reduce(np.abs(values), dtype=np.float64))
        result.zeros = n - int(np.count_nonzero(values))
    return result


@dataclass(slots=True)
class _Counted:
    """How often each bit pattern occurs in a ≤ 16-bit tensor (only the patterns present).

    Patterns are kept in the order of their values (NaN last), so one tensor's statistics need
    no sorting; workers do that sort, off the main process.
    """

    dtype: str
    patterns: np.ndarray  # uint16 / uint8, ascending by value
    counts: np.ndarray  # int64

    @property
    def nbytes(self) -> int:
        return self.patterns.nbytes + self.counts.nbytes

    @staticmethod
    def from_dense(dtype: str, dense: np.ndarray) -> _Counted:
        present = np.flatnonzero(dense)
        present = present[np.argsort(pattern_values(dtype)[present], kind="stable")]
        small = np.uint8 if len(dense) <= 256 else np.uint16
        return _Counted(dtype, present.astype(small), dense[present].astype(np.int64))

    @staticmethod
    def empty(dtype: str) -> _Counted:
        return _Counted(dtype, np.zeros(0, np.uint16), np.zeros(0, np.int64))

    def add_to(self, dense: np.ndarray) -> None:
        dense[self.patterns] += self.counts


@dataclass(slots=True)
class _ValueCounts:
    """Values in ascending order (NaN last) and how often each occurs: exact statistics follow."""

    values: np.ndarray  # float64
    counts: np.ndarray  # int64

    @staticmethod
    def of(parts: Sequence[_Counted]) -> _ValueCounts:
        """From the pattern counts of one or more ≤ 16-bit tensors (repeated values are fine)."""
        values = [pattern_values(p.dtype)[p.patterns] for p in parts]
        if len(parts) == 1:  # already in value order
            return _ValueCounts(values[0], parts[0].counts)
        v, c = np.concatenate(values), np.concatenate([p.counts for p in parts])
        order = np.argsort(v, kind="stable")
        return _ValueCounts(v[order], c[order])

    def moments(self) -> _Moments:
        v, c = self.values, self.counts
        finite = np.isfinite(v)
        result = _Moments(numel=int(c.sum()))
        result.nan = int(c[np.isnan(v)].sum())
        result.inf = int(c[np.isinf(v)].sum())
        v, c = v[finite], c[finite]
        n = int(c.sum())
        if n:
            weights = c.astype(np.float64)  # exact: counts stay far below 2**53
            result.finite = n
            result.min = float(v[0])
            result.max = float(v[-1])
            result.mean = float(_dot(weights, v)) / n
            deviations = v - result.mean
            result.m2 = float(_dot(weights, deviations * deviations))
            result.abs_sum = float(_dot(weights, np.abs(v)))
            result.zeros = int(c[v == 0].sum())
        return result

    def histogram(self, bins: int, lo: float, hi: float) -> np.ndarray:
        """np.histogram's own binning of each distinct value, weighted by its count."""
        finite = np.isfinite(self.values)
        counts, _ = np.histogram(
            self.values[finite], bins, range=(lo, hi), weights=self.counts[finite].astype(float)
        )
        return np.rint(counts).astype(np.int64)

    def percentiles(self, percents: Sequence[float]) -> dict[float, float]:
        """numpy's default ('linear') percentiles of the finite values, from the counts."""
        finite = np.isfinite(self.values)
        v, c = self.values[finite], self.counts[finite]
        n = int(c.sum())
        if n == 0:
            return {}
        ends = np.cumsum(c)  # order statistics ends[i-1] … ends[i]-1 have value v[i]
        return _interpolated(
            percents, n, lambda rank: float(v[np.searchsorted(ends, rank, side="right")])
        )


def _ranks_needed(percents: Sequence[float], n: int) -> set[int]:
    """The order statistics numpy's linear percentiles of n values interpolate between."""
    found = set()
    for p in percents:
        below = math.floor((n - 1) * (p / 100.0))
        found.update((below, min(below + 1, n - 1)))
    return found


def _interpolated(
    percents: Sequence[float], n: int, value_at: Callable[[int], float]
) -> dict[float, float]:
    """numpy's default ('linear') percentiles of n sorted values, given the value at a rank."""
    result: dict[float, float] = {}
    for p in percents:
        position = (n - 1) * (p / 100.0)  # numpy: q / 100 first, then × (n − 1)
        below = math.floor(position)
        frac = position - below
        a, b = value_at(below), value_at(min(below + 1, n - 1))
        # numpy's _lerp: interpolate from the nearer end for accuracy
        result[p] = float(a + (b - a) * frac if frac < 0.5 else b - (b - a) * (1 - frac))
    return result


@dataclass(slots=True)
class _Summary:
    """What one pass leaves of a tensor: its moments, and its pattern counts if ≤ 16-bit."""

    moments: _Moments
    counted: _Counted | None

    @property
    def nbytes(self) -> int:
        return 200 + (self.counted.nbytes if self.counted else 0)


# --- reading ---------------------------------------------------------------------------------------


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


def statistics_possible(t: TensorInfo) -> bool:
    """Whether this engine can read the tensor's values (complex and fp4 tensors, and GGML types
    gguf cannot dequantise, are not yet)."""
    if t.source is None:
        return False
    if inflate.is_deflate(t.source.encoding):
        return dtype_supported(t.dtype)
    if t.source.encoding:
        from core import dequant

        return dequant.supported(t.source.encoding)
    return dtype_supported(t.dtype)


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


def _run_unit(
    unit: _Unit,
    cancelled: CancelledFn | None = None,
    advance: Callable[[int], None] | None = None,
) -> Any:
    """Do one unit: pattern counts (`_Counted`), `_Moments`, or histogram counts (ndarray)."""
    result = _unit_result(unit, cancelled, advance)
    return result if unit.repeat == 1 else _repeated(result, unit.repeat)


def _repeated(result: Any, times: int) -> Any:
    """A unit's result as if each value read had been read `times` times: exact for counts,
    moments (the mean, min and max stay, m2 and the sums scale) and so every statistic."""
    if isinstance(result, _Counted):
        return replace(result, counts=result.counts * times)
    if isinstance(result, _Moments):
        return replace(
            result,
            numel=result.numel * times,
            nan=result.nan * times,
            inf=result.inf * times,
            zeros=result.zeros * times,
            finite=result.finite * times,
            m2=result.m2 * times,
            abs_sum=result.abs_sum * times,
        )
    return result * times  # histogram or digit counts


def _unit_result(
    unit: _Unit, cancelled: CancelledFn | None, advance: Callable[[int], None] | None
) -> Any:
    if unit.mode == "count":
        bits = DTYPES[unit.dtype].bits
        unsigned = np.uint16 if bits == 16 else np.uint8
        elements = math.prod(unit.shape) if unit.shape is not None else unit.nbytes * 8 // bits
        if elements <= _SMALL_COUNT:
            # copies: a chunk's buffer is reused for the next one
            parts = [chunk.view(unsigned).copy() for chunk in _chunks(unit, cancelled, advance)]
            seen = np.concatenate(parts) if parts else np.zeros(0, unsigned)
            present, counts = np.unique(seen, return_counts=True)
            order = np.argsort(pattern_values(unit.dtype)[present], kind="stable")
            return _Counted(unit.dtype, present[order], counts[order].astype(np.int64))
        counts = np.zeros(1 << bits, np.int64)
        for chunk in _chunks(unit, cancelled, advance):
            patterns = chunk.view(unsigned)
            for start in range(0, patterns.size, _BINCOUNT_ELEMENTS):
                part = patterns[start : start + _BINCOUNT_ELEMENTS]
                counts += np.bincount(part, minlength=1 << bits)
        return _Counted.from_dense(unit.dtype, counts)  # sparse: less to send back
    if unit.mode == "digits":
        return _count_digits(unit, cancelled, advance)
    if unit.mode == "moments":
        total = _Moments()
        for chunk in _chunks(unit, cancelled, advance):
            total.merge(_moments_of(chunk))
        return total
    counts = np.zeros(unit.bins, np.int64)
    # float64 edges (numpy scalars, not Python floats) make np.histogram compare and bin float32
    # data in float64, exactly as over float64 values; it converts block by block, no full copy.
    span = (np.float64(unit.lo), np.float64(unit.hi))
    for chunk in _chunks(unit, cancelled, advance):
        values = chunk if chunk.dtype.kind == "f" else chunk.astype(np.float64)
        if unit.nonfinite:
            values = values[np.isfinite(values)]
        counts += np.histogram(values, unit.bins, range=span)[0]
    return counts


def _order_keys(values: np.ndarray, nonfinite: bool) -> np.ndarray:
    """Unsigned integers that sort as the finite values do (IEEE floats: flip every bit of a
    negative number, only the sign bit of a positive one; signed ints: flip the sign bit)."""
    kind, width = values.dtype.kind, values.dtype.itemsize * 8
    unsigned = np.dtype(f"<u{width // 8}")
    if kind == "u":
        return values
    sign = unsigned.type(1 << (width - 1))
    if kind == "i":
        return values.view(unsigned) ^ sign
    if nonfinite:
        values = values[np.isfinite(values)]
    negative = (values.view(f"<i{width // 8}") >> (width - 1)).view(unsigned)  # 0 or all ones
    return values.view(unsigned) ^ (negative | sign)


def _from_order_key(key: int, dtype: np.dtype) -> float:
    width = dtype.itemsize * 8
    unsigned = np.dtype(f"<u{width // 8}")
    if dtype.kind == "f":
        sign = 1 << (width - 1)
        key = key ^ sign if key & sign else ~key & ((1 << width) - 1)
    elif dtype.kind == "i":
        key ^= 1 << (width - 1)
    return float(np.array(key, unsigned).view(dtype.newbyteorder("<")))


def _count_digits(
    unit: _Unit, cancelled: CancelledFn | None, advance: Callable[[int], None] | None
) -> np.ndarray:
    """One radix-select pass: how often each 16-bit digit at `unit.shift` of the order keys
    occurs, per wanted prefix (the key's bits above the digit), one row per prefix."""
    rows = max(1, len(unit.prefixes))
    counts = np.zeros((rows, 1 << 16), np.int64)
    above = unit.shift + 16
    for chunk in _chunks(unit, cancelled, advance):
        keys = _order_keys(chunk, unit.nonfinite)
        for start in range(0, keys.size, _BINCOUNT_ELEMENTS):
            part = keys[start : start + _BINCOUNT_ELEMENTS]
            if not unit.prefixes:  # the top digit: every key counts
                counts[0] += np.bincount((part >> unit.shift).astype(np.intp), minlength=1 << 16)
                continue
            top = part >> above
            for row, prefix in enumerate(unit.prefixes):
                chosen = part[top == prefix]
                if chosen.size:
                    digits = ((chosen >> unit.shift) & 0xFFFF).astype(np.intp)
                    counts[row] += np.bincount(digits, minlength=1 << 16)
    return counts


def _run_unit_in_worker(unit: _Unit) -> Any:
    """Worker-process entry: CheckpointError does not survive pickling, so send its parts."""
    try:
        return _run_unit(unit)
    except CheckpointError as error:
        changed = error.detail if isinstance(error, FileChanged) else None
        return ("error", str(error.path), error.what, error.hint, changed)


# --- parallel execution ----------------------------------------------------------------------------

_pool: futures.ProcessPoolExecutor | None = None
_pool_workers = 0
_pool_lock = threading.Lock()


def default_workers() -> int:
    """Worker processes for big jobs: PARAMSCOPE_WORKERS, else one per core (at most 8)."""
    configured = os.environ.get("PARAMSCOPE_WORKERS")
    if configured is not None and configured.strip().isdigit():
        return int(configured)
    return min(os.cpu_count() or 1, 8)


def _get_pool(workers: int) -> futures.ProcessPoolExecutor:
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=True, cancel_futures=True)
            from core import isolated

            # fork only while this process has one Python thread and no Qt (the command line):
            # it costs milliseconds. In the window use forkserver/spawn, because a forked child
            # can inherit a lock that another thread held. One rule for every worker process.
            context = isolated.context()
            from core.parentwatch import watch_parent

            _pool = futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=watch_parent
            )
            _pool_workers = workers
        return _pool


def shutdown_pool() -> None:
    """Stop the worker processes (at exit, or to measure memory without them)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


atexit.register(shutdown_pool)


class _Tracker:
    """Progress over several passes: bytes done out of bytes planned."""

    def __init__(self, total: int, progress: ProgressFn | None) -> None:
        self.total = max(total, 0)
        self.done = 0
        self.progress = progress

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total)


@dataclass(slots=True)
class _Context:
    """What every pass of one request shares: progress, cancellation, workers, chunk size."""

    tracker: _Tracker
    cancelled: CancelledFn | None
    workers: int | None
    chunk_bytes: int


Collect = Callable[[int, Any], None]


def _run_units(units: list[_Unit], ctx: _Context, collect: Collect) -> None:
    """Do `units`, handing each result to `collect(index, result)` as soon as it is ready.

    Results are consumed as they arrive, so memory holds a few partial results, not all of them.
    Big batches go to worker processes; small ones run here, in the calling thread.
    """
    if not units:
        return
    done: set[int] = set()
    total = sum(u.nbytes for u in units)
    workers = default_workers() if ctx.workers is None else ctx.workers
    if workers > 1 and total >= POOL_MIN_BYTES and len(units) > 1:
        try:
            _run_in_pool(units, ctx, workers, collect, done)
            return
        except futures.process.BrokenProcessPool:
            shutdown_pool()  # a worker died (killed, out of memory): finish the rest here
    for index, unit in enumerate(units):
        if index not in done:
            collect(index, _run_unit(unit, ctx.cancelled, ctx.tracker.advance))


def _run_in_pool(
    units: list[_Unit], ctx: _Context, workers: int, collect: Collect, done: set[int]
) -> None:
    pool = _get_pool(workers)
    finished: queue.SimpleQueue[futures.Future] = queue.SimpleQueue()
    pending: dict[futures.Future, int] = {}
    for index, unit in enumerate(units):
        future = pool.submit(_run_unit_in_worker, unit)
        pending[future] = index
        future.add_done_callback(finished.put)  # O(1) per result, even for thousands of units
    try:
        while pending:
            if ctx.cancelled is not None and ctx.cancelled():
                raise Cancelled
            try:
                future = finished.get(timeout=0.05)
            except queue.Empty:
                continue
            index = pending.pop(future)
            result = future.result()
            if isinstance(result, tuple) and result and result[0] == "error":
                _, path, what, hint, changed = result
                if changed is not None:
                    raise FileChanged(path, changed)
                raise CheckpointError(path, what, hint)
            collect(index, result)
            done.add(index)
            ctx.tracker.advance(units[index].nbytes)
    finally:
        # Leave nothing running: drop what has not started, wait for what has (≤ one unit each).
        for future in pending:
            future.cancel()
        futures.wait(pending)


# --- caches ----------------------------------------------------------------------------------------

_cache_lock = threading.Lock()
_summaries: OrderedDict[tuple, _Summary] = OrderedDict()
_summary_bytes = 0
SUMMARY_CACHE_BYTES = 256 << 20
_histograms: OrderedDict[tuple, np.ndarray] = OrderedDict()
_results: OrderedDict[tuple, TensorStats] = OrderedDict()
_percentile_results: OrderedDict[tuple, dict[float, float]] = OrderedDict()
_RESULTS_KEPT = 4096


def clear_cache() -> None:
    global _summary_bytes
    with _cache_lock:
        _summaries.clear()
        _histograms.clear()
        _results.clear()
        _percentile_results.clear()
        _summary_bytes = 0


def _key(t: TensorInfo, versions: dict[Path, Version] | None = None) -> tuple:
    """Identity of a tensor's data: where it lies, how it is viewed, and the file's version
    (looked up once per file in `versions`, when given)."""
    source = _readable(t)
    found = versions.get(source.file) if versions is not None else None
    if found is None:
        found = version(source.file)
        if versions is not None:
            versions[source.file] = found
    return (
        str(source.file),
        source.offset,
        source.nbytes,
        t.dtype,
        t.shape,
        source.strides,
        found.size,
        found.mtime_ns,
    )


def _keys(tensors: Sequence[TensorInfo]) -> list[tuple]:
    """Each tensor's `_key`, with each file's version taken once: a request takes its keys once
    at its start and reads against them, so a file that changes mid-request stops it cleanly."""
    versions: dict[Path, Version] = {}
    return [_key(t, versions) for t in tensors]


def _version(key: tuple) -> Version:
    """The file's version a `_key` was taken at: every read for that key checks it."""
    return Version(key[6], key[7])


def _readable(t: TensorInfo):  # -> DataSource
    source = t.source
    if source is None:
        if t.truncated:  # a file cut short: say so, compute nothing
            from core.readers.truncation import REASONS

            raise CheckpointError(t.name, REASONS[t.truncated])
        raise CheckpointError(
            t.name,
            "the data of this tensor cannot be read",
            "the file does not hold its storage",
        )
    if source.encoding and not inflate.is_deflate(source.encoding):
        if not statistics_possible(t):
            raise CheckpointError(
                source.file,
                f"{t.name}: statistics of {source.encoding} blocks are not supported yet",
                "the gguf library cannot dequantise this type",
            )
        return source
    if not dtype_supported(t.dtype):
        raise CheckpointError(
            source.file,
            f"{t.name}: statistics of {t.dtype} tensors are not supported yet",
        )
    return source


def _remember(store: OrderedDict, key: tuple, value: Any, limit: int = _RESULTS_KEPT) -> None:
    with _cache_lock:
        store[key] = value
        store.move_to_end(key)
        while len(store) > limit:
            store.popitem(last=False)


def _cached(store: OrderedDict, key: tuple) -> Any:
    with _cache_lock:
        value = store.get(key)
        if value is not None:
            store.move_to_end(key)
        return value


def _remember_summary(key: tuple, summary: _Summary) -> None:
    global _summary_bytes
    with _cache_lock:
        if key in _summaries:
            _summary_bytes -= _summaries.pop(key).nbytes
        _summaries[key] = summary
        _summary_bytes += summary.nbytes
        while _summary_bytes > SUMMARY_CACHE_BYTES and len(_summaries) > 1:
            _summary_bytes -= _summaries.popitem(last=False)[1].nbytes


# --- the passes ------------------------------------------------------------------------------------


def _units_of(t: TensorInfo, key: tuple, mode: str, chunk_bytes: int, **extra: Any) -> list[_Unit]:
    source = _readable(t)
    extra["version"] = _version(key)
    if t.numel == 0:
        return []
    if source.encoding:  # blocks are dequantised in order, in one unit
        return [
            _Unit(
                str(source.file),
                source.offset,
                source.nbytes,
                t.dtype,
                mode,
                chunk_bytes=chunk_bytes,
                encoding=source.encoding,
                **extra,
            )
        ]
    if source.strides is not None:
        shape, strides, repeat = _distinct_view(t, source)
        return [
            _Unit(
                str(source.file),
                source.offset,
                source.nbytes,
                t.dtype,
                mode,
                shape=shape,
                strides=strides,
                chunk_bytes=chunk_bytes,
                repeat=repeat,
                **extra,
            )
        ]
    itemsize = storage_dtype(t.dtype).itemsize
    nbytes = t.numel * itemsize
    step = max(itemsize, UNIT_BYTES // itemsize * itemsize)
    return [
        _Unit(
            str(source.file),
            source.offset + start,
            min(step, nbytes - start),
            t.dtype,
            mode,
            chunk_bytes=chunk_bytes,
            **extra,
        )
        for start in range(0, nbytes, step)
    ]


REPEAT_LIMIT = 1 << 28  # most elements read from a view that reads its stored values many times


def _distinct_view(
    t: TensorInfo, source: DataSource
) -> tuple[tuple[int, ...], tuple[int, ...], int]:
    """(shape, strides, repeat) of a strided view without its stride-0 axes.

    A stride-0 axis (torch's expand, a broadcast) shows the same values again and again, so the
    statistics of the view without it, each value counted `repeat` times, are exactly the
    tensor's — a (2**40,) view of one stored value is one value read, not 10**12. A view whose
    other strides overlap (unfold, as_strided) reads stored values several times too; past
    REPEAT_LIMIT elements it is refused rather than iterated for hours.
    """
    assert source.strides is not None
    shape, strides, repeat = [], [], 1
    for size, stride in zip(t.shape, source.strides, strict=True):
        if stride == 0:
            repeat *= size
        else:
            shape.append(size)
            strides.append(stride)
    elements = math.prod(shape)
    stored = source.nbytes // storage_dtype(t.dtype).itemsize
    if t.numel >= 1 << 62 or (elements > stored and elements > REPEAT_LIMIT):
        raise CheckpointError(
            source.file,
            f"{t.name}: its view shows {t.numel:,} elements of {stored:,} stored values "
            "(overlapping strides)",
            "statistics of such a view are not computed",
        )
    return (tuple(shape), tuple(strides), repeat) if shape else ((1,), (1,), repeat)


def _check_size(t: TensorInfo) -> None:
    source = _readable(t)
    end = source.offset + source.nbytes
    size = os.path.getsize(source.file)
    if end > size:
        raise CheckpointError(
            source.file,
            f"{t.name}: its data should end at byte {end:,} but the file has {size:,}",
            "the file is truncated",
        )


def _pass_bytes(t: TensorInfo) -> int:
    """Bytes one pass over the tensor reads (its elements, whatever their layout)."""
    if t.numel == 0 or t.source is None:
        return 0
    if t.source.encoding:
        return t.source.nbytes
    itemsize = storage_dtype(t.dtype).itemsize
    if t.source.strides is not None and 0 in t.source.strides:
        return math.prod(s for s, k in zip(t.shape, t.source.strides, strict=True) if k) * itemsize
    return t.numel * itemsize


Visit = Callable[[TensorInfo, tuple, _Summary], None]


def _summary_from(t: TensorInfo, result: Any) -> _Summary:
    if result is None:  # an empty tensor: nothing was read
        return _Summary(_Moments(), _Counted.empty(t.dtype) if is_counted(t.dtype) else None)
    if isinstance(result, _Moments):
        return _Summary(result, None)
    return _Summary(_ValueCounts.of([result]).moments(), result)


def _summaries_for(
    tensors: Sequence[TensorInfo], keys: Sequence[tuple], ctx: _Context, visit: Visit
) -> None:
    """Hand `visit` the summary of each distinct tensor, reading the uncached ones in one batch.

    Each summary is passed on (and cached) as soon as its last unit is done, so a whole-model
    request never holds every tensor's pattern counts at once.
    """
    todo: dict[tuple, TensorInfo] = {}
    seen: set[tuple] = set()
    for t, key in zip(tensors, keys, strict=True):
        if key in seen:
            continue
        seen.add(key)
        summary = _cached(_summaries, key)
        if summary is not None:
            visit(t, key, summary)
        else:
            _check_size(t)
            todo[key] = t
    units: list[_Unit] = []
    owners: list[tuple] = []
    remaining: dict[tuple, int] = {}
    for key, t in todo.items():
        parts = _units_of(t, key, "count" if is_counted(t.dtype) else "moments", ctx.chunk_bytes)
        if not parts:
            summary = _summary_from(t, None)
            _remember_summary(key, summary)
            visit(t, key, summary)
        remaining[key] = len(parts)
        units.extend(parts)
        owners.extend([key] * len(parts))
    partial: dict[tuple, Any] = {}

    def collect(index: int, result: Any) -> None:
        key = owners[index]
        if key not in partial:
            partial[key] = result
        elif isinstance(result, _Moments):
            partial[key].merge(result)
        else:  # pattern counts of another piece: add them up in a full table
            if isinstance(partial[key], _Counted):
                dense = np.zeros(1 << DTYPES[result.dtype].bits, np.int64)
                partial[key].add_to(dense)
                partial[key] = dense
            result.add_to(partial[key])
        remaining[key] -= 1
        if remaining[key] == 0:
            value = partial.pop(key)
            if isinstance(value, np.ndarray):
                value = _Counted.from_dense(todo[key].dtype, value)
            summary = _summary_from(todo[key], value)
            _remember_summary(key, summary)
            visit(todo[key], key, summary)

    _run_units(units, ctx, collect)


def _histograms_for(
    requests: list[tuple[TensorInfo, tuple]],
    bins: int,
    ranges: list[tuple[float, float]],
    ctx: _Context,
) -> list[np.ndarray]:
    """Second pass for wide types: histogram counts of each tensor over its given range."""
    results: list[np.ndarray] = []
    units: list[_Unit] = []
    owners: list[int] = []
    for index, ((t, key), (lo, hi)) in enumerate(zip(requests, ranges, strict=True)):
        cached = _cached(_histograms, (key, bins, lo, hi))
        results.append(np.zeros(bins, np.int64) if cached is None else cached)
        if cached is None:
            summary = _cached(_summaries, key)
            clean = summary is not None and summary.moments.nan + summary.moments.inf == 0
            extra = {"bins": bins, "lo": lo, "hi": hi, "nonfinite": not clean}
            for unit in _units_of(t, key, "hist", ctx.chunk_bytes, **extra):
                units.append(unit)
                owners.append(index)

    def collect(index: int, counts: np.ndarray) -> None:
        results[owners[index]] = results[owners[index]] + counts

    _run_units(units, ctx, collect)
    for (_t, key), (lo, hi), counts in zip(requests, ranges, results, strict=True):
        _remember(_histograms, (key, bins, lo, hi), counts)
    return results


def _key_dtype(t: TensorInfo) -> np.dtype:
    """The type whose bits the order keys of a wide tensor are made from."""
    encoding = _readable(t).encoding
    if encoding and not inflate.is_deflate(encoding):
        return np.dtype(np.float32)  # dequantised GGML blocks
    return storage_dtype(t.dtype)


def _radix_passes(t: TensorInfo) -> int:
    return _key_dtype(t).itemsize * 8 // 16


def _wide_percentiles(
    requests: list[tuple[TensorInfo, tuple]], finite: int, ctx: _Context
) -> dict[float, float] | None:
    """numpy's ('linear') percentiles of wide tensors' finite values, exact, by radix select:
    each pass counts one 16-bit digit of the order keys, only within the buckets that hold the
    wanted ranks, so memory stays at one 65,536-entry table per rank (two passes for 32-bit
    types, four for 64-bit). None when the tensors' types differ (no common order key)."""
    dtypes = {_key_dtype(t) for t, _ in requests}
    if finite == 0 or len(dtypes) != 1:
        return None
    (dtype,) = dtypes
    cache_key = tuple(key for _, key in requests)
    cached = _cached(_percentile_results, cache_key)
    if cached is not None:
        return cached
    width = dtype.itemsize * 8
    ranks = sorted(_ranks_needed(PERCENTILES, finite))
    prefix = dict.fromkeys(ranks, 0)  # the order key's bits found so far, per rank
    within = {r: r for r in ranks}  # the rank among the keys sharing that prefix
    for shift in range(width - 16, -1, -16):
        wanted = () if shift == width - 16 else tuple(sorted(set(prefix.values())))
        table = np.zeros((max(1, len(wanted)), 1 << 16), np.int64)
        units: list[_Unit] = []
        for t, key in requests:
            summary = _cached(_summaries, key)
            clean = summary is not None and summary.moments.nan + summary.moments.inf == 0
            units += _units_of(
                t, key, "digits", ctx.chunk_bytes, shift=shift, prefixes=wanted, nonfinite=not clean
            )

        def collect(_index: int, counts: np.ndarray, table: np.ndarray = table) -> None:
            table += counts

        _run_units(units, ctx, collect)
        row_of = {p: i for i, p in enumerate(wanted)}
        for r in ranks:
            ends = np.cumsum(table[row_of.get(prefix[r], 0)])
            digit = int(np.searchsorted(ends, within[r], side="right"))
            within[r] -= int(ends[digit - 1]) if digit else 0
            prefix[r] = (prefix[r] << 16) | digit
    value = {r: _from_order_key(prefix[r], dtype) for r in ranks}
    result = _interpolated(PERCENTILES, finite, value.__getitem__)
    _remember(_percentile_results, cache_key, result)
    return result


def _histogram_range(
    moments: _Moments, value_range: tuple[float, float] | None
) -> tuple[float, float]:
    lo, hi = value_range if value_range is not None else (moments.min, moments.max)
    if lo == hi:  # numpy widens an empty range the same way
        lo, hi = lo - 0.5, hi + 0.5
    return float(lo), float(hi)


def _is_index(dtype: str) -> bool:
    """Masks, token type ids, shape and index constants: a constant or mostly-zero one is what
    it should be, never "dead" or "sparse". 8-bit integers stay checked: they are quantised
    weights more often than indices."""
    d = DTYPES.get(dtype)
    return d is not None and (
        d.category == "bool" or (d.category in ("int", "uint") and d.bits > 8)
    )


def _flags(m: _Moments, std: float | None, index: bool = False) -> list[str]:
    flags = []
    if m.nan:
        flags.append("nan")
    if m.inf:
        flags.append("inf")
    if m.finite > 1 and m.min == m.max:
        if not index:
            flags.append("dead")
    elif std is not None and std > 0:
        extreme = max(m.mean - m.min, m.max - m.mean)
        if extreme > OUTLIER_SIGMAS * std:
            flags.append("outliers")
    if not index and m.numel > 1 and m.min != m.max and m.zeros > SPARSE_SHARE * m.numel:
        flags.append("sparse")
    return flags


def _group_flags(kinds: dict[tuple[str, bool], _Moments]) -> list[str]:
    """Flags of several tensors: each kind (role, index or not) flagged on its own, so that a
    module holding weights near 0 and norm gains near 1 is not "outliers" for the mixture."""
    found: list[str] = []
    for (_, index), m in kinds.items():
        std = math.sqrt(m.m2 / m.finite) if m.finite else None
        found.extend(f for f in _flags(m, std, index) if f not in found)
    return [flag for flag in FLAGS if flag in found]


class _Accumulator:
    """Statistics of several tensors taken together, fed one summary at a time.

    ≤ 16-bit tensors add their pattern counts into one 65,536-entry table per dtype (so a module
    or the whole model keeps exact percentiles and a histogram over any range without rereading);
    wider tensors merge their moments and are read again for the histogram.
    """

    def __init__(self) -> None:
        self.wide = _Moments()
        self.counted: list[_Counted] = []  # folded into `dense` when many
        self.dense: dict[str, np.ndarray] = {}
        self.wide_tensors: list[tuple[TensorInfo, tuple]] = []
        self.tensors: list[TensorInfo] = []
        self.kinds: dict[tuple[str, bool], _Moments] = {}  # for the flags: per kind of tensor

    def add(self, t: TensorInfo, key: tuple, summary: _Summary) -> None:
        self.tensors.append(t)
        self.kinds.setdefault((t.role, _is_index(t.dtype)), _Moments()).merge(summary.moments)
        if summary.counted is not None:
            self.counted.append(summary.counted)
            if len(self.counted) > 8:
                for part in self.counted:
                    dense = self.dense.get(part.dtype)
                    if dense is None:
                        dense = self.dense[part.dtype] = np.zeros(
                            1 << DTYPES[part.dtype].bits, np.int64
                        )
                    part.add_to(dense)
                self.counted = []
        else:
            self.wide.merge(summary.moments)
            if summary.moments.finite:
                self.wide_tensors.append((t, key))

    def finish(
        self,
        name: str,
        bins: int,
        value_range: tuple[float, float] | None,
        ctx: _Context,
        wide_counts: np.ndarray | None = None,
        wide_percentiles: bool = False,
    ) -> TensorStats:
        """The combined statistics; `wide_counts` is the wide tensors' histogram if known.
        Wide tensors' percentiles cost two to four more passes: only when asked."""
        parts = self.counted + [_Counted.from_dense(d, dense) for d, dense in self.dense.items()]
        table = _ValueCounts.of(parts) if parts else None
        total = _Moments()
        total.merge(self.wide)
        if table is not None:
            total.merge(table.moments())
        finite = total.finite
        counts = np.zeros(0, np.int64)
        edges = np.zeros(0)
        if bins > 0 and finite:
            lo, hi = _histogram_range(total, value_range)
            edges = np.linspace(lo, hi, bins + 1)
            counts = (
                table.histogram(bins, lo, hi) if table is not None else np.zeros(bins, np.int64)
            )
            if wide_counts is not None:
                counts = counts + wide_counts
            elif self.wide_tensors:
                spans = [(lo, hi)] * len(self.wide_tensors)
                for part in _histograms_for(self.wide_tensors, bins, spans, ctx):
                    counts = counts + part
        percentiles = None
        if table is not None and not self.wide_tensors and finite:
            percentiles = table.percentiles(PERCENTILES)
        elif table is None and self.wide_tensors and wide_percentiles:
            percentiles = _wide_percentiles(self.wide_tensors, finite, ctx)
        dtypes = sorted({t.dtype for t in self.tensors})
        return stats_from_moments(
            name,
            dtypes[0] if len(dtypes) == 1 else "mixed (" + ", ".join(dtypes) + ")",
            tuple(self.tensors[0].shape) if len(self.tensors) == 1 else (total.numel,),
            total,
            edges,
            counts,
            percentiles=percentiles,
            tensors=len(self.tensors),
            flags=_group_flags(self.kinds) if len(self.tensors) > 1 else None,
        )


# --- public entry points ---------------------------------------------------------------------------


def stats_from_moments(
    name: str,
    dtype: str,
    shape: tuple[int, ...],
    total: _Moments,
    edges: np.ndarray,
    counts: np.ndarray,
    percentiles: dict[float, float] | None = None,
    tensors: int = 1,
    flags: list[str] | None = None,
) -> TensorStats:
    """The published statistics of merged moments and a histogram over `edges`; `flags` are
    those of the whole when not given (right for one tensor, not for a mixture of kinds)."""
    finite = total.finite
    std = math.sqrt(total.m2 / finite) if finite else None
    if flags is None:
        flags = _flags(total, std, _is_index(dtype))
    return TensorStats(
        name=name,
        dtype=dtype,
        shape=shape,
        numel=total.numel,
        nan=total.nan,
        inf=total.inf,
        zeros=total.zeros,
        finite=finite,
        min=total.min if finite else None,
        max=total.max if finite else None,
        mean=total.mean if finite else None,
        std=std,
        abs_mean=total.abs_sum / finite if finite else None,
        l2=math.sqrt(total.m2 + finite * total.mean * total.mean) if finite else None,
        edges=edges,
        counts=counts,
        flags=flags,
        percentiles=percentiles,
        tensors=tensors,
        outside=finite - int(counts.sum()) if len(counts) else 0,
    )


def tensor_stats(
    t: TensorInfo,
    bins: int = 128,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    *,
    value_range: tuple[float, float] | None = None,
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> TensorStats:
    """Exact statistics of one tensor; the histogram spans `value_range` or [min, max]."""
    return group_stats(
        t.name,
        [t],
        bins,
        progress,
        cancelled,
        value_range=value_range,
        workers=workers,
        chunk_bytes=chunk_bytes,
    )


def group_stats(
    name: str,
    tensors: Sequence[TensorInfo],
    bins: int = 128,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    *,
    value_range: tuple[float, float] | None = None,
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> TensorStats:
    """Exact statistics of several tensors taken together (each distinct tensor once), as `name`."""
    if not tensors:
        raise ValueError("no tensors to summarise")
    keys = _keys(tensors)
    cache_key = (name, tuple(keys), bins, value_range)
    cached = _cached(_results, cache_key)
    if cached is not None:
        if progress is not None:
            progress(1, 1)
        return cached
    ctx = _Context(
        _Tracker(_planned_bytes(tensors, keys, bins, percentiles=True), progress),
        cancelled,
        workers,
        chunk_bytes,
    )
    together = _Accumulator()
    _summaries_for(tensors, keys, ctx, together.add)
    result = together.finish(name, bins, value_range, ctx, wide_percentiles=True)
    _remember(_results, cache_key, result)
    if progress is not None:
        progress(ctx.tracker.total, ctx.tracker.total)
    return result


def _planned_bytes(
    tensors: Sequence[TensorInfo], keys: Sequence[tuple], bins: int, percentiles: bool = False
) -> int:
    total = 0
    by_key = dict(zip(keys, tensors, strict=True))
    for key, t in by_key.items():
        if _cached(_summaries, key) is None:
            total += _pass_bytes(t)
        if bins > 0 and not is_counted(t.dtype):
            total += _pass_bytes(t)  # the histogram pass (skipped later if cached)
    wide_only = not any(is_counted(t.dtype) for t in by_key.values())
    if percentiles and wide_only and _cached(_percentile_results, tuple(by_key)) is None:
        total += sum(_radix_passes(t) * _pass_bytes(t) for t in by_key.values())  # radix select
    return total


def many_stats(
    tensors: Sequence[TensorInfo],
    bins: int = 128,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    *,
    value_range: tuple[float, float] | None = None,
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> StatsList:
    """Statistics of each tensor on its own, reading them all in (at most) two parallel batches.

    Each histogram spans its tensor's [min, max], or `value_range` for all (to overlay them).
    With bins=0 there is no histogram, and wide types are read once instead of twice.
    Names that view the same data share its work and its result: memory grows with the distinct
    views, not the names (a million names of one storage cost an index entry each).
    """
    versions: dict[Path, Version] = {}
    distinct: dict[tuple, int] = {}  # key → index into `unique`
    unique: list[TensorInfo] = []
    which = array("L")  # each tensor's index into `unique`
    for t in tensors:
        key = _key(t, versions)
        index = distinct.setdefault(key, len(unique))
        if index == len(unique):
            unique.append(t)
        which.append(index)
    keys = list(distinct)
    ctx = _Context(
        _Tracker(_planned_bytes(unique, keys, bins), progress), cancelled, workers, chunk_bytes
    )
    by_key: dict[tuple, TensorStats] = {}
    wide: list[tuple[TensorInfo, tuple, _Summary]] = []

    def visit(t: TensorInfo, key: tuple, summary: _Summary) -> None:
        if summary.counted is None and summary.moments.finite and bins > 0:
            wide.append((t, key, summary))  # needs its histogram pass
            return
        alone = _Accumulator()
        alone.add(t, key, summary)
        by_key[key] = alone.finish(t.name, bins, value_range, ctx)

    _summaries_for(unique, keys, ctx, visit)
    ranges = [_histogram_range(summary.moments, value_range) for _, _, summary in wide]
    histograms = _histograms_for([(t, key) for t, key, _ in wide], bins, ranges, ctx)
    for (t, key, summary), counts in zip(wide, histograms, strict=True):
        alone = _Accumulator()
        alone.add(t, key, summary)
        by_key[key] = alone.finish(t.name, bins, value_range, ctx, wide_counts=counts)
    if len(by_key) < len(distinct):  # a key changed: the file was rewritten meanwhile
        changed = next(key for key in distinct if key not in by_key)
        raise CheckpointError(changed[0], "the file changed while it was read", "reload it")
    results = StatsList(tensors, [by_key[key] for key in keys], which)
    # the cache keeps the last _RESULTS_KEPT results: remembering only those leaves it the same
    for index in range(max(0, len(tensors) - _RESULTS_KEPT), len(tensors)):
        key = keys[which[index]]
        _remember(_results, (tensors[index].name, (key,), bins, value_range), results[index])
    if progress is not None:
        progress(ctx.tracker.total, ctx.tracker.total)
    return results


class StatsList(Sequence[TensorStats]):
    """Each tensor's statistics, in the tensors' order, kept compact: tensors that view the same
    data share one result, renamed when asked for."""

    def __init__(
        self, tensors: Sequence[TensorInfo], distinct: list[TensorStats], which: array
    ) -> None:
        self._tensors, self._distinct, self._which = tensors, distinct, which

    def __len__(self) -> int:
        return len(self._which)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        result = self._distinct[self._which[index]]
        t = self._tensors[index]
        if result.name != t.name:  # another name for the same data (a tied tensor)
            result = replace(result, name=t.name, shape=tuple(t.shape))
        return result


def health(
    checkpoint: Checkpoint,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    *,
    workers: int | None = None,
) -> dict[str, TensorStats]:
    """Statistics (flags included, no histogram) of every readable tensor, by name: one pass.

    For the tree's and the summary's health flags; `FLAGS` says what each flag means.
    """
    readable = [t for t in checkpoint.tensors if statistics_possible(t)]
    results = many_stats(readable, 0, progress, cancelled, workers=workers)
    return {r.name: r for r in results}


def module_tensors(
    checkpoint: Checkpoint,
    prefix: str,
    kinds: Sequence[str] = ("weight", "bias", "other"),
) -> list[TensorInfo]:
    """Tensors under module `prefix` ("" = the model's own) of the given kinds, ties counted once.

    `kinds` holds TensorInfo kinds ("weight", "bias", "other") for parameters and optimizer state,
    "buffer" for buffers and "quant" for quantisation metadata (scales, zero points).
    """
    chosen = []
    for t in checkpoint.tensors:
        if t.tied_to is not None:
            continue
        if prefix:
            if not (t.name == prefix or t.name.startswith(prefix + ".")):
                continue
        elif t.section != "model":
            continue
        apart = t.role if t.role in NOT_PARAMETERS else ""  # buffers, quantisation metadata
        if (apart and apart in kinds) or (not apart and t.kind in kinds):
            chosen.append(t)
    return chosen


def module_stats(
    checkpoint: Checkpoint,
    prefix: str,
    kinds: Sequence[str] = ("weight", "bias", "other"),
    bins: int = 128,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    *,
    value_range: tuple[float, float] | None = None,
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> TensorStats:
    """Statistics of all of a module's tensors of `kinds` together; prefix "" is the whole model.

    The histogram spans the module's global [min, max]: ≤ 16-bit tensors are re-binned from their
    cached pattern counts, wider ones are read a second time.
    """
    members = module_tensors(checkpoint, prefix, kinds)
    sizes: dict[Path, int] = {}
    tensors = [t for t in members if statistics_possible(t) and _within_file(t, sizes)]
    kept = {id(t) for t in tensors}
    skipped = tuple(t.name for t in members if id(t) not in kept)
    if not tensors:
        where = f"module {prefix!r}" if prefix else "the model"
        raise CheckpointError(
            checkpoint.path,
            f"{where} has no readable tensors of kinds {', '.join(kinds)}",
        )
    result = group_stats(
        prefix or "(whole model)",
        tensors,
        bins,
        progress,
        cancelled,
        value_range=value_range,
        workers=workers,
        chunk_bytes=chunk_bytes,
    )
    return replace(result, skipped=skipped) if skipped else result


def _within_file(t: TensorInfo, sizes: dict[Path, int]) -> bool:
    """Whether the tensor's bytes lie inside its file (a truncated file cuts some off)."""
    source = t.source
    if source is None:
        return False
    if source.file not in sizes:
        try:
            sizes[source.file] = os.path.getsize(source.file)
        except OSError:
            sizes[source.file] = -1
    return source.offset + source.nbytes <= sizes[source.file]


def model_stats(checkpoint: Checkpoint, bins: int = 128, **kwargs: Any) -> TensorStats:
    """Statistics of every parameter of the model together."""
    return module_stats(checkpoint, "", bins=bins, **kwargs)


def stats_for_path(
    checkpoint: Checkpoint,
    path: str,
    bins: int = 128,
    kinds: Sequence[str] = ("weight", "bias", "other"),
    **kwargs: Any,
) -> TensorStats:
    """A tensor's statistics if `path` names one, else its module's parameters of `kinds`."""
    t = checkpoint.tensor(path)
    if t is not None:
        return tensor_stats(t, bins, **kwargs)
    if path and checkpoint.tree.find(path) is None:
        raise CheckpointError(checkpoint.path, f"no tensor or module is called {path!r}")
    return module_stats(checkpoint, path, kinds, bins=bins, **kwargs)


# --- depth -----------------------------------------------------------------------------------------


@dataclass(slots=True)
class DepthSeries:
    """Per-block statistics of same-named tensors (or modules) across repeated blocks."""

    pattern: str  # e.g. "model.layers.*.mlp.down_proj.weight"
    blocks: list[int]
    names: list[str]
    stats: list[TensorStats]

    def values(self, statistic: str) -> np.ndarray:
        return np.array(
            [np.nan if s.value(statistic) is None else s.value(statistic) for s in self.stats]
        )


def depth_pattern(name: str, checkpoint: Checkpoint | None = None) -> str | None:
    """`layers.3.mlp.weight` → `layers.*.mlp.weight`: a block number becomes `*`.

    With several numbers in the name (`layers.3.experts.5.w1`), the one that matches the most
    blocks in `checkpoint` wins; without a checkpoint, the first.
    """
    parts = name.split(".")
    candidates = [
        ".".join(parts[:i] + ["*"] + parts[i + 1 :]) for i, p in enumerate(parts) if p.isdigit()
    ]
    if not candidates:
        return None
    if checkpoint is None or len(candidates) == 1:
        return candidates[0]
    return max(candidates, key=lambda pattern: len(depth_members(checkpoint, pattern)))


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    parts = [r"(\d+)" if p == "*" else re.escape(p) for p in pattern.split(".")]
    return re.compile(r"\.".join(parts))


def depth_members(checkpoint: Checkpoint, pattern: str) -> list[tuple[int, str, list[TensorInfo]]]:
    """(block, name, tensors) for each block matching `pattern`, by block number.

    The pattern names a tensor (`…*.mlp.down_proj.weight`) or a module (`…*.mlp`, whose
    parameters are then taken together).
    """
    regex = _pattern_regex(pattern)
    groups: dict[int, tuple[str, list[TensorInfo]]] = {}
    for t in checkpoint.tensors:
        if t.source is None or t.tied_to is not None:
            continue
        match = regex.fullmatch(t.name)
        if match:
            groups[int(match.group(1))] = (t.name, [t])
    if not groups:
        for t in checkpoint.tensors:
            if t.source is None or t.tied_to is not None or t.role in NOT_PARAMETERS:
                continue
            match = regex.match(t.name)
            if match and t.name[match.end() :].startswith("."):
                block = int(match.group(1))
                groups.setdefault(block, (match.group(0), []))[1].append(t)
    return [(block, *groups[block]) for block in sorted(groups)]


def depth_series(
    checkpoint: Checkpoint,
    pattern: str,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    *,
    workers: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> DepthSeries:
    """Statistics per block for `pattern`; all blocks' tensors are read in one parallel batch."""
    members = depth_members(checkpoint, pattern)
    if not members:
        raise CheckpointError(checkpoint.path, f"nothing matches the pattern {pattern!r}")
    everything = [t for _, _, tensors in members for t in tensors]
    keys = _keys(everything)
    ctx = _Context(
        _Tracker(_planned_bytes(everything, keys, 0), progress), cancelled, workers, chunk_bytes
    )
    blocks = [_Accumulator() for _ in members]
    owner = [index for index, (_, _, ts) in enumerate(members) for _ in ts]
    block_of = dict(zip(keys, owner, strict=True))
    _summaries_for(everything, keys, ctx, lambda t, key, s: blocks[block_of[key]].add(t, key, s))
    stats = [
        block.finish(name, 0, None, ctx)
        for block, (_, name, _) in zip(blocks, members, strict=True)
    ]
    if progress is not None:
        progress(ctx.tracker.total, ctx.tracker.total)
    return DepthSeries(pattern, [b for b, _, _ in members], [n for _, n, _ in members], stats)


# --- heatmap ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class Heatmap:
    """A 2-D tensor reduced to at most max_rows × max_cols tiles by `rule` (see HEATMAP_RULES)."""

    name: str
    values: np.ndarray  # float64, tiles (rows, cols)
    rule: str
    rows: int  # the 2-D view's shape
    cols: int
    row_step: int  # elements per tile
    col_step: int

    shape: tuple[int, ...] = ()  # the tensor's own shape

    @property
    def description(self) -> str:
        """What the picture shows, e.g. "4,096×11,008 in tiles of 8×22: largest |x| in each tile"."""
        view = f"{self.rows:,}×{self.cols:,}"
        if len(self.shape) > 2:  # conv kernels: out × (in·kh·kw)
            view += (
                " ("
                + "×".join(map(str, self.shape))
                + " as "
                + f"{self.shape[0]}×("
                + ("·".join(map(str, self.shape[1:])) + "))")
            )
        if (self.row_step, self.col_step) == (1, 1):
            return view + (": every value" if self.rule == "mean" else ": |x| of every value")
        tiles = f"{self.values.shape[0]}×{self.values.shape[1]}"
        return (
            f"{view} in {tiles} tiles of {self.row_step}×{self.col_step}: "
            f"{HEATMAP_RULES[self.rule]}"
        )


def matrix_shape(t: TensorInfo) -> tuple[int, int] | None:
    """The 2-D view a heatmap shows: (rows, cols), conv kernels as out × (in·kh·kw)."""
    if len(t.shape) < 2 or t.numel == 0:
        return None
    return t.shape[0], t.numel // t.shape[0]


def heatmap(
    t: TensorInfo,
    max_rows: int = 512,
    max_cols: int = 512,
    rule: str = "max_abs",
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    *,
    chunk_bytes: int = CHUNK_BYTES,
) -> Heatmap:
    """A reduced picture of a ≥ 2-D tensor, read in bounded blocks of whole tile rows."""
    if rule not in HEATMAP_RULES:
        raise ValueError(f"unknown heatmap rule {rule!r}")
    shape2d = matrix_shape(t)
    source = _readable(t)
    if source.encoding:
        what = "compressed arrays" if inflate.is_deflate(source.encoding) else source.encoding
        raise CheckpointError(source.file, f"{t.name}: heatmaps of {what} are not supported yet")
    if shape2d is None:
        raise CheckpointError(
            source.file, f"{t.name}: a heatmap needs a tensor of 2 or more dimensions"
        )
    _check_size(t)
    if source.strides is not None and 0 in source.strides and t.numel > REPEAT_LIMIT:
        raise CheckpointError(
            source.file,
            f"{t.name}: a heatmap of {t.numel:,} elements that repeat "
            f"{source.nbytes // storage_dtype(t.dtype).itemsize:,} stored values is not drawn",
            "its statistics show its values",
        )
    cache_key = (_key(t), max_rows, max_cols, rule)
    cached = _cached(_results, cache_key)
    if cached is not None:
        return cached
    rows, cols = shape2d
    raw = storage_dtype(t.dtype)
    shape, strides = tuple(t.shape), source.strides or _contiguous_strides(t.shape)
    # a 2-D tensor stored column by column (a saved transpose) is walked in storage order
    transposed = len(shape) == 2 and strides[0] < strides[1]
    if transposed:
        shape, strides = shape[::-1], strides[::-1]
    unit = _Unit(
        str(source.file),
        source.offset,
        source.nbytes,
        t.dtype,
        "heatmap",
        shape=shape,
        strides=strides,
        chunk_bytes=chunk_bytes,
        version=_version(cache_key[0]),
    )
    with _StridedFile(unit, raw) as reader:

        def read_rows(start: int, stop: int) -> np.ndarray:
            return reader.gather(start * strides[0], (stop - start, *shape[1:]), strides)

        reduce = functools.partial(
            _reduce_tiles,
            dtype=t.dtype,
            rule=rule,
            chunk_bytes=chunk_bytes,
            progress=progress,
            cancelled=cancelled,
        )
        if transposed:  # turn the tiles back
            tiles, col_step, row_step = reduce(shape, read_rows, max_cols, max_rows)
            tiles = tiles.T
        else:
            tiles, row_step, col_step = reduce(shape, read_rows, max_rows, max_cols)
    result = Heatmap(t.name, tiles, rule, rows, cols, row_step, col_step, tuple(t.shape))
    _remember(_results, cache_key, result)
    return result


def _reduce_tiles(
    shape: tuple[int, ...],
    read_rows: Callable[[int, int], np.ndarray],
    max_rows: int,
    max_cols: int,
    *,
    dtype: str,
    rule: str,
    chunk_bytes: int,
    progress: ProgressFn | None,
    cancelled: CancelledFn | None,
) -> tuple[np.ndarray, int, int]:
    """Tiles of a tensor of `shape` seen as rows × (everything else), read in blocks of whole
    tile rows (`read_rows(start, stop)` gives rows start … stop)."""
    rows = shape[0]
    cols = math.prod(shape) // rows
    row_step, col_step = math.ceil(rows / max_rows), math.ceil(cols / max_cols)
    col_starts = np.arange(0, cols, col_step)
    combine = np.maximum if rule == "max_abs" else np.add
    tiles = np.full(
        (math.ceil(rows / row_step), len(col_starts)), -np.inf if rule == "max_abs" else 0.0
    )
    itemsize = storage_dtype(dtype).itemsize
    rows_per_block = row_step * max(1, chunk_bytes // max(1, row_step * cols * itemsize))
    for start in range(0, rows, rows_per_block):
        if cancelled is not None and cancelled():
            raise Cancelled
        block = read_rows(start, min(start + rows_per_block, rows)).reshape(-1, cols)
        values = decode(block, dtype, np.float64)
        if rule != "mean":
            values = np.abs(values)
        by_cols = combine.reduceat(values, col_starts, axis=1)
        by_tiles = combine.reduceat(by_cols, np.arange(0, values.shape[0], row_step), axis=0)
        first = start // row_step
        part = tiles[first : first + by_tiles.shape[0]]
        tiles[first : first + by_tiles.shape[0]] = combine(part, by_tiles)
        if progress is not None:
            progress(min(start + rows_per_block, rows), rows)
    if rule != "max_abs":  # sums → means: divide by each tile's element count
        heights = np.diff(np.append(np.arange(0, rows, row_step), rows))
        widths = np.diff(np.append(col_starts, cols))
        tiles = tiles / np.outer(heights, widths)
    return tiles, row_step, col_step


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= max(size, 1)
    return tuple(reversed(strides))
