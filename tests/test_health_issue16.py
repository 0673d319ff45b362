"""Issue 16 #8: health flags say something about each kind of tensor, not about a mixture, and
integer index constants are never "dead"."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from core import open_checkpoint, stats


def test_integer_index_constants_are_not_dead(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    tensors = {
        "token_type_ids": torch.zeros(1, 512, dtype=torch.int64),
        "mask": torch.ones(64, dtype=torch.bool),
        "gone.weight": torch.zeros(8, 8),
    }
    save_file(tensors, str(path))
    flags = {t.name: stats.tensor_stats(t).flags for t in open_checkpoint(path).tensors}
    assert flags == {"token_type_ids": [], "mask": [], "gone.weight": ["dead"]}


def test_a_module_mixing_norm_gains_and_weights_is_not_outliers(tmp_path: Path) -> None:
    generator = torch.Generator().manual_seed(1)
    path = tmp_path / "m.safetensors"
    tensors = {
        "block.linear.weight": torch.randn(512, 512, generator=generator) * 0.02,
        "block.norm.weight": 1 + 0.01 * torch.randn(512, generator=generator),
    }
    save_file(tensors, str(path))
    checkpoint = open_checkpoint(path)
    for t in checkpoint.tensors:
        assert stats.tensor_stats(t).flags == []
    assert stats.module_stats(checkpoint, "block").flags == []
    # a real outlier in one kind is still reported for the module
    spiky = tensors["block.linear.weight"].clone()
    spiky[3, 3] = 50.0
    save_file({**tensors, "block.linear.weight": spiky}, str(path))
    stats.clear_cache()
    assert stats.module_stats(open_checkpoint(path), "block").flags == ["outliers"]
