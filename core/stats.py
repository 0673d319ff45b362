"""Exact statistics and histograms of tensors of any size, streamed in bounded chunks.

What a person gets for a tensor, a module or the whole model (`TensorStats`): element count, NaN,
Inf and zero counts, and over the finite values min, max, mean, population std (ddof=0), mean |x|,
L2 norm and a histogram over [min, max] whose counts sum to the finite count — equal to numpy in
float64 over the same values. Health flags say what looks wrong (`FLAGS` holds their meanings).

The streaming layer lives in `core.analysis`: chunk sources (`sources`), the per-unit kernels
(`kernels`) and the worker pool (`pool`); this module plans the passes, merges their results,
caches them and builds depth series and heatmaps.

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

import functools
import math
import os
import re
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from core import inflate, pbvalues, remote

# The streaming layer lives in core.analysis (chunk sources, kernels, worker pool); its names are
# re-exported here because callers and tests reach them through core.stats.
from core.analysis import pool as _workers
from core.analysis.kernels import (  # noqa: F401
    _BINCOUNT_ELEMENTS,
    _SMALL_COUNT,
    _count_digits,
    _Counted,
    _dot,
    _from_order_key,
    _interpolated,
    _Moments,
    _moments_of,
    _order_keys,
    _ranks_needed,
    _repeated,
    _run_unit,
    _run_unit_in_worker,
    _Summary,
    _unit_result,
    _ValueCounts,
)
from core.analysis.pool import _get_pool, _Tracker, default_workers, shutdown_pool  # noqa: F401
from core.analysis.sources import (  # noqa: F401
    CHUNK_BYTES,
    _checked,
    _chunks,
    _dequantized_chunks,
    _extent,
    _inflated_chunks,
    _pieces,
    _protobuf_chunks,
    _strided_chunks,
    _StridedFile,
    _Unit,
)
from core.decode import decode, is_counted, storage_dtype
from core.dtypes import DTYPES
from core.errors import Cancelled, CheckpointError
from core.fileread import Version, version
from core.flags import FLAGS, OUTLIER_SIGMAS, SPARSE_SHARE  # noqa: F401 — re-exported
from core.model import NOT_PARAMETERS, Checkpoint, DataSource, TensorInfo
from core.readable import dtype_supported, readable, statistics_possible
from core.readable import raw_stream as _raw_stream

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]

UNIT_BYTES = 16 << 20  # largest piece of work handed to a worker process
POOL_MIN_BYTES = 48 << 20  # below this, starting processes costs more than it saves

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
    min: float | int | None  # an integer tensor's extremes: exact ints
    max: float | int | None
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
            tasks = [(_run_unit_in_worker, (unit,)) for unit in units]
            sizes = [unit.nbytes for unit in units]
            _workers.run_in_pool(
                tasks, sizes, workers, ctx.cancelled, ctx.tracker.advance, collect, done
            )
            return
        except futures.process.BrokenProcessPool:
            shutdown_pool()  # a worker died (killed, out of memory): finish the rest here
    for index, unit in enumerate(units):
        if index not in done:
            collect(index, _run_unit(unit, ctx.cancelled, ctx.tracker.advance))


def __getattr__(name: str) -> Any:
    """The live worker pool (`core.analysis.pool._pool`), which changes after import."""
    if name in ("_pool", "_pool_workers"):
        return getattr(_workers, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    if remote.missing_bytes(source.file, source.offset, source.nbytes):
        # a remote model's mirror holds headers only: its holes must never read as zeros
        remote.require(source.file, source.offset, source.nbytes)
    if source.encoding and not _raw_stream(source.encoding):
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
    if encoding and not _raw_stream(encoding):
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
    lo, hi = float(lo), float(hi)
    # numpy widens an empty range by ±0.5; at the magnitude of int64's extremes (9.2e18) 0.5 is
    # lost in rounding and np.histogram fails, so the room is at least a sliver of the value
    room = max(abs(lo), abs(hi)) * 2.0**-30
    if hi - lo <= room:
        middle, half = lo / 2 + hi / 2, max(0.5, room)
        lo, hi = middle - half, middle + half
    return lo, hi


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
    results = many_stats(readable(checkpoint.tensors), 0, progress, cancelled, workers=workers)
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
        what = source.encoding
        if inflate.is_deflate(source.encoding):
            what = "compressed arrays"
        elif pbvalues.is_protobuf(source.encoding):
            what = "values stored as protobuf numbers"
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
