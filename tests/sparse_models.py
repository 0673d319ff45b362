"""Huge models written cheaply: real safetensors headers with the data left as holes (sparse files),
and a config.json beside them, as the Hub serves them (as in benchmarks/open_sharded.py)."""

from __future__ import annotations

import json
import math
import struct
from pathlib import Path
from typing import Any

Shapes = list[tuple[str, list[int]]]


def write_sparse_safetensors(
    file: Path, shapes: Shapes, dtype: str = "BF16", width: int = 2
) -> int:
    """One file with these tensors' headers; returns the bytes of data it (sparsely) holds."""
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes:
        nbytes = width * math.prod(shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(file, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)
    return offset


def write_sparse_model(
    folder: Path, shapes: Shapes, config: dict[str, Any], shards: int = 1, dtype: str = "BF16"
) -> Path:
    """A Hub-style folder: `model.safetensors` or N shards + index, and config.json."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    if shards == 1:
        write_sparse_safetensors(folder / "model.safetensors", shapes, dtype)
        return folder
    weight_map: dict[str, str] = {}
    total = 0
    for s in range(shards):
        part = shapes[len(shapes) * s // shards : len(shapes) * (s + 1) // shards]
        name = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        total += write_sparse_safetensors(folder / name, part, dtype)
        weight_map.update((tensor, name) for tensor, _ in part)
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return folder


def decoder_shapes(
    layers: int, hidden: int, heads: int, kv_heads: int, head_dim: int, inter: int, vocab: int
) -> Shapes:
    """A Llama/Qwen/Gemma-style decoder's tensors with these sizes."""
    shapes: Shapes = [("model.embed_tokens.weight", [vocab, hidden])]
    for i in range(layers):
        p = f"model.layers.{i}"
        shapes += [
            (f"{p}.input_layernorm.weight", [hidden]),
            (f"{p}.self_attn.q_proj.weight", [heads * head_dim, hidden]),
            (f"{p}.self_attn.k_proj.weight", [kv_heads * head_dim, hidden]),
            (f"{p}.self_attn.v_proj.weight", [kv_heads * head_dim, hidden]),
            (f"{p}.self_attn.o_proj.weight", [hidden, heads * head_dim]),
            (f"{p}.post_attention_layernorm.weight", [hidden]),
            (f"{p}.mlp.gate_proj.weight", [inter, hidden]),
            (f"{p}.mlp.up_proj.weight", [inter, hidden]),
            (f"{p}.mlp.down_proj.weight", [hidden, inter]),
        ]
    shapes += [("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]
    return shapes


# A Llama-3-8B-shaped model: the config, and its tensors' shapes for a number of blocks.
LLAMA3_8B = {
    "model_type": "llama",
    "hidden_size": 4096,
    "intermediate_size": 14336,
    "num_hidden_layers": 32,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "vocab_size": 128256,
}


def llama3_8b_shapes(layers: int = 32) -> Shapes:
    return decoder_shapes(layers, 4096, 32, 8, 128, 14336, 128256)
