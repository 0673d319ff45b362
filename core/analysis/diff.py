"""The diff kernel: sums over two aligned streams of values, and the figures that follow.

Everything a pair's (or a module's) figures need is a sum, so that groups combine exactly:
Σ(B−A), Σ(B−A)², ΣA², ΣB², ΣA·B, max |B−A|, the count of changed elements, and a histogram of
Δ = B−A by sign and power of two (exact, one pass, no range needed in advance). Values that are
NaN or ±Inf on either side are counted (`nan_a`, `nan_b`, `inf`) and left out of the sums, so a
NaN never turns a relative change into NaN; a position whose NaN/Inf pattern differs counts as
changed.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from core.stats import _dot

# Δ histogram: one bin per (sign, float64 exponent field); bin 0 holds Δ = 0 and subnormals.
_EXPONENTS = 2048


@dataclass(slots=True)
class DiffSums:
    numel: int = 0
    finite: int = 0  # positions where both values are finite (the sums are over these)
    nan_a: int = 0
    nan_b: int = 0
    inf: int = 0  # positions where either side is ±Inf
    changed: int = 0
    sum_d: float = 0.0
    d2: float = 0.0
    a2: float = 0.0
    b2: float = 0.0
    ab: float = 0.0
    max_abs: float = 0.0
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(2 * _EXPONENTS, np.int64))
    identical_bytes: bool = False
    norms_known: bool = True  # False when identical bytes skipped the arithmetic (a2 unknown)

    def merge(self, other: DiffSums) -> None:
        self.numel += other.numel
        self.finite += other.finite
        self.nan_a += other.nan_a
        self.nan_b += other.nan_b
        self.inf += other.inf
        self.changed += other.changed
        self.sum_d += other.sum_d
        self.d2 += other.d2
        self.a2 += other.a2
        self.b2 += other.b2
        self.ab += other.ab
        self.max_abs = max(self.max_abs, other.max_abs)
        self.histogram += other.histogram
        self.norms_known = self.norms_known and other.norms_known

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        """Fold in one aligned chunk (same length; float32 values are widened here, in cache)."""
        # the difference of two float32 values is exact in float64 and never subnormal there,
        # so the histogram's zero bins then count exactly the unchanged elements
        narrow = a.dtype == np.float32 and b.dtype == np.float32
        n = int(a.size)
        wa, wb, d, keys = _scratch(n)
        if a.dtype != np.float64:
            np.copyto(wa, a)
            a = wa
        if b.dtype != np.float64:
            np.copyto(wb, b)
            b = wb
        self.numel += n
        np.subtract(b, a, out=d)
        d2, a2, b2 = _dot(d, d), _dot(a, a), _dot(b, b)
        if not (math.isfinite(d2) and math.isfinite(a2) and math.isfinite(b2)):
            nan_a, nan_b = np.isnan(a), np.isnan(b)
            self.nan_a += int(np.count_nonzero(nan_a))
            self.nan_b += int(np.count_nonzero(nan_b))
            finite = np.isfinite(a) & np.isfinite(b)
            self.inf += int(np.count_nonzero(~(finite | nan_a | nan_b)))
            # a non-finite position changed unless both sides hold the same NaN/Inf
            same = (nan_a & nan_b) | (a == b)
            self.changed += int(np.count_nonzero(~finite & ~same))
            a, b, d = a[finite], b[finite], d[finite]
            d2, a2, b2 = _dot(d, d), _dot(a, a), _dot(b, b)
        self.finite += int(a.size)
        if not a.size:
            return
        self.d2 += d2
        self.a2 += a2
        self.b2 += b2
        # 2·A·B = ‖A‖² + ‖B‖² − ‖Δ‖²: one pass fewer, and its rounding (~1e-16 of ‖A‖²) is far
        # below what a cosine can show
        self.ab += (a2 + b2 - d2) / 2
        self.sum_d += float(np.add.reduce(d))
        self.max_abs = max(self.max_abs, float(d.max()), -float(d.min()))
        # sign and exponent of each Δ: the top 12 bits, as a signed shift gives them (−2048 …
        # 2047), moved to 0 … 4095; int64 is what bincount takes without a copy
        if keys.size != d.size:  # the non-finite values were left out above
            keys = keys[: d.size]
        np.right_shift(d.view(np.int64), 52, out=keys)
        keys += _EXPONENTS
        counts = np.bincount(keys, minlength=2 * _EXPONENTS)
        self.histogram += counts
        if narrow:
            self.changed += int(a.size) - int(counts[0] + counts[_EXPONENTS])
        else:
            self.changed += int(np.count_nonzero(d))

    def add_norms(self, a: np.ndarray) -> None:
        """Fold in a chunk of a tensor compared with itself (its bytes were identical)."""
        a = a.astype(np.float64, copy=False)
        n = int(a.size)
        self.numel += n
        a2 = _dot(a, a)
        if not math.isfinite(a2):
            nan = int(np.count_nonzero(np.isnan(a)))
            self.nan_a += nan
            self.nan_b += nan
            finite = np.isfinite(a)
            self.inf += n - nan - int(np.count_nonzero(finite))
            a = a[finite]
            a2 = _dot(a, a)
        self.finite += int(a.size)
        self.a2 += a2
        self.b2 += a2
        self.ab += a2
        self.histogram[_EXPONENTS] += int(a.size)  # every Δ is +0


_local = threading.local()  # per thread: two comparisons may run at once in the window


def _scratch(n: int) -> tuple[np.ndarray, ...]:
    """Reused float64 work arrays of n elements (fresh 1 MiB arrays per piece cost page
    faults: a third of the time went to the kernel)."""
    arrays = getattr(_local, "arrays", None)
    if arrays is None or arrays[0].size < n:
        arrays = _local.arrays = (np.empty(n), np.empty(n), np.empty(n), np.empty(n, np.int64))
    return tuple(x[:n] for x in arrays)


def aligned(
    left: Iterator[np.ndarray], right: Iterator[np.ndarray], piece: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Equal-length pieces (≤ `piece` elements) of two streams, in lock-step.

    Raises ValueError if one stream ends before the other.
    """
    a = b = np.zeros(0)
    ia = ib = 0
    while True:
        if ia >= a.size:
            a, ia = next(left, None), 0
            if a is None:
                if ib < b.size or next(right, None) is not None:
                    raise ValueError("side B holds more values than side A")
                return
            continue
        if ib >= b.size:
            b, ib = next(right, None), 0
            if b is None:
                raise ValueError("side A holds more values than side B")
            continue
        n = min(a.size - ia, b.size - ib, piece)
        yield a[ia : ia + n], b[ib : ib + n]
        ia += n
        ib += n


@dataclass(frozen=True, slots=True)
class Figures:
    """A pair's (or a module's) figures, from its sums."""

    max_abs: float | None
    mean_diff: float | None
    l2_diff: float | None
    rel: float | None
    cosine: float | None
    snr_db: float | None
    changed_share: float | None


def figures(s: DiffSums) -> Figures:
    identical = s.changed == 0
    l2 = math.sqrt(s.d2)
    norm_a, norm_b = math.sqrt(s.a2), math.sqrt(s.b2)
    if identical:
        rel: float | None = 0.0
    else:
        rel = l2 / norm_a if norm_a > 0 else None
    if identical and not s.norms_known:
        cosine: float | None = 1.0
    else:
        cosine = s.ab / (norm_a * norm_b) if norm_a > 0 and norm_b > 0 else None
        if cosine is not None:
            cosine = max(-1.0, min(1.0, cosine))
    snr = None
    if s.d2 > 0 and s.a2 > 0:
        snr = 10.0 * math.log10(s.a2 / s.d2)
    return Figures(
        max_abs=s.max_abs if s.finite or identical else None,
        mean_diff=s.sum_d / s.finite if s.finite else (0.0 if identical else None),
        l2_diff=l2,
        rel=rel,
        cosine=cosine,
        snr_db=snr,
        changed_share=s.changed / s.numel if s.numel else 0.0,
    )


def delta_histogram(s: DiffSums) -> list[tuple[float, int]]:
    """The Δ histogram as (signed lower bound, count) pairs, by sign and power of two, zero in
    the middle: bin (x, n) with x > 0 counts n values in [x, 2x); x < 0 counts (2x, x]."""
    h = s.histogram
    out: list[tuple[float, int]] = []
    for exponent in range(_EXPONENTS - 1, 0, -1):  # negative Δ: index = exponent
        count = int(h[exponent])
        if count:
            out.append((-math.ldexp(1.0, exponent - 1023), count))
    zero = int(h[0] + h[_EXPONENTS])  # ±0 and subnormals
    if zero:
        out.append((0.0, zero))
    for exponent in range(1, _EXPONENTS):  # positive Δ: index = 2048 + exponent
        count = int(h[_EXPONENTS + exponent])
        if count:
            out.append((math.ldexp(1.0, exponent - 1023), count))
    return out
