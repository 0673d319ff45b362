"""LoRA: base + adapter compared against a merged model, and how much an adapter moves a layer.

PEFT stores, per adapted module, `lora_A` (r × in) and `lora_B` (out × r); the merged weight is
W + scale · B·A with scale = lora_alpha / r (lora_alpha / √r with `use_rslora`), read from the
adapter's adapter_config.json (core.adapters finds it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from core import adapters, stats
from core.analysis import sides
from core.analysis.pairing import Plan, strip_wrappers
from core.analysis.transforms import Step
from core.model import Checkpoint, TensorInfo


@dataclass(frozen=True, slots=True)
class LoraModule:
    module: str  # as the adapter names it (base_model.model.…q_proj)
    down: TensorInfo  # A: r × in
    up: TensorInfo  # B: out × r
    scale: float


def modules(adapter: Checkpoint) -> list[LoraModule]:
    config = adapters._adapter_config(adapter)
    found = []
    for module, pair in adapters.lora_modules(adapter.tensors).items():
        down, up = pair.get("down"), pair.get("up")
        if down is None or up is None or len(down.shape) != 2 or len(up.shape) != 2:
            continue
        rank = down.shape[0]
        alpha = config.get("lora_alpha", rank)
        pattern = config.get("alpha_pattern") or {}
        for key, value in pattern.items() if isinstance(pattern, dict) else ():
            if module.endswith(key):
                alpha = value
        if not isinstance(alpha, (int, float)) or rank <= 0:
            alpha = rank
        scale = alpha / math.sqrt(rank) if config.get("use_rslora") else alpha / rank
        found.append(LoraModule(module, down, up, float(scale)))
    return found


def attach(plan: Plan, adapter: Checkpoint) -> list[str]:
    """Add each adapted module's scale·B·A to side A of its weight's pair; returns warnings."""
    by_key = {}
    for index, spec in enumerate(plan.pairs):
        if len(spec.side_a.parts) == 1:
            by_key[strip_wrappers(spec.a)] = index
    missing = []
    for lora in modules(adapter):
        index = by_key.get(strip_wrappers(f"{lora.module}.weight"))
        if index is None:
            missing.append(lora.module)
            continue
        spec = plan.pairs[index]
        weight = spec.side_a.parts[0].tensor
        out, cols = lora.up.shape[0], lora.down.shape[1]
        if weight.shape != (out, cols):
            missing.append(lora.module)
            continue
        step = Step("lora", rows=out, cols=cols, down=lora.down, up=lora.up, scale=lora.scale)
        side = replace(spec.side_a, steps=(*spec.side_a.steps, step))
        transform = "base + LoRA" if spec.transform is None else f"{spec.transform}; base + LoRA"
        plan.pairs[index] = replace(spec, side_a=side, transform=transform)
    if missing:
        return [
            f"{len(missing)} adapted modules have no weight of their shape in A: "
            + ", ".join(missing[:5])
        ]
    return []


@dataclass(frozen=True, slots=True)
class Impact:
    module: str
    delta_norm: float  # ‖scale·B·A‖_F
    weight_norm: float | None  # ‖W‖_F of the base weight, if found
    ratio: float | None


def impact(base: Checkpoint, adapter: Checkpoint) -> list[Impact]:
    """Per adapted module, ‖scale·B·A‖_F / ‖W‖_F: how much the adapter moves that layer.

    ‖B·A‖²_F = Σ (BᵀB) ⊙ (A·Aᵀ), two r × r matrices: exact without forming B·A."""
    names = {strip_wrappers(t.name): t for t in base.tensors}
    found = []
    for lora in modules(adapter):
        down = sides.small_values(lora.down).reshape(lora.down.shape)
        up = sides.small_values(lora.up).reshape(lora.up.shape)
        squared = float(np.sum((up.T @ up) * (down @ down.T)))
        delta = abs(lora.scale) * math.sqrt(max(squared, 0.0))
        weight = names.get(strip_wrappers(f"{lora.module}.weight"))
        norm = None
        if weight is not None and stats.statistics_possible(weight):
            norm = stats.tensor_stats(weight, bins=1).l2
        ratio = delta / norm if norm else None
        found.append(Impact(lora.module, delta, norm, ratio))
    return found
