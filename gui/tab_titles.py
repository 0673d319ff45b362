"""What a checkpoint's tab is called: the model's name, not its file's generic one.

A Hugging Face folder holds `model.safetensors`, `pytorch_model.bin`, shards like
`model-00001-of-00004.safetensors`: ten open models would all read "model". Such a file, and a
folder, take the folder's name (a hub cache's `models--org--name/snapshots/<hash>` takes
`name`); other files keep their own. Titles are shortened in the middle, where two runs of one
model differ least often; the tab's tooltip holds the full path.
"""

from __future__ import annotations

import re
from pathlib import Path

MAX_TITLE = 40  # characters; the tab bar scrolls rather than squeezing every title to "…"

_GENERIC = re.compile(
    r"^(?:model|pytorch_model|tf_model|flax_model|adapter_model|diffusion_pytorch_model|"
    r"consolidated|weights|params)"
    r"(?:[-.]\d{5}-of-\d{5}|\.\d+)?"  # shards: model-00001-of-00004, consolidated.00
    r"(?:\.safetensors|\.bin|\.pt|\.pth|\.h5|\.msgpack|\.ckpt|\.onnx|\.gguf)"
    r"(?:\.index\.json)?$",
    re.IGNORECASE,
)


def model_name(path: Path) -> str:
    """The name a person calls the model at `path` by."""
    if path.is_dir() or _GENERIC.match(path.name):
        folder = path if path.is_dir() else path.parent
        if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
            return folder.parent.parent.name.split("--")[-1]
        return folder.name or path.name
    return path.name


def elide_middle(text: str, limit: int = MAX_TITLE) -> str:
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def tab_title(path: Path) -> str:
    return elide_middle(model_name(path))
