"""What a file of a format ParamScope does not read is, so the message names it.

A TensorFlow Lite model, a SavedModel, a Core ML model or an OpenVINO IR should not be told it
"matches no known format" or "is not an ONNX model, or corrupt": we name what it is and list what
ParamScope opens. Identification goes by content first (a magic number, a file structure); where a
format has no magic (raw weights beside their graph, protobufs) the name is a hint and the message
says "looks like". Nothing here reads more than a file's first and last bytes, and no message
quotes a file's raw bytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from core.errors import CheckpointError

OPENS = (
    "ParamScope opens safetensors, PyTorch (.pt .pth .bin .ckpt), GGUF, ONNX, "
    "NumPy (.npy .npz) and Keras (.keras .h5)"
)
# the footer of a LevelDB table (TensorFlow's checkpoint `.index` is one): 8 bytes, little-endian
LEVELDB_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")
TAIL_BYTES = 48  # a LevelDB footer is 48 bytes: two block handles, padding, the magic
MAX_MANIFEST = 1 << 20


@dataclass(frozen=True, slots=True)
class Foreign:
    """A format ParamScope recognises but does not read."""

    format: str  # "a TensorFlow Lite model"
    by_content: bool  # its content says so (a magic, a structure); False: only its name does
    hint: str = ""  # how to get something ParamScope reads, or which file goes with it
    # answered before the readers look: a folder's structure, or a name no other framework uses
    # on content of the right shape (a Core ML protobuf would otherwise pass for ONNX). Everything
    # else is asked only when no reader claims the file, so a real checkpoint is never misnamed.
    first: bool = False

    def error(self, path: Path) -> CheckpointError:
        what = f"this is {self.format}" if self.by_content else f"this looks like {self.format}"
        hint = f"{self.hint}; {OPENS}" if self.hint else OPENS
        return CheckpointError(path, f"{what}, a format ParamScope cannot read yet", hint)


def identify(path: Path, head: bytes) -> Foreign | None:
    """What the file or folder is, if it is a format ParamScope knows of but does not read."""
    try:
        if path.is_dir():
            return _folder(path)
        return _file(path, head)
    except OSError:
        return None


def _folder(folder: Path) -> Foreign | None:
    if (folder / "saved_model.pb").is_file() or (folder / "saved_model.pbtxt").is_file():
        return Foreign(
            "a TensorFlow SavedModel",
            (folder / "variables").is_dir(),
            "convert it to ONNX (tf2onnx) or save the weights with Keras to open them here",
            first=True,
        )
    if _coreml_manifest(folder / "Manifest.json"):
        return Foreign(
            "a Core ML package (.mlpackage)", True, "convert the source model instead", first=True
        )
    return None


def _file(path: Path, head: bytes) -> Foreign | None:
    name = path.name.lower()
    suffix = path.suffix.lower()
    if head[4:8] == b"TFL3":  # a FlatBuffer's file identifier sits after its root offset
        return Foreign("a TensorFlow Lite model", True, "open the model it was converted from")
    if b"ftrt" in (head[:4], head[4:8]):
        return Foreign(
            "a TensorRT engine",
            True,
            "an engine is compiled for one GPU; open the ONNX model it was built from",
        )
    if head.startswith(b"7767517"):
        return Foreign("an NCNN model description (.param)", True, _partner(path, ".bin"))
    if _openvino_xml(head):
        return Foreign("an OpenVINO IR model description", True, _partner(path, ".bin"))
    if suffix == ".index" and _leveldb_table(path):
        return Foreign(
            "a TensorFlow checkpoint index",
            True,
            "its weights lie in the .data-* files beside it",
        )
    if _msgpack_map(head):
        return Foreign(
            "a Flax checkpoint (msgpack)" if suffix == ".msgpack" else "a msgpack file (Flax)",
            True,
            "convert it with transformers' from_flax=True and save_pretrained",
        )
    return _by_name(path, name, suffix, head)


def _by_name(path: Path, name: str, suffix: str, head: bytes) -> Foreign | None:
    protobuf = _protobuf_start(head)
    if suffix == ".mlmodel" and protobuf:
        return Foreign("a Core ML model", False, "convert the source model instead", first=True)
    if name in ("saved_model.pb", "saved_model.pbtxt"):
        return Foreign(
            "the graph of a TensorFlow SavedModel",
            False,
            "convert the SavedModel folder to ONNX (tf2onnx) to open it here",
            first=True,
        )
    if suffix == ".pdmodel" and protobuf:
        return Foreign(
            "a PaddlePaddle program (.pdmodel)", False, "its weights are in .pdparams", first=True
        )
    if suffix == ".pdparams":
        # a pickle of arrays (by content, when it starts like one); the pickle reader is asked
        # first and may read it
        return Foreign(
            "a PaddlePaddle parameter file (.pdparams)",
            head[:1] == b"\x80",
            "convert the model to ONNX with paddle2onnx to open it here",
        )
    if suffix == ".caffemodel" and protobuf:
        return Foreign(
            "a Caffe model (.caffemodel)", False, "convert it to ONNX to open it here", first=True
        )
    if suffix == ".prototxt":
        return Foreign("a Caffe network description (.prototxt)", False)
    if suffix in (".engine", ".plan", ".trt"):
        return Foreign("a TensorRT engine", False)
    if suffix == ".tflite":
        return Foreign("a TensorFlow Lite model", False)
    if ".data-" in name and "-of-" in name:
        index = path.with_name(path.name.split(".data-")[0] + ".index")
        return Foreign(
            "the data of a TensorFlow checkpoint",
            False,
            f"its index is {index.name}" if index.is_file() else "",
        )
    if suffix == ".bin":
        return _weights_beside_description(path)
    return None


def _weights_beside_description(path: Path) -> Foreign | None:
    """Raw weights (`.bin`, no magic) named like an OpenVINO `.xml` or NCNN `.param` beside it."""
    for suffix, what in ((".xml", "OpenVINO"), (".param", "NCNN")):
        description = path.with_suffix(suffix)
        if description.is_file() and _file(description, _head(description)) is not None:
            return Foreign(
                f"the weights of an {what} model", False, f"its description is {description.name}"
            )
    return None


def _partner(path: Path, suffix: str) -> str:
    partner = path.with_suffix(suffix)
    return f"its weights are in {partner.name}" if partner.is_file() else ""


def _head(path: Path, n: int = 128) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


def _leveldb_table(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            size = f.seek(0, 2)
            if size < TAIL_BYTES:
                return False
            f.seek(size - 8)
            return f.read(8) == LEVELDB_MAGIC
    except OSError:
        return False


def _openvino_xml(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"<?xml"):
        text = text[text.find(b"?>") + 2 :].lstrip()
    return text.startswith(b"<net ") and b"version=" in text


def _coreml_manifest(manifest: Path) -> bool:
    try:
        if not manifest.is_file() or manifest.stat().st_size > MAX_MANIFEST:
            return False
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(data, dict) and "itemInfoEntries" in data and "fileFormatVersion" in data


def _msgpack_map(head: bytes) -> bool:
    """A msgpack map whose first key is a string (Flax writes a nested dict of parameters)."""
    if len(head) < 3:
        return False
    first = head[0]
    if 0x81 <= first <= 0x8F:  # fixmap with 1-15 entries
        key = 1
    elif first == 0xDE:  # map16
        key = 3
    elif first == 0xDF:  # map32
        key = 5
    else:
        return False
    if key >= len(head):
        return False
    tag = head[key]
    if 0xA1 <= tag <= 0xBF:  # fixstr
        text = head[key + 1 : key + 1 + (tag & 0x1F)]
    elif tag == 0xD9 and key + 1 < len(head):  # str8
        text = head[key + 2 : key + 2 + head[key + 1]]
    else:
        return False
    return bool(text) and all(32 <= b < 127 for b in text)


def _protobuf_start(head: bytes) -> bool:
    """Whether the bytes open like a protobuf message: a valid first tag (field 1-15, a varint or
    length-delimited wire type). Weak on its own; only used beside a framework's own suffix."""
    if not head:
        return False
    tag = head[0]
    return 1 <= tag >> 3 <= 15 and tag & 7 in (0, 2)


def describe_unknown(path: Path, head: bytes, named: str) -> CheckpointError:
    """The message for a file nobody recognises: what it seems to hold, never its bytes."""
    kind = "text" if head and all(b in b"\t\r\n" or 32 <= b < 127 for b in head) else "binary data"
    return CheckpointError(
        path,
        "not a checkpoint ParamScope can read",
        f"{named}it holds {kind} of no format ParamScope knows; {OPENS}",
    )
