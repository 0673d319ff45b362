"""int8 weights beside their scales under any name: the integers are parameters, the scales and
zero points quantisation metadata (a category of their own, not parameters and not buffers),
matched to their weight by name and shape; "packed" only when dtype and shapes say so; a file that
states its parameter count is checked against ours.

Fixtures are real safetensors files laid out the way quantisers write them: `qweight` int8
[out, in] + `scale` [out] or [out, 1]; compressed-tensors' `weight` int8 + `weight_scale`
[out, 1]; group-wise `scales` [out, in / group]; `__metadata__` {"parameter_count": …}."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from test_stats_effective import BINS, assert_matches_numpy

from core.effective import effective_stats, scheme_for
from core.info import info_json, info_text
from core.open import open_checkpoint

ROOT = Path(__file__).resolve().parent.parent
LAYERS = {"encoder.fc1": (64, 32), "encoder.fc2": (48, 64), "head": (10, 48)}


def quantise_rows(real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric int8 per output channel, as torch.ao's per-channel observers do."""
    scale = real.abs().amax(dim=1) / 127
    return torch.round(real / scale[:, None]).to(torch.int8), scale


def qweight_file(path: Path, scale_shape: str = "out", stated: int | None = None) -> dict:
    gen = torch.Generator().manual_seed(0)
    state: dict[str, torch.Tensor] = {}
    for name, (out, inp) in LAYERS.items():
        stored, scale = quantise_rows(torch.randn(out, inp, generator=gen))
        state[f"{name}.qweight"] = stored
        state[f"{name}.scale"] = scale if scale_shape == "out" else scale[:, None].contiguous()
        state[f"{name}.bias"] = torch.randn(out, generator=gen)
    state["norm.weight"] = torch.ones(10)
    state["norm.bias"] = torch.zeros(10)
    params = sum(v.numel() for k, v in state.items() if not k.endswith(".scale"))
    metadata = {"parameter_count": str(params if stated is None else stated)}
    save_file(state, str(path), metadata=metadata)
    return state


@pytest.mark.parametrize("scale_shape", ["out", "out×1"])
def test_int8_qweight_with_scale_per_output_channel(tmp_path, scale_shape):
    path = tmp_path / "model.safetensors"
    state = qweight_file(path, scale_shape)
    ckpt = open_checkpoint(path)
    scales = sum(v.numel() for k, v in state.items() if k.endswith(".scale"))
    params = sum(v.numel() for k, v in state.items() if not k.endswith(".scale"))
    assert ckpt.totals.params == params == int(ckpt.metadata["parameter_count"])
    assert ckpt.totals.quant_state == scales
    assert ckpt.totals.buffers == 0
    assert ckpt.totals.categories["quantisation"] == scales
    for name in LAYERS:
        q = ckpt.tensor(f"{name}.qweight")
        assert (q.kind, q.role, q.is_parameter) == ("weight", "linear", True)
        s = ckpt.tensor(f"{name}.scale")
        assert (s.role, s.category, s.is_parameter, s.is_buffer) == (
            "quant",
            "quantisation",
            False,
            False,
        )
        assert ckpt.tensor(f"{name}.bias").role == "linear"
    assert ckpt.tensor("norm.weight").role == "norm"
    assert not any("pack" in w for w in ckpt.warnings), ckpt.warnings
    assert not any("parameter_count" in w for w in ckpt.warnings), ckpt.warnings
    assert "int8" in ckpt.facts["quantisation"] and "packed" not in ckpt.facts["quantisation"]
    # --effective: the scale beside it is found, and the values are stored × scale
    t = ckpt.tensor("encoder.fc2.qweight")
    scheme = scheme_for(ckpt, t)
    assert scheme is not None and scheme.supported, scheme
    assert scheme.scale.name == "encoder.fc2.scale"
    assert scheme.layout == "per output channel (48 scales)"
    scale = state["encoder.fc2.scale"].reshape(-1, 1).numpy().astype(np.float64)
    reference = state["encoder.fc2.qweight"].numpy().astype(np.float64) * scale
    assert_matches_numpy(effective_stats(ckpt, t, BINS), reference)


def test_tree_info_and_json_count_quantisation_metadata_apart(tmp_path):
    path = tmp_path / "model.safetensors"
    state = qweight_file(path)
    ckpt = open_checkpoint(path)
    fc1 = ckpt.tree.find("encoder.fc1")
    assert fc1.quant == 64 and fc1.buffer == 0
    assert fc1.params == 64 * 32 + 64
    assert ckpt.tree.quant == sum(v.numel() for k, v in state.items() if k.endswith(".scale"))
    document = info_json(ckpt)
    assert document["total_quant_state"] == ckpt.totals.quant_state
    assert document["tree"]["children"][0]["quant"] == 64 + 48
    text = info_text(ckpt)
    assert "quantisation" in text and "Quant" in text
    header = next(line for line in text.splitlines() if line.startswith("Layer"))
    assert header.split()[:8] == ["Layer", "Role", "Weights", "Biases", "Other", "Buffers"] + [
        "Quant",
        "Params",
    ]


def test_compressed_tensors_weight_and_weight_scale(tmp_path):
    """llm-compressor's int8 W8A8 layout: `weight` int8 [out, in], `weight_scale` [out, 1]."""
    gen = torch.Generator().manual_seed(1)
    state = {}
    for i in range(2):
        for proj, (out, inp) in {"q_proj": (32, 32), "up_proj": (64, 32)}.items():
            stored, scale = quantise_rows(torch.randn(out, inp, generator=gen))
            state[f"model.layers.{i}.{proj}.weight"] = stored
            state[f"model.layers.{i}.{proj}.weight_scale"] = scale[:, None].to(torch.bfloat16)
    state["model.embed_tokens.weight"] = torch.randn(100, 32, generator=gen)
    save_file(state, str(tmp_path / "model.safetensors"))
    config = {
        "quantization_config": {"quant_method": "compressed-tensors", "format": "int-quantized"}
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    ckpt = open_checkpoint(tmp_path / "model.safetensors")
    w = ckpt.tensor("model.layers.1.up_proj.weight")
    assert (w.role, w.is_parameter) == ("linear", True)
    assert ckpt.tensor("model.layers.1.up_proj.weight_scale").role == "quant"
    assert ckpt.totals.quant_state == 2 * (32 + 64)
    assert ckpt.totals.params == 2 * (32 * 32 + 64 * 32) + 100 * 32
    assert not any("pack" in warning for warning in ckpt.warnings)
    scheme = scheme_for(ckpt, w)
    assert scheme.supported and scheme.layout == "per output channel (64 scales)"


def test_group_wise_scales_are_matched_by_shape(tmp_path):
    """int8 `qweight` [out, in] with `scales` [out, in / 32]: per group of 32 input columns."""
    gen = torch.Generator().manual_seed(2)
    real = torch.randn(24, 96, generator=gen)
    groups = real.reshape(24, 3, 32).abs().amax(dim=2) / 127
    stored = torch.round(real / groups.repeat_interleave(32, dim=1)).to(torch.int8)
    save_file({"mlp.qweight": stored, "mlp.scales": groups}, str(tmp_path / "g.safetensors"))
    ckpt = open_checkpoint(tmp_path / "g.safetensors")
    assert ckpt.tensor("mlp.scales").role == "quant"
    assert ckpt.totals.params == 24 * 96
    scheme = scheme_for(ckpt, ckpt.tensor("mlp.qweight"))
    assert scheme.supported and scheme.layout == "per group of 32 input columns (72 scales)"
    reference = stored.numpy().astype(np.float64) * np.repeat(
        groups.numpy().astype(np.float64), 32, axis=1
    )
    assert_matches_numpy(effective_stats(ckpt, ckpt.tensor("mlp.qweight"), BINS), reference)


def test_a_norm_scale_beside_a_float_weight_stays_a_norm_scale(tmp_path):
    """`scale` is also what ONNX-style and T5-style norms call their weight: no integer weight
    beside it, no quantisation."""
    save_file(
        {"ln.scale": torch.ones(16), "ln.bias": torch.zeros(16), "fc.weight": torch.ones(16, 16)},
        str(tmp_path / "n.safetensors"),
    )
    ckpt = open_checkpoint(tmp_path / "n.safetensors")
    assert ckpt.tensor("ln.scale").role == "norm"
    assert ckpt.totals.quant_state == 0
    assert "quantisation" not in ckpt.facts


def test_a_scale_whose_shape_fits_no_weight_is_not_taken_for_one(tmp_path):
    """A generic `scale` [7] beside an int8 weight of 10×12 belongs to neither layout."""
    save_file(
        {"m.qweight": torch.zeros(10, 12, dtype=torch.int8), "m.scale": torch.ones(7)},
        str(tmp_path / "o.safetensors"),
    )
    ckpt = open_checkpoint(tmp_path / "o.safetensors")
    assert ckpt.tensor("m.qweight").is_parameter  # an int8 weight is a weight
    assert ckpt.tensor("m.scale").role != "quant"
    assert scheme_for(ckpt, ckpt.tensor("m.qweight")) is None


def test_stated_parameter_count_that_differs_is_a_warning(tmp_path):
    path = tmp_path / "model.safetensors"
    state = qweight_file(path, stated=85001)
    ckpt = open_checkpoint(path)
    params = sum(v.numel() for k, v in state.items() if not k.endswith(".scale"))
    found = [w for w in ckpt.warnings if "85,001" in w]
    assert found and f"{params:,}" in found[0], ckpt.warnings


def test_stated_count_matching_with_the_scales_says_so(tmp_path):
    path = tmp_path / "model.safetensors"
    state = qweight_file(path, stated=0)
    total = sum(v.numel() for v in state.values())
    qweight_file(path, stated=total)
    ckpt = open_checkpoint(path)
    found = [w for w in ckpt.warnings if f"{total:,}" in w]
    assert found and "scale" in found[0], ckpt.warnings


def test_gptq_int32_packing_is_said_only_when_shapes_show_it(tmp_path):
    """GPTQ: qweight int32 [in/8, out] with scales [in/group, out], g_idx [in]: eight per word."""
    out_features, in_features, group = 32, 64, 32
    state = {
        "l.qweight": torch.randint(-(2**31), 2**31 - 1, (in_features // 8, out_features)).int(),
        "l.qzeros": torch.zeros(in_features // group, out_features // 8, dtype=torch.int32),
        "l.scales": torch.rand(in_features // group, out_features).half(),
        "l.g_idx": torch.arange(in_features, dtype=torch.int32) // group,
    }
    save_file(state, str(tmp_path / "gptq.safetensors"))
    ckpt = open_checkpoint(tmp_path / "gptq.safetensors")
    assert any("8 values" in w and "l.qweight" not in w for w in ckpt.warnings), ckpt.warnings
    for leaf in ("qzeros", "scales", "g_idx"):
        assert ckpt.tensor(f"l.{leaf}").role == "quant", leaf
    scheme = scheme_for(ckpt, ckpt.tensor("l.qweight"))
    assert not scheme.supported and "GPTQ/AWQ packing" in scheme.problem


def test_cli_info_shows_quantisation_metadata(tmp_path):
    path = tmp_path / "model.safetensors"
    qweight_file(path)
    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "info", str(path), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert document["total_quant_state"] == 64 + 48 + 10
    assert document["categories"]["quantisation"] == 64 + 48 + 10


def test_awq_and_compressed_tensors_packing(tmp_path):
    """AWQ packs along columns (scales wider than the words); compressed-tensors' pack-quantized
    `weight_packed` [out, in/8] says its bits in config_groups."""
    out_features, in_features, group = 64, 128, 32
    awq = {
        "l.qweight": torch.zeros(in_features, out_features // 8, dtype=torch.int32),
        "l.qzeros": torch.zeros(in_features // group, out_features // 8, dtype=torch.int32),
        "l.scales": torch.rand(in_features // group, out_features).half(),
    }
    (tmp_path / "awq").mkdir()
    save_file(awq, str(tmp_path / "awq" / "model.safetensors"))
    ckpt = open_checkpoint(tmp_path / "awq" / "model.safetensors")
    assert ckpt.facts["quantisation"].startswith("AWQ packed integers (1 weight, 4-bit)")
    assert any("packs 8 values per int32" in w for w in ckpt.warnings), ckpt.warnings

    packed = {
        "l.weight_packed": torch.zeros(out_features, in_features // 8, dtype=torch.int32),
        "l.weight_scale": torch.rand(out_features, in_features // group).half(),
        "l.weight_shape": torch.tensor([out_features, in_features]),
    }
    (tmp_path / "ct").mkdir()
    save_file(packed, str(tmp_path / "ct" / "model.safetensors"))
    config = {
        "quantization_config": {
            "quant_method": "compressed-tensors",
            "format": "pack-quantized",
            "config_groups": {"group_0": {"weights": {"num_bits": 4, "group_size": group}}},
        }
    }
    (tmp_path / "ct" / "config.json").write_text(json.dumps(config))
    ckpt = open_checkpoint(tmp_path / "ct" / "model.safetensors")
    assert ckpt.tensor("l.weight_packed").is_parameter
    assert {ckpt.tensor(n).role for n in ("l.weight_scale", "l.weight_shape")} == {"quant"}
    assert ckpt.facts["quantisation"].startswith("compressed-tensors packed integers")
    assert any("multiply by 8" in w for w in ckpt.warnings), ckpt.warnings
    assert not scheme_for(ckpt, ckpt.tensor("l.weight_packed")).supported


def test_activation_scales_are_not_taken_for_a_weights_scale(tmp_path):
    """A flat ONNX-style namespace: `x_scale` of an activation beside one int8 weight is not that
    weight's scale; the weight's own `<w>_scale` is."""
    stored, scale = quantise_rows(torch.randn(8, 16, generator=torch.Generator().manual_seed(3)))
    save_file(
        {
            "MatMul_W_quantized": stored,
            "MatMul_W_scale": scale,
            "x_scale": torch.tensor(0.5),
            "logit_scale": torch.tensor(4.6),  # CLIP's learned temperature: a parameter
        },
        str(tmp_path / "flat.safetensors"),
    )
    ckpt = open_checkpoint(tmp_path / "flat.safetensors")
    scheme = scheme_for(ckpt, ckpt.tensor("MatMul_W_quantized"))
    assert scheme.scale.name == "MatMul_W_scale" and scheme.supported
    assert ckpt.tensor("MatMul_W_scale").role == "quant"
    assert ckpt.tensor("logit_scale").is_parameter
    assert ckpt.totals.params == 8 * 16 + 2
