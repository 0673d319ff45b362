"""Which files in a folder are alternative copies of one model, and which of them to open.

Hugging Face and export tools put several files of the same weights side by side:
`model.safetensors` beside `pytorch_model.bin`, an `fp16` or `int8` copy, an ONNX export (often in
`onnx/`). They are not shards (shards are named `-0000N-of-0000M` or listed in an index), so we
open the preferred one — safetensors before pickles, full precision before half and quantised
copies — and name the others. Files are judged alternatives only when their names say they are
the same model: the name without its variant words ("fp16", "int8", …) and framework prefixes
("pytorch_", "tf_", "flax_") is the same; anything else is a choice for the person to make.
"""

from __future__ import annotations

import re

# copies of the weights at another precision: fp32 names the full-precision file itself
_HALF = {"fp16", "float16", "half", "bf16", "bfloat16", "f16"}
_QUANTISED = {
    "int8",
    "uint8",
    "int4",
    "fp8",
    "q4",
    "q8",
    "q4f16",
    "8bit",
    "4bit",
    "quant",
    "quantized",
    "quantised",
    "qint8",
    "quint8",
    "awq",
    "gptq",
    "bnb",
    "nf4",
}
_FULL = {"fp32", "float32", "f32"}
_FRAMEWORK_PREFIXES = {"pytorch", "tf", "flax", "torch"}
# training state saved beside the weights by Trainer and Lightning: never the model
SIDE_STATE = {"training_args.bin", "optimizer.pt", "scheduler.pt", "scaler.pt", "rng_state.pth"}
# subfolders whose files are exports of the model in the folder above (Hugging Face layout)
EXPORT_SUBFOLDERS = ("onnx",)
# the order in which formats are preferred: the safest and most exact to read first
_FORMAT_ORDER = ("safetensors", "pytorch", "keras", "numpy", "gguf", "onnx")
_SHARD = re.compile(r"-\d+-of-\d+\.[^.]+$")
_WORD = re.compile(r"[._\-]+")


def is_shard(name: str) -> bool:
    """Named as one part of a split model (`model-00001-of-00003.safetensors`)."""
    return bool(_SHARD.search(name))


def is_side_state(name: str) -> bool:
    return name in SIDE_STATE or name.startswith("rng_state")


def _words(name: str) -> list[str]:
    stem = name.rsplit(".", 1)[0] if "." in name else name
    return [w for w in _WORD.split(stem.lower()) if w]


def family(name: str) -> str:
    """The model a file name is a copy of: its words without variant words and framework
    prefixes ("pytorch_model.bin", "model.int8.safetensors" and "model.onnx" are all "model")."""
    words = [w for w in _words(name) if w not in _HALF | _QUANTISED | _FULL]
    return "_".join([w for w in words if w not in _FRAMEWORK_PREFIXES] or words)


def precision_rank(name: str) -> int:
    """0 full precision, 1 a half-precision copy, 2 a quantised copy (by the name's words)."""
    words = set(_words(name))
    if words & _QUANTISED:
        return 2
    if words & _HALF:
        return 1
    return 0


def preference(name: str, format: str, in_subfolder: bool) -> tuple:
    """Sort key: the file to open first. Full precision, then the safer format, then top level."""
    fmt = _FORMAT_ORDER.index(format) if format in _FORMAT_ORDER else len(_FORMAT_ORDER)
    return (precision_rank(name), fmt, in_subfolder, len(name), name)
