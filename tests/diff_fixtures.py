"""Real file pairs for the compare tests: a torch pair with known changes, a Llama-shaped
safetensors model and its GGUF conversion done here as llama.cpp's converter does it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

HIDDEN, HEADS, KV_HEADS, FF, VOCAB, LAYERS = 64, 4, 2, 96, 48, 2
HEAD_DIM = HIDDEN // HEADS


def torch_pair(folder: Path) -> tuple[Path, Path, dict, dict]:
    """A and B saved with torch.save: in B one layer is scaled by 1.01, one bias replaced, one
    tensor added, one removed and one stored in another dtype. Returns paths and both dicts."""
    import torch

    gen = torch.Generator().manual_seed(7)
    a = {
        "enc.0.weight": torch.randn(32, 16, generator=gen),
        "enc.0.bias": torch.randn(32, generator=gen),
        "enc.1.weight": torch.randn(24, 32, generator=gen),
        "enc.1.bias": torch.randn(24, generator=gen),
        "head.weight": torch.randn(8, 24, generator=gen),
        "head.bias": torch.randn(8, generator=gen),
        "emb.weight": torch.randn(40, 16, generator=gen),
    }
    b = {k: v.clone() for k, v in a.items()}
    b["enc.1.weight"] = a["enc.1.weight"] * 1.01
    b["enc.0.bias"] = torch.randn(32, generator=gen)
    b["extra.weight"] = torch.randn(4, 4, generator=gen)
    del b["head.bias"]
    b["emb.weight"] = a["emb.weight"].to(torch.bfloat16)
    path_a, path_b = folder / "a.pt", folder / "b.pt"
    torch.save(a, path_a)
    torch.save(b, path_b)
    return path_a, path_b, a, b


def llama_weights(seed: int = 3) -> dict[str, np.ndarray]:
    """Hugging Face Llama names and shapes (GQA: 4 heads, 2 KV heads), float32."""
    rng = np.random.default_rng(seed)

    def normal(*shape: int) -> np.ndarray:
        return (rng.standard_normal(shape) * 0.05).astype(np.float32)

    weights = {"model.embed_tokens.weight": normal(VOCAB, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}"
        weights[f"{p}.self_attn.q_proj.weight"] = normal(HEADS * HEAD_DIM, HIDDEN)
        weights[f"{p}.self_attn.k_proj.weight"] = normal(KV_HEADS * HEAD_DIM, HIDDEN)
        weights[f"{p}.self_attn.v_proj.weight"] = normal(KV_HEADS * HEAD_DIM, HIDDEN)
        weights[f"{p}.self_attn.o_proj.weight"] = normal(HIDDEN, HEADS * HEAD_DIM)
        weights[f"{p}.mlp.gate_proj.weight"] = normal(FF, HIDDEN)
        weights[f"{p}.mlp.up_proj.weight"] = normal(FF, HIDDEN)
        weights[f"{p}.mlp.down_proj.weight"] = normal(HIDDEN, FF)
        weights[f"{p}.input_layernorm.weight"] = 1 + normal(HIDDEN)
        weights[f"{p}.post_attention_layernorm.weight"] = 1 + normal(HIDDEN)
    weights["model.norm.weight"] = 1 + normal(HIDDEN)
    weights["lm_head.weight"] = normal(VOCAB, HIDDEN)
    return weights


def save_hf(folder: Path, weights: dict[str, np.ndarray], config: dict | None = None) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(folder / "model.safetensors"))
    config = config or {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": HIDDEN,
        "num_attention_heads": HEADS,
        "num_key_value_heads": KV_HEADS,
        "num_hidden_layers": LAYERS,
        "intermediate_size": FF,
        "vocab_size": VOCAB,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder / "model.safetensors"


def permute(w: np.ndarray, n_head: int, n_head_kv: int | None = None) -> np.ndarray:
    """llama.cpp's LlamaModel.permute (convert_hf_to_gguf.py), as it is written there."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (
        w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
        .swapaxes(1, 2)
        .reshape(w.shape)
    )


def convert_to_gguf(
    weights: dict[str, np.ndarray],
    path: Path,
    qtype: str = "F16",
    arch: str = "llama",
    plus_one_norms: bool = False,
    transpose: tuple[str, ...] = (),
) -> dict[str, np.ndarray]:
    """Write `weights` as llama.cpp's converter would: names through gguf-py's TensorNameMap,
    Q/K rows permuted (llama), Gemma norms + 1, listed tensors transposed; 2-D weights stored
    as `qtype` (F16 or Q8_0), 1-D as F32. Returns the values the GGUF holds, dequantised by
    gguf-py, by GGUF name."""
    import gguf
    from gguf import GGMLQuantizationType as T

    arch_id = {v: k for k, v in gguf.MODEL_ARCH_NAMES.items()}[arch]
    names = gguf.get_tensor_name_map(arch_id, LAYERS)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_block_count(LAYERS)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_embedding_length(HIDDEN)
    stored: dict[str, np.ndarray] = {}
    for hf_name, w in weights.items():
        name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
        assert name is not None, hf_name
        data = w
        if arch == "llama" and hf_name.endswith("q_proj.weight"):
            data = permute(data, HEADS, HEADS)
        if arch == "llama" and hf_name.endswith("k_proj.weight"):
            data = permute(data, HEADS, KV_HEADS)
        if plus_one_norms and hf_name.endswith("norm.weight"):
            data = data + 1
        if hf_name.endswith(transpose):
            data = np.ascontiguousarray(data.T)
        if data.ndim == 1:
            writer.add_tensor(name, data.astype(np.float32))
            stored[name] = data.astype(np.float32)
        elif qtype == "F16":
            half = data.astype(np.float16)
            writer.add_tensor(name, half)
            stored[name] = half.astype(np.float32)
        else:
            blocks = gguf.quants.quantize(data, T[qtype])
            writer.add_tensor(name, blocks, raw_shape=blocks.shape, raw_dtype=T[qtype])
            stored[name] = gguf.quants.dequantize(blocks, T[qtype]).reshape(data.shape)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return stored
