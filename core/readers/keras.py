"""Keras `.keras` archives and HDF5 weight files (`.h5`, `.weights.h5`, `.hdf5`) through h5py.

A `.keras` file is a zip of `metadata.json`, `config.json` (the model's architecture and compile
configuration: a hyperparameter source) and `model.weights.h5`. Keras 3 stores each layer's
variables as `layers/<snake_case class>[_n]/vars/<i>`; the config's layer list gives each its
layer's name and its class names the vars (a Dense layer's are kernel and bias). tf.keras (`save_weights`/`save` to .h5) stores
`<layer>/<layer>/kernel:0` with `layer_names`/`weight_names` attributes and, in a full save,
`model_config`/`training_config` attributes. Groups become the module tree either way.

Only headers are read. A contiguous (or single unfiltered chunk) dataset has one byte offset in
the HDF5 file (`dataset.id.get_offset()`); inside a `.keras` zip whose weights member is stored
uncompressed, its offset in the archive is the member's data offset plus that. Compressed or
chunked datasets are counted but get no data source (said in a warning).

h5py never runs in the calling process: `read` hands the work to a worker process
(`core.isolated`), because the HDF5 C library can segfault or hang on a damaged file.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from core.dtypes import DTYPES
from core.errors import CheckpointError
from core.model import DataSource, TensorInfo
from core.readers.base import ReadResult
from core.readers.zipmember import (
    MemberStream,
    first_member_name,
    member_data_offset,
    read_member,
)
from core.units import exact

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
ZIP_MAGIC = b"PK\x03\x04"
WEIGHTS_MEMBER = "model.weights.h5"
KERAS_MEMBERS = (b"metadata.json", b"config.json", WEIGHTS_MEMBER.encode())
MAX_JSON = 64 << 20
_BY_NUMPY = {d.numpy: d.name for d in DTYPES.values() if d.numpy}

# Keras 3 variable order per layer class (the order `build` creates them); optional ones (a
# config flag can drop them) are marked False. Used only when the number of stored vars agrees
# with all of them or with the required ones alone.
_KERNEL_BIAS = [("kernel", True), ("bias", False)]
_VAR_NAMES: dict[str, list[tuple[str, bool]]] = {
    "Dense": _KERNEL_BIAS,
    "EinsumDense": _KERNEL_BIAS,
    "Conv1D": _KERNEL_BIAS,
    "Conv2D": _KERNEL_BIAS,
    "Conv3D": _KERNEL_BIAS,
    "Conv1DTranspose": _KERNEL_BIAS,
    "Conv2DTranspose": _KERNEL_BIAS,
    "Conv3DTranspose": _KERNEL_BIAS,
    "DepthwiseConv1D": _KERNEL_BIAS,
    "DepthwiseConv2D": _KERNEL_BIAS,
    "SeparableConv1D": [("depthwise_kernel", True), ("pointwise_kernel", True), ("bias", False)],
    "SeparableConv2D": [("depthwise_kernel", True), ("pointwise_kernel", True), ("bias", False)],
    "Embedding": [("embeddings", True)],
    # LSTM/GRU/SimpleRNN (and ConvLSTM) cells: the same three, in the order `build` makes them
    "RNNCell": [("kernel", True), ("recurrent_kernel", True), ("bias", False)],
    "LayerNormalization": [("gamma", False), ("beta", False)],
    "GroupNormalization": [("gamma", False), ("beta", False)],
    "BatchNormalization": [
        ("gamma", False),
        ("beta", False),
        ("moving_mean", True),
        ("moving_variance", True),
    ],
}


def _snake(class_name: str) -> str:
    """Keras's `naming.to_snake_case`: the name a layer's weights get in `model.weights.h5`."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", class_name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


_BY_SNAKE = {_snake(name): name for name in _VAR_NAMES}
# layers that other layers own and file under their attribute name, not their class
# (MultiHeadAttention's EinsumDense projections, keras_hub's feed-forward and norm sublayers)
_BY_SNAKE.update(
    {
        "query_dense": "EinsumDense",
        "key_dense": "EinsumDense",
        "value_dense": "EinsumDense",
        "output_dense": "EinsumDense",
        "feedforward_intermediate_dense": "Dense",
        "feedforward_output_dense": "Dense",
        "self_attention_layer_norm": "LayerNormalization",
        "feedforward_layer_norm": "LayerNormalization",
        "cell": "RNNCell",  # a recurrent layer's `cell` (`layers/lstm/cell/vars/0`)
    }
)


class KerasReader:
    format = "keras"

    def match(self, path: Path, head: bytes) -> bool:
        if head[:8] == HDF5_MAGIC:
            return True
        return head[:4] == ZIP_MAGIC and _looks_like_keras(path, head)

    def read(self, path: Path) -> ReadResult:
        # h5py runs in a worker process: the HDF5 library can crash or hang on a damaged file
        from core import isolated

        return isolated.run(path, read_here, path, library="HDF5")


def read_here(path: Path) -> ReadResult:
    """The reader's work, in this process (the worker's side of `KerasReader.read`)."""
    try:
        with open(path, "rb") as f:
            magic = f.read(8)
    except OSError as error:
        raise CheckpointError(path, f"cannot read the file ({error.strerror or error})") from None
    if magic == HDF5_MAGIC:
        return _read_h5_file(path)
    return _read_keras_zip(path)


def _looks_like_keras(path: Path, head: bytes) -> bool:
    first = first_member_name(head)
    if first is not None:
        if first in KERAS_MEMBERS:
            return True
        if first.endswith(b"data.pkl"):  # torch.save's first member
            return False
    try:
        with zipfile.ZipFile(path) as zf:
            return WEIGHTS_MEMBER in zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return False


@contextmanager
def _corrupt_h5(path: Path, what: str) -> Iterator[None]:
    """h5py reports a damaged file from deep inside (RuntimeError, KeyError…) and a zip member
    that fails its CRC as BadZipFile: one CheckpointError naming the file for all of them."""
    try:
        yield
    except CheckpointError:
        raise
    except (
        RuntimeError,
        KeyError,
        OSError,
        ValueError,
        TypeError,
        EOFError,
        NotImplementedError,
        zipfile.BadZipFile,
    ) as error:
        raise CheckpointError(path, f"{what} is damaged ({error})", "corrupt file") from None


def _open_h5(path: Path, source: Any, what: str):
    import h5py

    try:
        return h5py.File(source, "r")
    except (OSError, ValueError) as error:
        text = str(error)
        hint = "the file is truncated" if "truncated" in text or "eof" in text else "corrupt file"
        raise CheckpointError(path, f"{what} cannot be opened as HDF5 ({text})", hint) from None


def _read_h5_file(path: Path) -> ReadResult:
    size = path.stat().st_size
    with _open_h5(path, str(path), "the file") as h5, _corrupt_h5(path, "the HDF5 structure"):
        result = ReadResult(format="hdf5", files=[path], tensors=[])
        attrs = _attrs(h5)
        model_config = _json_attr(attrs.pop("model_config", None))
        training_config = _json_attr(attrs.pop("training_config", None))
        root = h5.get("model_weights", h5)
        # tf.keras marks its files with layer_names/keras_version; Keras 3 nests layers/<name>/vars
        keras = bool(model_config) or "layer_names" in root.attrs or "keras_version" in attrs
        keras = keras or "layers" in h5
        if keras:
            result.format = "keras"
            result.facts["container"] = "HDF5"
        _collect(path, h5, result, base=0, limit=size, config=model_config)
        result.metadata.update({k: v for k, v in attrs.items() if _plain(v)})
        if isinstance(model_config, dict):
            result.hyperparams["keras config"] = model_config
            _model_facts(result, model_config)
        if isinstance(training_config, dict):
            result.hyperparams["keras training_config"] = training_config
    return result


def _read_keras_zip(path: Path) -> ReadResult:
    size = path.stat().st_size
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, ValueError, NotImplementedError, EOFError, OSError) as error:
        raise CheckpointError(
            path, f"the .keras zip cannot be read ({error})", "the file is truncated or corrupt"
        ) from None
    result = ReadResult(format="keras", files=[path], tensors=[])
    result.facts["container"] = ".keras zip"
    with zf:
        names = zf.namelist()
        config = _zip_json(path, zf, "config.json") if "config.json" in names else None
        meta = _zip_json(path, zf, "metadata.json") if "metadata.json" in names else None
        if isinstance(meta, dict):
            result.metadata.update(meta)
            if meta.get("keras_version"):
                result.facts["keras"] = str(meta["keras_version"])
        if isinstance(config, dict):
            result.hyperparams["keras config"] = config
            _model_facts(result, config)
        if WEIGHTS_MEMBER not in names:
            other = "model.weights.npz" if "model.weights.npz" in names else ""
            result.warnings.append(
                f"the archive holds no {WEIGHTS_MEMBER}"
                + (f"; its {other} (weights_format='npz') is not read yet" if other else "")
            )
            return result
        member = zf.getinfo(WEIGHTS_MEMBER)
        stored = member.compress_type == zipfile.ZIP_STORED
        base = member_data_offset(path, zf.fp.fileno(), member, size) if stored else None
        try:
            # a stored member is read in place: zipfile's own stream re-reads from the member's
            # start on every backward seek, and HDF5 seeks back and forth through its metadata
            stream = _Window(path, base, member.file_size) if stored else MemberStream(path, member)
        except OSError as error:
            raise CheckpointError(path, f"{WEIGHTS_MEMBER} cannot be read ({error})") from None
        with (
            _corrupt_h5(path, WEIGHTS_MEMBER),
            stream,
            _open_h5(path, stream, WEIGHTS_MEMBER) as h5,
        ):
            limit = member.file_size
            _collect(path, h5, result, base=base, limit=limit, config=config)
        if not stored:
            result.warnings.append(
                f"{WEIGHTS_MEMBER} is compressed inside the archive: counts are shown, "
                "statistics are not available"
            )
    return result


class _Window(io.RawIOBase):
    """A read-only file object over bytes [start, start + length) of a file: one zip member."""

    def __init__(self, path: Path, start: int, length: int) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 — closed in close()
        self._start, self._length, self._pos = start, length, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._length}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        n = max(0, min(len(view), self._length - self._pos))
        self._file.seek(self._start + self._pos)
        got = self._file.readinto(view[:n])
        self._pos += got
        return got

    def close(self) -> None:
        self._file.close()
        super().close()


def _zip_json(path: Path, zf: zipfile.ZipFile, name: str) -> Any:
    info = zf.getinfo(name)
    if info.file_size > MAX_JSON:
        raise CheckpointError(path, f"{name} is larger than 64 MiB", "not a Keras archive")
    try:
        return json.loads(read_member(path, info))  # never more than its declared size
    except (OSError, ValueError) as error:
        raise CheckpointError(path, f"{name} cannot be read ({error})", "corrupt archive") from None


def _collect(
    path: Path, h5: Any, result: ReadResult, base: int | None, limit: int, config: Any
) -> None:
    """Every numeric dataset as a tensor; `base` is where the HDF5 bytes start in `path` (None:
    they are not plain bytes there), `limit` the HDF5 image's size."""
    import h5py

    datasets: list[tuple[str, Any]] = []

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            datasets.append((name, obj))

    h5.visititems(visit)
    renames = _keras3_names([name for name, _ in datasets], config)
    # HDF5 lists groups alphabetically; the model's own layer order reads better
    layer_order = {key: i for i, key in enumerate(_config_paths(config))}
    datasets.sort(key=lambda item: _layer_rank(item[0], layer_order))
    unlocated = skipped = 0
    for name, ds in datasets:
        info = _tensor(path, renames.get(name, name), ds)
        if info is None:
            skipped += 1
            continue
        result.tensors.append(info)
        if base is None or ds.dtype.byteorder == ">":  # statistics read little-endian only
            continue
        offset = _data_offset(ds)
        if offset is None:
            unlocated += 1
            continue
        if offset + info.nbytes > limit:
            raise CheckpointError(
                path,
                f"dataset {name!r} ends at byte {exact(offset + info.nbytes)} "
                f"but the HDF5 data ends at {exact(limit)}",
                "the file is truncated",
            )
        info.source = DataSource(file=path, offset=base + offset, nbytes=info.nbytes)
    if unlocated and base is not None:
        result.warnings.append(
            f"{unlocated} datasets are chunked or compressed: counted, statistics not available"
        )
    if skipped:
        result.warnings.append(f"{skipped} non-numeric datasets (strings, records) are not shown")


def _tensor(path: Path, name: str, ds: Any) -> TensorInfo | None:
    dt = ds.dtype
    if dt.names is not None or dt.subdtype is not None or dt.kind in "OSUVM":
        return None
    key = dt.newbyteorder("<").str if dt.itemsize > 1 else dt.str
    canonical = _BY_NUMPY.get(key)
    if canonical is None or ds.shape is None:
        return None
    numel = 1
    for d in ds.shape:
        numel *= d
    return TensorInfo(
        name=_dotted(name),
        shape=tuple(ds.shape),
        dtype=canonical,
        numel=numel,
        nbytes=numel * dt.itemsize,
        source=None,
        section=section_of(name),
    )


def section_of(name: str) -> str:
    first = name.split("/", 1)[0]
    return "optimizer" if first in ("optimizer", "optimizer_weights") else "model"


def _dotted(name: str) -> str:
    # tf.keras names end in ":0" and a full save nests the weights in model_weights/
    parts = [p.removesuffix(":0") for p in name.split("/")]
    if parts[0] == "model_weights" and len(parts) > 1:
        parts = parts[1:]
    if len(parts) > 2 and parts[0] == parts[1]:  # tf.keras: <layer>/<layer>/kernel:0
        parts = parts[1:]
    return ".".join(parts)


def _data_offset(ds: Any) -> int | None:
    """The dataset's byte offset in its HDF5 image, when its elements lie there as one run."""
    offset = ds.id.get_offset()
    if offset is not None:
        return offset
    if ds.chunks is None or tuple(ds.chunks) != tuple(ds.shape) or ds.compression:
        return None
    try:
        if ds.id.get_num_chunks() != 1:
            return None
        chunk = ds.id.get_chunk_info(0)
    except (RuntimeError, ValueError, OSError):
        return None
    filtered = chunk.filter_mask != 0 or ds.id.get_create_plist().get_nfilters()
    return None if filtered else chunk.byte_offset


def _keras3_names(names: list[str], config: Any) -> dict[str, str]:
    """h5 dataset path → display path for Keras 3 weights.

    Keras 3 files a layer's variables under `layers/<snake_case class>[_n]/vars/<i>`, numbering
    layers of one class in the model's order (`dense`, `dense_1`), not by the layer's name. The
    config's layer list, in the same order, gives each path its layer's own name; the class says
    what var 0, 1, … are (a Dense layer's are kernel and bias)."""
    layer_names = _config_paths(config)
    groups: dict[str, list[str]] = {}
    for name in names:
        group, _, index = name.rpartition("/")
        if (group == "vars" or group.endswith("/vars")) and index.isdigit():
            groups.setdefault(group, []).append(name)
    renames: dict[str, str] = {}
    for group, members in groups.items():
        layer = group.removesuffix("vars").rstrip("/")
        members.sort(key=lambda n: int(n.rpartition("/")[2]))
        snake = re.sub(r"_\d+$", "", layer.rpartition("/")[2].lstrip("_"))
        variables = _VAR_NAMES.get(_BY_SNAKE.get(snake, ""), [])
        wanted = [var for var, _ in variables]
        if len(wanted) != len(members):
            wanted = [var for var, required in variables if required]
        shown = _shown_layer(layer, layer_names)
        if len(wanted) == len(members):
            renames.update({n: f"{shown}/{v}" for n, v in zip(members, wanted, strict=True)})
        elif shown != layer:
            renames.update({n: f"{shown}/vars/{n.rpartition('/')[2]}" for n in members})
    return renames


def _layer_rank(name: str, layer_order: dict[str, int]) -> int:
    parts = name.split("/")
    for cut in range(len(parts) - 1, 0, -1):
        rank = layer_order.get("/".join(parts[:cut]))
        if rank is not None:
            return rank
    return len(layer_order)


def _shown_layer(layer: str, layer_names: dict[str, str]) -> str:
    """`layers/dense_1` → `layers/decoder` when the config names that layer; deepest match."""
    parts = layer.split("/")
    for cut in range(len(parts), 0, -1):
        named = layer_names.get("/".join(parts[:cut]))
        if named:
            return "/".join([named, *parts[cut:]])
    return layer


def _config_paths(config: Any) -> dict[str, str]:
    """`layers/dense_1` → that layer's display path (`layers/decoder`), nested models included."""
    found: dict[str, str] = {}

    def walk(layers: Any, path: str, shown: str) -> None:
        if not isinstance(layers, list):
            return
        counters: dict[str, int] = {}
        for layer in layers:
            if not isinstance(layer, dict) or not isinstance(layer.get("class_name"), str):
                continue
            snake = _snake(layer["class_name"])
            n = counters.get(snake, -1) + 1
            counters[snake] = n
            key = f"{path}/{snake}" + (f"_{n}" if n else "")
            inner = layer.get("config") if isinstance(layer.get("config"), dict) else {}
            name = inner.get("name")
            here = f"{shown}/{name}" if isinstance(name, str) and name else key
            found[key] = here
            walk(inner.get("layers"), f"{key}/layers", f"{here}/layers")

    if isinstance(config, dict) and isinstance(config.get("config"), dict):
        walk(config["config"].get("layers"), "layers", "layers")
    return found


def _layer_classes(config: Any) -> dict[str, str]:
    """Layer name → class name, from any depth of a Keras config."""
    found: dict[str, str] = {}
    stack = [config]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            inner = node.get("config")
            if isinstance(node.get("class_name"), str) and isinstance(inner, dict):
                name = inner.get("name")
                if isinstance(name, str):
                    found.setdefault(name, node["class_name"])
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


def _model_facts(result: ReadResult, config: dict) -> None:
    if isinstance(config.get("class_name"), str):
        result.facts["model"] = config["class_name"]
    layers = _layer_classes(config)
    if layers:
        result.facts["layers"] = str(len(layers) - (1 if config.get("class_name") else 0))


def _attrs(h5: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in h5.attrs:
        try:
            value = h5.attrs[key]
        except (OSError, TypeError, ValueError):
            continue
        if isinstance(value, bytes):
            value = value.decode("utf-8", errors="replace")
        elif hasattr(value, "tolist"):
            value = value.tolist()
        out[key] = value
    return out


def _json_attr(value: Any) -> Any:
    if isinstance(value, str) and value[:1] == "{":
        try:
            return json.loads(value)
        except ValueError:
            return None
    return None


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) or (
        isinstance(value, list) and len(value) <= 64 and all(_plain(v) for v in value)
    )
