"""Which tensor of A goes with which of B, and what a converter did that must be undone.

Pairs are found in this order, each stage only among the tensors still unpaired:
1. `--map FILE`: two names a line (A's, then B's; blank lines and `#` comments skipped);
2. the same name;
3. the same name once wrapper prefixes are dropped (`model.`, `module.`, `state_dict.`,
   `_orig_mod.`, `base_model.model.`);
4. a GGUF file against any other: llama.cpp's names through gguf-py's own `TensorNameMap` for the
   file's architecture (`model.layers.3.self_attn.q_proj.weight` ↔ `blk.3.attn_q.weight`);
5. numbered MoE experts (`….experts.7.w1.weight`) against one stacked tensor (`ffn_gate_exps`);
6. separate Q, K and V against one fused QKV tensor (`qkv_proj`, `attn_qkv`).
Integer weights with a scale beside them are read as (stored − zero point) × scale; their scale
and zero-point tensors belong to the weight and are not paired on their own.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from core.analysis.sides import Part, Side
from core.analysis.transforms import Step
from core.effective import scheme_for
from core.errors import CheckpointError
from core.model import Checkpoint, TensorInfo

WRAPPERS = ("base_model.model.", "_orig_mod.", "state_dict.", "module.", "model.")
# llama.cpp architectures whose converter permutes Q/K rows (LlamaModel.permute and its users)
PERMUTED_ARCHS = frozenset({"llama", "deci", "granite", "granitemoe"})
# Gemma-family converters store RMSNorm weights as w + 1
NORM_PLUS_ONE_ARCHS = frozenset({"gemma", "gemma2", "gemma3"})
# GPT-2's Conv1D keeps weights as (in, out); llama.cpp's converter transposes them
CONV1D_LEAVES = ("c_attn.weight", "c_proj.weight", "c_fc.weight")
_EXPERT = re.compile(r"^(?P<head>.*\.experts)\.(?P<index>\d+)\.(?P<tail>.+)$")


@dataclass(slots=True)
class PairSpec:
    a: str
    b: str
    side_a: Side
    side_b: Side
    transform: str | None
    shape_a: tuple[int, ...]
    shape_b: tuple[int, ...]
    dtype_a: str
    dtype_b: str
    module: str  # the tree path the pair's figures count towards
    comparable: bool  # same shape once what the converter did is undone

    @property
    def same_dtype(self) -> bool:
        return self.dtype_a == self.dtype_b


@dataclass(slots=True)
class Plan:
    pairs: list[PairSpec] = field(default_factory=list)
    only_a: list[str] = field(default_factory=list)
    only_b: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def strip_wrappers(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for prefix in WRAPPERS:
            if name.startswith(prefix) and len(name) > len(prefix):
                name = name[len(prefix) :]
                changed = True
    return name


def _variants(name: str) -> list[str]:
    """The name, then each form with one more wrapper prefix dropped."""
    found = [name]
    while True:
        for prefix in WRAPPERS:
            if name.startswith(prefix) and len(name) > len(prefix):
                name = name[len(prefix) :]
                found.append(name)
                break
        else:
            return found


def _module_of(name: str) -> str:
    return name.rpartition(".")[0]


def _parts(checkpoint: Checkpoint) -> tuple[dict[str, Part], set[str]]:
    """The tensors to compare, by name, and the scale/zero-point tensors folded into weights."""
    parts: dict[str, Part] = {}
    folded: set[str] = set()
    for t in checkpoint.tensors:
        if t.section != "model":
            continue
        scheme = scheme_for(checkpoint, t)
        if scheme is not None and scheme.supported:
            parts[t.name] = Part(t, scheme)
            folded.add(scheme.scale.name)
            if scheme.zero_point is not None:
                folded.add(scheme.zero_point.name)
        else:
            parts[t.name] = Part(t)
    for name in folded:
        parts.pop(name, None)
    return parts, folded


def read_map(path: str | Path) -> list[tuple[str, str]]:
    """A two-column mapping file: A's name and B's name a line (tabs, spaces or a comma)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise CheckpointError(path, f"cannot read the name map ({error})") from None
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        columns = [c for c in re.split(r"[\s,]+", line) if c]
        if len(columns) != 2:
            raise CheckpointError(
                path, f"line {number} holds {len(columns)} names", "write two names a line: A B"
            )
        pairs.append((columns[0], columns[1]))
    return pairs


def plan(a: Checkpoint, b: Checkpoint, mapping: str = "auto", undo: bool = True) -> Plan:
    """Pair the tensors of A and B (see the module docstring). `mapping` is "auto", "none"
    (exact names only) or a map file's path; `undo=False` compares tensors as stored."""
    result = Plan()
    left, folded_a = _parts(a)
    right, folded_b = _parts(b)
    if folded_a or folded_b:
        result.warnings.append(
            f"{len(folded_a) + len(folded_b)} scale/zero-point tensors are compared as part of "
            "their weights' effective values"
        )
    for checkpoint in (a, b):
        others = sum(1 for t in checkpoint.tensors if t.section != "model")
        if others:
            result.warnings.append(
                f"{checkpoint.name}: {others:,} tensors of optimizer state, EMA copies or "
                "training state are not compared (the model's tensors are)"
            )
    builder = _Builder(a, b, result, undo)
    if mapping not in ("auto", "none"):
        for name_a, name_b in read_map(mapping):
            if name_a in left and name_b in right:
                builder.single(left.pop(name_a), right.pop(name_b))
            else:
                result.warnings.append(f"map: {name_a} ↔ {name_b} not found on both sides")
    for name in [n for n in left if n in right]:
        builder.single(left.pop(name), right.pop(name))
    if mapping != "none":
        _by_wrappers(left, right, builder)
        _by_gguf_names(left, right, builder, a, b)
        _stacked_experts(left, right, builder, swap=False)
        _stacked_experts(right, left, builder, swap=True)
        _fused_qkv(left, right, builder, swap=False)
        _fused_qkv(right, left, builder, swap=True)
    result.only_a = sorted(left)
    result.only_b = sorted(right)
    return result


def _by_wrappers(left: dict[str, Part], right: dict[str, Part], builder: _Builder) -> None:
    keys: dict[str, str | None] = {}
    for name in right:
        key = strip_wrappers(name)
        keys[key] = None if key in keys else name  # None: two names strip to one key
    seen: dict[str, int] = {}
    for name in left:
        key = strip_wrappers(name)
        seen[key] = seen.get(key, 0) + 1
    for name in list(left):
        key = strip_wrappers(name)
        target = keys.get(key)
        if target is not None and seen[key] == 1 and target in right:
            builder.single(left.pop(name), right.pop(target))


def _gguf_namer(checkpoint: Checkpoint) -> Callable[[str], str | None] | None:
    """llama.cpp's name for a Hugging Face tensor name, by gguf-py's map for the architecture."""
    arch = checkpoint.metadata.get("general.architecture")
    if not isinstance(arch, str):
        return None
    import gguf  # only when a GGUF file is compared: core stays importable without it

    arch_id = {name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}.get(arch)
    if arch_id is None:
        return None
    blocks = checkpoint.metadata.get(f"{arch}.block_count")
    if not isinstance(blocks, int):
        numbers = [
            int(m[1]) for t in checkpoint.tensors if (m := re.match(r"blk\.(\d+)\.", t.name))
        ]
        blocks = max(numbers, default=-1) + 1
    names = gguf.get_tensor_name_map(arch_id, blocks)

    def namer(name: str) -> str | None:
        for variant in _variants(name):
            found = names.get_name(variant, try_suffixes=(".weight", ".bias"))
            if found:
                return found
        return None

    return namer


def _by_gguf_names(
    left: dict[str, Part], right: dict[str, Part], builder: _Builder, a: Checkpoint, b: Checkpoint
) -> None:
    if (a.format == "gguf") == (b.format == "gguf"):
        return
    # names are mapped from the other side's (Hugging Face) names to llama.cpp's
    gguf_side, other, target, swap = (
        (b, left, right, False) if b.format == "gguf" else (a, right, left, True)
    )
    namer = _gguf_namer(gguf_side)
    if namer is None:
        builder.result.warnings.append(
            f"{gguf_side.name}: its architecture is not in gguf-py's name map; "
            "only equal names were paired"
        )
        return
    builder.namer = namer
    for name in list(other):
        mapped = namer(name)
        if mapped is not None and mapped in target and name in other:
            x, y = other.pop(name), target.pop(mapped)
            builder.single(*((x, y) if not swap else (y, x)))


def _stacked_experts(
    left: dict[str, Part], right: dict[str, Part], builder: _Builder, swap: bool
) -> None:
    groups: dict[str, dict[int, str]] = {}
    for name in left:
        found = _EXPERT.match(name)
        if found:
            key = f"{found['head']}.{found['tail']}"
            groups.setdefault(key, {})[int(found["index"])] = name
    for key, members in groups.items():
        target = builder.find(key, right)
        if target is None or sorted(members) != list(range(len(members))):
            continue
        parts = [left[members[i]] for i in range(len(members))]
        shapes = {p.tensor.shape for p in parts}
        stacked = (len(parts), *parts[0].tensor.shape)
        if len(shapes) != 1 or stacked != right[target].tensor.shape:
            continue
        for i in range(len(members)):
            left.pop(members[i])
        label = key.replace(".experts.", f".experts.{{0..{len(parts) - 1}}}.")
        builder.group(parts, label, right.pop(target), "stack experts", stacked, swap)


def _fused_qkv(
    left: dict[str, Part], right: dict[str, Part], builder: _Builder, swap: bool
) -> None:
    for name in list(left):
        for q, k, v, fused in ((".q_proj.", ".k_proj.", ".v_proj.", ".qkv_proj."),):
            if q not in name:
                continue
            names = [name, name.replace(q, k), name.replace(q, v)]
            if not all(n in left for n in names):
                continue
            target = builder.find(name.replace(q, fused), right)
            if target is None and builder.namer is not None:
                mapped = builder.namer(name)
                if mapped and ".attn_q." in mapped:
                    candidate = mapped.replace(".attn_q.", ".attn_qkv.")
                    target = candidate if candidate in right else None
            if target is None:
                continue
            parts = [left[n] for n in names]
            rest = {p.tensor.shape[1:] for p in parts}
            rows = sum(p.tensor.shape[0] for p in parts if p.tensor.shape)
            shape = (rows, *parts[0].tensor.shape[1:])
            if len(rest) != 1 or shape != right[target].tensor.shape:
                continue
            for n in names:
                left.pop(n)
            label = name.replace(q, ".{q,k,v}_proj.")
            builder.group(parts, label, right.pop(target), "fused QKV", shape, swap)


class _Builder:
    """Makes PairSpecs, choosing what to undo from the formats and the architecture."""

    def __init__(self, a: Checkpoint, b: Checkpoint, result: Plan, undo: bool) -> None:
        self.a, self.b, self.result, self.undo = a, b, result, undo
        self.namer: Callable[[str], str | None] | None = None

    def find(self, name: str, right: dict[str, Part]) -> str | None:
        if name in right:
            return name
        key = strip_wrappers(name)
        matches = [n for n in right if strip_wrappers(n) == key]
        if len(matches) == 1:
            return matches[0]
        if self.namer is not None:
            mapped = self.namer(name)
            if mapped in right:
                return mapped
        return None

    def single(self, x: Part, y: Part) -> None:
        """A pair of one tensor each; x is A's."""
        side_a, side_b = Side((x,)), Side((y,))
        transform = None
        if self.undo:
            side_a, side_b, transform = self._undo(x, y)
        ta, tb = x.tensor, y.tensor
        logical_a = ta.shape[::-1] if side_a.parts[0].transposed else ta.shape
        logical_b = tb.shape[::-1] if side_b.parts[0].transposed else tb.shape
        self.result.pairs.append(
            PairSpec(
                a=ta.name,
                b=tb.name,
                side_a=side_a,
                side_b=side_b,
                transform=transform,
                shape_a=ta.shape,
                shape_b=tb.shape,
                dtype_a=ta.dtype,
                dtype_b=tb.dtype,
                module=_module_of(ta.name),
                comparable=logical_a == logical_b and ta.numel == tb.numel,
            )
        )

    def group(
        self,
        parts: list[Part],
        label: str,
        one: Part,
        transform: str,
        shape: tuple[int, ...],
        swap: bool,
    ) -> None:
        many = Side(tuple(parts))
        dtypes = sorted({p.tensor.dtype for p in parts})
        dtype = "/".join(dtypes)
        spec = PairSpec(
            a=label,
            b=one.tensor.name,
            side_a=many,
            side_b=Side((one,)),
            transform=transform,
            shape_a=shape,
            shape_b=one.tensor.shape,
            dtype_a=dtype,
            dtype_b=one.tensor.dtype,
            module=_module_of(parts[0].tensor.name),
            comparable=shape == one.tensor.shape,
        )
        if swap:
            spec = PairSpec(
                a=spec.b,
                b=spec.a,
                side_a=spec.side_b,
                side_b=spec.side_a,
                transform=transform,
                shape_a=spec.shape_b,
                shape_b=spec.shape_a,
                dtype_a=spec.dtype_b,
                dtype_b=spec.dtype_a,
                module=_module_of(one.tensor.name),
                comparable=spec.comparable,
            )
        self.result.pairs.append(spec)

    def _undo(self, x: Part, y: Part) -> tuple[Side, Side, str | None]:
        """Sides with the converter's layout changes undone, and what was undone."""
        a_gguf, b_gguf = self.a.format == "gguf", self.b.format == "gguf"
        side_x, side_y = Side((x,)), Side((y,))
        if a_gguf == b_gguf:
            return side_x, side_y, None
        g_ck, g, other = (self.b, y, x) if b_gguf else (self.a, x, y)
        arch = g_ck.metadata.get("general.architecture")
        name, t = g.tensor.name, g.tensor
        steps: tuple[Step, ...] = ()
        transform = None
        other_part, g_part = other, g
        if arch in PERMUTED_ARCHS and re.search(r"\.attn_[qk]\.(weight|bias)$", name):
            heads = _heads(g_ck, arch, kv=".attn_k." in name)
            rows = t.shape[0] if t.shape else 0
            if heads and rows % (2 * heads) == 0:
                cols = math.prod(t.shape[1:]) if len(t.shape) > 1 else 1
                steps = (Step("unpermute", heads=heads, rows=rows, cols=cols),)
                which = "K" if ".attn_k." in name else "Q"
                transform = f"unpermute {which} rows (llama.cpp rotary order, {heads} heads)"
        elif arch in NORM_PLUS_ONE_ARCHS and name.endswith("norm.weight"):
            steps = (Step("minus_one"),)
            transform = "norm weight − 1 (Gemma stores 1 + w)"
        elif (
            arch == "gpt2"
            and other.tensor.name.endswith(CONV1D_LEAVES)
            and len(t.shape) == 2
            and other.tensor.shape == t.shape[::-1]
        ):
            if _plain(other):
                other_part = Part(other.tensor, other.scheme, transposed=True)
            elif _plain(g):
                g_part = Part(g.tensor, g.scheme, transposed=True)
            transform = "transpose (GPT-2 Conv1D)"
        side_g = Side((g_part,), steps)
        side_o = Side((other_part,))
        return (side_o, side_g, transform) if b_gguf else (side_g, side_o, transform)


def _plain(part: Part) -> bool:
    source = part.tensor.source
    return part.scheme is None and source is not None and not source.encoding


def _heads(checkpoint: Checkpoint, arch: str, kv: bool) -> int:
    heads = checkpoint.metadata.get(f"{arch}.attention.head_count")
    if kv:
        heads = checkpoint.metadata.get(f"{arch}.attention.head_count_kv", heads)
    if isinstance(heads, list):  # per-layer counts (DeciLM): not handled here
        return 0
    return heads if isinstance(heads, int) and heads > 0 else 0


__all__ = ["Plan", "PairSpec", "TensorInfo", "plan", "strip_wrappers"]
