"""Statistics of the values quantised weights stand for: (stored − zero point) × scale.

A quantised safetensors file keeps integer (or fp8) weights with scale tensors beside them
(`weight` int8 + `weight_scale`, FP8 `weight_scale_inv`, onnxruntime's `_quantized` +
`_scale`/`_zero_point`, bitsandbytes `SCB`). `tensor_stats` of the weight describes the stored
integers; `effective_stats` describes the real values, streamed a bounded block of rows at a time
(the scale repeated over just that block), with the same exact statistics (float64, numpy's
histogram binning) as `core.stats`.

Supported (`scheme_for` says which applies, or why none does):
- per tensor: one scale (any shape with one element);
- per output channel: `out` or `out × 1` scales for a weight of `out × …` (any rank);
- per group of input columns: `out × groups` for a 2-D weight, `in` a multiple of the groups
  (or the last group shorter), and per 2-D block (`⌈out/b⌉ × ⌈in/b⌉`, DeepSeek's 128×128);
- zero points of any of those shapes, subtracted before scaling; bitsandbytes `SCB` is the
  row's absmax, so its values are stored × SCB ÷ 127.
Which scale and zero point belong to a weight is `core.quant_state`'s match by name and shape.
Not supported: packed 4-bit weights (ONNX INT4/UINT4), GPTQ/AWQ `qweight` (eight 4-bit values
packed per int32 word, zero points packed the same way, columns permuted by `g_idx`) and bitsandbytes 4-bit (`absmax` blocks over packed
nibbles): the stored words are shown, and the scheme says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from core import stats
from core.decode import decode, storage_dtype
from core.dtypes import DTYPES
from core.errors import Cancelled, CheckpointError
from core.model import Checkpoint, TensorInfo
from core.quant_state import matrix as _matrix
from core.quant_state import quant_links
from core.quant_state import scale_blocks as _blocks
from core.units import exact


@dataclass(frozen=True, slots=True)
class Scheme:
    """How a quantised tensor's stored values become real ones, or why they cannot here."""

    weight: TensorInfo
    scale: TensorInfo
    zero_point: TensorInfo | None
    layout: str  # "per tensor", "per output channel (4,096 scales)", "per 128×128 block", …
    blocks: tuple[int, int] = (1, 1)  # rows × columns of the 2-D view one scale covers
    zero_blocks: tuple[int, int] = (1, 1)  # the same for the zero point
    divisor: float = 1.0  # bitsandbytes SCB holds absmax: values are stored × SCB ÷ 127
    problem: str = ""  # why effective values cannot be computed; "" when they can

    @property
    def supported(self) -> bool:
        return not self.problem

    def describe(self) -> str:
        """E.g. "int8 × float32 scale per output channel (16 scales) − zero point"."""
        text = f"{self.weight.dtype} × {self.scale.dtype} scale {self.layout}"
        if self.divisor != 1.0:
            text += f" ÷ {self.divisor:g}"
        if self.zero_point is not None:
            text = text.replace(" × ", " − zero point) × ", 1)
            text = "(" + text
        return text


def _leaf(name: str) -> str:
    return name.rpartition(".")[2]


def scheme_for(checkpoint: Checkpoint, t: TensorInfo) -> Scheme | None:
    """The scaling scheme of a quantised tensor; None when it has no scale beside it."""
    category = DTYPES[t.dtype].category if t.dtype in DTYPES else ""
    if category not in ("int", "uint") and not t.dtype.startswith("float8"):
        return None  # float weights mean what they hold
    link = quant_links(checkpoint.tensors).by_weight.get(t.name)
    if link is None or link.scale is None:
        return None  # no scale matched to it by name and shape (`core.quant_state`)
    scale, zero = link.scale, link.zero_point
    scheme = Scheme(t, scale, zero, "")
    if any(_leaf(o.name) in ("absmax", "nested_absmax") for o in link.others):
        return _unsupported(scheme, "bitsandbytes 4-bit blocks are not supported yet")
    if link.pack != 1 or (zero is not None and _leaf(zero.name) == "qzeros"):
        per = f"{link.pack} values" if link.pack > 1 else "several low-bit values"
        return _unsupported(
            scheme,
            f"GPTQ/AWQ packing ({per} per {t.dtype} word, packed zero points) "
            "is not supported yet: the statistics are of the stored words",
        )
    for part in (t, scale, zero):
        if part is not None and not stats.statistics_possible(part):
            return _unsupported(scheme, f"the data of {part.name} cannot be read")
    if t.source is not None and t.source.encoding:
        return _unsupported(
            scheme, f"effective values of packed {t.dtype} are not supported yet (stored only)"
        )
    if t.source is not None and t.source.strides is not None:
        return _unsupported(scheme, "the weight is stored as a strided view")
    rows, cols = _matrix(t.shape)
    preferred = _config_blocks(checkpoint)
    blocks = _blocks(t.shape, scale.shape, preferred)
    if blocks is None:
        return _unsupported(
            scheme,
            f"the scale's shape {_shape(scale.shape)} does not say how it applies "
            f"to a weight of {_shape(t.shape)}",
        )
    zero_blocks = None if zero is None else _blocks(t.shape, zero.shape, preferred)
    if zero is not None and zero_blocks is None:
        return _unsupported(
            scheme, f"the zero point's shape {_shape(zero.shape)} does not fit the weight"
        )
    divisor = 127.0 if _leaf(scale.name) == "SCB" else 1.0
    layout = _layout(blocks, rows, cols, scale)
    return Scheme(t, scale, zero, layout, blocks, zero_blocks or (1, 1), divisor)


def _unsupported(scheme: Scheme, problem: str) -> Scheme:
    return Scheme(scheme.weight, scheme.scale, scheme.zero_point, "", problem=problem)


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) or "scalar"


def _config_blocks(checkpoint: Checkpoint) -> tuple[int, int] | None:
    """`quantization_config.weight_block_size` from config.json (DeepSeek/FP8 block scales)."""
    config = checkpoint.hyperparams.get("config.json") or {}
    quant = config.get("quantization_config") if isinstance(config, dict) else None
    size = quant.get("weight_block_size") if isinstance(quant, dict) else None
    if isinstance(size, list) and len(size) == 2 and all(isinstance(v, int) for v in size):
        return size[0], size[1]
    return None


def _layout(blocks: tuple[int, int], rows: int, cols: int, scale: TensorInfo) -> str:
    block_rows, block_cols = blocks
    count = exact(scale.numel)
    if block_rows >= rows and block_cols >= cols:
        return "per tensor"
    if block_rows == 1 and block_cols >= cols:
        return f"per output channel ({count} scales)"
    if block_rows == 1 and block_cols == 1:
        return f"per element ({count} scales)"
    if block_rows == 1:
        return f"per group of {block_cols} input columns ({count} scales)"
    if block_rows >= rows:
        return f"per group of {block_cols} columns across all rows ({count} scales)"
    return f"per {block_rows}×{block_cols} block ({count} scales)"


def _values_of(t: TensorInfo) -> np.ndarray:
    """A small tensor's values (a scale or zero point), read whole, as float64."""
    source = stats._readable(t)
    stats._check_size(t)
    raw = storage_dtype(t.dtype)
    with open(source.file, "rb") as handle:
        handle.seek(source.offset)
        data = handle.read(t.numel * raw.itemsize)
    return decode(np.frombuffer(data, raw, count=t.numel), t.dtype, np.float64)


def _as_grid(values: np.ndarray, weight: tuple[int, ...], blocks: tuple[int, int]) -> np.ndarray:
    """Scales (or zero points) as a 2-D grid: one entry per block of the weight's 2-D view."""
    rows, cols = _matrix(weight)
    return values.reshape(-(-max(rows, 1) // blocks[0]), -(-max(cols, 1) // blocks[1]))


def _spread(grid: np.ndarray, blocks: tuple[int, int], r0: int, r1: int, c0: int, c1: int):
    """The grid's entries for rows [r0, r1) and columns [c0, c1) of the weight, one per element."""
    br, bc = blocks
    part = grid[r0 // br : (r1 - 1) // br + 1, c0 // bc : (c1 - 1) // bc + 1]
    if br > 1:
        part = np.repeat(part, br, axis=0)[r0 % br : r0 % br + (r1 - r0)]
    if bc > 1:
        part = np.repeat(part, bc, axis=1)[:, c0 % bc : c0 % bc + (c1 - c0)]
    return part


def _pieces(rows: int, cols: int, max_elements: int) -> Iterator[tuple[int, int, int, int]]:
    """Rectangles (r0, r1, c0, c1) in storage order, each one contiguous run of bytes."""
    if cols <= max_elements:
        step = max(1, max_elements // cols)
        for r0 in range(0, rows, step):
            yield r0, min(rows, r0 + step), 0, cols
        return
    for r in range(rows):
        for c0 in range(0, cols, max_elements):
            yield r, r + 1, c0, min(cols, c0 + max_elements)


def _effective_chunks(
    scheme: Scheme,
    chunk_bytes: int,
    cancelled: stats.CancelledFn | None,
    advance,
) -> Iterator[np.ndarray]:
    """Effective values of the weight, float64, a bounded rectangle of its 2-D view at a time."""
    t = scheme.weight
    source = stats._readable(t)
    stats._check_size(t)
    rows, cols = _matrix(t.shape)
    raw = storage_dtype(t.dtype)
    scales = _as_grid(_values_of(scheme.scale), t.shape, scheme.blocks)
    zeros = None
    if scheme.zero_point is not None:
        grid = _as_grid(_values_of(scheme.zero_point), t.shape, scheme.zero_blocks)
        zeros = (grid, scheme.zero_blocks)
    # float64 values, the scale spread beside them, and the stored chunk: ~20 bytes an element
    max_elements = max(1, chunk_bytes // 8)
    with open(source.file, "rb", buffering=0) as handle:
        for r0, r1, c0, c1 in _pieces(rows, cols, max_elements):
            if cancelled is not None and cancelled():
                raise Cancelled
            count = (r1 - r0) * (c1 - c0)
            handle.seek(source.offset + (r0 * cols + c0) * raw.itemsize)
            data = handle.read(count * raw.itemsize)
            if len(data) < count * raw.itemsize:
                raise CheckpointError(
                    source.file, "the file ends inside a tensor's data", "it is truncated"
                )
            stored = np.frombuffer(data, raw).reshape(r1 - r0, c1 - c0)
            values = decode(stored, t.dtype, np.float64)
            if zeros is not None:
                values = values - _spread(zeros[0], zeros[1], r0, r1, c0, c1)
            values = values * _spread(scales, scheme.blocks, r0, r1, c0, c1)
            if scheme.divisor != 1.0:
                values = values / scheme.divisor
            yield values.reshape(-1)
            if advance is not None:
                advance(len(data))


def effective_stats(
    checkpoint: Checkpoint,
    t: TensorInfo,
    bins: int = 128,
    progress: stats.ProgressFn | None = None,
    cancelled: stats.CancelledFn | None = None,
    *,
    value_range: tuple[float, float] | None = None,
    chunk_bytes: int = stats.CHUNK_BYTES,
) -> stats.TensorStats:
    """Exact statistics of a quantised tensor's effective values (see the module docstring).

    Equal to numpy over `(stored − zero) × scale` computed in float64; no percentiles. Raises
    CheckpointError when the tensor has no scale or its scheme is not supported.
    """
    scheme = scheme_for(checkpoint, t)
    if scheme is None:
        raise CheckpointError(checkpoint.path, f"{t.name} has no scale beside it")
    if not scheme.supported:
        raise CheckpointError(checkpoint.path, f"{t.name}: {scheme.problem}")
    parts = [t, scheme.scale] + ([scheme.zero_point] if scheme.zero_point else [])
    cache_key = ("effective", *(stats._key(p) for p in parts), bins, value_range)
    cached = stats._cached(stats._results, cache_key)
    if cached is not None:
        if progress is not None:
            progress(1, 1)
        return cached
    tracker = stats._Tracker(t.nbytes * (2 if bins > 0 else 1), progress)
    total = stats._Moments()
    for values in _effective_chunks(scheme, chunk_bytes, cancelled, tracker.advance):
        total.merge(stats._moments_of(values))
    counts, edges = np.zeros(0, np.int64), np.zeros(0)
    if bins > 0 and total.finite:
        lo, hi = stats._histogram_range(total, value_range)
        edges = np.linspace(lo, hi, bins + 1)
        counts = np.zeros(bins, np.int64)
        span = (np.float64(lo), np.float64(hi))
        for values in _effective_chunks(scheme, chunk_bytes, cancelled, tracker.advance):
            if total.nan or total.inf:
                values = values[np.isfinite(values)]
            counts += np.histogram(values, bins, range=span)[0]
    result = stats.stats_from_moments(
        t.name, f"{t.dtype} × scale", tuple(t.shape), total, edges, counts
    )
    stats._remember(stats._results, cache_key, result)
    if progress is not None:
        progress(tracker.total, tracker.total)
    return result
