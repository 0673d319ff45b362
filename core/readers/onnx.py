"""ONNX: initializers as tensors, located in the file or in external data files, without loading
their data; the producer, opset, IR version, operator counts and metadata_props.

An ONNX model is one protobuf message (ModelProto). `onnx.load` would parse all of it into
memory, the weights included; we walk the protobuf ourselves instead, reading tags and lengths and
skipping every payload we do not need, so a 2 GB model opens by touching its headers only. Each
initializer's `raw_data` (or packed `float_data` / `double_data`) is a run of little-endian
elements at a known place in the file, which becomes its DataSource; external data (`location`,
`offset`, `length`) is located in the side file beside the model. The tests check everything we
read against `onnx.load` and `onnx.numpy_helper`.

Weights are not only initializers: PaddlePaddle and many TensorFlow exports hold them as
`Constant` nodes, and `If`/`Loop`/`Scan` bodies and model-local functions hold initializers and
Constants of their own. Each is a tensor named by its output (a name already taken is prefixed by
the subgraph or function it lies in); the operators that consume it say what it is
(core.readers.onnx_roles).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import pbvalues
from core.errors import CheckpointError
from core.fileread import FileBytes
from core.model import DataSource, TensorInfo
from core.readers.base import ReadResult, value_from_text
from core.readers.onnx_roles import Function, GraphRoles, OpNode
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
        ir_version, pos = pbvalues.varint(head, 1, len(head))
        if not 1 <= ir_version <= MAX_IR_VERSION:
            return False
        tag, pos = pbvalues.varint(head, pos, len(head))
    except pbvalues.Truncated:
        return False
    return _MODEL_FIELDS.get(tag >> 3) == (tag & 7) and tag >> 3 != 1


_STRETCH = 4 << 10  # bytes of a message copied at a time to read its tags and lengths


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
                tag, at = pbvalues.varint(buffer, pos - base, len(buffer))
                pos = at + base
                number, wire = tag >> 3, tag & 7
                if wire == 0:
                    value, at = pbvalues.varint(buffer, at, len(buffer))
                    pos = at + base
                    yield number, wire, value
                elif wire == 2:
                    length, at = pbvalues.varint(buffer, at, len(buffer))
                    pos = at + base
                    if pos + length > end:
                        raise pbvalues.Truncated
                    yield number, wire, (pos, pos + length)
                    pos += length
                elif wire in (1, 5):
                    width = 8 if wire == 1 else 4
                    if pos + width > end:
                        raise pbvalues.Truncated
                    yield number, wire, (pos, pos + width)
                    pos += width
                else:
                    raise ValueError(f"wire type {wire}")
        except pbvalues.Truncated:
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
                value, pos = pbvalues.varint(self.data, pos, span[1])
                values.append(value)
        except (pbvalues.Truncated, ValueError):
            raise CheckpointError(self.path, f"{what} has a malformed list", "corrupt") from None
        return values


@dataclass(slots=True)
class _Initializer:
    name: str = ""
    dims: list[int] = field(default_factory=list)
    data_type: int = 0
    payload: tuple[int, int] | None = None  # raw_data, float_data or double_data span
    payload_field: int = 0
    # why the values are no run of elements at a place in the file: "varints" (int32_data,
    # int64_data, value_int(s)), "list" (value_floats one at a time), "sparse"; "" if they are
    unreadable: str = ""
    # values stored as protobuf numbers: (the message holding them, field number, kind), read
    # by core.pbvalues from the file like any other tensor's bytes
    numbers: tuple[tuple[int, int], int, str] | None = None
    external: dict[str, str] = field(default_factory=dict)
    location: int = 0


def _read(path: Path, data: FileBytes) -> ReadResult:
    walker = _Walker(path, data)
    result = ReadResult(format="onnx", files=[path], tensors=[])
    facts, metadata = result.facts, result.metadata
    graph_span: tuple[int, int] | None = None
    function_spans: list[tuple[int, int]] = []
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
        elif number == 25 and wire == 2:
            function_spans.append(value)
    if "ir_version" not in metadata or graph_span is None:
        raise CheckpointError(path, "the model has no graph", "not an ONNX model, or corrupt")
    contents = _Contents()
    for index, span in enumerate(function_spans, start=1):
        _function(walker, span, contents, index)
    _walk_graph(walker, graph_span, contents, "", 0)
    _add_tensors(path, result, contents)
    ops, graph_name = contents.ops, contents.name
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


@dataclass(slots=True)
class _Found:
    """A tensor a graph holds: an initializer, a sparse initializer or a Constant's value."""

    init: _Initializer  # its name is the graph's name for it (a Constant's output)
    scope: str  # "" the main graph; "If_3/then_branch", "Proj" (a function), nested with "/"
    namespace: int  # where its name is looked up: 0 the main graph and its subgraphs, n a function
    constant: bool


@dataclass(slots=True)
class _Contents:
    """What the walk over the main graph, its subgraphs and the model's functions found."""

    found: list[_Found] = field(default_factory=list)
    nodes: list[tuple[int, OpNode]] = field(default_factory=list)
    functions: list[Function] = field(default_factory=list)
    ops: dict[str, int] = field(default_factory=dict)  # the main graph's operators
    name: str = ""


def _walk_graph(
    walker: _Walker, span: tuple[int, int], contents: _Contents, scope: str, namespace: int
) -> None:
    what = f"subgraph {scope}" if scope else "the graph"
    nodes = 0
    for number, wire, value in walker.fields(*span, what):
        if wire != 2:
            continue
        if number == 1:
            _walk_node(walker, value, contents, scope, namespace, nodes)
            nodes += 1
        elif number == 5:
            contents.found.append(_Found(_initializer(walker, value), scope, namespace, False))
        elif number == 15:
            contents.found.append(_Found(_sparse(walker, value), scope, namespace, False))
        elif number == 2 and not scope:
            contents.name = walker.text(value)


def _function(walker: _Walker, span: tuple[int, int], contents: _Contents, namespace: int) -> None:
    """A model-local function (FunctionProto): its nodes, in a namespace of their own."""
    name, domain, inputs, node_spans = "", "", [], []
    for number, wire, value in walker.fields(*span, "a function"):
        if wire != 2:
            continue
        if number == 1:
            name = walker.text(value)
        elif number == 10:
            domain = walker.text(value)
        elif number == 4:
            inputs.append(walker.text(value))
        elif number == 7:
            node_spans.append(value)
    key = f"{domain}.{name}" if domain and domain != "ai.onnx" else name
    contents.functions.append(Function(key, namespace, inputs))
    for index, node_span in enumerate(node_spans):
        _walk_node(walker, node_span, contents, name or f"function_{namespace}", namespace, index)


@dataclass(slots=True)
class _Attribute:
    name: str = ""
    fields: list[tuple[int, int, Any]] = field(default_factory=list)  # all but the name
    span: tuple[int, int] = (0, 0)  # the attribute's bytes: where value_int(s)/value_floats lie


def _walk_node(
    walker: _Walker,
    span: tuple[int, int],
    contents: _Contents,
    scope: str,
    namespace: int,
    index: int,
) -> None:
    inputs: list[str] = []
    outputs: list[str] = []
    attributes: list[_Attribute] = []
    op, domain, name = "?", "", ""
    for number, wire, value in walker.fields(*span, "a node"):
        if wire != 2:
            continue
        if number == 1:
            inputs.append(walker.text(value))
        elif number == 2:
            outputs.append(walker.text(value))
        elif number == 3:
            name = walker.text(value)
        elif number == 4:
            op = walker.text(value)
        elif number == 5:
            attributes.append(_attribute(walker, value))
        elif number == 7:
            domain = walker.text(value)
    op_name = f"{domain}.{op}" if domain and domain != "ai.onnx" else op
    if not scope:
        contents.ops[op_name] = contents.ops.get(op_name, 0) + 1
    contents.nodes.append((namespace, OpNode(op_name, inputs, outputs)))
    if op_name == "Constant" and outputs:
        init = _constant(walker, attributes)
        if init is not None:
            init.name = outputs[0]
            contents.found.append(_Found(init, scope, namespace, True))
    label = name or f"{op}_{index}"
    for attribute in attributes:
        graphs = [value for number, _, value in attribute.fields if number in (6, 11)]
        listed = any(number == 11 for number, _, _ in attribute.fields)
        for k, graph in enumerate(graphs):
            where = f"{label}/{attribute.name}" + (f"[{k}]" if listed else "")
            inner = f"{scope}/{where}" if scope else where
            _walk_graph(walker, graph, contents, inner, namespace)


def _attribute(walker: _Walker, span: tuple[int, int]) -> _Attribute:
    attribute = _Attribute(span=span)
    for number, wire, value in walker.fields(*span, "a node attribute"):
        if number == 1 and wire == 2:
            attribute.name = walker.text(value)
        elif wire in _ATTRIBUTE_WIRES.get(number, ()):
            attribute.fields.append((number, wire, value))
    return attribute


# AttributeProto fields we read and the wire types they may have: f 2, i 3, t 5, g 6, floats 7,
# ints 8, strings 9, graphs 11, sparse_tensor 22 (repeated scalars packed or one at a time)
_ATTRIBUTE_WIRES: dict[int, tuple[int, ...]] = {
    2: (5,),
    3: (0,),
    5: (2,),
    6: (2,),
    7: (2, 5),
    8: (0, 2),
    9: (2,),
    11: (2,),
    22: (2,),
}


def _constant(walker: _Walker, attributes: list[_Attribute]) -> _Initializer | None:
    """A Constant node's value: a TensorProto, a sparse tensor, or a scalar or list attribute."""
    for attribute in attributes:
        found: dict[int, list[tuple[int, Any]]] = {n: [] for n in _ATTRIBUTE_WIRES}
        for number, wire, value in attribute.fields:
            found[number].append((wire, value))
        if attribute.name == "value" and found[5]:
            return _initializer(walker, found[5][-1][1])
        if attribute.name == "sparse_value" and found[22]:
            return _sparse(walker, found[22][-1][1])
        if attribute.name == "value_float" and found[2]:
            return _Initializer(data_type=1, payload=found[2][-1][1], payload_field=9)
        if attribute.name == "value_floats":
            init = _float_list(found[7])
            if init.unreadable == "list":
                init.unreadable, init.numbers = "", (attribute.span, 7, "float32")
            return init
        if attribute.name == "value_int":
            return _Initializer(data_type=7, numbers=(attribute.span, 3, "varint"))
        if attribute.name == "value_ints":
            count = sum(
                len(walker.packed_varints(value, "a Constant's value_ints")) if wire == 2 else 1
                for wire, value in found[8]
            )
            return _Initializer(dims=[count], data_type=7, numbers=(attribute.span, 8, "varint"))
        if attribute.name == "value_string":
            return _Initializer(data_type=8)
        if attribute.name == "value_strings":
            return _Initializer(dims=[len(found[9])], data_type=8)
    return None


def _float_list(entries: list[tuple[int, Any]]) -> _Initializer:
    """value_floats: protobuf writes them one tagged float at a time (onnx.proto does not pack
    them); only a single packed run, or a single float, is a run of elements in the file."""
    count = sum((v[1] - v[0]) // 4 if wire == 2 else 1 for wire, v in entries)
    init = _Initializer(dims=[count], data_type=1)
    if len(entries) == 1:
        init.payload, init.payload_field = entries[0][1], 9
    elif count:
        init.unreadable = "list"
    return init


def _sparse(walker: _Walker, span: tuple[int, int]) -> _Initializer:
    """A SparseTensorProto: shown with its dense shape and its values' dtype and name."""
    values: _Initializer | None = None
    dims: list[int] = []
    for number, wire, value in walker.fields(*span, "a sparse tensor"):
        if number == 1 and wire == 2:
            values = _initializer(walker, value)
        elif number == 3:
            if wire == 2:
                dims.extend(walker.packed_varints(value, "a sparse tensor's shape"))
            else:
                dims.append(value)
    return _Initializer(
        name=values.name if values else "",
        dims=dims,
        data_type=values.data_type if values else 0,
        unreadable="sparse",
    )


def _add_tensors(path: Path, result: ReadResult, contents: _Contents) -> None:
    """Tensors in the order a person reads them: the main graph's initializers, its Constants,
    then those of subgraphs and functions; each name shown once."""
    found = sorted(contents.found, key=lambda f: (bool(f.scope), not f.scope and f.constant))
    literals = result.metadata.get("producer_name") == "pytorch"
    roles = GraphRoles(contents.nodes, contents.functions, constants_are_literals=literals)
    lacking = _ExternalDataProblems()
    unreadable: dict[str, list[str]] = {}
    for item, name in zip(found, _shown_names(found), strict=True):
        info = _add_tensor(path, result, item.init, name, lacking, unreadable)
        if info is not None:
            info.role_hint = roles.hint(
                item.namespace, item.init.name, info.shape, info.dtype, item.constant
            )
    result.warnings.extend(lacking.warnings())
    for reason, names in unreadable.items():
        result.warnings.append(f"{_names(names)}: {_UNREADABLE[reason]}")


_UNREADABLE = {
    "varints": "values stored as protobuf varints (int32_data/int64_data, value_int/value_ints); "
    "shown and counted, statistics are not available",
    "list": "a Constant's value_floats, stored one tagged number at a time; shown and counted, "
    "statistics are not available",
    "sparse": "stored sparse (values at indices); shown and counted with their dense shape, "
    "statistics are not available",
}


def _shown_names(found: list[_Found]) -> list[str]:
    """The graph's own names; a subgraph's or function's name that is already taken becomes
    `<scope>.<name>` (functions and exporters reuse names such as `weight` or `w`)."""
    taken = {f.init.name for f in found if not f.scope}
    repeats: dict[str, int] = {}  # how often a scoped name was seen: #2, #3, … without a search
    names = []
    for number, f in enumerate(found):
        name = f.init.name or f"initializer_{number}"
        if f.scope:
            if name in taken:
                name = f"{f.scope}.{name}"
            unique = name
            while unique in taken:
                repeats[name] = repeats.get(name, 1) + 1
                unique = f"{name}#{repeats[name]}"
            name = unique
            taken.add(name)
        names.append(name)
    return names


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
        elif number in (5, 7, 11):  # int32_data, int64_data, uint64_data
            init.numbers = (span, number, "uvarint" if number == 11 else "varint")
        elif number == 6:  # string_data
            init.unreadable = "varints"
        elif number == 13 and wire == 2:
            key, text = _string_pair(walker, value)
            init.external[key] = text
        elif number == 14 and wire == 0:
            init.location = value
    return init


def _add_tensor(
    path: Path,
    result: ReadResult,
    init: _Initializer,
    name: str,
    lacking: _ExternalDataProblems,
    unreadable: dict[str, list[str]],
) -> TensorInfo | None:
    dtype = ONNX_DTYPES.get(init.data_type)
    if dtype is None:
        type_name = ONNX_TYPE_NAMES.get(init.data_type, f"type {init.data_type}")
        result.warnings.append(f"{name}: {type_name} tensors are not shown")
        return None
    if any(d > 1 << 48 for d in init.dims):
        raise CheckpointError(path, f"tensor {name!r} has an impossible shape {init.dims}")
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
        return info
    if init.payload is None and init.numbers is not None and not init.unreadable:
        (begin, end), number, kind = init.numbers
        if end - begin <= pbvalues.MAX_BYTES and dtype not in PACKED_4BIT:
            encoding = pbvalues.encoding(number, kind, numel)
            info.source = DataSource(file=path, offset=begin, nbytes=end - begin, encoding=encoding)
            return info
        init.unreadable = "varints"
    if init.payload is None:
        if init.unreadable:
            unreadable.setdefault(init.unreadable, []).append(name)
        elif numel:
            raise CheckpointError(path, f"tensor {name!r} holds no data", "corrupt file")
        return info
    begin, end = init.payload
    if end - begin != nbytes:
        raise CheckpointError(
            path,
            f"tensor {name!r}: shape {list(init.dims)} of {dtype} needs {exact(nbytes)} bytes "
            f"but it holds {exact(end - begin)}",
            "corrupt file",
        )
    # raw_data is always plain; float_data packs float32 (pairs for complex64) and double_data
    # float64 (pairs for complex128) as little-endian runs too
    if init.payload_field not in _PLAIN_PAYLOADS.get(dtype, (9,)):
        raise CheckpointError(path, f"tensor {name!r} stores {dtype} in the wrong field")
    info.source = _packed(result, info, DataSource(file=path, offset=begin, nbytes=nbytes))
    return info


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
