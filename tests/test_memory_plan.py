"""The memory plan on real (sparse) checkpoints with the configs their families ship; every figure
is checked against its formula written out again here (docs/memory.md says where each comes from)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from core import memory_plan as mp
from core import open_checkpoint
from core.cli import main as cli_main
from tests.sparse_models import decoder_shapes, write_sparse_model

GIB = 1 << 30

LLAMA3_70B = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 8192,
    "intermediate_size": 28672,
    "num_hidden_layers": 80,
    "num_attention_heads": 64,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
    "max_position_embeddings": 8192,
    "torch_dtype": "bfloat16",
}


@pytest.fixture(scope="module")
def llama70b(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("llama3-70b")
    shapes = decoder_shapes(80, 8192, 64, 8, 128, 28672, 128256)
    return write_sparse_model(folder, shapes, LLAMA3_70B, shards=30)


def test_llama3_70b_kv_cache_is_2_5_gib_per_8k_sequence(llama70b: Path) -> None:
    ckpt = open_checkpoint(llama70b)
    plan = mp.plan(ckpt, mp.Options(context=8192, batch=1, kv="fp16"))
    kv = plan.kv_cache
    # 2 (K and V) × 80 layers × 8 KV heads × head_dim 128 × 8192 positions × 2 bytes
    assert kv.bytes == 2 * 80 * 8 * 128 * 8192 * 1 * 2 == int(2.5 * GIB)
    assert (kv.layers, kv.kv_heads, kv.head_dim, kv.sliding_layers) == (80, 8, 128, 0)
    # four sequences, int8 cache: linear in batch and in bytes per element
    four = mp.plan(ckpt, mp.Options(context=8192, batch=4, kv="int8")).kv_cache
    assert four.bytes == 2 * 80 * 8 * 128 * 8192 * 4 * 1


def test_llama3_70b_weights_and_adam_follow_accelerates_rule(llama70b: Path) -> None:
    """accelerate estimate-memory: "Total Size" is parameters × bytes of the dtype, and training
    with Adam is about 4× that (1× model, 1× gradients, 2× optimizer) — in fp32 ours is the same."""
    ckpt = open_checkpoint(llama70b)
    params = ckpt.totals.params
    shapes = decoder_shapes(80, 8192, 64, 8, 128, 28672, 128256)
    assert params == sum(math.prod(s) for _, s in shapes)
    for dtype, per in (("fp32", 4), ("bf16", 2), ("int8", 1), ("int4", 0.5)):
        assert mp.plan(ckpt, mp.Options(weights=dtype)).weights_bytes == int(params * per)
    assert mp.plan(ckpt).weights_bytes == ckpt.totals.param_bytes == 2 * params  # stored bf16
    fp32 = mp.plan(ckpt, mp.Options(weights="fp32", train="adamw")).training
    assert fp32 is not None
    accelerate_total = params * 4
    assert fp32.weights_bytes == accelerate_total
    assert fp32.gradients_bytes == accelerate_total
    assert fp32.optimizer_bytes == 2 * accelerate_total
    assert fp32.weights_bytes + fp32.gradients_bytes + fp32.optimizer_bytes == 4 * accelerate_total
    # mixed precision (ZeRO paper): 2Ψ weights + 2Ψ gradients + 12Ψ fp32 master, m and v
    mixed = mp.plan(ckpt, mp.Options(weights="bf16", train="adamw")).training
    assert (mixed.weights_bytes, mixed.gradients_bytes, mixed.optimizer_bytes) == (
        2 * params,
        2 * params,
        12 * params,
    )


def test_gguf_types_use_their_real_bits_per_weight(llama70b: Path) -> None:
    ckpt = open_checkpoint(llama70b)
    params = ckpt.totals.params
    # Q4_K: 256 weights in 144 bytes (gguf's GGML_QUANT_SIZES) = 4.5 bits; Q8_0: 32 in 34 = 8.5
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    for name in ("q4_k", "q8_0", "q6_k", "iq4_xs"):
        block, size = GGML_QUANT_SIZES[GGMLQuantizationType[name.upper()]]
        want = math.ceil(params * (size * 8 / block) / 8)
        assert mp.plan(ckpt, mp.Options(weights=name)).weights_bytes == want


def test_training_breakdowns_and_zero_stages(llama70b: Path) -> None:
    ckpt = open_checkpoint(llama70b)
    p = ckpt.totals.params
    h, layers, vocab, s, b = 8192, 80, 128256, 4096, 1

    def train(mode: str, **kw: object) -> mp.Training:
        result = mp.plan(ckpt, mp.Options(weights="bf16", train=mode, context=s, batch=b, **kw))
        assert result.training is not None
        return result.training

    assert train("sgd").optimizer_bytes == 4 * p + 4 * p  # master + momentum
    assert train("adamw8bit").optimizer_bytes == 4 * p + 2 * p + 4 * 2 * math.ceil(p / 2048)
    # Adafactor: a row and a column vector per matrix, every element of a vector, fp32
    shapes = decoder_shapes(80, 8192, 64, 8, 128, 28672, 128256)
    factored = sum(sh[0] + sh[1] if len(sh) == 2 else sh[0] for _, sh in shapes)
    assert train("adafactor").optimizer_bytes == 4 * p + 4 * factored
    # activations (Korthikanti et al.): 34·s·b·h a layer; checkpointed 2·s·b·h a layer + one layer
    logits = s * b * vocab * 4
    plain = train("adamw")
    assert plain.activations_bytes == layers * 34 * s * b * h + logits
    ckpt_act = train("adamw", checkpointing=True).activations_bytes
    assert ckpt_act == layers * 2 * s * b * h + 34 * s * b * h + logits
    # ZeRO across 8 GPUs, K = 12 bytes of optimizer state a parameter
    w, g, o = 2 * p, 2 * p, 12 * p
    act = plain.activations_bytes
    assert train("adamw", gpus=8, zero=0).per_gpu_bytes == w + g + o + act
    assert train("adamw", gpus=8, zero=1).per_gpu_bytes == w + g + math.ceil(o / 8) + act
    assert train("adamw", gpus=8, zero=2).per_gpu_bytes == w + math.ceil((g + o) / 8) + act
    assert train("adamw", gpus=8, zero=3).per_gpu_bytes == math.ceil((w + g + o) / 8) + act


def test_lora_rank_counts_r_times_in_plus_out_of_every_linear(llama70b: Path) -> None:
    ckpt = open_checkpoint(llama70b)
    r = 16
    per_layer = (
        r * (8192 + 8192)  # q_proj
        + 2 * r * (1024 + 8192)  # k_proj, v_proj
        + r * (8192 + 8192)  # o_proj
        + 2 * r * (28672 + 8192)  # gate, up
        + r * (8192 + 28672)  # down
    )
    lora = mp.plan(ckpt, mp.Options(weights="int4", train=f"lora:{r}")).training
    assert lora is not None and lora.trainable_params == 80 * per_layer
    assert lora.trainable_params < 0.01 * ckpt.totals.params  # "< 1 % of parameters"
    assert lora.weights_bytes == ckpt.totals.params // 2 + 4 * lora.trainable_params
    assert lora.gradients_bytes == 4 * lora.trainable_params
    assert lora.optimizer_bytes == 8 * lora.trainable_params


def test_qwen3_head_dim_comes_from_the_config(tmp_path: Path) -> None:
    """Qwen3-0.6B: hidden 1024, 16 heads, but head_dim 128 (hidden/heads would say 64)."""
    config = {
        "model_type": "qwen3",
        "hidden_size": 1024,
        "intermediate_size": 3072,
        "num_hidden_layers": 28,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "vocab_size": 151936,
        "sliding_window": None,
        "use_sliding_window": False,
    }
    folder = write_sparse_model(
        tmp_path / "qwen3", decoder_shapes(28, 1024, 16, 8, 128, 3072, 151936), config
    )
    kv = mp.plan(open_checkpoint(folder), mp.Options(context=32768, kv="bf16")).kv_cache
    assert kv.head_dim == 128 and kv.kv_heads == 8 and kv.layers == 28
    assert kv.bytes == 2 * 28 * 8 * 128 * 32768 * 2


GEMMA3_27B = {
    "architectures": ["Gemma3ForConditionalGeneration"],
    "model_type": "gemma3",
    "text_config": {
        "model_type": "gemma3_text",
        "hidden_size": 5376,
        "intermediate_size": 21504,
        "num_hidden_layers": 62,
        "num_attention_heads": 32,
        "num_key_value_heads": 16,
        "head_dim": 128,
        "sliding_window": 1024,
        "sliding_window_pattern": 6,
        "vocab_size": 262208,
    },
}


def test_gemma3_sliding_layers_hold_only_their_window(tmp_path: Path) -> None:
    text = GEMMA3_27B["text_config"]
    shapes = decoder_shapes(62, 5376, 32, 16, 128, 21504, 262208)
    folder = write_sparse_model(tmp_path / "gemma3", shapes, GEMMA3_27B, shards=4)
    ckpt = open_checkpoint(folder)
    kv = mp.plan(ckpt, mp.Options(context=131072, kv="bf16")).kv_cache
    full = [i for i in range(62) if (i + 1) % 6 == 0]  # layers 5, 11, …, 59: global attention
    assert (kv.layers, kv.sliding_layers, kv.window) == (len(full), 62 - len(full), 1024)
    per_position = 2 * text["num_key_value_heads"] * text["head_dim"] * 2
    assert kv.bytes == per_position * (len(full) * 131072 + (62 - len(full)) * 1024)
    # the newer spelling: an explicit list of layer types says the same
    listed = json.loads(json.dumps(GEMMA3_27B))
    del listed["text_config"]["sliding_window_pattern"]
    listed["text_config"]["layer_types"] = [
        "full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(62)
    ]
    (folder / "config.json").write_text(json.dumps(listed))
    again = mp.plan(open_checkpoint(folder), mp.Options(context=131072, kv="bf16")).kv_cache
    assert again.bytes == kv.bytes
    # a context shorter than the window: every layer holds the whole context
    short = mp.plan(ckpt, mp.Options(context=512, kv="bf16")).kv_cache
    assert short.bytes == per_position * 62 * 512


def test_gemma2_alternates_sliding_and_global_layers(tmp_path: Path) -> None:
    config = {
        "model_type": "gemma2",
        "hidden_size": 2304,
        "intermediate_size": 9216,
        "num_hidden_layers": 26,
        "num_attention_heads": 8,
        "num_key_value_heads": 4,
        "head_dim": 256,
        "sliding_window": 4096,
        "vocab_size": 256000,
    }
    folder = write_sparse_model(
        tmp_path / "gemma2", decoder_shapes(26, 2304, 8, 4, 256, 9216, 256000), config
    )
    kv = mp.plan(open_checkpoint(folder), mp.Options(context=8192)).kv_cache
    assert (kv.layers, kv.sliding_layers) == (13, 13)
    assert kv.bytes == 2 * 4 * 256 * 2 * (13 * 8192 + 13 * 4096)


def test_deepseek_v3_latent_attention_caches_rank_plus_rope(tmp_path: Path) -> None:
    config = {
        "model_type": "deepseek_v3",
        "hidden_size": 7168,
        "intermediate_size": 18432,
        "num_hidden_layers": 61,
        "num_attention_heads": 128,
        "num_key_value_heads": 128,
        "kv_lora_rank": 512,
        "q_lora_rank": 1536,
        "qk_rope_head_dim": 64,
        "qk_nope_head_dim": 128,
        "v_head_dim": 128,
        "vocab_size": 129280,
    }
    shapes = [("model.embed_tokens.weight", [129280, 7168])]
    for i in range(61):
        p = f"model.layers.{i}.self_attn"
        shapes += [
            (f"{p}.kv_a_proj_with_mqa.weight", [512 + 64, 7168]),
            (f"{p}.kv_b_proj.weight", [128 * (128 + 128), 512]),
        ]
    folder = write_sparse_model(tmp_path / "dsv3", shapes, config)
    kv = mp.plan(open_checkpoint(folder), mp.Options(context=163840, kv="bf16")).kv_cache
    assert kv.bytes == 61 * (512 + 64) * 163840 * 1 * 2
    # what the MHA formula would wrongly give: 2 × 61 × 128 heads × 192 × … — 85× more
    assert kv.bytes * 50 < 2 * 61 * 128 * 192 * 163840 * 2


def test_memory_cli_json_has_exactly_the_documented_keys(llama70b: Path, capsys) -> None:
    assert cli_main(["memory", str(llama70b), "--context", "8192", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {
        "params",
        "weights",
        "kv_cache",
        "activations_bytes",
        "overhead_bytes",
        "total_bytes",
        "training",
    }
    assert doc["training"] is None
    assert doc["kv_cache"] == {
        "dtype": "fp16",
        "bytes": int(2.5 * GIB),
        "layers": 80,
        "kv_heads": 8,
        "head_dim": 128,
        "context": 8192,
        "batch": 1,
    }
    assert doc["total_bytes"] == (
        doc["weights"]["bytes"]
        + doc["kv_cache"]["bytes"]
        + doc["activations_bytes"]
        + doc["overhead_bytes"]
    )
    argv = ["memory", str(llama70b), "--train", "adamw", "--gpus", "8", "--zero", "3", "--json"]
    assert cli_main([*argv, "--overhead", "1.5"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["overhead_bytes"] == 1_500_000_000
    t = doc["training"]
    assert set(t) == {
        "mode",
        "trainable_params",
        "weights_bytes",
        "gradients_bytes",
        "optimizer_bytes",
        "activations_bytes",
        "total_bytes",
        "per_gpu_bytes",
    }
    assert all(isinstance(v, int) for k, v in t.items() if k != "mode")
    assert t["total_bytes"] == (
        t["weights_bytes"]
        + t["gradients_bytes"]
        + t["optimizer_bytes"]
        + t["activations_bytes"]
        + doc["overhead_bytes"]
    )
    assert cli_main(["memory", str(llama70b), "--weights", "int3"]) == 2
    assert "unknown precision" in capsys.readouterr().err
    assert cli_main(["memory", str(llama70b), "--context", "8192", "--weights", "int4"]) == 0
    assert "fits on one 48 GB GPU at 8k context with int4 weights" in capsys.readouterr().out


def test_a_model_without_config_says_its_kv_cache_is_unknown(tmp_path: Path) -> None:
    folder = write_sparse_model(tmp_path / "bare", decoder_shapes(2, 64, 4, 2, 16, 128, 100), {})
    (folder / "config.json").unlink()
    plan = mp.plan(open_checkpoint(folder))
    assert plan.kv_cache.bytes == 0
    assert any("KV cache" in n and "unknown" in n for n in plan.notes)


def test_gguf_metadata_gives_the_attention_layout(tmp_path: Path) -> None:
    from tests.format_fixtures import GGUF_DIM, GGUF_VOCAB, write_gguf

    path = tmp_path / "tiny.gguf"
    write_gguf(path, layers=2)
    ckpt = open_checkpoint(path)
    plan = mp.plan(ckpt, mp.Options(context=1024, kv="q8_0"))
    kv = plan.kv_cache
    # no head_count_kv: every head keeps K and V; head_dim = embedding_length / head_count
    assert (kv.layers, kv.kv_heads, kv.head_dim) == (2, 4, GGUF_DIM // 4)
    assert kv.bytes == math.ceil(2 * 2 * 4 * (GGUF_DIM // 4) * 1024 * 8.5 / 8)
    assert plan.weights_bytes == ckpt.totals.param_bytes  # as stored: Q4_K, Q8_0, … blocks
    assert mp.model_shape(ckpt).vocab == GGUF_VOCAB
