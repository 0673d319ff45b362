"""LoRA adapters and quantised safetensors: a PEFT-style folder made with torch and safetensors
shows rank, alpha, targets, base model and the adapter's share of a local base; LoRA pairs inside
a full checkpoint are measured against the rest of it; int8 and GPTQ-style weights count as
weights, their scales as quantisation metadata (neither parameters nor buffers), and scales turn
stored integers into torch's values."""

from __future__ import annotations

import json

import numpy as np
import torch
from format_fixtures import write_peft_adapter
from safetensors.torch import save_file
from torch import nn

from core import units
from core.adapters import effective_values, lora_modules, needs_base, relate_to_base, scale_for
from core.open import open_checkpoint


def test_peft_folder_facts_and_tree(tmp_path):
    written = write_peft_adapter(tmp_path / "adapter", rank=4, alpha=8)
    ckpt = open_checkpoint(tmp_path / "adapter")
    facts = ckpt.facts
    assert facts["adapter"] == "LoRA r=4 α=8 (scale 2)"
    assert facts["adapter targets"] == "q_proj, v_proj"
    assert facts["base model"] == "tiny-org/tiny-llama"
    assert facts["adapted modules"] == "4"
    total = sum(int(np.prod(s)) for s in written["tensors"].values())
    assert ckpt.totals.params == total
    assert facts["adapter params"] == units.count(total)  # no base on this disk: no share
    q = ckpt.tree.find("base_model.model.model.layers.0.self_attn.q_proj")
    assert sorted(q.children) == ["lora_A", "lora_B"]
    assert q.params == 4 * 32 + 32 * 4
    assert ckpt.hyperparams["adapter_config.json"]["r"] == 4


def test_share_of_a_local_base_model(tmp_path):
    base = nn.Sequential(nn.Linear(32, 32), nn.Linear(32, 32))
    (tmp_path / "base").mkdir()
    save_file(base.state_dict(), str(tmp_path / "base" / "model.safetensors"))
    write_peft_adapter(tmp_path / "adapter", rank=4, alpha=16)
    config_file = tmp_path / "adapter" / "adapter_config.json"
    config = json.loads(config_file.read_text())
    config["base_model_name_or_path"] = "../base"
    config_file.write_text(json.dumps(config))
    ckpt = open_checkpoint(tmp_path / "adapter" / "adapter_model.safetensors")
    adapter = ckpt.totals.params
    base_params = sum(p.numel() for p in base.parameters())
    expected = f"{units.percent(adapter, base_params)} % of the base model's"
    assert expected in ckpt.facts["adapter params"] and "local base" in ckpt.facts["adapter params"]
    assert ckpt.facts["adapter"] == "LoRA r=4 α=16 (scale 4)"


def llama_like_base(folder, width: int = 32, layers: int = 2):
    """Base weights named as a Hugging Face Llama names them, for the adapter fixture's modules."""
    folder.mkdir(parents=True)
    state = {"model.embed_tokens.weight": torch.randn(100, width)}
    for i in range(layers):
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            state[f"model.layers.{i}.self_attn.{proj}.weight"] = torch.randn(width, width)
    save_file(state, str(folder / "model.safetensors"))
    return sum(t.numel() for t in state.values())


def test_share_of_a_base_in_the_local_hugging_face_cache(tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    snapshot = cache / "models--tiny-org--tiny-llama" / "snapshots" / "0123abcd"
    base_params = llama_like_base(snapshot)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    write_peft_adapter(tmp_path / "adapter")  # names tiny-org/tiny-llama as its base
    ckpt = open_checkpoint(tmp_path / "adapter")
    adapter = ckpt.totals.params
    assert (
        f"{units.percent(adapter, base_params)} % of the base model's"
        in (ckpt.facts["adapter params"])
    )
    assert not needs_base(ckpt)


def test_share_of_a_base_opened_beside_the_adapter(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    base_params = llama_like_base(tmp_path / "llama-base")
    write_peft_adapter(tmp_path / "adapter")
    adapter = open_checkpoint(tmp_path / "adapter")
    base = open_checkpoint(tmp_path / "llama-base")
    unrelated = open_checkpoint(save_unrelated(tmp_path / "other.safetensors"))
    assert needs_base(adapter)

    assert not relate_to_base(adapter, unrelated)  # no q_proj/v_proj weights to adapt
    assert not relate_to_base(adapter, adapter)
    assert relate_to_base(adapter, base)
    share = units.percent(adapter.totals.params, base_params)
    assert f"{share} % of the base model's" in adapter.facts["adapter params"]
    assert "(base llama-base)" in adapter.facts["adapter params"]
    assert not needs_base(adapter) and not relate_to_base(adapter, base)


def save_unrelated(path):
    save_file({"encoder.0.weight": torch.randn(4, 4)}, str(path))
    return path


def test_lora_pairs_inside_a_full_checkpoint(tmp_path):
    state = {
        "encoder.0.weight": torch.randn(64, 64),
        "encoder.0.bias": torch.randn(64),
        "encoder.0.lora_A.weight": torch.randn(8, 64),
        "encoder.0.lora_B.weight": torch.zeros(64, 8),
        "encoder.1.weight": torch.randn(64, 64),
    }
    path = tmp_path / "merged.safetensors"
    save_file(state, str(path))
    ckpt = open_checkpoint(path)
    assert ckpt.facts["adapter"] == "LoRA r=8"
    assert ckpt.facts["adapter targets"] == "0"
    adapter = 8 * 64 * 2
    base_params = 64 * 64 * 2 + 64
    assert ckpt.facts["adapter params"].startswith(units.count(adapter))
    assert f"{units.percent(adapter, base_params)} %" in ckpt.facts["adapter params"]
    assert set(lora_modules(ckpt.tensors)) == {"encoder.0"}


def test_no_adapter_no_facts(tmp_path):
    path = tmp_path / "plain.safetensors"
    save_file({"fc.weight": torch.randn(4, 4)}, str(path))
    facts = open_checkpoint(path).facts
    assert "adapter" not in facts and "quantisation" not in facts


def test_int8_weights_with_scales(tmp_path):
    weight = torch.randn(16, 32)
    scale = weight.abs().amax(dim=1, keepdim=True) / 127
    stored = torch.round(weight / scale).to(torch.int8)
    state = {
        "mlp.fc.weight": stored,
        "mlp.fc.weight_scale": scale.squeeze(1),
        "mlp.fc.input_scale": torch.tensor(0.5),
        "mlp.fc.bias": torch.randn(16),
    }
    path = tmp_path / "int8.safetensors"
    save_file(state, str(path))
    ckpt = open_checkpoint(path)
    w = ckpt.tensor("mlp.fc.weight")
    assert (w.dtype, w.kind, w.role, w.is_parameter) == ("int8", "weight", "linear", True)
    assert ckpt.tensor("mlp.fc.weight_scale").role == "quant"
    assert ckpt.tensor("mlp.fc.input_scale").role == "quant"
    assert ckpt.totals.params == 16 * 32 + 16  # the scales are not weights
    assert ckpt.totals.quant_state == 16 + 1 and ckpt.totals.buffers == 0
    assert "scaled weights" in ckpt.facts["quantisation"]
    found = scale_for(ckpt, w)
    assert found.name == "mlp.fc.weight_scale"
    real = effective_values(stored.numpy(), state["mlp.fc.weight_scale"].numpy())
    np.testing.assert_allclose(real, (stored.float() * scale).numpy(), rtol=1e-6)
    assert np.abs(real - weight.numpy()).max() <= scale.max().item() / 2 + 1e-6


def test_group_and_block_scales():
    stored = np.arange(-32, 32, dtype=np.int8).reshape(4, 16)
    groups = np.array([[1.0, 2.0]] * 4, np.float32)  # 2 groups of 8 columns per row
    expected = stored.astype(np.float32) * np.repeat(groups, 8, axis=1)
    np.testing.assert_array_equal(effective_values(stored, groups), expected)
    blocks = np.array([[2.0]], np.float32)  # one block covering all, like weight_scale_inv
    np.testing.assert_array_equal(effective_values(stored, blocks), stored * 2.0)
    assert effective_values(stored.reshape(2, 2, 16), np.ones((3, 5))) is None
    zero = np.array([[3.0, -1.0]] * 4, np.float32)  # asymmetric groups: (q - zero) * scale
    expected = (stored - np.repeat(zero, 8, axis=1)) * np.repeat(groups, 8, axis=1)
    np.testing.assert_array_equal(effective_values(stored, groups, zero), expected)


def test_gptq_layout_counts_scales_as_quantisation_metadata(tmp_path):
    out_features, in_features, group = 32, 64, 32
    state = {
        "model.layers.0.mlp.up_proj.qweight": torch.randint(
            -(2**31), 2**31 - 1, (in_features // 8, out_features), dtype=torch.int32
        ),
        "model.layers.0.mlp.up_proj.qzeros": torch.zeros(
            in_features // group, out_features // 8, dtype=torch.int32
        ),
        "model.layers.0.mlp.up_proj.scales": torch.rand(in_features // group, out_features).half(),
        "model.layers.0.mlp.up_proj.g_idx": torch.arange(in_features, dtype=torch.int32) // group,
        "model.norm.weight": torch.ones(out_features),
    }
    save_file(state, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text(
        json.dumps({"quantization_config": {"quant_method": "gptq", "bits": 4}})
    )
    ckpt = open_checkpoint(tmp_path / "model.safetensors")
    qweight = ckpt.tensor("model.layers.0.mlp.up_proj.qweight")
    assert qweight.kind == "weight" and qweight.is_parameter
    for leaf in ("qzeros", "scales", "g_idx"):
        assert ckpt.tensor(f"model.layers.0.mlp.up_proj.{leaf}").role == "quant", leaf
    assert ckpt.totals.params == in_features // 8 * out_features + out_features
    assert ckpt.facts["quantisation"].startswith("GPTQ")
    assert any("multiply by 8" in w for w in ckpt.warnings)


def test_gguf_lora_adapter(tmp_path):
    import gguf

    path = tmp_path / "lora.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", 16.0)
    for i in range(2):
        writer.add_tensor(f"blk.{i}.attn_q.weight.lora_a", np.zeros((8, 64), np.float32))
        writer.add_tensor(f"blk.{i}.attn_q.weight.lora_b", np.zeros((64, 8), np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    ckpt = open_checkpoint(path)
    assert ckpt.facts["adapter"] == "LoRA r=8 α=16 (scale 2)"
    assert ckpt.facts["adapter targets"] == "attn_q"
    assert ckpt.facts["adapter params"] == units.count(2 * (8 * 64 + 64 * 8))


def test_onnx_dynamic_quantised_weights(tmp_path):
    """onnxruntime's quantize_dynamic layout: <w>_quantized int8, <w>_scale, <w>_zero_point."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    stored = np.arange(-64, 64, dtype=np.int8).reshape(8, 16)
    inits = [
        numpy_helper.from_array(stored, "fc.weight_quantized"),
        numpy_helper.from_array(np.array(0.02, np.float32), "fc.weight_scale"),
        numpy_helper.from_array(np.array(0, np.int8), "fc.weight_zero_point"),
        numpy_helper.from_array(np.zeros(16, np.float32), "fc.bias"),
    ]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "q",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        initializer=inits,
    )
    path = tmp_path / "q.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    ckpt = open_checkpoint(path)
    w = ckpt.tensor("fc.weight_quantized")
    assert (w.kind, w.role, w.is_parameter) == ("weight", "linear", True)
    assert ckpt.tensor("fc.weight_scale").role == "quant"
    assert ckpt.tensor("fc.weight_zero_point").role == "quant"
    assert ckpt.totals.params == 8 * 16 + 16
    real = effective_values(stored, np.array(0.02, np.float32))
    np.testing.assert_allclose(real, stored.astype(np.float32) * 0.02)


def test_kohya_and_dora_files_without_a_config_claim_no_base(tmp_path):
    """An adapter file alone holds no base model: no share is made up from its own scalars."""
    kohya = {}
    for block in range(2):
        module = f"lora_unet_down_blocks_{block}_attn1_to_q"
        kohya[f"{module}.lora_down.weight"] = torch.randn(4, 32)
        kohya[f"{module}.lora_up.weight"] = torch.zeros(32, 4)
        kohya[f"{module}.alpha"] = torch.tensor(8.0)  # kohya's α: a scalar per module
    save_file(kohya, str(tmp_path / "kohya.safetensors"))
    ckpt = open_checkpoint(tmp_path / "kohya.safetensors")
    assert ckpt.facts["adapter"] == "LoRA r=4 α=8 (scale 2)"
    assert ckpt.facts["adapter params"] == units.count(2 * (4 * 32 + 32 * 4))  # α not trained

    dora = {}
    for proj in ("q_proj", "v_proj"):
        module = f"base_model.model.model.layers.0.self_attn.{proj}"
        dora[f"{module}.lora_A.weight"] = torch.randn(4, 32)
        dora[f"{module}.lora_B.weight"] = torch.zeros(32, 4)
        dora[f"{module}.lora_magnitude_vector"] = torch.ones(32)
    save_file(dora, str(tmp_path / "dora.safetensors"))
    ckpt = open_checkpoint(tmp_path / "dora.safetensors")
    assert ckpt.facts["adapter"] == "DoRA r=4"
    assert ckpt.facts["adapter params"] == units.count(2 * (4 * 32 + 32 * 4 + 32))
