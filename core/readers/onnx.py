"""ONNX: initializers as tensors, located in the file or in external data files, without loading
their data; the producer, opset, IR version, operator counts and metadata_props.

An ONNX model is one protobuf message (ModelProto). `onnx.load` would parse all of it into
memory, the weights included; we walk the protobuf ourselves instead, reading tags and lengths and
skipping every payload we do not need, so a 2 GB model opens by touching its headers only. Each
initializer's `raw_data` (or packed `float_data` / `double_data`) is a run of little-endian
elements at a known place in the file, which becomes its DataSource; external data (`location`,
`offset`, `length`) is located in the side file beside the model. The tests check everything we
read against `onnx.load` and `onnx.numpy_helper`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from core.errors import CheckpointError
from core.fileread import FileBytes
from core.model import DataSource, TensorInfo
from core.readers.base import ReadResult, value_from_text
from core.units import exact

# TensorProto.DataType → canonical dtype (types ParamScope has no name for are listed, not read)
ONNX_DTYPES: dict[int, str] = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    14: "complex64",
    15: "complex128",
    16: "bfloat16",
    17: "float8_e4m3fn",
    19: "float8_e5m2",
    21: "uint4",  # packed two per byte, low nibble first: read through core.dequant
    22: "int4",
}
ONNX_TYPE_NAMES = {8: "string", 18: "float8e4m3fnuz", 20: "float8e5m2fnuz", 23: "float4e2m1"}
PACKED_4BIT = {"int4": "INT4", "uint4": "UINT4"}  # dtype → DataSource encoding
ITEMSIZE = {
    "float32": 4,
    "uint8": 1,
    "int8": 1,
    "uint16": 2,
    "int16": 2,
    "int32": 4,
    "int64": 8,
    "bool": 1,
    "float16": 2,
    "float64": 8,
    "uint32": 4,
    "uint64": 8,
    "complex64": 8,
    "complex128": 16,
    "bfloat16": 2,
    "float8_e4m3fn": 1,
    "float8_e5m2": 1,
}
# ModelProto fields a file may start with, and their wire types (the writer orders by number)
_MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}
MAX_IR_VERSION = 64
# TensorProto fields that hold a plain run of elements: 9 raw_data, 4 float_data, 10 double_data
_PLAIN_PAYLOADS = {
    "float32": (9, 4),
    "complex64": (9, 4),
    "float64": (9, 10),
    "complex128": (9, 10),
}


class ONNXReader:
    format = "onnx"

    def match(self, path: Path, head: bytes) -> bool:
        return looks_like_onnx(head)

    def read(self, path: Path) -> ReadResult:
        try:
            # read, never mapped: a file cut short under a map kills the process (SIGBUS)
            with FileBytes(path) as data:
                return _read(path, data)
        except (OSError, ValueError) as error:
            raise CheckpointError(path, f"cannot read the file ({error})") from None


def looks_like_onnx(head: bytes) -> bool:
    """A ModelProto starts with ir_version (field 1, a small varint), then another known field."""
    if len(head) < 4 or head[0] != 0x08:
        return False
    try:
        ir_version, pos = _varint(head, 1, len(head))
        if not 1 <= ir_version <= MAX_IR_VERSION:
            return False
        tag, pos = _varint(head, pos, len(head))
    except _Truncated:
        return False
    return _MODEL_FIELDS.get(tag >> 3) == (tag & 7) and tag >> 3 != 1


_STRETCH = 4 << 10  # bytes of a message copied at a time to read its tags and lengths


class _Truncated(Exception):
    pass


def _varint(data, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end:
            raise _Truncated
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("a varint longer than 10 bytes")


@dataclass(slots=True)
class _Walker:
    """Iterates a message's fields between `start` and `end`, checking every length."""

    path: Path
    data: FileBytes

    def fields(self, start: int, end: int, what: str):
        """(field number, wire type, value or (payload start, payload end)) for each field."""
        # Tags and lengths are read from a copy of the next stretch of the message (bytes index
        # fast; the file is read, never mapped), renewed when a tag and a varint could cross its
        # end; payloads between them are skipped unread.
        buffer, base = b"", start
        pos = start
        try:
            while pos < end:
                if pos - base + 20 > len(buffer) and base + len(buffer) < end:
                    buffer, base = self.data.span(pos, min(end, pos + _STRETCH)), pos
                tag, at = _varint(buffer, pos - base, len(buffer))
                pos = at + base
                number, wire = tag >> 3, tag & 7
                if wire == 0:
                    value, at = _varint(buffer, at, len(buffer))
                    pos = at + base
                    yield number, wire, value
                elif wire == 2:
                    length, at = _varint(buffer, at, len(buffer))
                    pos = at + base
                    if pos + length > end:
                        raise _Truncated
                    yield number, wire, (pos, pos + length)
                    pos += length
                elif wire in (1, 5):
                    width = 8 if wire == 1 else 4
                    if pos + width > end:
                        raise _Truncated
                    yield number, wire, (pos, pos + width)
                    pos += width
                else:
                    raise ValueError(f"wire type {wire}")
        except _Truncated:
            raise CheckpointError(
                self.path,
                f"{what} runs past the end of the file (at byte {exact(pos)} of {exact(end)})",
                "the file is truncated" if end == len(self.data) else "the file is corrupt",
            ) from None
        except ValueError as error:
            raise CheckpointError(
                self.path,
                f"{what} is not valid protobuf ({error}) near byte {exact(pos)}",
                "corrupt",
            ) from None

    def text(self, span: tuple[int, int]) -> str:
        return bytes(self.data[span[0] : span[1]]).decode("utf-8", errors="replace")

    def packed_varints(self, span: tuple[int, int], what: str) -> list[int]:
        values, pos = [], span[0]
        try:
            while pos < span[1]:
                value, pos = _varint(self.data, pos, span[1])
                values.append(value)
        except (_Truncated, ValueError):
            raise CheckpointError(self.path, f"{what} has a malformed list", "corrupt") from None
        return values


@dataclass(slots=True)
class _Initializer:
    name: str = ""
    dims: list[int] = field(default_factory=list)
    data_type: int = 0
    payload: tuple[int, int] | None = None  # raw_data, float_data or double_data span
    payload_field: int = 0
    other_data: bool = False  # int32_data / int64_data / …: varints, not a run of elements
    external: dict[str, str] = field(default_factory=dict)
    location: int = 0


def _read(path: Path, data: FileBytes) -> ReadResult:
    walker = _Walker(path, data)
    result = ReadResult(format="onnx", files=[path], tensors=[])
    facts, metadata = result.facts, result.metadata
    graph_span: tuple[int, int] | None = None
    opsets: dict[str, int] = {}
    props: dict[str, str] = {}
    for number, wire, value in walker.fields(0, len(data), "the model"):
        expected = _MODEL_FIELDS.get(number)
        if expected is not None and expected != wire:
            raise CheckpointError(path, f"model field {number} has the wrong type", "corrupt")
        if number == 1:
            metadata["ir_version"] = value
        elif number in (2, 3, 4, 6) and wire == 2:
            key = {2: "producer_name", 3: "producer_version", 4: "domain", 6: "doc_string"}[number]
            metadata[key] = walker.text(value)
        elif number == 5:
            metadata["model_version"] = value
        elif number == 7:
            graph_span = value
        elif number == 8:
            domain, version = _opset(walker, value)
            opsets[domain or "ai.onnx"] = version
        elif number == 14:
            key, text = _string_pair(walker, value)
            props[key] = text
    if "ir_version" not in metadata or graph_span is None:
        raise CheckpointError(path, "the model has no graph", "not an ONNX model, or corrupt")
    initializers, ops, graph_name = _graph(walker, graph_span)
    lacking = _ExternalDataProblems()
    for init in initializers:
        _add_tensor(path, result, init, lacking)
    result.warnings.extend(lacking.warnings())
    varints = metadata.get("varint initializers")
    if varints:
        result.warnings.append(
            f"{varints} initializers store their values as protobuf varints (int32_data/int64_data):"
            " shown and counted, statistics are not available"
        )
    if opsets:
        metadata["opset_import"] = opsets
    if graph_name:
        metadata["graph"] = graph_name
    metadata["operators"] = dict(sorted(ops.items(), key=lambda kv: -kv[1]))
    if props:
        result.hyperparams["onnx metadata_props"] = {
            k: value_from_text(v) for k, v in props.items()
        }
        metadata["metadata_props"] = props
    producer = " ".join(
        str(metadata[k]) for k in ("producer_name", "producer_version") if metadata.get(k)
    )
    if producer:
        facts["producer"] = producer
    if "ai.onnx" in opsets:
        facts["opset"] = str(opsets["ai.onnx"])
    facts["IR"] = str(metadata["ir_version"])
    facts["nodes"] = str(sum(ops.values()))
    return result


def _opset(walker: _Walker, span: tuple[int, int]) -> tuple[str, int]:
    domain, version = "", 0
    for number, wire, value in walker.fields(*span, "an opset import"):
        if number == 1 and wire == 2:
            domain = walker.text(value)
        elif number == 2 and wire == 0:
            version = value
    return domain, version


def _string_pair(walker: _Walker, span: tuple[int, int]) -> tuple[str, str]:
    key = text = ""
    for number, wire, value in walker.fields(*span, "a key/value entry"):
        if number == 1 and wire == 2:
            key = walker.text(value)
        elif number == 2 and wire == 2:
            text = walker.text(value)
    return key, text


def _graph(
    walker: _Walker, span: tuple[int, int]
) -> tuple[list[_Initializer], dict[str, int], str]:
    initializers: list[_Initializer] = []
    ops: dict[str, int] = {}
    name = ""
    for number, wire, value in walker.fields(*span, "the graph"):
        if wire != 2:
            continue
        if number == 5:
            initializers.append(_initializer(walker, value))
        elif number == 1:
            op = _op_type(walker, value)
            ops[op] = ops.get(op, 0) + 1
        elif number == 2:
            name = walker.text(value)
    return initializers, ops, name


def _op_type(walker: _Walker, span: tuple[int, int]) -> str:
    op, domain = "?", ""
    for number, wire, value in walker.fields(*span, "a node"):
        if number == 4 and wire == 2:
            op = walker.text(value)
        elif number == 7 and wire == 2:
            domain = walker.text(value)
    return f"{domain}.{op}" if domain and domain != "ai.onnx" else op


def _initializer(walker: _Walker, span: tuple[int, int]) -> _Initializer:
    init = _Initializer()
    for number, wire, value in walker.fields(*span, "an initializer"):
        if number == 1:  # dims: packed (wire 2) or one per field (wire 0)
            if wire == 2:
                init.dims.extend(walker.packed_varints(value, "an initializer's shape"))
            else:
                init.dims.append(value)
        elif number == 2 and wire == 0:
            init.data_type = value
        elif number == 8 and wire == 2:
            init.name = walker.text(value)
        elif number in (9, 4, 10) and wire == 2:  # raw_data, float_data, double_data
            init.payload, init.payload_field = value, number
        elif number in (5, 6, 7, 11):
            init.other_data = True
        elif number == 13 and wire == 2:
            key, text = _string_pair(walker, value)
            init.external[key] = text
        elif number == 14 and wire == 0:
            init.location = value
    return init


def _add_tensor(
    path: Path, result: ReadResult, init: _Initializer, lacking: _ExternalDataProblems
) -> None:
    name = init.name or f"initializer_{len(result.tensors)}"
    dtype = ONNX_DTYPES.get(init.data_type)
    if dtype is None:
        type_name = ONNX_TYPE_NAMES.get(init.data_type, f"type {init.data_type}")
        result.warnings.append(f"{name}: {type_name} initializers are not shown")
        return
    if any(d > 1 << 48 for d in init.dims):
        raise CheckpointError(path, f"initializer {name!r} has an impossible shape {init.dims}")
    numel = 1
    for d in init.dims:
        numel *= d
    nbytes = (numel + 1) // 2 if dtype in PACKED_4BIT else numel * ITEMSIZE[dtype]
    info = TensorInfo(
        name=name, shape=tuple(init.dims), dtype=dtype, numel=numel, nbytes=nbytes, source=None
    )
    result.tensors.append(info)
    if init.location == 1 or init.external:
        source = _external_source(path, result, info, init.external, lacking)
        info.source = _packed(result, info, source)
        return
    if init.payload is None:
        if init.other_data:
            result.metadata["varint initializers"] = (
                result.metadata.get("varint initializers", 0) + 1
            )
        elif numel:
            raise CheckpointError(path, f"initializer {name!r} holds no data", "corrupt file")
        return
    begin, end = init.payload
    if end - begin != nbytes:
        raise CheckpointError(
            path,
            f"initializer {name!r}: shape {list(init.dims)} of {dtype} needs {exact(nbytes)} bytes "
            f"but it holds {exact(end - begin)}",
            "corrupt file",
        )
    # raw_data is always plain; float_data packs float32 (pairs for complex64) and double_data
    # float64 (pairs for complex128) as little-endian runs too
    if init.payload_field not in _PLAIN_PAYLOADS.get(dtype, (9,)):
        raise CheckpointError(path, f"initializer {name!r} stores {dtype} in the wrong field")
    info.source = _packed(result, info, DataSource(file=path, offset=begin, nbytes=nbytes))


def _packed(result: ReadResult, info: TensorInfo, source: DataSource | None) -> DataSource | None:
    """4-bit elements are read as two-element blocks (core.dequant); an odd count ends in half a
    byte of padding, which blocks cannot leave out: counted, statistics not available."""
    if source is None or info.dtype not in PACKED_4BIT:
        return source
    if info.numel % 2:
        result.warnings.append(
            f"{info.name}: an odd number of {info.dtype} elements; statistics not available"
        )
        return None
    return DataSource(source.file, source.offset, source.nbytes, encoding=PACKED_4BIT[info.dtype])


def _external_source(
    path: Path,
    result: ReadResult,
    info: TensorInfo,
    external: dict[str, str],
    lacking: _ExternalDataProblems,
) -> DataSource | None:
    location = external.get("location", "")
    folder = path.parent.resolve()
    target = (folder / location).resolve()
    if not location or folder not in target.parents:
        raise CheckpointError(
            path,
            f"initializer {info.name!r} names external data {location!r} outside the model folder",
            "refused: a model may only read files beside it",
        )
    try:
        offset = int(external.get("offset", "0") or 0)
        length = int(external.get("length", str(info.nbytes)) or info.nbytes)
    except ValueError:
        raise CheckpointError(path, f"initializer {info.name!r} has a malformed offset") from None
    if not target.is_file():
        lacking.missing.setdefault(location, []).append(info.name)
        return None
    if target not in result.files:
        result.files.append(target)
    size = target.stat().st_size
    if length != info.nbytes or offset < 0:
        raise CheckpointError(
            path,
            f"initializer {info.name!r}: external length {exact(length)} does not match the "
            f"{exact(info.nbytes)} bytes of its shape",
            "corrupt file",
        )
    if offset + length > size:
        # like a cut GGUF: the graph still opens; this tensor's data is not there
        lacking.cut.setdefault(location, []).append((info.name, offset + length - size))
        return None
    return DataSource(file=target, offset=offset, nbytes=length)


@dataclass
class _ExternalDataProblems:
    """Tensors whose external data file is missing or too short, by file: one warning per file,
    not one per tensor."""

    missing: dict[str, list[str]] = field(default_factory=dict)
    cut: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # (tensor, bytes short)

    def warnings(self) -> list[str]:
        said = [
            f"external data file {location} is missing: {_names(names)} have no data to show"
            for location, names in self.missing.items()
        ]
        for location, parts in self.cut.items():
            short = max(n for _, n in parts)
            said.append(
                f"external data file {location} is truncated: {_names([n for n, _ in parts])} "
                f"lie beyond its end, which is {exact(short)} bytes short"
            )
        return said


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    return f"{len(names)} tensor{'s' if len(names) != 1 else ''} ({shown})"
