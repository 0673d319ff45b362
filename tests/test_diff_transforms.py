"""Undoing what converters do, each checked against a conversion performed here; int8 × scale,
stacked MoE experts, fused QKV, LoRA (base + adapter against a merged model), name maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.analysis.compare import compare
from core.open import open_checkpoint
from tests.diff_fixtures import HIDDEN, LAYERS, convert_to_gguf, llama_weights, save_hf
from tests.test_diff import by_a, check_figures, expected


def test_gguf_on_side_a_pairs_the_other_way(tmp_path: Path) -> None:
    weights = llama_weights()
    hf = save_hf(tmp_path / "hf", weights)
    convert_to_gguf(weights, tmp_path / "m.gguf", "F16")
    result = compare(open_checkpoint(tmp_path / "m.gguf"), open_checkpoint(hf.parent))
    pairs = by_a(result)
    k = pairs["blk.0.attn_k.weight"]
    assert k["b"] == "model.layers.0.self_attn.k_proj.weight"
    assert "unpermute K" in k["transform"] and k["cosine"] > 0.999
    assert not result.only_a and not result.only_b


def test_gemma_norms_plus_one(tmp_path: Path) -> None:
    weights = {k: v for k, v in llama_weights().items() if k != "lm_head.weight"}
    hf = save_hf(tmp_path / "hf", weights, {"model_type": "gemma"})
    stored = convert_to_gguf(weights, tmp_path / "g.gguf", "F16", arch="gemma", plus_one_norms=True)
    result = compare(open_checkpoint(hf.parent), open_checkpoint(tmp_path / "g.gguf"))
    pairs = by_a(result)
    norm = pairs["model.layers.1.input_layernorm.weight"]
    assert norm["transform"].startswith("norm weight − 1")
    # w + 1 stored in float32 rounds: what is left is that rounding, as numpy finds it
    check_figures(norm, expected(weights[norm["a"]], stored[norm["b"]].astype(np.float64) - 1))
    assert norm["rel"] < 1e-6
    # Q/K of Gemma are not permuted by its converter
    assert pairs["model.layers.0.self_attn.q_proj.weight"]["transform"] is None
    assert pairs["model.layers.0.self_attn.q_proj.weight"]["cosine"] > 0.999


def gpt2_weights() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(5)
    h = HIDDEN

    def normal(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    weights = {"wte.weight": normal(50, h), "wpe.weight": normal(32, h)}
    for i in range(LAYERS):
        p = f"h.{i}"
        weights |= {
            f"{p}.ln_1.weight": 1 + normal(h),
            f"{p}.ln_1.bias": normal(h),
            f"{p}.attn.c_attn.weight": normal(h, 3 * h),  # Conv1D: (in, out)
            f"{p}.attn.c_attn.bias": normal(3 * h),
            f"{p}.attn.c_proj.weight": normal(h, h),
            f"{p}.attn.c_proj.bias": normal(h),
            f"{p}.ln_2.weight": 1 + normal(h),
            f"{p}.ln_2.bias": normal(h),
            f"{p}.mlp.c_fc.weight": normal(h, 4 * h),
            f"{p}.mlp.c_fc.bias": normal(4 * h),
            f"{p}.mlp.c_proj.weight": normal(4 * h, h),
            f"{p}.mlp.c_proj.bias": normal(h),
        }
    weights |= {"ln_f.weight": 1 + normal(h), "ln_f.bias": normal(h)}
    return weights


def test_gpt2_conv1d_transposes(tmp_path: Path) -> None:
    weights = gpt2_weights()
    hf = save_hf(tmp_path / "hf", weights, {"model_type": "gpt2"})
    leaves = ("c_attn.weight", "c_proj.weight", "c_fc.weight")
    stored = convert_to_gguf(weights, tmp_path / "g.gguf", "F16", arch="gpt2", transpose=leaves)
    result = compare(open_checkpoint(hf.parent), open_checkpoint(tmp_path / "g.gguf"))
    pairs = by_a(result)
    assert not result.only_a and not result.only_b
    for name in ("h.0.attn.c_attn.weight", "h.1.attn.c_proj.weight", "h.0.mlp.c_proj.weight"):
        pair = pairs[name]
        assert pair["transform"] == "transpose (GPT-2 Conv1D)"
        check_figures(pair, expected(weights[name], stored[pair["b"]].T))
    assert pairs["h.0.attn.c_attn.bias"]["transform"] is None


def test_int8_with_scale_is_compared_by_its_values(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    rng = np.random.default_rng(2)
    w = rng.standard_normal((16, 32)).astype(np.float32)
    scale = (np.abs(w).max(axis=1) / 127).astype(np.float32)
    q = np.clip(np.rint(w / scale[:, None]), -127, 127).astype(np.int8)
    save_file({"lin.weight": w}, str(tmp_path / "a.safetensors"))
    save_file({"lin.weight": q, "lin.weight_scale": scale}, str(tmp_path / "b.safetensors"))
    result = compare(
        open_checkpoint(tmp_path / "a.safetensors"), open_checkpoint(tmp_path / "b.safetensors")
    )
    pair = by_a(result)["lin.weight"]
    assert not result.only_b  # the scale belongs to its weight
    check_figures(pair, expected(w, q.astype(np.float64) * scale.astype(np.float64)[:, None]))
    assert pair["status"] == "dtype"


def test_stacked_experts(tmp_path: Path) -> None:
    import torch

    gen = torch.Generator().manual_seed(4)
    experts = [torch.randn(12, 8, generator=gen) for _ in range(4)]
    a = {f"layers.0.mlp.experts.{i}.gate_proj.weight": e for i, e in enumerate(experts)}
    stacked = torch.stack(experts).clone()
    stacked[2] *= 1.01
    torch.save(a, tmp_path / "a.pt")
    torch.save({"layers.0.mlp.experts.gate_proj.weight": stacked}, tmp_path / "b.pt")
    result = compare(open_checkpoint(tmp_path / "a.pt"), open_checkpoint(tmp_path / "b.pt"))
    assert len(result.pairs) == 1 and not result.only_a and not result.only_b
    pair = result.pairs[0].to_json()
    assert pair["transform"] == "stack experts"
    assert pair["a"] == "layers.0.mlp.experts.{0..3}.gate_proj.weight"
    check_figures(pair, expected(torch.stack(experts).numpy(), stacked.numpy()))


def test_stacked_experts_in_gguf(tmp_path: Path) -> None:
    import gguf
    from safetensors.numpy import save_file

    rng = np.random.default_rng(8)
    experts = [rng.standard_normal((24, 16)).astype(np.float32) for _ in range(4)]
    save_file(
        {
            f"model.layers.0.block_sparse_moe.experts.{i}.w1.weight": e
            for i, e in enumerate(experts)
        },
        str(tmp_path / "a.safetensors"),
    )
    writer = gguf.GGUFWriter(str(tmp_path / "m.gguf"), "llama")
    writer.add_block_count(1)
    stacked = np.stack(experts).astype(np.float16)
    writer.add_tensor("blk.0.ffn_gate_exps.weight", stacked)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    result = compare(
        open_checkpoint(tmp_path / "a.safetensors"), open_checkpoint(tmp_path / "m.gguf")
    )
    assert [p.spec.b for p in result.pairs] == ["blk.0.ffn_gate_exps.weight"]
    check_figures(result.pairs[0].to_json(), expected(np.stack(experts), stacked))


def test_fused_qkv(tmp_path: Path) -> None:
    import torch

    gen = torch.Generator().manual_seed(9)
    q, k, v = (torch.randn(n, 16, generator=gen) for n in (16, 8, 8))
    a = {"attn.q_proj.weight": q, "attn.k_proj.weight": k, "attn.v_proj.weight": v}
    fused = torch.cat([q, k, v]).to(torch.float16)
    torch.save(a, tmp_path / "a.pt")
    torch.save({"attn.qkv_proj.weight": fused}, tmp_path / "b.pt")
    result = compare(open_checkpoint(tmp_path / "a.pt"), open_checkpoint(tmp_path / "b.pt"))
    assert len(result.pairs) == 1 and not result.only_a and not result.only_b
    pair = result.pairs[0].to_json()
    assert pair["transform"] == "fused QKV" and pair["shape_a"] == [32, 16]
    check_figures(pair, expected(torch.cat([q, k, v]).numpy(), fused.float().numpy()))


def test_map_file(tmp_path: Path) -> None:
    import torch

    w = torch.randn(4, 4)
    torch.save({"encoder.w": w}, tmp_path / "a.pt")
    torch.save({"renamed.weight": w * 2}, tmp_path / "b.pt")
    (tmp_path / "map.txt").write_text("# A  B\nencoder.w   renamed.weight\n")
    a, b = open_checkpoint(tmp_path / "a.pt"), open_checkpoint(tmp_path / "b.pt")
    assert not compare(a, b).pairs
    result = compare(a, b, mapping=str(tmp_path / "map.txt"))
    assert by_a(result)["encoder.w"]["rel"] == pytest.approx(1.0)


def write_adapter(folder: Path, base: dict[str, np.ndarray], rank: int, alpha: int) -> dict:
    """A PEFT LoRA adapter (adapter_model.safetensors + adapter_config.json) for q/v_proj."""
    from safetensors.numpy import save_file

    rng = np.random.default_rng(11)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {}
    for name, w in base.items():
        if name.endswith(("q_proj.weight", "v_proj.weight")):
            module = "base_model.model." + name.removesuffix(".weight")
            tensors[f"{module}.lora_A.weight"] = (
                rng.standard_normal((rank, w.shape[1])).astype(np.float32) * 0.1
            )
            tensors[f"{module}.lora_B.weight"] = (
                rng.standard_normal((w.shape[0], rank)).astype(np.float32) * 0.1
            )
    save_file(tensors, str(folder / "adapter_model.safetensors"))
    config = {
        "peft_type": "LORA",
        "r": rank,
        "lora_alpha": alpha,
        "target_modules": ["q_proj", "v_proj"],
    }
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return tensors


def test_lora_base_plus_adapter_against_merged(tmp_path: Path) -> None:
    from core.analysis.lora import impact

    base = llama_weights()
    save_hf(tmp_path / "base", base)
    rank, alpha = 4, 8
    lora = write_adapter(tmp_path / "adapter", base, rank, alpha)
    merged = dict(base)
    for name in base:
        module = "base_model.model." + name.removesuffix(".weight")
        if f"{module}.lora_A.weight" in lora:
            down = lora[f"{module}.lora_A.weight"].astype(np.float64)
            up = lora[f"{module}.lora_B.weight"].astype(np.float64)
            merged[name] = (base[name] + alpha / rank * up @ down).astype(np.float32)
    save_hf(tmp_path / "merged", merged)
    a, b = open_checkpoint(tmp_path / "base"), open_checkpoint(tmp_path / "merged")
    adapter = open_checkpoint(tmp_path / "adapter")
    plain = by_a(compare(a, b))
    assert plain["model.layers.0.self_attn.q_proj.weight"]["status"] == "changed"
    result = compare(a, b, adapter=adapter)
    pairs = by_a(result)
    q = pairs["model.layers.0.self_attn.q_proj.weight"]
    assert q["transform"] == "base + LoRA"
    module = "base_model.model.model.layers.0.self_attn.q_proj"
    applied = base[q["a"]] + alpha / rank * (
        lora[f"{module}.lora_B.weight"].astype(np.float64)
        @ lora[f"{module}.lora_A.weight"].astype(np.float64)
    )
    check_figures(q, expected(applied, merged[q["a"]]))
    assert q["rel"] < 1e-6  # only float32 rounding of the merge is left
    moved = {m.module: m for m in impact(a, adapter)}
    m = moved[module]
    delta = (
        alpha
        / rank
        * lora[f"{module}.lora_B.weight"].astype(np.float64)
        @ lora[f"{module}.lora_A.weight"].astype(np.float64)
    )
    assert m.ratio == pytest.approx(np.linalg.norm(delta) / np.linalg.norm(base[q["a"]]), rel=1e-7)
