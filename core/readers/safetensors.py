"""safetensors: one file, a sharded model through its `*.index.json`, or a folder of shards.

The format is an 8-byte little-endian header length, a JSON header, then raw data. We read the
header only and check every length and offset against the file size before trusting it, as the
safetensors library's own Rust reader does; tensor data stays on disk until statistics ask for it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from core.dtypes import DTYPES, SAFETENSORS_DTYPES
from core.errors import CheckpointError
from core.model import DataSource, TensorInfo
from core.readers.base import ReadResult, value_from_text
from core.readers.truncation import Cuts
from core.units import exact

MAX_HEADER = 100_000_000  # the safetensors library refuses larger headers too
INDEX_SUFFIX = ".safetensors.index.json"
_SHARD_NAME = re.compile(r"^(?P<stem>.+)-(?P<no>\d+)-of-(?P<count>\d+)\.safetensors$")


def _header_length(head: bytes) -> int:
    return int.from_bytes(head[:8], "little")


def looks_like_safetensors(head: bytes, file_size: int) -> bool:
    if len(head) < 9:
        return False
    # a header longer than the file still counts: read() then says the file is truncated
    # so does an absurd one (10**9, 2**62): the length field followed by "{" is the signature
    return _header_length(head) >= 2 and head[8:9] == b"{"


class SafetensorsReader:
    format = "safetensors"

    def match(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return bool(_folder_shards(path)) or _folder_index(path) is not None
        if path.name.endswith(INDEX_SUFFIX):
            return True
        try:
            size = path.stat().st_size
        except OSError:
            return False
        return looks_like_safetensors(head, size)

    def read(self, path: Path) -> ReadResult:
        if path.is_dir():
            index = _folder_index(path)
            if index is not None:
                return _read_index(index)
            return _read_files(path, _folder_shards(path))
        if path.name.endswith(INDEX_SUFFIX):
            return _read_index(path)
        return _read_files(path, [path])


def _folder_index(folder: Path) -> Path | None:
    preferred = folder / ("model" + INDEX_SUFFIX)
    if preferred.is_file():
        return preferred
    indexes = sorted(folder.glob("*" + INDEX_SUFFIX))
    return indexes[0] if indexes else None


def _folder_shards(folder: Path) -> list[Path]:
    """The files that make the folder's model: its one .safetensors file, or the parts named
    `<name>-0000N-of-0000M.safetensors`; several other files are different models or copies of
    one (`core.alternatives`), never shards of one."""
    files = sorted(p for p in folder.glob("*.safetensors") if p.is_file())
    groups: dict[tuple[str, str], list[Path]] = {}
    for file in files:
        part = _SHARD_NAME.match(file.name)
        if part:
            groups.setdefault((part["stem"], part["count"]), []).append(file)
    if groups:
        # the largest set of parts (a stray part of another split is not merged into it)
        return max(groups.values(), key=len)
    return files if len(files) == 1 else []


def read_header(file: Path) -> tuple[dict[str, Any], int, int]:
    """The parsed JSON header, the offset where data starts, and the file size; all validated."""
    try:
        size = file.stat().st_size
        with open(file, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise CheckpointError(
                    file,
                    f"the file is {size} bytes long, too short for a safetensors header",
                    "it is empty or truncated",
                )
            n = _header_length(head)
            if 8 + n > size:
                raise CheckpointError(
                    file,
                    f"header claims {exact(n)} bytes but the file ends at {exact(size)}",
                    "the file is truncated",
                )
            if n > MAX_HEADER:
                raise CheckpointError(
                    file,
                    f"header length {exact(n)} bytes exceeds the 100 MB limit",
                    "the file is not safetensors or is corrupt",
                )
            raw = f.read(n)
    except OSError as error:
        raise CheckpointError(file, f"cannot read the file ({error.strerror or error})") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(
            file, f"the header is not valid JSON ({error})", "corrupt file"
        ) from None
    if not isinstance(header, dict):
        raise CheckpointError(file, "the header is not a JSON object", "corrupt file")
    return header, 8 + n, size


def _tensors_of_file(
    file: Path,
    wanted: set[str] | None = None,
    warnings: list[str] | None = None,
    shard: bool = False,
) -> tuple[list[TensorInfo], dict]:
    """The file's tensors and metadata. A file cut short after its header still opens: its
    tensors past the end are marked partial or missing and `warnings` says how many."""
    header, data_start, size = read_header(file)
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise CheckpointError(file, "__metadata__ is not a JSON object", "corrupt file")
    tensors: list[TensorInfo] = []
    spans: list[tuple[int, int, str]] = []
    cuts = Cuts(size)
    for name, entry in header.items():
        if wanted is not None and name not in wanted:
            continue
        info, begin, end = _tensor_entry(file, name, entry, data_start)
        info.truncated = cuts.add(name, data_start + begin, data_start + end)
        if info.truncated:
            info.source = None
        tensors.append(info)
        spans.append((begin, end, name))
    spans.sort()
    reach, reach_name = 0, ""
    for begin, end, name in spans:
        if begin < reach and end > begin:
            raise CheckpointError(
                file,
                f"tensors {reach_name!r} and {name!r} overlap in the data",
                "corrupt file",
            )
        if end > reach:
            reach, reach_name = end, name
    warning = cuts.warning(len(tensors))
    if warning and warnings is not None:
        warnings.append(f"{file.name}: {warning}" if shard else warning)
    return tensors, metadata


def _tensor_entry(
    file: Path, name: str, entry: Any, data_start: int
) -> tuple[TensorInfo, int, int]:
    if not isinstance(entry, dict):
        raise CheckpointError(file, f"tensor {name!r} has a malformed header entry", "corrupt file")
    code = entry.get("dtype")
    shape = entry.get("shape")
    offsets = entry.get("data_offsets")
    canonical = SAFETENSORS_DTYPES.get(code) if isinstance(code, str) else None
    if canonical is None:
        raise CheckpointError(file, f"tensor {name!r} has unknown dtype {code!r}")
    if not (isinstance(shape, list) and all(type(d) is int and d >= 0 for d in shape)):
        raise CheckpointError(
            file, f"tensor {name!r} has an invalid shape {shape!r}", "corrupt file"
        )
    if not (
        isinstance(offsets, list)
        and len(offsets) == 2
        and all(type(o) is int for o in offsets)
        and 0 <= offsets[0] <= offsets[1]
    ):
        raise CheckpointError(
            file,
            f"tensor {name!r} has invalid data offsets {offsets!r}",
            "corrupt file",
        )
    begin, end = offsets
    numel = 1
    for d in shape:
        numel *= d
    dtype = DTYPES[canonical]
    if dtype.nbytes(numel) != end - begin:
        raise CheckpointError(
            file,
            f"tensor {name!r}: shape {shape} of {canonical} needs {exact(dtype.nbytes(numel))} "
            f"bytes but its offsets span {exact(end - begin)}",
            "corrupt file",
        )
    info = TensorInfo(
        name=name,
        shape=tuple(shape),
        dtype=canonical,
        numel=numel,
        nbytes=end - begin,
        source=DataSource(file=file, offset=data_start + begin, nbytes=end - begin),
    )
    return info, begin, end


def _read_files(path: Path, files: list[Path]) -> ReadResult:
    if not files:
        raise CheckpointError(path, "the folder holds no .safetensors file")
    result = ReadResult(format="safetensors", files=list(files), tensors=[])
    seen: dict[str, Path] = {}
    for file in files:
        tensors, metadata = _tensors_of_file(file, None, result.warnings, len(files) > 1)
        for t in tensors:
            if t.name in seen:
                result.warnings.append(
                    f"{t.name} appears in both {seen[t.name].name} and {file.name}; "
                    f"the first is shown"
                )
                continue
            seen[t.name] = file
            result.tensors.append(t)
        _merge_metadata(result, metadata, file, several=len(files) > 1)
    _finish(result)
    return result


def _read_index(index: Path) -> ReadResult:
    try:
        if index.stat().st_size > 64 << 20:
            raise CheckpointError(
                index, "the index is larger than 64 MiB", "not a safetensors index"
            )
        data = json.loads(index.read_text(encoding="utf-8"))
    except OSError as error:
        raise CheckpointError(index, f"cannot read the index ({error.strerror or error})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(index, f"the index is not valid JSON ({error})") from None
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in weight_map.items()
    ):
        raise CheckpointError(index, "the index has no valid weight_map")
    folder = index.parent
    by_file: dict[str, set[str]] = {}
    for name, filename in weight_map.items():
        by_file.setdefault(filename, set()).add(name)
    result = ReadResult(format="safetensors", files=[], tensors=[])
    result.facts["index"] = index.name
    if isinstance(data.get("metadata"), dict):
        result.metadata.update({f"index.{k}": v for k, v in data["metadata"].items()})
    for filename in sorted(by_file):
        shard = (folder / filename).resolve()
        if folder.resolve() not in shard.parents:
            raise CheckpointError(index, f"shard {filename!r} lies outside the model folder")
        if not shard.is_file():
            result.warnings.append(
                f"shard {filename} is missing: its {len(by_file[filename])} tensors are not shown"
            )
            continue
        result.files.append(shard)
        tensors, metadata = _tensors_of_file(shard, by_file[filename], result.warnings, True)
        found = {t.name for t in tensors}
        for name in sorted(by_file[filename] - found)[:5]:
            result.warnings.append(f"{name} is listed in the index but not in {filename}")
        result.tensors.extend(tensors)
        _merge_metadata(result, metadata, shard, several=True)
    if not result.files:
        raise CheckpointError(index, "none of the shards named by the index exists")
    order = {name: i for i, name in enumerate(weight_map)}
    result.tensors.sort(key=lambda t: order.get(t.name, 0))
    total_size = data.get("metadata", {}).get("total_size") if isinstance(data, dict) else None
    stored = sum(t.nbytes for t in result.tensors)
    if isinstance(total_size, int) and total_size != stored and not result.warnings:
        result.warnings.append(
            f"the index says total_size {exact(total_size)} bytes, the shards hold {exact(stored)}"
        )
    _finish(result)
    return result


def _merge_metadata(result: ReadResult, metadata: dict, file: Path, several: bool) -> None:
    for key, value in metadata.items():
        if key in result.metadata and result.metadata[key] != value and several:
            result.metadata[f"{file.name}:{key}"] = value
        else:
            result.metadata.setdefault(key, value)


def _finish(result: ReadResult) -> None:
    if len(result.files) > 1:
        result.facts["shards"] = str(len(result.files))
    source = {}
    for key, value in result.metadata.items():
        if key == "format" or key.startswith("index."):
            continue
        source[key] = value_from_text(value)
    if source:
        result.hyperparams["safetensors:__metadata__"] = source
