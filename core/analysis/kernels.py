"""The statistics kernels: what one unit of work computes from its chunks.

Moments of wide types (two-pass per chunk, merged with Chan's formula), bit-pattern counts of
types of 16 bits or fewer (every exact statistic follows from them), histogram counts over a given
range, and radix-select digit counts for exact percentiles of wide types. `_run_unit` does one
unit (in this process or a worker: `_run_unit_in_worker`); `core.stats` plans the units and merges
their results. The diff kernel lives beside them (`core.analysis.diff`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from core.analysis.sources import CancelledFn, _chunks, _Unit
from core.decode import pattern_values
from core.dtypes import DTYPES
from core.errors import CheckpointError
from core.fileread import FileChanged

_BINCOUNT_ELEMENTS = 1 << 18  # bincount casts to intp; this keeps that copy in cache
# below this many elements, sorting the patterns beats counting into 65,536 slots and scanning
# them: a model of 100,000 small tensors is checked 3x faster
_SMALL_COUNT = 4096


@dataclass(slots=True)
class _Moments:
    """Mergeable running statistics; mean/m2 over finite values (m2 = Σ(x − mean)²)."""

    numel: int = 0
    nan: int = 0
    inf: int = 0
    zeros: int = 0
    finite: int = 0
    min: float | int = math.inf  # an integer tensor's extremes are kept as exact ints
    max: float | int = -math.inf
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
        if raw.dtype.kind in "iu":
            # exactly: int64's 9223372036854775807 is not float64's 9223372036854775808
            result.min, result.max = int(raw.min()), int(raw.max())
        else:
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
