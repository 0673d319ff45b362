"""What the parameters cost in memory at common precisions, and for training with Adam."""

from __future__ import annotations

from core.model import TensorInfo, Totals

BYTES_PER_PARAM = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "int8": 1.0, "int4": 0.5}
# the same in bits, for exact integer sums: a crafted header's element count can pass float range
_BITS_PER_PARAM = {name: int(per * 8) for name, per in BYTES_PER_PARAM.items()}
# Adam in fp32: the weights, their gradients and the two moment estimates, 4 bytes each.
ADAM_BYTES_PER_PARAM = 16


def memory_table(totals: Totals) -> dict[str, int]:
    """Bytes of the parameters per precision, as stored, and for Adam training (activations aside)."""
    table = {name: totals.params * bits // 8 for name, bits in _BITS_PER_PARAM.items()}
    table["stored"] = totals.param_bytes
    table["adam_training"] = totals.params * ADAM_BYTES_PER_PARAM
    return table


def totals_of(tensors: list[TensorInfo]) -> Totals:
    totals = Totals(
        counts={"weight": 0, "bias": 0, "other": 0},
        roles={},
        categories={},
        dtypes={},
    )
    for t in tensors:
        totals.tensors += 1
        if t.tied_to is not None:
            totals.tied += 1
            continue
        totals.nbytes += t.nbytes
        if t.section == "optimizer":
            totals.optimizer_state += t.numel
            continue
        if t.section == "copy":
            totals.copies += t.numel
            continue
        if t.section == "training":
            totals.training_state += t.numel
            continue
        totals.roles[t.role] = totals.roles.get(t.role, 0) + t.numel
        totals.categories[t.category] = totals.categories.get(t.category, 0) + t.numel
        if t.is_buffer:
            totals.buffers += t.numel
            continue
        if t.is_quant_state:
            totals.quant_state += t.numel
            continue
        totals.params += t.numel
        totals.param_bytes += t.nbytes
        totals.counts[t.kind] += t.numel
        totals.dtypes[t.dtype] = totals.dtypes.get(t.dtype, 0) + t.numel
    return totals


MAX_ELEMENTS = 2**63 - 1  # no framework indexes a tensor with more: only a corrupt header says so


def impossible_counts(tensors: list[TensorInfo]) -> list[str]:
    """Warnings for tensors whose shape names more elements than any tensor can hold: the counts
    are shown as the file states them, and say so."""
    huge = [t for t in tensors if t.numel > MAX_ELEMENTS]
    if not huge:
        return []
    names = ", ".join(t.name for t in huge[:3]) + (
        f" and {len(huge) - 3} more" if len(huge) > 3 else ""
    )
    return [
        f"{names}: the shape names more elements than any tensor can hold (over 2^63); "
        "the counts are as the file states them, the header is corrupt or crafted"
    ]
