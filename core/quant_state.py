"""Quantisation metadata beside stored integer weights: which scale, zero point and group index
belong to which weight, matched by name and by shape, and whether a weight packs several values
into each stored element.

Quantisers name these tensors in many ways: compressed-tensors and FP8 `weight_scale`
(`weight_scale_inv`, `weight_zero_point`), GPTQ/AWQ `scales`/`qzeros`/`g_idx`, onnxruntime
`<w>_scale`/`<w>_zero_point`, bitsandbytes `SCB`/`absmax`, a plain `scale` beside an int8
`qweight`. A known name is metadata whatever its shape. A name that only says "a scale" (`scale`,
`scales`, `zeros`, `<w>_scale` for a `<w>` not in the file) is metadata only when its shape fits an
integer weight beside it: one value per tensor, per output channel, per group of input columns, per
2-D block, or GPTQ/AWQ's layouts over packed words. A float `scale` beside a float `weight` is a
norm's scale, not quantisation.

"Packed" is said only when dtype and shapes say so: int32 words whose rows (GPTQ: `g_idx` or the
scales' columns) or columns (AWQ: the scales are wider than the words) hold several values each,
and uint8 bytes that bitsandbytes' `absmax` or a `_packed` name says hold two 4-bit values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache

from core.dtypes import DTYPES
from core.model import TensorInfo

# Known names of quantisation state: metadata wherever they appear (their shapes may describe
# activations, not the weight beside them: `input_scale`, `k_scale`).
QUANT_STATE_LEAVES = frozenset(
    {
        "weight_scale",
        "weight_scale_inv",
        "weight_zero_point",
        "weight_global_scale",
        "weight_g_idx",
        "weight_shape",  # compressed-tensors' packed layouts: the unpacked weight's shape
        "input_scale",
        "input_global_scale",
        "input_zero_point",
        "output_scale",
        "output_zero_point",
        "k_scale",
        "v_scale",
        "scales",
        "qzeros",
        "g_idx",
        "SCB",
        "weight_format",
        "absmax",
        "quant_map",
        "nested_absmax",
        "nested_quant_map",
    }
)
# scales of activations and caches, not of the weight beside them
_ACTIVATION = frozenset(
    {
        "input_scale",
        "input_global_scale",
        "input_zero_point",
        "output_scale",
        "output_zero_point",
        "k_scale",
        "v_scale",
    }
)
# names that say "a scale / zero point of something", whose owner the name or the shape tells
_GENERIC = frozenset(
    {"scale", "scales", "scale_inv", "zero_point", "zero_points", "zeros", "zp", "qzeros"}
)
_SUFFIXES = ("_scale_inv", "_global_scale", "_zero_point", "_scales", "_scale", "_zp", "_g_idx")
# how a stored weight's name extends the name its metadata is named after
_STORED_NAMES = ("{}", "{}_quantized", "{}_packed", "q{}")
_ZERO = ("zero", "zeros", "zp", "qzeros")
_STORED_KINDS = ("int", "uint")
_NOT_WEIGHTS = frozenset({"int64", "uint64", "bool"})  # counters, ids, masks
_PACK_WORDS = frozenset({"int32", "uint32"})


@dataclass(slots=True)
class QuantLink:
    """A stored (integer or fp8) weight and the quantisation metadata that belongs to it."""

    weight: TensorInfo
    scale: TensorInfo | None = None
    zero_point: TensorInfo | None = None
    others: list[TensorInfo] = field(default_factory=list)  # g_idx, absmax, quant_map, shape
    pack: int = 1  # values per stored element: 1 plain, 0 packed by a factor shapes do not tell
    packed_along: str = ""  # "rows" (GPTQ) or "columns" (AWQ, compressed-tensors, bitsandbytes)


@dataclass(slots=True)
class QuantLinks:
    by_weight: dict[str, QuantLink] = field(default_factory=dict)
    metadata: set[str] = field(default_factory=set)  # names of quantisation metadata tensors

    def __bool__(self) -> bool:
        return bool(self.metadata or self.by_weight)


def is_stored_weight(t: TensorInfo) -> bool:
    """Integers or fp8 that may stand for real weights through a scale."""
    return _stored_dtype(t.dtype)


@lru_cache(maxsize=64)
def _stored_dtype(dtype: str) -> bool:
    d = DTYPES.get(dtype)
    if d is None or dtype in _NOT_WEIGHTS:
        return False
    return d.category in _STORED_KINDS or dtype.startswith("float8")


@lru_cache(maxsize=4096)  # names repeat across blocks
def _metadata_name(leaf: str) -> bool:
    return (
        leaf in QUANT_STATE_LEAVES
        or leaf in _GENERIC
        or leaf.endswith(_SUFFIXES)
        or leaf.startswith("bitsandbytes__")  # bitsandbytes' packed quant_state
    )


def _is_zero(leaf: str) -> bool:
    return leaf.endswith(_ZERO) or leaf.endswith(("_zero_point", "zero_point"))


def _is_scale(leaf: str) -> bool:
    return leaf in ("SCB", "scale", "scales", "scale_inv") or leaf.endswith(
        ("_scale", "_scales", "_scale_inv")
    )


_cache: list[tuple[list[TensorInfo], int, QuantLinks]] = []


def quant_links(tensors: list[TensorInfo]) -> QuantLinks:
    """The quantisation links of these tensors (remembered for the last few lists asked)."""
    for seen, size, links in _cache:
        if seen is tensors and size == len(tensors):
            return links
    links = find_links(tensors)
    _cache.insert(0, (tensors, len(tensors), links))
    del _cache[2:]
    return links


def find_links(tensors: list[TensorInfo]) -> QuantLinks:
    """Which tensors are quantisation metadata, and which stored weight each one belongs to."""
    links = QuantLinks()
    candidates: list[tuple[str, str, TensorInfo]] = []
    stored_by_module: dict[str, list[TensorInfo]] = {}
    for t in tensors:
        module, _, leaf = t.name.rpartition(".")
        if _metadata_name(leaf):
            candidates.append((module, leaf, t))
        elif is_stored_weight(t):
            stored_by_module.setdefault(module, []).append(t)
    if not candidates:
        return links
    by_name = {t.name: t for t in tensors}
    for module, leaf, t in candidates:
        if leaf in _ACTIVATION:
            links.metadata.add(t.name)
            continue
        owner, named = _owner(module, leaf, t, by_name, stored_by_module)
        if owner is None:
            if leaf in QUANT_STATE_LEAVES or leaf.startswith("bitsandbytes__"):
                links.metadata.add(t.name)
            continue
        if not named and leaf not in QUANT_STATE_LEAVES and not fits(owner, t):
            continue  # a generic `scale` whose shape fits no integer weight beside it
        links.metadata.add(t.name)
        link = links.by_weight.get(owner.name)
        if link is None:
            link = links.by_weight[owner.name] = QuantLink(owner)
        if _is_zero(leaf) and link.zero_point is None:
            link.zero_point = t
        elif _is_scale(leaf) and (link.scale is None or _prefer(leaf, owner, link.scale)):
            if link.scale is not None:
                link.others.append(link.scale)
            link.scale = t
        else:
            link.others.append(t)
    for link in links.by_weight.values():
        link.pack, link.packed_along = _packing(link)
    return links


def _prefer(leaf: str, owner: TensorInfo, current: TensorInfo) -> bool:
    """`weight_scale` over `input_scale` for a weight: the scale named after it wins."""
    own = owner.name.rpartition(".")[2]
    current_leaf = current.name.rpartition(".")[2]
    return leaf.startswith(own) and not current_leaf.startswith(own)


def _owner(
    module: str,
    leaf: str,
    t: TensorInfo,
    by_name: dict[str, TensorInfo],
    stored_by_module: dict[str, list[TensorInfo]],
) -> tuple[TensorInfo | None, bool]:
    """The stored weight a metadata tensor belongs to, and whether its name says so exactly."""
    prefix = f"{module}." if module else ""
    for suffix in _SUFFIXES:
        if leaf.endswith(suffix) and len(leaf) > len(suffix):
            stem = leaf[: -len(suffix)]
            for pattern in _STORED_NAMES:
                found = by_name.get(prefix + pattern.format(stem))
                if found is not None and found is not t and is_stored_weight(found):
                    return found, True
            break
    parent = by_name.get(module) if module else None
    if parent is not None and is_stored_weight(parent):
        return parent, True  # bitsandbytes: `<w>.absmax`, `<w>.quant_map` filed under the weight
    if not module or not (leaf in _GENERIC or leaf in QUANT_STATE_LEAVES):
        # a flat namespace (ONNX graphs) or `<x>_scale` for no stored `<x>`: a scale of an
        # activation perhaps; only a name that says whose can tell
        return None, False
    stored = [s for s in stored_by_module.get(module, ()) if s is not t]
    if len(stored) > 1:
        stored = [s for s in stored if fits(s, t)]  # the one weight of several its shape fits
    return (stored[0], False) if len(stored) == 1 else (None, False)


def matrix(shape: tuple[int, ...]) -> tuple[int, int]:
    """The 2-D view scales apply to: first axis × everything else (1-D: n × 1)."""
    if not shape:
        return 1, 1
    return shape[0], math.prod(shape[1:]) if len(shape) > 1 else 1


def scale_blocks(
    weight: tuple[int, ...], scale: tuple[int, ...], preferred: tuple[int, int] | None = None
) -> tuple[int, int] | None:
    """Rows × columns of the weight's 2-D view that one scale covers, or None if it does not fit.

    Shapes alone can be ambiguous (200 rows and 2 scales: blocks of 100, or of 128 with a short
    last one): the config's block size (`preferred`) wins when it fits, then an even split."""
    rows, cols = matrix(weight)
    if math.prod(scale) == 1:
        return max(rows, 1), max(cols, 1)
    if len(weight) >= 1 and scale[0] == rows and math.prod(scale[1:]) == 1:
        return 1, max(cols, 1)  # one per output channel: `out`, `out × 1`, `out × 1 × 1 × 1`
    if len(scale) != len(weight) or len(weight) == 0 or len(weight) > 2:
        return None  # conv kernels: per tensor or per output channel only
    counts = (scale[0], 1) if len(scale) == 1 else scale  # 1-D: groups of elements
    if preferred is not None and all(
        block > 0 and -(-size // block) == count
        for size, count, block in zip((rows, cols), counts, preferred, strict=True)
    ):
        return preferred
    found = []
    for size, count in zip((rows, cols), counts, strict=True):
        if count <= 0 or count > max(size, 1):
            return None
        block = -(-size // count)
        if -(-size // block) != count:
            return None
        found.append(block)
    return found[0], found[1]


def fits(weight: TensorInfo, meta: TensorInfo) -> bool:
    """Whether a scale or zero point of this shape can belong to this weight: per tensor, per
    output channel, per group, per 2-D block, or over packed words (GPTQ/AWQ)."""
    if scale_blocks(weight.shape, meta.shape) is not None:
        return True
    if weight.dtype not in _PACK_WORDS or len(weight.shape) != 2 or len(meta.shape) != 2:
        return False
    # packed int32: one side of the scales matches the words, the other counts groups
    return any(
        m == w or (m > w and m % w == 0) or (w > m and w % m == 0 and w // m in (2, 4, 8, 16))
        for m, w in zip(meta.shape, weight.shape, strict=True)
    )


def _packing(link: QuantLink) -> tuple[int, str]:
    """Values per stored element (1: plain; 0: packed, factor unknown) and along which axis."""
    w = link.weight
    leaf = w.name.rpartition(".")[2]
    shape = w.shape
    if w.dtype == "uint8":
        if any(o.name.endswith(("absmax", ".nested_absmax")) for o in link.others):
            return 2, "columns"  # bitsandbytes 4-bit: two values per byte
        if "packed" in leaf and link.scale is not None and len(shape) == 2:
            return 2, "columns"  # compressed-tensors NVFP4/int4 in bytes
        return 1, ""
    if w.dtype not in _PACK_WORDS or len(shape) != 2:
        return 1, ""
    g_idx = next((o for o in link.others if o.name.endswith("g_idx")), None)
    if g_idx is not None and g_idx.numel > shape[0] and g_idx.numel % shape[0] == 0:
        return g_idx.numel // shape[0], "rows"  # GPTQ: one g_idx entry per input feature
    scale = link.scale
    if scale is None or len(scale.shape) != 2:
        return (0, "columns") if "packed" in leaf else (1, "")
    groups, width = scale.shape
    if width > shape[1] and width % shape[1] == 0:
        return width // shape[1], "columns"  # AWQ: scales [groups, out], words [in, out / 8]
    if width == shape[1] and groups != shape[0]:
        return 0, "rows"  # GPTQ without g_idx: scales [groups, out], words [in / 8, out]
    if groups == shape[0] and "packed" in leaf:
        return 0, "columns"  # compressed-tensors pack-quantized: words [out, in / 8]
    return 1, ""
