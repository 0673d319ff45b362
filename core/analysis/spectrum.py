"""Eigenvalue spectra and heavy-tail metrics of weight matrices, as WeightWatcher reports them.

For each weight matrix W (a 2-D weight, an embedding, or each kernel position of a convolution)
the eigenvalues λ of WᵀW — squared singular values, unnormalised — and from them WeightWatcher's
(0.7.7, `analyze()` with its defaults) layer metrics: the power-law fit of the spectrum's tail
(α, xmin, the Kolmogorov–Smirnov distance D, the eigenvalues in the tail), α_weighted, log_norm,
log_spectral_norm, log_alpha_norm, stable rank, matrix entropy and numerical rank, and its
warnings (α < 2 "over-trained", α > 6 "under-trained").

How, and why this way:
- The Gram matrix of the smaller side (n×n for an m×n matrix with n ≤ m, else m×m) is summed in
  float64 from bounded blocks of rows, then `np.linalg.eigvalsh` gives its eigenvalues: the same
  values an SVD gives (to ~1e-14 relative for the large ones), faster, and memory is the Gram
  matrix plus one block, never the whole matrix. A wide matrix (fewer rows than columns) needs
  W·Wᵀ: its rows are taken in groups that fit a bounded buffer, and each pair of groups
  multiplied (the file is read about groups/2 times).
- Rows come from the same sources as the statistics (core/stats.py): plain and strided
  storage (bf16/fp16/fp8 decoded by core/decode.py), GGUF blocks dequantised by core/dequant.py.
  Every read checks that the file did not change.
- Convolution kernels (out, in, kh, kw) are WeightWatcher's kh·kw matrices W[:, :, i, j] whose
  eigenvalues are pooled, after its default conv2d normalisation (W × √½, so λ × ½).
  A 3-D kernel (out, in, k) is taken the same way as k matrices, without that normalisation.
- The fit is WeightWatcher's default ("ww" power-law package): over the eigenvalues > 1e-5, for
  each candidate xmin among them α = 1 + n / Σ ln(λ/xmin) and D = max |F_fit − F_data|, keeping
  the xmin with the smallest D; below 20 eigenvalues its small-sample variant (bias-corrected α,
  at least 8 in the tail, D − 0.868/√n chosen).
- Where this differs from WeightWatcher, on purpose: every matrix is included (it skips those
  with fewer than 8 or more than 15,000 eigenvalues, or a side over 50,000 — here a note says when
  a matrix is below its minimum); the numerical rank counts λ above the Gram matrix's own
  rounding level, λmax·n·ε, as well as WeightWatcher's σ tolerance (an SVD resolves smaller
  singular values than a Gram matrix can, so on a rank-deficient matrix its rank may be larger).
- `randomize`: the spectrum of the matrix with its elements shuffled (each kernel position's
  matrix on its own, as WeightWatcher does) and the Jensen–Shannon distance between the two
  sorted spectra (its `rand_distance`). A matrix of more than SHUFFLE_BYTES (as float64) is
  shuffled within blocks of rows instead of as a whole, and a note says so.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core import stats
from core.analysis import blas, pool
from core.decode import decode, storage_dtype
from core.errors import Cancelled, CheckpointError
from core.fileread import Version, check_unchanged
from core.model import NOT_PARAMETERS, Checkpoint, TensorInfo
from core.readable import readable

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]

EVALS_THRESH = 1e-5  # WeightWatcher fits only eigenvalues above this
SMALL_N = 20  # below this many, WeightWatcher's small-sample fit
SMALL_N_TAIL = 8  # the small-sample fit's fewest eigenvalues in the tail
MIN_EVALS = 8  # WeightWatcher skips matrices with fewer eigenvalues than this
OVER_TRAINED_ALPHA = 2.0
UNDER_TRAINED_ALPHA = 6.0
OVER_TRAINED = "over-trained"
UNDER_TRAINED = "under-trained"
WARNINGS = {
    OVER_TRAINED: f"α < {OVER_TRAINED_ALPHA:g}: the layer may be over-trained",
    UNDER_TRAINED: f"α > {UNDER_TRAINED_ALPHA:g}: the layer may be under-trained",
}
RANDOM_DISTANCE = 0.05  # rand_distance below this: the spectrum looks like its shuffled self
CONV2D_SCALE = 0.5  # WeightWatcher's default conv2d_norm: W × √½ before the spectrum
BLOCK_BYTES = 16 << 20  # float64 rows read at a time
GROUP_BYTES = 96 << 20  # float64 rows held at once for W·Wᵀ of a wide matrix
SHUFFLE_BYTES = 256 << 20  # float64 size up to which a matrix is shuffled as a whole
POOL_MAX_ELEMENTS = 1 << 24  # bigger matrices run in the calling thread (progress, cancel)
POOL_MIN_ELEMENTS = 1 << 22  # below this in total, worker processes cost more than they save
NO_SPECTRUM = "it has no spectrum"  # the hint of errors that skip one matrix, not the whole job
BLAS_THREADS_FROM = 1024  # Gram matrices smaller than this are multiplied on one BLAS thread


# --- the power-law fit -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PowerLawFit:
    alpha: float
    xmin: float
    D: float
    sigma: float


def fit_power_law(evals: np.ndarray) -> PowerLawFit | None:
    """WeightWatcher's default power-law fit of the eigenvalues above EVALS_THRESH; None when
    there are too few to fit (fewer than two)."""
    data = np.sort(np.asarray(evals, np.float64)[evals > EVALS_THRESH])
    n_all = data.size
    if n_all < 2:
        return None
    if n_all < SMALL_N:
        return _fit_small(data)
    log_data = np.log(data)
    tails = np.cumsum(log_data[::-1])[::-1]  # Σ ln λ over λ ≥ each candidate
    counts = n_all - np.arange(n_all - 1, dtype=np.float64)
    alphas = 1 + counts / (tails[:-1] - counts * log_data[:-1])
    distances = np.ones(n_all - 1)
    for i in range(n_all - 1):
        alpha = alphas[i]
        if alpha > 1:
            n = n_all - i
            fitted = 1 - (data[i:] / data[i]) ** (1 - alpha)
            distances[i] = np.max(np.abs(fitted - np.arange(n) / n))
    best = int(np.argmin(distances))
    sigma = (alphas[best] - 1) / math.sqrt(n_all - best)
    return PowerLawFit(float(alphas[best]), float(data[best]), float(distances[best]), sigma)


def _fit_small(data: np.ndarray) -> PowerLawFit:
    """WeightWatcher's small-sample fit: bias-corrected α = 1 + (n−1)/Σ ln(λ/xmin) with at
    least SMALL_N_TAIL eigenvalues in the tail, xmin chosen by the smallest D − 0.868/√n."""
    n_all = data.size
    log_data = np.log(data)
    best, best_score, best_alpha, best_d = -1, math.inf, 0.0, 1.0
    for i in range(n_all - 1):
        n = n_all - i
        if n < SMALL_N_TAIL:
            continue
        spread = float(np.sum(log_data[i:]) - n * log_data[i])
        if spread <= 1e-12:
            continue
        alpha = 1.0 + (n - 1.0) / spread
        if alpha <= 1.0:
            continue
        fitted = 1.0 - (data[i:] / data[i]) ** (1.0 - alpha)
        distance = float(np.max(np.abs(np.arange(n) / n - fitted)))
        score = distance - 0.868 / math.sqrt(n)
        if score < best_score:
            best, best_score, best_alpha, best_d = i, score, alpha, distance
    if best < 0:  # no candidate qualifies: fit the whole set
        best, n = 0, n_all
        spread = float(np.sum(log_data) - n * log_data[0])
        if spread <= 1e-12:
            return PowerLawFit(1.0, float(data[0]), 1.0, 0.0)
        best_alpha = 1.0 + (n - 1.0) / spread
        fitted = 1.0 - (data / data[0]) ** (1.0 - best_alpha)
        best_d = float(np.max(np.abs(np.arange(n) / n - fitted)))
    sigma = (best_alpha - 1.0) / math.sqrt(n_all - best)
    return PowerLawFit(best_alpha, float(data[best]), best_d, sigma)


# --- what a layer's spectrum says ------------------------------------------------------------------


@dataclass(slots=True)
class LayerSpectrum:
    """One weight's spectrum and WeightWatcher's metrics of it (None where a fit failed)."""

    name: str
    shape: tuple[int, ...]
    evals: np.ndarray  # ascending, float64
    num_evals: int
    lambda_max: float
    alpha: float | None
    xmin: float | None
    D: float | None
    sigma: float | None
    num_pl_spikes: int
    alpha_weighted: float | None
    log_norm: float
    log_spectral_norm: float
    log_alpha_norm: float | None
    stable_rank: float
    entropy: float
    rank: int
    warning: str  # "over-trained", "under-trained" or ""
    notes: list[str] = field(default_factory=list)  # why a number may differ from expectations
    rand_evals: np.ndarray | None = None
    rand_distance: float | None = None
    looks_random: bool = False

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"name": self.name, "shape": list(self.shape)}
        for key in JSON_FIELDS[2:]:
            document[key] = _plain(getattr(self, key))
        if self.rand_evals is not None:
            document["rand_lambda_max"] = _plain(float(self.rand_evals[-1]))
            document["rand_distance"] = _plain(self.rand_distance)
            document["looks_random"] = self.looks_random
        if self.notes:
            document["notes"] = list(self.notes)
        return document


JSON_FIELDS = (
    "name",
    "shape",
    "num_evals",
    "lambda_max",
    "alpha",
    "xmin",
    "D",
    "num_pl_spikes",
    "alpha_weighted",
    "log_norm",
    "log_spectral_norm",
    "log_alpha_norm",
    "stable_rank",
    "entropy",
    "rank",
    "warning",
)
SUMMARY_METRICS = (
    "log_norm",
    "alpha",
    "alpha_weighted",
    "log_alpha_norm",
    "log_spectral_norm",
    "stable_rank",
)


def _plain(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def metrics(
    name: str, shape: tuple[int, ...], evals: np.ndarray, larger_side: int
) -> LayerSpectrum:
    """WeightWatcher's layer metrics of eigenvalues `evals` (apply_powerlaw, apply_norm_metrics);
    `larger_side` is its N, the longer side of each matrix."""
    evals = np.sort(np.maximum(np.asarray(evals, np.float64), 0.0))
    notes: list[str] = []
    if evals.size == 0 or evals[-1] <= 0:
        raise ValueError("a spectrum needs a non-zero eigenvalue")
    lambda_max = float(evals[-1])
    norm = float(np.sum(evals))
    log_spectral_norm = math.log10(lambda_max)
    fit = fit_power_law(evals)
    if evals.size < MIN_EVALS:
        notes.append(
            f"{evals.size} eigenvalues: WeightWatcher skips matrices with fewer than {MIN_EVALS}"
        )
    if fit is None:
        notes.append("too few non-zero eigenvalues for a power-law fit")
        alpha = xmin = distance = sigma = alpha_weighted = log_alpha_norm = None
        spikes, warning = 0, ""
    else:
        alpha, xmin, distance, sigma = fit.alpha, fit.xmin, fit.D, fit.sigma
        spikes = int(np.count_nonzero(evals >= xmin))
        alpha_weighted = alpha * log_spectral_norm
        with np.errstate(over="ignore"):
            log_alpha_norm = math.log10(float(np.sum(evals**alpha)))
        warning = (
            OVER_TRAINED
            if alpha < OVER_TRAINED_ALPHA
            else UNDER_TRAINED
            if alpha > UNDER_TRAINED_ALPHA
            else ""
        )
    rank = numerical_rank(evals, larger_side)
    return LayerSpectrum(
        name=name,
        shape=tuple(shape),
        evals=evals,
        num_evals=int(evals.size),
        lambda_max=lambda_max,
        alpha=alpha,
        xmin=xmin,
        D=distance,
        sigma=sigma,
        num_pl_spikes=spikes,
        alpha_weighted=alpha_weighted,
        log_norm=math.log10(norm),
        log_spectral_norm=log_spectral_norm,
        log_alpha_norm=log_alpha_norm,
        stable_rank=norm / lambda_max,
        entropy=_entropy(evals, rank),
        rank=rank,
        warning=warning,
        notes=notes,
    )


def numerical_rank(evals: np.ndarray, larger_side: int) -> int:
    """Eigenvalues above WeightWatcher's tolerance (σ > σmax·N·ε) and the Gram matrix's own
    rounding level (λ > λmax·n·ε)."""
    eps = np.finfo(np.float64).eps
    lambda_max = float(np.max(evals))
    tolerance = max(lambda_max * (larger_side * eps) ** 2, lambda_max * evals.size * eps)
    return int(np.count_nonzero(evals > tolerance))


def _entropy(evals: np.ndarray, rank: int) -> float:
    """WeightWatcher's matrix entropy: −Σ p ln p / ln rank, p = λ/Σλ (+1e-10 each)."""
    p = evals / np.sum(evals) + 1e-10
    with np.errstate(divide="ignore", invalid="ignore"):
        value = -np.sum(p * np.log(p)) / np.log(rank + 1e-10)
    return float(value)


def summary(layers: Sequence[LayerSpectrum]) -> dict[str, float | None]:
    """Means over the layers, like WeightWatcher's get_summary (failed fits left out)."""
    result: dict[str, float | None] = {}
    for key in SUMMARY_METRICS:
        values = [getattr(layer, key) for layer in layers]
        values = [v for v in values if v is not None and math.isfinite(v)]
        result[key] = float(np.mean(values)) if values else None
    return result


def js_distance(p: np.ndarray, q: np.ndarray) -> float:
    """WeightWatcher's rand_distance: the Jensen–Shannon distance of two sorted spectra, each
    taken as a distribution over eigenvalue ranks (scipy.stats.entropy's normalisation)."""
    p, q = np.asarray(p, np.float64), np.asarray(q, np.float64)
    m = (p + q) / 2

    def kl(a: np.ndarray, b: np.ndarray) -> float:
        a, b = a / a.sum(), b / b.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = np.where(a > 0, a * np.log(a / b), 0.0)
        return float(np.sum(terms))

    return math.sqrt(max(0.0, (kl(p, m) + kl(q, m)) / 2))


# --- which tensors are weight matrices -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Geometry:
    """How a tensor is seen as matrices: `rows` × (`cols` · `slices`) read row by row, each
    row holding `slices` interleaved matrices' columns (a kernel position is the last axis)."""

    rows: int
    cols: int
    slices: int
    scale: float  # eigenvalues are multiplied by this (WeightWatcher's conv2d normalisation)

    @property
    def smaller(self) -> int:
        return min(self.rows, self.cols)

    @property
    def larger(self) -> int:
        return max(self.rows, self.cols)

    @property
    def num_evals(self) -> int:
        return self.smaller * self.slices


def geometry(t: TensorInfo) -> Geometry | None:
    """The matrices of a weight, or None for tensors that are not weight matrices."""
    if not _is_matrix(t):
        return None
    shape = tuple(t.shape)
    if len(shape) == 2:
        return Geometry(shape[0], shape[1], 1, 1.0)
    if len(shape) == 4:
        return Geometry(shape[0], shape[1], shape[2] * shape[3], CONV2D_SCALE)
    return Geometry(shape[0], shape[1], shape[2], 1.0)


def _is_matrix(t: TensorInfo) -> bool:
    """Whether `geometry(t)` has matrices, without making them (asked of every tensor)."""
    if t.numel == 0 or t.role in NOT_PARAMETERS or t.role == "norm":
        return False
    rank = len(t.shape)
    return rank == 2 or (t.role == "conv" and rank in (3, 4))


def spectrum_possible(t: TensorInfo) -> bool:
    return _is_matrix(t) and stats.statistics_possible(t)


def weight_matrices(tensors: Sequence[TensorInfo]) -> list[TensorInfo]:
    """The tensors with a spectrum: 2-D weights and embeddings, conv kernels (tied copies once).
    Asked on the window's thread of every tensor a model has: readability is worked out once per
    dtype and encoding (core.readable.readable)."""
    return readable(t for t in tensors if t.tied_to is None and _is_matrix(t))


# --- reading rows ----------------------------------------------------------------------------------


class _Rows:
    """Rows of a tensor's 2-D view (rows × rest), float64, read a block at a time."""

    def __init__(self, t: TensorInfo, key: tuple, scheme: Any = None) -> None:
        self.t = t
        self.scaling: tuple[Any, ...] | None = None  # int8 × scale: (scheme, scales, zeros)
        source = stats._readable(t)
        stats._check_size(t)
        self.file = str(source.file)
        self.version: Version = stats._version(key)
        self.encoding = source.encoding
        shape = tuple(t.shape)
        strides = source.strides or stats._contiguous_strides(shape)
        if len(shape) == 2 and strides[0] < strides[1]:  # a saved transpose: its spectrum is W's
            shape, strides = shape[::-1], strides[::-1]
        transposed = shape != tuple(t.shape)
        self.shape, self.strides = shape, strides
        self.rows = shape[0]
        self.width = math.prod(shape[1:])
        if scheme is not None and scheme.supported and not transposed and not source.encoding:
            from core import effective

            scales = effective._as_grid(effective._values_of(scheme.scale), t.shape, scheme.blocks)
            zeros = None
            if scheme.zero_point is not None:
                zeros = effective._as_grid(
                    effective._values_of(scheme.zero_point), t.shape, scheme.zero_blocks
                )
            self.scaling = (scheme, scales, zeros)
        if self.encoding:
            from core import dequant

            block, size = dequant.block_geometry(self.encoding)
            if self.width % block:
                raise CheckpointError(
                    self.file, f"{t.name}: its rows are not whole {self.encoding} blocks"
                )
            self.row_bytes = self.width // block * size
            self.offset = source.offset
            self.reader = None
        else:
            unit = stats._Unit(
                self.file,
                source.offset,
                source.nbytes,
                t.dtype,
                "spectrum",
                shape=shape,
                strides=strides,
                version=self.version,
            )
            self.reader = stats._StridedFile(unit, storage_dtype(t.dtype))

    def close(self) -> None:
        if self.reader is not None:
            self.reader.handle.close()

    def read(self, start: int, stop: int) -> np.ndarray:
        if self.reader is not None:
            raw = self.reader.gather(
                start * self.strides[0], (stop - start, *self.shape[1:]), self.strides
            )
            values = decode(raw.reshape(stop - start, self.width), self.t.dtype, np.float64)
            return values if self.scaling is None else self._effective(values, start, stop)
        from core import dequant

        nbytes = (stop - start) * self.row_bytes
        buffer = bytearray(nbytes)
        with open(self.file, "rb", buffering=0) as handle:
            handle.seek(self.offset + start * self.row_bytes)
            got = handle.readinto(buffer)
        check_unchanged(self.file, self.version)
        if got != nbytes:
            raise CheckpointError(self.file, "the file ends inside a tensor's data", "truncated")
        values = dequant.dequantize(buffer, self.encoding, (stop - start, self.width))
        return values.astype(np.float64)

    def _effective(self, values: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Stored integers as the values they stand for: (stored − zero point) × scale."""
        from core.effective import _spread

        scheme, scales, zeros = self.scaling
        if zeros is not None:
            values = values - _spread(zeros, scheme.zero_blocks, start, stop, 0, self.width)
        values = values * _spread(scales, scheme.blocks, start, stop, 0, self.width)
        return values / scheme.divisor if scheme.divisor != 1.0 else values


class _Shuffled:
    """Rows of a matrix whose elements are shuffled: in memory as a whole when it fits
    SHUFFLE_BYTES, else within fixed blocks of rows (the same block always shuffled alike)."""

    def __init__(self, rows: Any, g: Geometry, block_rows: int, seed: int) -> None:
        self.rows_source, self.g, self.block_rows, self.seed = rows, g, block_rows, seed
        self.rows = rows.rows
        self.whole: np.ndarray | None = None
        self.note = ""
        if g.rows * g.cols * g.slices * 8 <= SHUFFLE_BYTES:
            matrix = np.concatenate(
                [rows.read(s, min(s + block_rows, g.rows)) for s in range(0, g.rows, block_rows)]
            )
            self.whole = _shuffle(matrix, g, np.random.default_rng(seed))
        else:
            self.note = (
                f"shuffled within blocks of {block_rows:,} rows (the matrix is larger than "
                f"{SHUFFLE_BYTES >> 20} MiB as float64)"
            )

    def read(self, start: int, stop: int) -> np.ndarray:
        if self.whole is not None:
            return self.whole[start:stop]
        assert start % self.block_rows == 0 and stop - start <= self.block_rows
        rng = np.random.default_rng((self.seed, start // self.block_rows))
        return _shuffle(self.rows_source.read(start, stop), self.g, rng)


def _shuffle(matrix: np.ndarray, g: Geometry, rng: np.random.Generator) -> np.ndarray:
    """Each kernel position's matrix with its elements permuted (as WeightWatcher shuffles)."""
    out = np.empty_like(matrix)
    cube = matrix.reshape(matrix.shape[0], g.cols, g.slices)
    shuffled = out.reshape(cube.shape)
    for s in range(g.slices):
        shuffled[:, :, s] = rng.permutation(cube[:, :, s].reshape(-1)).reshape(cube.shape[:2])
    return out


# --- eigenvalues -----------------------------------------------------------------------------------


class _Steps:
    """Progress in rows read, against a plan; cancellation between blocks."""

    def __init__(
        self, total: int, progress: ProgressFn | None, cancelled: CancelledFn | None
    ) -> None:
        self.total, self.done, self.progress, self.cancelled = max(total, 1), 0, progress, cancelled

    def check(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise Cancelled

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total)


def _block_rows(g: Geometry) -> int:
    return max(1, BLOCK_BYTES // (8 * g.cols * g.slices))


def _slices(block: np.ndarray, g: Geometry) -> Iterator[np.ndarray]:
    if g.slices == 1:
        yield block
        return
    cube = block.reshape(block.shape[0], g.cols, g.slices)
    for s in range(g.slices):
        yield np.ascontiguousarray(cube[:, :, s])


def _gram_eigenvalues(rows: Any, g: Geometry, steps: _Steps) -> np.ndarray:
    """Eigenvalues (ascending, all slices pooled) of each slice's smaller-side Gram matrix."""
    block = _block_rows(g)
    if g.cols <= g.rows:  # tall: Σ BᵀB over blocks of rows, one pass
        grams = [np.zeros((g.cols, g.cols)) for _ in range(g.slices)]
        for start in range(0, g.rows, block):
            steps.check()
            stop = min(start + block, g.rows)
            for gram, part in zip(grams, _slices(rows.read(start, stop), g), strict=True):
                gram += part.T @ part
            steps.advance(stop - start)
    else:  # wide: W·Wᵀ from pairs of row groups
        grams = [np.zeros((g.rows, g.rows)) for _ in range(g.slices)]
        group = max(block, GROUP_BYTES // (8 * g.cols * g.slices) // block * block)
        for first in range(0, g.rows, group):
            last = min(first + group, g.rows)
            held = []
            for start in range(first, last, block):
                steps.check()
                held.append(rows.read(start, min(start + block, last)))
                steps.advance(min(start + block, last) - start)
            parts = list(_slices(np.concatenate(held), g))
            del held
            for gram, part in zip(grams, parts, strict=True):
                gram[first:last, first:last] = part @ part.T
            for start in range(last, g.rows, block):
                steps.check()
                stop = min(start + block, g.rows)
                for gram, part, other in zip(
                    grams, parts, _slices(rows.read(start, stop), g), strict=True
                ):
                    product = part @ other.T
                    gram[first:last, start:stop] = product
                    gram[start:stop, first:last] = product.T
                steps.advance(stop - start)
    if not all(np.isfinite(gram).all() for gram in grams):
        return np.array([np.nan])  # NaN/Inf in the matrix: LAPACK would not converge
    evals = np.concatenate([np.linalg.eigvalsh(gram) for gram in grams])
    return np.sort(evals) * g.scale


def _planned_rows(g: Geometry) -> int:
    """Rows read for one spectrum (a wide matrix reads later groups again for each pair)."""
    if g.cols <= g.rows:
        return g.rows
    block = _block_rows(g)
    group = max(block, GROUP_BYTES // (8 * g.cols * g.slices) // block * block)
    return sum(g.rows - first for first in range(0, g.rows, group))


def layer_spectrum(
    t: TensorInfo,
    *,
    randomize: bool = False,
    seed: int = 0,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    key: tuple | None = None,
    scheme: Any = None,
) -> LayerSpectrum:
    """The spectrum and metrics of one weight matrix (see the module docstring). `scheme`
    (core.effective.Scheme) turns an integer weight's stored values into the real ones first."""
    g = geometry(t)
    if g is None:
        raise CheckpointError(
            t.source.file if t.source else t.name,
            f"{t.name}: a spectrum needs a weight matrix (2-D, or a conv kernel)",
        )
    key = key or stats._key(t)
    cache_key = (key, randomize, seed, scheme is not None)
    cached = stats._cached(_results, cache_key)
    if cached is not None:
        return cached
    steps = _Steps(_planned_rows(g) * (2 if randomize else 1), progress, cancelled)
    # small products: one BLAS thread (many matrices run in parallel processes instead)
    with blas.threads(1 if g.smaller < BLAS_THREADS_FROM else 1 << 10):
        result = _computed(t, g, key, steps, randomize, seed, scheme)
    stats._remember(_results, cache_key, result, limit=_KEPT)
    return result


def _computed(
    t: TensorInfo,
    g: Geometry,
    key: tuple,
    steps: _Steps,
    randomize: bool,
    seed: int,
    scheme: Any = None,
) -> LayerSpectrum:
    rows = _Rows(t, key, scheme)
    try:
        evals = _gram_eigenvalues(rows, g, steps)
        if not np.all(np.isfinite(evals)):
            raise CheckpointError(
                rows.file, f"{t.name}: the matrix holds NaN or Inf values", NO_SPECTRUM
            )
        if evals.size == 0 or evals[-1] <= 0:
            raise CheckpointError(rows.file, f"{t.name}: the matrix is all zeros", NO_SPECTRUM)
        result = metrics(t.name, tuple(t.shape), evals, g.larger)
        if t.source is not None and t.source.encoding:
            result.notes.append(f"{t.source.encoding} blocks dequantised")
        if rows.scaling is not None:
            result.notes.append(f"effective values: {rows.scaling[0].describe()}")
        if g.scale != 1.0:
            result.notes.append("conv2d kernel: WeightWatcher's normalisation, λ × ½")
        if randomize:
            shuffled = _Shuffled(rows, g, _block_rows(g), seed)
            rand = _gram_eigenvalues(shuffled, g, steps)
            result.rand_evals = np.maximum(rand, 0.0)
            result.rand_distance = js_distance(result.evals, result.rand_evals)
            result.looks_random = result.rand_distance < RANDOM_DISTANCE
            if shuffled.note:
                result.notes.append(shuffled.note)
    finally:
        rows.close()
    return result


_results: OrderedDict[tuple, LayerSpectrum] = OrderedDict()
_KEPT = 4096


def clear_cache() -> None:
    with stats._cache_lock:
        _results.clear()


# --- many matrices ---------------------------------------------------------------------------------


@dataclass(slots=True)
class SpectrumReport:
    path: str
    layers: list[LayerSpectrum]
    skipped: list[tuple[str, str]]  # (tensor, why)

    @property
    def summary(self) -> dict[str, float | None]:
        return summary(self.layers)

    @property
    def warnings(self) -> list[str]:
        found = []
        for layer in self.layers:
            if layer.warning:
                found.append(f"{layer.name}: {WARNINGS[layer.warning]}")
            if layer.looks_random:
                found.append(f"{layer.name}: its spectrum is indistinguishable from random")
        return found

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "path": self.path,
            "layers": [layer.to_json() for layer in self.layers],
            "summary": {k: _plain(v) for k, v in self.summary.items()},
            "warnings": self.warnings,
        }
        if self.skipped:
            document["skipped"] = [{"name": n, "why": why} for n, why in self.skipped]
        return document


def _in_worker(
    t: TensorInfo, key: tuple, randomize: bool, seed: int, scheme: Any = None
) -> LayerSpectrum | str | tuple:
    """Worker-process entry: the spectrum; why there is none (a str) for a matrix of NaN or
    zeros; or pool.error_tuple for bad input (CheckpointError does not survive pickling)."""
    try:
        return layer_spectrum(t, randomize=randomize, seed=seed, key=key, scheme=scheme)
    except CheckpointError as error:
        if error.hint == NO_SPECTRUM:
            return error.what.removeprefix(f"{t.name}: ")
        return pool.error_tuple(error)


def spectra(
    tensors: Sequence[TensorInfo],
    *,
    randomize: bool = False,
    seed: int = 0,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    cancelled: CancelledFn | None = None,
    on_result: Callable[[LayerSpectrum], None] | None = None,
    skipped: list[tuple[str, str]] | None = None,
    schemes: dict[str, Any] | None = None,
) -> list[LayerSpectrum]:
    """Spectra of many weights, in the order given. Small matrices go to worker processes when
    there is enough work; big ones run here, each with progress and cancellation by block.
    A matrix of NaN/Inf or zeros has none: it is left out, and (name, why) added to `skipped`."""
    keys = stats._keys(tensors)
    schemes = schemes or {}
    total = sum(t.numel for t in tensors)
    done = 0
    lock = threading.Lock()

    def advance(elements: int) -> None:
        nonlocal done
        with lock:
            done += elements
            if progress is not None:
                progress(min(done, total), max(total, 1))

    results: dict[int, LayerSpectrum | None] = {}

    def keep(index: int, result: LayerSpectrum | str) -> None:
        if isinstance(result, str):  # why it has no spectrum
            results[index] = None
            if skipped is not None:
                skipped.append((tensors[index].name, result))
            return
        results[index] = result
        if on_result is not None:
            on_result(result)

    count = stats.default_workers() if workers is None else workers
    small = [i for i, t in enumerate(tensors) if t.numel <= POOL_MAX_ELEMENTS]
    pooled = (
        count > 1 and len(small) > 1 and sum(tensors[i].numel for i in small) >= POOL_MIN_ELEMENTS
    )
    if pooled:
        try:
            _run_pooled(
                tensors, keys, small, count, randomize, seed, cancelled, keep, advance, schemes
            )
        except futures.process.BrokenProcessPool:
            stats.shutdown_pool()  # a worker died: finish the rest here
    for index, t in enumerate(tensors):
        if index in results:
            continue
        before = 0

        def step(rows_done: int, rows_total: int, t: TensorInfo = t) -> None:
            nonlocal before
            now = t.numel * rows_done // max(rows_total, 1)
            advance(now - before)
            before = now

        try:
            found: LayerSpectrum | str = layer_spectrum(
                t,
                randomize=randomize,
                seed=seed,
                progress=step,
                cancelled=cancelled,
                key=keys[index],
                scheme=schemes.get(t.name),
            )
        except CheckpointError as error:
            if error.hint != NO_SPECTRUM:
                raise
            found = error.what.removeprefix(f"{t.name}: ")
        keep(index, found)
    return [r for r in (results[i] for i in range(len(tensors))) if r is not None]


def _run_pooled(
    tensors: Sequence[TensorInfo],
    keys: list[tuple],
    indices: list[int],
    workers: int,
    randomize: bool,
    seed: int,
    cancelled: CancelledFn | None,
    keep: Callable[[int, LayerSpectrum | str], None],
    advance: Callable[[int], None],
    schemes: dict[str, Any],
) -> None:
    tasks = [
        (_in_worker, (tensors[i], keys[i], randomize, seed, schemes.get(tensors[i].name)))
        for i in indices
    ]

    def collect(position: int, result: LayerSpectrum | str) -> None:
        index = indices[position]
        if not isinstance(result, str):  # computed in a worker: cached here too
            scheme = schemes.get(tensors[index].name)
            cache_key = (keys[index], randomize, seed, scheme is not None)
            stats._remember(_results, cache_key, result, limit=_KEPT)
        keep(index, result)

    sizes = [tensors[i].numel for i in indices]
    pool.run_in_pool(tasks, sizes, workers, cancelled, advance, collect, set())


def checkpoint_spectra(
    checkpoint: Checkpoint, names: Sequence[str] | None = None, **options: Any
) -> SpectrumReport:
    """Spectra of a checkpoint's weight matrices (or of the named tensors)."""
    skipped: list[tuple[str, str]] = []
    if names is None:
        chosen = weight_matrices(checkpoint.tensors)
        for t in checkpoint.tensors:
            if t.tied_to is None and geometry(t) is not None and not spectrum_possible(t):
                skipped.append((t.name, _why_unreadable(t)))
    else:
        chosen = []
        for name in names:
            t = checkpoint.tensor(name)
            if t is None:
                raise CheckpointError(checkpoint.path, f"no tensor is called {name!r}")
            if geometry(t) is None:
                raise CheckpointError(
                    checkpoint.path,
                    f"{name}: a spectrum needs a weight matrix (2-D, or a conv kernel)",
                    f"its shape is {tuple(t.shape)}",
                )
            if not spectrum_possible(t):
                raise CheckpointError(checkpoint.path, f"{name}: {_why_unreadable(t)}")
            chosen.append(t)
    from core.effective import scheme_for

    schemes = {}
    for t in chosen:  # integer weights with their scales: the spectrum of the real values
        scheme = scheme_for(checkpoint, t)
        if scheme is not None and scheme.supported:
            schemes[t.name] = scheme
    layers = spectra(chosen, skipped=skipped, schemes=schemes, **options)
    return SpectrumReport(str(checkpoint.path), layers, skipped)


def _why_unreadable(t: TensorInfo) -> str:
    if t.truncated:
        from core.readers.truncation import REASONS

        return REASONS[t.truncated]
    if t.source is None:
        return "its data cannot be read"
    return f"{t.source.encoding or t.dtype} values cannot be read yet"


def path_key(path: str | Path) -> str:
    return str(Path(path).resolve())
