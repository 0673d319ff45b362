"""Facts about adapters and quantisation that no single reader sees: LoRA and quantised weights.

LoRA: a PEFT folder (`adapter_config.json` + `adapter_model.safetensors`) or `lora_A`/`lora_B`
(`lora_down`/`lora_up`, GGUF `lora_a`/`lora_b`) pairs inside any checkpoint. We report rank,
alpha, target modules and the base model, the adapter's parameters, and their share of the base
model's when the base size is known: from base weights in the same checkpoint, from a base
checkpoint on this disk that the config names (a local path, or a repository id already in the
local Hugging Face cache; nothing is looked up online), or from a base opened beside it.

Quantised safetensors: integer weights with scale tensors beside them (int8 + `weight_scale`,
`qweight` + `scale`, GPTQ/AWQ `qweight` + `scales`/`qzeros`, bitsandbytes `SCB`), matched by name
and shape in `core.quant_state`. `core.roles` counts the scales and zero points as quantisation
metadata, apart from the parameters; here we name the scheme, warn where stored words pack several
values, and `effective_values` turns stored integers into the values the model computes with.

A file that states its own parameter count (safetensors `__metadata__` `parameter_count`, an
index's `total_parameters`) is checked against ours: a difference is a warning with both numbers.
"""

from __future__ import annotations

import json
import os
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from core import remote, units
from core.model import Checkpoint, TensorInfo
from core.quant_state import QuantLink, quant_links

# the matrix pair's part of the name: "<module>.lora_A.weight", "<module>.lora_A.default.weight",
# kohya "<module>.lora_down.weight", GGUF "<module>.weight.lora_a"
_LORA = re.compile(r"^(?P<module>.+?)\.(?P<part>lora_[AB]|lora_down|lora_up|lora_a|lora_b)(\.|$)")
_DOWN = ("lora_A", "lora_down", "lora_a")
CONFIG_NAME = "adapter_config.json"
MAX_ALPHAS = 2000  # kohya α scalars read at open: a few bytes each
MAX_CONFIG = 1 << 20


def describe(checkpoint: Checkpoint) -> None:
    """Add adapter and quantisation facts (and warnings) to an opened checkpoint, in place."""
    _describe_lora(checkpoint)
    _describe_quantisation(checkpoint)
    _check_stated_count(checkpoint)


def lora_modules(tensors: list[TensorInfo]) -> dict[str, dict[str, TensorInfo]]:
    """Adapted module → {"down": A tensor, "up": B tensor} (either may be missing)."""
    modules: dict[str, dict[str, TensorInfo]] = {}
    for t in tensors:
        if "lora" not in t.name:
            continue
        found = _LORA.match(t.name)
        if not found or t.name.endswith(".alpha"):
            continue
        module = found["module"].removesuffix(".weight")
        side = "down" if found["part"] in _DOWN else "up"
        modules.setdefault(module, {})[side] = t
    return modules


def _describe_lora(checkpoint: Checkpoint) -> None:
    modules = lora_modules(checkpoint.tensors)
    config = _adapter_config(checkpoint)
    if not modules and not config:
        return
    facts = checkpoint.facts
    ranks = sorted({_rank(pair) for pair in modules.values()} - {0})
    rank = config.get("r") if isinstance(config.get("r"), int) else None
    alpha = config.get("lora_alpha")
    if alpha is None and not config:
        alpha = _stored_alpha(checkpoint, modules)  # kohya files keep α as a scalar per module
    label = str(config.get("peft_type") or "LoRA").replace("LORA", "LoRA")
    if not config and any(t.name.endswith(_DORA_MAGNITUDE) for t in checkpoint.tensors):
        label = "DoRA"
    shown_rank = rank if rank is not None else ("/".join(map(str, ranks)) if ranks else "?")
    text = f"{label} r={shown_rank}"
    if isinstance(alpha, (int, float)):
        text += f" α={_number(alpha)}"
        scale_rank = rank or (ranks[0] if len(ranks) == 1 else 0)
        if scale_rank:
            try:
                text += f" (scale {_number(alpha / scale_rank)})"
            except OverflowError:  # a 400-digit α: no float holds the scale
                text += " (scale beyond float range)"
    facts["adapter"] = text
    if rank is not None and ranks and ranks != [rank] and not config.get("rank_pattern"):
        checkpoint.warnings.append(
            f"adapter_config.json says r={rank} but the matrices have rank "
            + "/".join(map(str, ranks))
        )
    targets = config.get("target_modules")
    if isinstance(targets, list) and targets:
        facts["adapter targets"] = ", ".join(map(str, targets))
    elif isinstance(targets, str) and targets:
        facts["adapter targets"] = targets
    elif modules:
        leaves = sorted({m.rpartition(".")[2] for m in modules})
        facts["adapter targets"] = ", ".join(leaves)
    if modules:
        facts["adapted modules"] = str(len(modules))
    base_name = config.get("base_model_name_or_path")
    if isinstance(base_name, str) and base_name:
        facts["base model"] = base_name
    owned = [t for t in checkpoint.tensors if t.is_parameter and _adapter_owned(t.name)]
    adapter_params = sum(t.numel for t in owned if not t.name.endswith(".alpha"))
    if not adapter_params:
        return
    if config:
        # a PEFT adapter file: everything in it is trained (LoRA pairs and modules_to_save);
        # the base lies elsewhere, and only a local path in the config can tell its size
        adapter_params = checkpoint.totals.params
        base_params, where = _local_base_params(checkpoint, base_name), "local base"
    elif _holds_base_weights(checkpoint, modules):
        # LoRA pairs inside a full checkpoint: the rest of it is the base model
        base = checkpoint.totals.params - sum(t.numel for t in owned)
        base_params, where = base, "in this checkpoint"
    else:  # an adapter file without its config: the base is not here
        base_params, where = 0, ""
    facts["adapter params"] = _share_text(adapter_params, base_params, where)


_DORA_MAGNITUDE = "lora_magnitude_vector"
_OWNED_PART = re.compile(r"(^|\.)(lora_|dora_)")


def _adapter_owned(name: str) -> bool:
    """LoRA matrices, DoRA magnitudes, kohya α scalars: the adapter's tensors, not the base's."""
    return bool(_OWNED_PART.search(name)) or (name.endswith(".alpha") and "lora" in name)


def _holds_base_weights(checkpoint: Checkpoint, modules: dict[str, dict[str, TensorInfo]]) -> bool:
    """Whether the adapted modules' own weights are in the checkpoint too (a full model)."""
    return any(checkpoint.tensor(f"{module}.weight") is not None for module in modules)


def _stored_alpha(checkpoint: Checkpoint, modules: dict[str, dict[str, TensorInfo]]) -> Any:
    """α from kohya-style `<module>.alpha` scalars (a few bytes each): one value if all agree."""
    import numpy as np  # noqa: PLC0415 — numpy only when a kohya file needs it

    from core.decode import decode, storage_dtype  # noqa: PLC0415

    values = set()
    for module in list(modules)[:MAX_ALPHAS]:
        t = checkpoint.tensor(f"{module}.alpha")
        if t is None or t.numel != 1 or t.source is None or t.source.encoding:
            return None
        if remote.missing_bytes(t.source.file, t.source.offset, t.source.nbytes):
            return None  # a remote model's value is still on the server: unknown, not zero
        try:
            raw_type = storage_dtype(t.dtype)
            with open(t.source.file, "rb") as f:
                f.seek(t.source.offset)
                raw = f.read(raw_type.itemsize)
        except (KeyError, OSError):
            return None
        if len(raw) != raw_type.itemsize:
            return None
        values.add(float(decode(np.frombuffer(raw, raw_type), t.dtype)[0]))
    return values.pop() if len(values) == 1 else None


def _number(value: float) -> str:
    """α as a person writes it (8, 0.5, 1e+04); an int beyond float range by its magnitude."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**15:
        return units.count(value) if value.bit_length() > 1000 else f"{value:.3g}"
    return f"{value:g}"


def _share_text(adapter_params: int, base_params: int, where: str) -> str:
    text = units.count(adapter_params)
    if base_params:
        text += (
            f" = {units.percent(adapter_params, base_params)} % of the base model's "
            f"{units.count(base_params)} ({where})"
        )
    return text


def needs_base(checkpoint: Checkpoint) -> bool:
    """Whether this is an adapter whose share of its base is not known yet."""
    text = checkpoint.facts.get("adapter params")
    return bool(text) and "%" not in text


def relate_to_base(adapter: Checkpoint, base: Checkpoint) -> bool:
    """Measure an adapter against a base checkpoint opened beside it (another tab): the base must
    hold a weight for every module the adapter adapts, named as PEFT names them
    (`base_model.model.<module>`). Returns whether the adapter's facts changed."""
    if base is adapter or not needs_base(adapter) or lora_modules(base.tensors):
        return False
    modules = lora_modules(adapter.tensors)
    if not modules:
        return False
    names = {t.name for t in base.tensors}
    for module in modules:
        inner = module.removeprefix("base_model.model.")
        if not any(f"{name}.weight" in names for name in (inner, module, f"model.{inner}")):
            return False
    adapter.facts["adapter params"] = _share_text(
        adapter.totals.params, base.totals.params, f"base {base.name}"
    )
    return True


def _rank(pair: dict[str, TensorInfo]) -> int:
    down, up = pair.get("down"), pair.get("up")
    if down is not None and len(down.shape) >= 2:
        return down.shape[0]  # A is (r, in) in PyTorch order
    if up is not None and len(up.shape) >= 2:
        return up.shape[1]  # B is (out, r)
    return 0


def _adapter_config(checkpoint: Checkpoint) -> dict[str, Any]:
    found = checkpoint.hyperparams.get(CONFIG_NAME)
    if isinstance(found, dict):
        return found
    gguf = checkpoint.hyperparams.get("gguf metadata") or {}
    if gguf.get("general.type") == "adapter" or gguf.get("adapter.type") == "lora":
        # llama.cpp's convert_lora_to_gguf: adapter.type, adapter.lora.alpha
        config: dict[str, Any] = {"peft_type": "LORA"}
        if isinstance(gguf.get("adapter.lora.alpha"), (int, float)):
            config["lora_alpha"] = gguf["adapter.lora.alpha"]
        return config
    folder = checkpoint.path if checkpoint.path.is_dir() else checkpoint.path.parent
    return _read_json(folder / CONFIG_NAME)


def _read_json(file: Path) -> dict[str, Any]:
    try:
        if not file.is_file() or file.stat().st_size > MAX_CONFIG:
            return {}
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _local_base_params(checkpoint: Checkpoint, base_name: Any) -> int:
    """Parameters of the base model when the config names a checkpoint on this disk."""
    if not isinstance(base_name, str) or not base_name:
        return 0
    folder = checkpoint.path if checkpoint.path.is_dir() else checkpoint.path.parent
    candidate = Path(base_name).expanduser()
    if not candidate.is_absolute():
        candidate = folder / candidate
    try:
        if not candidate.exists():
            candidate = _hub_cache_snapshot(base_name) or candidate
        if not candidate.exists() or candidate.resolve() == checkpoint.path.resolve():
            return 0
    except OSError:
        return 0
    if _OPENING_BASE.get():
        # this is itself a base being measured: its own base does not matter, and two adapters
        # that name each other would otherwise open each other for ever
        return 0
    from core.errors import CheckpointError
    from core.open import open_checkpoint

    token = _OPENING_BASE.set(True)
    try:
        return open_checkpoint(candidate).totals.params
    except CheckpointError as error:
        checkpoint.warnings.append(f"the base model {base_name} could not be opened ({error})")
        return 0
    finally:
        _OPENING_BASE.reset(token)


_OPENING_BASE: ContextVar[bool] = ContextVar("opening_base", default=False)


def _hub_cache_snapshot(repo_id: str) -> Path | None:
    """The newest snapshot of a Hugging Face repository in the local hub cache, if the person has
    downloaded it before (`~/.cache/huggingface/hub/models--org--name/snapshots/<commit>`).
    Only the disk is read: nothing is fetched."""
    if repo_id.count("/") != 1 or repo_id.startswith((".", "/", "~")):
        return None
    cache = os.environ.get("HF_HUB_CACHE") or os.path.join(
        os.environ.get("HF_HOME") or os.path.join(Path.home(), ".cache", "huggingface"), "hub"
    )
    snapshots = Path(cache) / f"models--{repo_id.replace('/', '--')}" / "snapshots"
    try:
        found = [p for p in snapshots.iterdir() if p.is_dir()]
    except OSError:
        return None
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _describe_quantisation(checkpoint: Checkpoint) -> None:
    links = quant_links(checkpoint.tensors)
    metadata = [t for t in checkpoint.tensors if t.role == "quant"]
    if not metadata:
        return
    leaves = {t.name.rpartition(".")[2] for t in metadata}
    weights = [link for link in links.by_weight.values() if link.scale is not None]
    packed = [link for link in links.by_weight.values() if link.pack != 1]
    if packed:
        text = _describe_packing(checkpoint, packed, "g_idx" in leaves)
    elif "SCB" in leaves:
        text = f"bitsandbytes int8 ({_tensors(len(weights), 'weight')} with SCB scales)"
    elif weights:
        dtypes = sorted({link.weight.dtype for link in weights})
        text = (
            f"scaled weights ({_tensors(len(weights), '/'.join(dtypes) + ' weight')} with scales)"
        )
    else:
        text = f"quantisation metadata ({len(metadata)} tensors)"
    elements = sum(t.numel for t in metadata if t.is_quant_state)
    text += f"; {units.count(elements)} scale/zero-point elements counted apart from the parameters"
    checkpoint.facts["quantisation"] = text


def _describe_packing(checkpoint: Checkpoint, packed: list[QuantLink], g_idx: bool) -> str:
    """The scheme of weights whose stored words hold several values, and a warning saying so."""
    if any(link.weight.dtype == "uint8" for link in packed):
        bnb = any(o.name.endswith("absmax") for link in packed for o in link.others)
        scheme = "bitsandbytes 4-bit" if bnb else "4-bit in bytes"
    elif g_idx or all(link.packed_along == "rows" for link in packed):
        scheme = "GPTQ"
    elif any(link.weight.name.endswith("_packed") for link in packed):
        scheme = "compressed-tensors"
    else:
        scheme = "AWQ" if any(link.weight.name.endswith("qweight") for link in packed) else "int"
    bits = _quant_bits(checkpoint)
    factors = set()
    for link in packed:
        word = DTYPE_BITS.get(link.weight.dtype, 0)
        factors.add(link.pack or (word // bits if bits and word else 0))
    factor = factors.pop() if len(factors) == 1 else 0
    dtype = packed[0].weight.dtype
    text = f"{scheme} packed integers ({_tensors(len(packed), 'weight')}"
    text += f", {DTYPE_BITS.get(dtype, 0) // factor}-bit" if factor else ""
    text += ")"
    per = f"{factor} values" if factor else "several low-bit values"
    warning = (
        f"{_tensors(len(packed), 'quantised weight')} {'packs' if len(packed) == 1 else 'pack'} "
        f"{per} per {dtype} element: their "
        "counts are of the stored words"
    )
    checkpoint.warnings.append(
        warning + (f"; multiply by {factor} for the weights" if factor else "")
    )
    return text


def _tensors(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


DTYPE_BITS = {"int32": 32, "uint32": 32, "uint8": 8, "int16": 16}
STATED_COUNT_KEYS = (
    "parameter_count",
    "num_parameters",
    "total_parameters",
    "total_params",
    "n_params",
    "index.total_parameters",
)


def _check_stated_count(checkpoint: Checkpoint) -> None:
    """Warn when the file's own statement of its parameter count differs from ours."""
    for key in STATED_COUNT_KEYS:
        value = checkpoint.metadata.get(key)
        text = str(value).strip().replace(",", "").replace("_", "") if value is not None else ""
        if not text.isdigit() or isinstance(value, bool):
            continue
        stated, totals = int(text), checkpoint.totals
        if stated == totals.params:
            return
        warning = (
            f"the file states {units.exact(stated)} parameters ({key}) but ParamScope counts "
            f"{units.exact(totals.params)}"
        )
        if totals.quant_state and stated == totals.params + totals.quant_state:
            warning += (
                f": the file's number counts the {units.exact(totals.quant_state)} "
                "scale/zero-point elements as parameters too"
            )
        elif totals.buffers and stated == totals.params + totals.buffers:
            warning += (
                f": the file's number counts the {units.exact(totals.buffers)} buffer elements too"
            )
        checkpoint.warnings.append(warning)
        return


def _quant_bits(checkpoint: Checkpoint) -> int:
    for source in ("config.json", "quantize_config.json", "quant_config.json"):
        data = checkpoint.hyperparams.get(source) or {}
        config = data.get("quantization_config", data) if isinstance(data, dict) else {}
        bits = config.get("bits") or config.get("w_bit") if isinstance(config, dict) else None
        if isinstance(bits, int) and bits in (2, 3, 4, 8):
            return bits
        groups = config.get("config_groups") if isinstance(config, dict) else None
        for group in groups.values() if isinstance(groups, dict) else ():
            weights = group.get("weights") if isinstance(group, dict) else None
            bits = weights.get("num_bits") if isinstance(weights, dict) else None
            if isinstance(bits, int) and bits in (2, 3, 4, 8):
                return bits  # compressed-tensors: config_groups.<group>.weights.num_bits
    return 0


def scale_for(checkpoint: Checkpoint, weight: TensorInfo) -> TensorInfo | None:
    """The scale tensor that turns an integer weight's stored values into real ones, if any:
    matched to it by name and shape (`core.quant_state`)."""
    link = quant_links(checkpoint.tensors).by_weight.get(weight.name)
    return link.scale if link is not None else None


def effective_values(stored: Any, scale: Any, zero_point: Any = None) -> Any:
    """Real values of integer (or fp8) weights, (stored − zero point) × scale, with the scale
    (and zero point) per tensor (one value), per output channel (`out` or `out×1`), per group of
    input columns (`out × groups`) or per 2-D block (DeepSeek's `weight_scale_inv`, 128×128).
    None when the shapes do not say how the scale applies (GPTQ packing, bitsandbytes 4-bit)."""
    import numpy as np

    values = np.asarray(stored, dtype=np.float32)
    full_scale = _spread(np.asarray(scale, dtype=np.float32), values.shape)
    if full_scale is None:
        return None
    if zero_point is not None:
        full_zero = _spread(np.asarray(zero_point, dtype=np.float32), values.shape)
        if full_zero is None:
            return None
        values = values - full_zero
    return values * full_scale


def _spread(scale: Any, shape: tuple[int, ...]) -> Any:
    """`scale` repeated to broadcast over a weight of `shape`, or None if its shape does not fit."""
    import numpy as np

    if scale.size == 1:
        return scale.reshape(())
    if len(shape) != 2:
        return None
    rows, cols = shape
    if scale.shape in ((rows,), (rows, 1)):
        return scale.reshape(rows, 1)
    if scale.ndim == 2 and scale.shape[0] == rows and cols % scale.shape[1] == 0:
        return np.repeat(scale, cols // scale.shape[1], axis=1)
    if scale.ndim == 2 and 0 < scale.shape[0] <= rows and 0 < scale.shape[1] <= cols:
        block_r, block_c = -(-rows // scale.shape[0]), -(-cols // scale.shape[1])
        if -(-rows // block_r) == scale.shape[0] and -(-cols // block_c) == scale.shape[1]:
            full = np.repeat(np.repeat(scale, block_r, axis=0), block_c, axis=1)
            return full[:rows, :cols]
    return None
