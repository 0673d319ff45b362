"""GGUF (llama.cpp): the key/value header, the tensor table and where each tensor's blocks lie.

We parse the header ourselves instead of using `gguf.GGUFReader`: that reader builds a numpy view
per array element (seconds for a 150,000-token vocabulary) and fails outright on a file whose data
is cut short, where we want to show the header and say what is missing. Every length, count and
offset is checked against the file size before it is used.

Layout (little-endian; version 2 and 3): b"GGUF", u32 version, u64 tensor count, u64 key/value
count; the key/values (string key, u32 type, value); the tensor infos (string name, u32 n_dims,
u64 dims fastest-varying first, u32 GGML type, u64 offset relative to the data section); padding
to `general.alignment` (32 by default); the data.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from core.dtypes import DTYPES, GGML_BLOCK_TYPES, GGML_PLAIN_TYPES
from core.errors import CheckpointError
from core.fileread import FileBytes
from core.model import DataSource, TensorInfo
from core.readers.base import ReadResult
from core.readers.truncation import Cuts
from core.units import exact, percent

MAGIC = b"GGUF"
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 8  # GGML uses 4; anything beyond 8 is a corrupt header, not a tensor
ARRAY_KEPT = 64  # arrays up to this length are kept whole; longer ones are summarised
ARRAY_SHOWN = 8  # how many leading items a summary shows
HPARAM_SOURCE = "gguf metadata"

# value type id → (struct code, size in bytes); 8 = string, 9 = array are handled apart
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("B", 1),
    1: ("b", 1),
    2: ("H", 2),
    3: ("h", 2),
    4: ("I", 4),
    5: ("i", 4),
    6: ("f", 4),
    7: ("?", 1),
    10: ("Q", 8),
    11: ("q", 8),
    12: ("d", 8),
}
_TYPE_NAMES = {
    0: "u8",
    1: "i8",
    2: "u16",
    3: "i16",
    4: "u32",
    5: "i32",
    6: "f32",
    7: "bool",
    8: "str",
    9: "array",
    10: "u64",
    11: "i64",
    12: "f64",
}
_STRING, _ARRAY = 8, 9
_SPLIT = re.compile(r"^(?P<stem>.+)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")


class GGUFReader:
    format = "gguf"

    def match(self, path: Path, head: bytes) -> bool:
        return head[:4] == MAGIC

    def read(self, path: Path) -> ReadResult:
        split = _SPLIT.match(path.name)
        if not split or int(split["count"]) < 2:
            return _read_file(path)
        number, count = int(split["no"]), int(split["count"])
        if not 1 <= number <= count:
            result = _read_file(path)
            result.warnings.append(
                f"the name says shard {number} of {count}, which cannot be: "
                f"the file is shown alone, not as part of a split model"
            )
            return result
        return _read_split(path, split["stem"], count)


def _read_file(path: Path) -> ReadResult:
    try:
        # read, never mapped: a file cut short under a map kills the process (SIGBUS)
        with FileBytes(path) as data:
            return _read(path, data)
    except OSError as error:
        raise CheckpointError(path, f"cannot read the file ({error})") from None


def _read_split(path: Path, stem: str, count: int) -> ReadResult:
    """A model split by llama.cpp's gguf-split (`<name>-00001-of-00003.gguf`): every shard is a
    GGUF of its own; the first holds the model's metadata. Opening any shard shows them all."""
    shards = [path.with_name(f"{stem}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    present = [shard for shard in shards if shard.is_file()]
    results = [_read_file(shard) for shard in present]
    merged = results[0]
    seen = {t.name for t in merged.tensors}
    for result in results[1:]:
        merged.files.extend(result.files)
        merged.warnings.extend(result.warnings)
        for t in result.tensors:
            if t.name in seen:
                merged.warnings.append(f"{t.name} appears in two shards; the first is shown")
                continue
            seen.add(t.name)
            merged.tensors.append(t)
    missing = [shard.name for shard in shards if not shard.is_file()]
    if missing:
        merged.warnings.append(
            f"{len(missing)} of {count} shards are missing ({', '.join(missing[:3])}"
            f"{' …' if len(missing) > 3 else ''}): their tensors are not shown"
        )
    mix, per_type = quantisation_mix(merged.tensors)
    if mix:
        merged.facts["quantisation"] = mix
        merged.metadata["gguf.tensors per type"] = per_type
    merged.facts["shards"] = f"{len(present)} of {count}"
    return merged


class _Cursor:
    """Reads typed values from the file, refusing to run past its end."""

    def __init__(self, path: Path, data: FileBytes, endian: str) -> None:
        self.path, self.data, self.endian = path, data, endian
        self.pos = 0
        self.size = len(data)

    def need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise CheckpointError(
                self.path,
                f"the header ends early: {what} at byte {exact(self.pos)} needs {exact(n)} bytes "
                f"but the file ends at {exact(self.size)}",
                "the file is truncated or corrupt",
            )

    def scalar(self, code: str, width: int, what: str) -> Any:
        self.need(width, what)
        (value,) = self.data.unpack_from(self.endian + code, self.pos)
        self.pos += width
        return value

    def u32(self, what: str) -> int:
        return self.scalar("I", 4, what)

    def u64(self, what: str) -> int:
        return self.scalar("Q", 8, what)

    def raw_string(self, what: str) -> bytes:
        n = self.u64(f"the length of {what}")
        self.need(n, what)
        raw = self.data[self.pos : self.pos + n]
        self.pos += n
        return raw

    def string(self, what: str) -> str:
        return self.raw_string(what).decode("utf-8", errors="replace")

    def skip_strings(self, count: int, what: str) -> None:
        for _ in range(count):
            n = self.u64(f"the length of an item of {what}")
            self.need(n, what)
            self.pos += n

    def value(self, vtype: int, key: str) -> Any:
        if vtype in _SCALARS:
            code, width = _SCALARS[vtype]
            return self.scalar(code, width, f"the value of {key}")
        if vtype == _STRING:
            return self.string(f"the value of {key}")
        if vtype == _ARRAY:
            return self.array(key)
        raise CheckpointError(
            self.path,
            f"key {key!r} has unknown value type {vtype} at byte {exact(self.pos)}",
            "the file is corrupt or from a newer GGUF version",
        )

    def array(self, key: str) -> Any:
        item_type = self.u32(f"the item type of {key}")
        count = self.u64(f"the length of {key}")
        if item_type in _SCALARS:
            code, width = _SCALARS[item_type]
            self.need(count * width, f"the {exact(count)} items of {key}")
            kept = min(count, ARRAY_KEPT if count <= ARRAY_KEPT else ARRAY_SHOWN)
            items = list(self.data.unpack_from(f"{self.endian}{kept}{code}", self.pos))
            self.pos += count * width
        elif item_type == _STRING:
            # each string needs at least its 8-byte length: a cheap bound on a hostile count
            self.need(count * 8, f"the {exact(count)} strings of {key}")
            kept = count if count <= ARRAY_KEPT else ARRAY_SHOWN
            items = [self.string(f"an item of {key}") for _ in range(kept)]
            self.skip_strings(count - kept, key)
        elif item_type == _ARRAY:
            self.need(count * 12, f"the {exact(count)} arrays of {key}")
            items = [self.array(key) for _ in range(count)]
            kept = count
        else:
            raise CheckpointError(
                self.path,
                f"key {key!r} is an array of unknown type {item_type}",
                "the file is corrupt or from a newer GGUF version",
            )
        if kept == count:
            return items
        shown = ", ".join(repr(x) if isinstance(x, str) else str(x) for x in items)
        return f"[{exact(count)} {_TYPE_NAMES.get(item_type, '?')} items: {shown}, …]"


def _read(path: Path, data: FileBytes) -> ReadResult:
    if data[:4] != MAGIC:
        raise CheckpointError(path, "not a GGUF file (no GGUF magic)")
    if len(data) < 8:
        raise CheckpointError(path, "the file ends inside the GGUF header", "it is truncated")
    (version,) = data.unpack_from("<I", 4)
    endian = "<"
    if version & 0xFFFF == 0 and version:  # written on a big-endian machine
        endian = ">"
        (version,) = data.unpack_from(">I", 4)
    if version not in (2, 3):
        raise CheckpointError(
            path,
            f"GGUF version {version} is not supported",
            "ParamScope reads GGUF versions 2 and 3 (llama.cpp since August 2023)",
        )
    cur = _Cursor(path, data, endian)
    cur.pos = 8
    tensor_count = cur.u64("the tensor count")
    kv_count = cur.u64("the key/value count")
    # every key/value needs ≥ 12 bytes and every tensor info ≥ 24: bound the counts by the file
    cur.need(
        kv_count * 12 + tensor_count * 24,
        f"{exact(kv_count)} keys and {exact(tensor_count)} tensors",
    )
    metadata: dict[str, Any] = {}
    for i in range(kv_count):
        key = cur.string(f"key {i}")
        vtype = cur.u32(f"the type of key {key!r}")
        metadata[key] = cur.value(vtype, key)
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not (isinstance(alignment, int) and alignment > 0 and alignment & (alignment - 1) == 0):
        raise CheckpointError(path, f"general.alignment {alignment!r} is not a power of two")
    entries = [_tensor_entry(cur, i) for i in range(tensor_count)]
    data_start = -(-cur.pos // alignment) * alignment
    result = ReadResult(format="gguf", files=[path], tensors=[], metadata=metadata)
    result.metadata["gguf.version"] = version
    _add_tensors(path, result, entries, data_start, cur.size, big_endian=endian == ">")
    _facts(result, metadata, version, cur.size)
    result.hyperparams[HPARAM_SOURCE] = {
        k: v for k, v in metadata.items() if not k.startswith("gguf.")
    }
    return result


def _tensor_entry(cur: _Cursor, i: int) -> tuple[str, tuple[int, ...], int, int]:
    name = cur.string(f"the name of tensor {i}")
    n_dims = cur.u32(f"the dimensions of {name!r}")
    if n_dims > MAX_DIMS:
        raise CheckpointError(cur.path, f"tensor {name!r} claims {n_dims} dimensions", "corrupt")
    dims = tuple(cur.u64(f"the shape of {name!r}") for _ in range(n_dims))
    ggml_type = cur.u32(f"the type of {name!r}")
    offset = cur.u64(f"the offset of {name!r}")
    return name, dims, ggml_type, offset


def _add_tensors(
    path: Path,
    result: ReadResult,
    entries: list[tuple[str, tuple[int, ...], int, int]],
    data_start: int,
    file_size: int,
    big_endian: bool,
) -> None:
    cuts = Cuts(file_size)
    unknown: dict[int, int] = {}
    spans: list[tuple[int, int, str]] = []
    for name, dims, ggml_type, offset in entries:
        numel = 1
        for d in dims:
            numel *= d
        if ggml_type in GGML_PLAIN_TYPES:
            dtype, encoding = GGML_PLAIN_TYPES[ggml_type], ""
        elif ggml_type in GGML_BLOCK_TYPES:
            encoding, block, _ = GGML_BLOCK_TYPES[ggml_type]
            dtype = encoding.lower()
            if dims and dims[0] % block:
                raise CheckpointError(
                    path,
                    f"tensor {name!r}: rows of {dims[0]} elements are not whole {encoding} blocks "
                    f"of {block}",
                    "corrupt file",
                )
        else:
            unknown[ggml_type] = unknown.get(ggml_type, 0) + 1
            continue
        nbytes = DTYPES[dtype].nbytes(numel)
        begin = data_start + offset
        end = begin + nbytes
        spans.append((begin, end, name))
        source = None
        state = cuts.add(name, begin, end)
        if not state and not big_endian:
            source = DataSource(file=path, offset=begin, nbytes=nbytes, encoding=encoding)
        result.tensors.append(
            TensorInfo(
                name=name,
                shape=ggml_shape(dims),
                dtype=dtype,
                numel=numel,
                nbytes=nbytes,
                source=source,
                truncated=state,
            )
        )
    _check_overlaps(path, spans)
    for ggml_type, n in unknown.items():
        result.warnings.append(
            f"{n} tensors have GGML type {ggml_type}, unknown to ParamScope; they are not shown"
        )
    if big_endian:
        result.warnings.append("big-endian GGUF: tensors are listed, statistics are not available")
    warning = cuts.warning(len(result.tensors))
    if warning:
        result.warnings.append(warning)
        result.facts["truncated"] = cuts.fact()


def ggml_shape(dims: tuple[int, ...]) -> tuple[int, ...]:
    """GGUF lists the fastest-varying dimension first (ggml's order); we show PyTorch's order,
    slowest first. The same reversal turns it back (`core.info.stored_shape`)."""
    return tuple(reversed(dims))


def _check_overlaps(path: Path, spans: list[tuple[int, int, str]]) -> None:
    spans.sort()
    reach, reach_name = 0, ""
    for begin, end, name in spans:
        if begin < reach and end > begin:
            raise CheckpointError(
                path, f"tensors {reach_name!r} and {name!r} overlap in the data", "corrupt file"
            )
        if end > reach:
            reach, reach_name = end, name


def _facts(result: ReadResult, metadata: dict[str, Any], version: int, file_size: int) -> None:
    facts = result.facts
    facts["GGUF"] = f"v{version}"
    arch = metadata.get("general.architecture")
    if isinstance(arch, str):
        facts["architecture"] = arch
    file_type = metadata.get("general.file_type")
    if isinstance(file_type, int):
        facts["file type"] = _file_type_name(file_type)
    mix, per_type = quantisation_mix(result.tensors)
    if mix:
        facts["quantisation"] = mix
        result.metadata["gguf.tensors per type"] = per_type


def _file_type_name(file_type: int) -> str:
    """llama.cpp's name for `general.file_type` (e.g. 15 → Q4_K_M), from gguf-py when present."""
    try:
        from gguf.constants import LlamaFileType
    except ImportError:
        return str(file_type)
    try:
        return LlamaFileType(file_type).name.removeprefix("MOSTLY_")
    except ValueError:
        return str(file_type)


_PLAIN_GGML_NAMES = {
    "float32": "F32",
    "float16": "F16",
    "bfloat16": "BF16",
    "float64": "F64",
    "int8": "I8",
    "int16": "I16",
    "int32": "I32",
    "int64": "I64",
}


def quantisation_mix(tensors: list[TensorInfo]) -> tuple[str, dict[str, int]]:
    """Which GGML types hold the elements, largest share first ("Q4_K 71 % · Q6_K 20 % · …"),
    and how many tensors each type has."""
    elements: dict[str, int] = {}
    counts: dict[str, int] = {}
    for t in tensors:
        name = _PLAIN_GGML_NAMES.get(t.dtype, t.dtype.upper())
        elements[name] = elements.get(name, 0) + t.numel
        counts[name] = counts.get(name, 0) + 1
    total = sum(elements.values())
    if not total:
        return "", counts
    parts = sorted(elements.items(), key=lambda kv: -kv[1])
    text = " · ".join(f"{name} {percent(n, total)} %" for name, n in parts)
    return text, {name: counts[name] for name, _ in parts}
