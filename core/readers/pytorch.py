"""PyTorch checkpoints: `torch.save` zip archives (any top folder) and the legacy pickle format.

The pickle is read by `core.unpickle.InertUnpickler`, which never runs anything; it tells which
storage each tensor views, with dtype, shape, stride and offset. The storages' bytes are located
in the archive (or after the legacy pickles) without reading them. Tensors are found wherever they
sit in the nested object and keep their dotted path; optimizer state and EMA copies are marked as
such rather than counted as the model's parameters.
"""

from __future__ import annotations

import io
import pickle
import re
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.dtypes import DTYPES, is_float
from core.errors import Cancelled, CheckpointError
from core.model import DataSource, Section, TensorInfo
from core.readers.base import ReadResult
from core.readers.zipmember import (
    MemberStream,
    first_member_name,
    member_data_offset,
    read_member,
)
from core.torchscript import ClassDeclaration, declarations, declared_tensors, is_torchscript
from core.units import exact
from core.unpickle import (
    LEGACY_MAGIC,
    InertUnpickler,
    Opaque,
    StorageRef,
    TensorRef,
    to_plain,
)

PICKLE_LIMIT = 256 << 20  # a data.pkl larger than this is not a checkpoint's metadata
# torch.save stores data.pkl uncompressed; an archive re-packed with deflate is fine, but one
# whose data.pkl would inflate past INFLATE_FREE bytes and over INFLATE_RATIO times its packed
# size is a zip bomb (a pickle of tensor metadata packs 3–20 times, not 1,000)
INFLATE_FREE = 64 << 20
INFLATE_RATIO = 100
EXTENSIONS = (".pt", ".pth", ".bin", ".ckpt", ".tar", ".pkl", ".pickle")

OPTIMIZER_KEYS = {
    "optimizer",
    "optimizers",
    "optimizer_states",
    "optimizer_state_dict",
    "optimizer_state",
    "optim",
    "optim_state",
    "opt_state",
    "lr_scheduler",
    "lr_schedulers",
    "scheduler",
    "schedulers",
    "scaler",
    "grad_scaler",
    "amp",
}
COPY_KEYS = {
    "ema",
    "model_ema",
    "ema_model",
    "ema_state_dict",
    "ema_state",
    "shadow",
    "shadow_params",
    "averaged_model",
    "swa_model",
    "swa_state_dict",
    "callbacks",
}
CONFIG_KEYS = (
    "args",
    "config",
    "cfg",
    "hparams",
    "opt",
    "conf",
    "training_args",
    "params",
    "train_args",  # Ultralytics keeps its run's args.yaml in best.pt too
)
HPARAM_SECTIONS = ("hyper_parameters", "datamodule_hyper_parameters")
_SHARD = re.compile(r"-\d{5}-of-\d{5}\.(bin|pt|pth)$")


class PyTorchReader:
    format = "pytorch"

    def match(self, path: Path, head: bytes) -> bool:
        if path.is_dir():
            return bool(_folder_files(path))
        if path.name.endswith(".bin.index.json") or path.name.endswith(".pt.index.json"):
            return True
        if head[:4] == b"PK\x03\x04":
            return _zip_has_pickle(path, head)
        # a pickle: PROTO opcode then a protocol number, or a protocol-0/1 stream of a dict
        return (head[:1] == b"\x80" and 2 <= head[1:2][0] <= 5) if len(head) > 1 else False

    def read(self, path: Path) -> ReadResult:
        if path.is_dir():
            files = _folder_files(path)
            if len(files) == 1 and not files[0].name.endswith(".json"):
                return read_file(files[0])
            return _read_shards(path, files)
        if path.name.endswith(".index.json"):
            return _read_shards(path.parent, [path])
        return read_file(path)


def _zip_has_pickle(path: Path, head: bytes) -> bool:
    first = first_member_name(head)  # torch.save writes <folder>/data.pkl first
    if first is not None and first.endswith(b"data.pkl"):
        return True
    try:
        with zipfile.ZipFile(path) as zf:
            return _find_data_pkl(zf.namelist()) is not None
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError):
        return True  # a broken zip with a checkpoint's magic: let read() say what is wrong


def _find_data_pkl(names: list[str]) -> str | None:
    candidates = [n for n in names if n.endswith("data.pkl") and n.count("/") <= 1]
    if not candidates:
        return None
    candidates.sort(key=lambda n: (n.count("/") != 1, n))
    return candidates[0]


def _folder_files(folder: Path) -> list[Path]:
    indexes = sorted(folder.glob("*.bin.index.json")) + sorted(folder.glob("*.pt.index.json"))
    if indexes:
        return indexes[:1]
    files = [p for p in sorted(folder.iterdir()) if p.is_file() and p.suffix in EXTENSIONS]
    # training_args.bin and optimizer.pt beside HF weights are not the model
    files = [
        p
        for p in files
        if p.name
        not in (
            "training_args.bin",
            "optimizer.pt",
            "scheduler.pt",
            "rng_state.pth",
            "scaler.pt",
        )
    ]
    return files


def _read_shards(folder: Path, files: list[Path]) -> ReadResult:
    if len(files) == 1 and files[0].name.endswith(".json"):
        import json

        index = files[0]
        try:
            data = json.loads(index.read_text(encoding="utf-8"))
            names = sorted(set(data["weight_map"].values()))
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
            raise CheckpointError(index, f"not a valid shard index ({error})") from None
        shards = []
        for name in names:
            shard = (folder / str(name)).resolve()
            if folder.resolve() not in shard.parents:
                raise CheckpointError(index, f"shard {name!r} lies outside the model folder")
            shards.append(shard)
    else:
        shards = [f for f in files if _SHARD.search(f.name)]
        if len(shards) != len(files):
            raise CheckpointError(
                folder,
                f"the folder holds {len(files)} separate PyTorch checkpoints",
                "open one of them",
            )
    result = ReadResult(format="pytorch", files=[], tensors=[])
    for shard in shards:
        if not shard.is_file():
            result.warnings.append(f"shard {shard.name} is missing: its tensors are not shown")
            continue
        part = read_file(shard)
        result.files.extend(part.files)
        result.tensors.extend(part.tensors)
        result.warnings.extend(part.warnings)
        for key, value in part.metadata.items():
            result.metadata.setdefault(key, value)
    if not result.files:
        raise CheckpointError(folder, "none of the shards exists")
    result.facts["shards"] = str(len(result.files))
    return result


# --- one file ------------------------------------------------------------------------------------


def read_file(path: Path) -> ReadResult:
    obj, storages, locate, log, facts, script = _unpickle_file(path)
    result = ReadResult(format="pytorch", files=[path], tensors=[], facts=facts)
    result.warnings.extend(_summarise_log(log))
    if script is None:
        _collect_tensors(path, obj, storages, locate, result)
        _collect_hyperparams(obj, result)
    else:
        result.format = "torchscript"
        constants = [(f"CONSTANTS.c{i}", ref) for i, ref in enumerate(script.constants)]
        _collect_tensors(path, obj, storages, locate, result, constants)
        _apply_declarations(obj, script, result)
    return result


def read_pickled_object(path: Path) -> tuple[Any, list[str]]:
    """The raw unpickled top-level object (with TensorRefs and Opaque stand-ins) and the log."""
    obj, _, _, log, _, _ = _unpickle_file(path)
    return obj, _summarise_log(log)


def _summarise_log(log: list[str]) -> list[str]:
    blocked = [m for m in log if m.startswith("blocked")]
    unique = list(dict.fromkeys(blocked))
    out = unique[:10]
    if len(unique) > 10:
        out.append(f"… and {len(unique) - 10} more blocked calls")
    if blocked:
        out.insert(
            0,
            "this file asks to run code when loaded with torch.load; ParamScope ran none of it",
        )
    return out


def _unpickle_file(path: Path):
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as error:
        raise CheckpointError(path, f"cannot read the file ({error.strerror or error})") from None
    if size == 0:
        raise CheckpointError(path, "the file is empty")
    if head == b"PK\x03\x04":
        return _unpickle_zip(path, size)
    return _unpickle_legacy(path, size)


class _NeedMore(Exception):
    """The pickles run past the part of the file read so far."""


def _run_unpickler(
    path: Path, data: bytes, what: str, start: int = 0, complete: bool = True
) -> tuple[Any, InertUnpickler]:
    unpickler = InertUnpickler(data, start)
    try:
        return unpickler.load(), unpickler
    except (CheckpointError, Cancelled):
        raise
    except Exception as error:  # noqa: BLE001 — a malformed stream raises many error types
        if not complete:
            raise _NeedMore from None  # perhaps only cut short by our window: read more first
        if isinstance(error, EOFError):
            raise CheckpointError(path, f"{what} ends early", "the file is truncated") from None
        if isinstance(error, RecursionError):
            raise CheckpointError(path, f"{what} nests too deeply", "corrupt or hostile") from None
        if isinstance(error, MemoryError):
            raise CheckpointError(path, f"{what} asks for more memory than exists") from None
        if isinstance(error, KeyError) and type(error.args[0]) is int:
            # the pure-Python unpickler looks opcodes up in a table: a byte that is none
            raise CheckpointError(
                path,
                f"{what} is not a valid pickle: byte 0x{error.args[0]:02x} near offset "
                f"{max(0, unpickler.tell() - 1):,} is no pickle instruction",
                "corrupt file",
            ) from None
        raise CheckpointError(
            path,
            f"{what} is corrupt ({type(error).__name__}: {error})",
            "not a valid checkpoint",
        ) from None


def _unpickle_zip(path: Path, size: int):
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError) as error:
        raise CheckpointError(
            path, f"the zip archive is corrupt ({error})", "truncated or damaged"
        ) from None
    with zf:
        names = zf.namelist()
        data_pkl = _find_data_pkl(names)
        if data_pkl is None:
            raise CheckpointError(
                path, "the zip archive holds no data.pkl", "not a PyTorch checkpoint"
            )
        prefix = data_pkl[: -len("data.pkl")]
        info = zf.getinfo(data_pkl)
        if info.file_size > PICKLE_LIMIT:
            raise CheckpointError(
                path, f"data.pkl is {exact(info.file_size)} bytes", "not a checkpoint"
            )
        _check_packed_pickle(path, info)
        facts = {"container": "zip", "archive folder": prefix.rstrip("/") or "(none)"}
        byteorder = _small_member(path, zf, prefix + "byteorder")
        if byteorder:
            facts["byte order"] = byteorder
        version = _small_member(path, zf, prefix + "version")
        if version:
            facts["serialization version"] = version
        try:
            pickled = read_member(path, info)  # never more than its declared size
        except OSError as error:
            raise CheckpointError(
                path, f"cannot read data.pkl ({error})", "corrupt archive"
            ) from None
        obj, unpickler = _run_unpickler(path, pickled, "data.pkl")
        members = {n: zf.getinfo(n) for n in names if n.startswith(prefix + "data/")}
        places: dict[str, tuple[int, int] | str] = {}
        fd = zf.fp.fileno() if zf.fp is not None else -1
        for storage in unpickler.storages.values():
            member = members.get(f"{prefix}data/{storage.key}")
            if member is None:
                raise CheckpointError(
                    path, f"storage data/{storage.key} is missing from the archive", "corrupt file"
                )
            if member.compress_type != zipfile.ZIP_STORED:
                places[storage.key] = "its storage is compressed in the archive"
            elif byteorder == "big":
                places[storage.key] = "the archive stores big-endian data"
            else:
                start = member_data_offset(path, fd, member, size)
                places[storage.key] = (start, member.file_size)

        def locate(storage: StorageRef) -> tuple[int, int] | str:
            # a storage pickled inline (torch.storage._load_from_bytes) is no member
            return places.get(storage.key, "its storage is pickled inline, not an archive member")

        script = None
        if is_torchscript(names, prefix):
            script = _read_script(path, zf, prefix, size, fd, places, byteorder == "big")
            unpickler.log.extend(script.log)

        return obj, unpickler.storages, locate, unpickler.log, facts, script


# --- TorchScript ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Script:
    """What a TorchScript archive adds to a torch zip: its classes' declarations (from code/)
    and the tensors of constants.pkl (a frozen module's folded weights)."""

    classes: dict[str, ClassDeclaration]
    constants: list[TensorRef] = field(default_factory=list)
    log: list[str] = field(default_factory=list)


def _read_script(
    path: Path,
    zf: zipfile.ZipFile,
    prefix: str,
    size: int,
    fd: int,
    places: dict[str, tuple[int, int] | str],
    big_endian: bool,
) -> _Script:
    script = _Script(declarations(zf, prefix))
    try:
        info = zf.getinfo(prefix + "constants.pkl")
    except KeyError:
        return script
    if info.file_size > PICKLE_LIMIT:
        raise CheckpointError(
            path, f"constants.pkl is {exact(info.file_size)} bytes", "not a checkpoint"
        )
    _check_packed_pickle(path, info)
    pickled = read_member(path, info)  # never more than its declared size
    table, unpickler = _run_unpickler(path, pickled, "constants.pkl")
    script.log = unpickler.log
    script.constants = (
        [c for c in table if isinstance(c, TensorRef)] if isinstance(table, tuple | list) else []
    )
    for storage in unpickler.storages.values():
        # constants' storages are numbered from 0 like data.pkl's: keep their keys apart
        name = f"{prefix}constants/{storage.key}"
        storage.key = f"constants/{storage.key}"
        try:
            member = zf.getinfo(name)
        except KeyError:
            raise CheckpointError(
                path, f"storage {storage.key} is missing from the archive", "corrupt file"
            ) from None
        if member.compress_type != zipfile.ZIP_STORED:
            places[storage.key] = "its storage is compressed in the archive"
        elif big_endian:
            places[storage.key] = "the archive stores big-endian data"
        else:
            places[storage.key] = (member_data_offset(path, fd, member, size), member.file_size)
    return script


def _apply_declarations(obj: Any, script: _Script, result: ReadResult) -> None:
    """Parameters and buffers as the archive's classes declare them; a tensor attribute that is
    neither is other state, and an empty one (an RNN state not yet set) no row at all."""
    declared = declared_tensors(obj, script.classes)
    frozen = bool(script.constants) and not any(
        d in ("parameter", "buffer") for d in declared.values()
    )
    kept: list[TensorInfo] = []
    empty: list[str] = []
    for t in result.tensors:
        what = declared.get(t.name, "")
        if t.name.startswith("CONSTANTS."):
            # a frozen module's weights live here; otherwise they are constants of its code
            what = ("parameter" if is_float(t.dtype) else "buffer") if frozen else "attribute"
        if what == "attribute":
            if t.numel == 0:
                empty.append(t.name)
                continue
            t.section = "training"
        elif what:
            t.declared = what
        kept.append(t)
    result.tensors[:] = kept
    if empty:
        shown = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        result.facts["empty tensor attributes"] = shown
    if frozen:
        result.facts["frozen"] = (
            f"parameters and buffers folded into {len(script.constants)} constants (CONSTANTS.c0 …)"
        )
    if not result.tensors and "the file holds no tensors" not in result.warnings:
        result.warnings.append("the file holds no tensors")


def _check_packed_pickle(path: Path, info: zipfile.ZipInfo) -> None:
    """Refuse, before inflating it, a data.pkl that is no pickle or would inflate absurdly."""
    if info.compress_type == zipfile.ZIP_STORED:
        return
    if info.file_size > INFLATE_FREE and info.file_size > INFLATE_RATIO * info.compress_size:
        raise CheckpointError(
            path,
            f"data.pkl would inflate from {exact(info.compress_size)} to "
            f"{exact(info.file_size)} bytes",
            "a zip bomb, not a checkpoint",
        )
    try:
        with MemberStream(path, info) as stream:
            head = stream.read(2)
    except OSError as error:
        raise CheckpointError(path, f"cannot read data.pkl ({error})", "corrupt archive") from None
    if len(head) == 2 and not (head[0] == pickle.PROTO[0] and 2 <= head[1] <= 5):
        raise CheckpointError(
            path, f"data.pkl is not a pickle (it starts with {head.hex(' ')})", "corrupt file"
        )


def _small_member(path: Path, zf: zipfile.ZipFile, name: str) -> str:
    try:
        info = zf.getinfo(name)
    except KeyError:
        return ""
    if info.file_size > 64:
        return ""
    try:
        return read_member(path, info).decode("ascii", "replace").strip()
    except (CheckpointError, OSError):
        return ""


LEGACY_WINDOW = 1 << 20  # the pickles come first: start with this much, read more if needed


def _unpickle_legacy(path: Path, size: int):
    window = min(size, LEGACY_WINDOW)
    while True:
        try:
            with _open_or_fail(path) as f:
                data = f.read(window)
            return _parse_legacy(path, data, size)
        except _NeedMore:
            if window >= min(size, PICKLE_LIMIT):
                raise CheckpointError(path, "the pickle never ends", "corrupt file") from None
            window = min(size, PICKLE_LIMIT, window * 4)


def _parse_legacy(path: Path, data: bytes, size: int):
    complete = len(data) == size
    first, plain = _run_unpickler(path, data, "the pickle", 0, complete)
    if first != LEGACY_MAGIC:
        # a plain pickle (not torch.save's format): only the object, no storages after it
        return first, plain.storages, _no_data, plain.log, {"container": "pickle"}, None
    protocol, header = _run_unpickler(path, data, "the protocol header", plain.tell(), complete)
    _, info = _run_unpickler(path, data, "the system info header", header.tell(), complete)
    obj, unpickler = _run_unpickler(path, data, "the pickle", info.tell(), complete)
    keys, listing = _run_unpickler(path, data, "the storage list", unpickler.tell(), complete)
    if not isinstance(keys, list):
        raise CheckpointError(path, "the storage list is malformed", "corrupt file")
    data_start = listing.tell()
    storages = unpickler.storages
    places: dict[str, tuple[int, int] | str] = {}
    position = data_start
    with open(path, "rb") as f:
        for key in keys:
            storage = storages.get(str(key))
            if storage is None:
                raise CheckpointError(path, f"the storage list names unknown storage {key!r}")
            f.seek(position)
            raw = f.read(8)
            (numel,) = struct.unpack("<q", raw) if len(raw) == 8 else (-1,)
            if numel != storage.numel:
                raise CheckpointError(
                    path,
                    f"storage {key} should hold {exact(storage.numel)} elements at byte "
                    f"{exact(position)}, but the file says otherwise or ends there",
                    "the file is truncated or corrupt",
                )
            nbytes = DTYPES[storage.dtype].nbytes(numel)
            if position + 8 + nbytes > size:
                raise CheckpointError(
                    path,
                    f"storage {key} ends at byte {exact(position + 8 + nbytes)} "
                    f"but the file ends at {exact(size)}",
                    "the file is truncated",
                )
            places[storage.key] = (position + 8, nbytes)
            position += 8 + nbytes

    def locate(storage: StorageRef) -> tuple[int, int] | str:
        return places.get(storage.key, "its data lies beyond the end of the file (truncated)")

    facts = {"container": "legacy", "protocol": str(protocol)}
    return obj, storages, locate, unpickler.log, facts, None


def _open_or_fail(path: Path) -> io.BufferedReader:
    try:
        return open(path, "rb")
    except OSError as error:
        raise CheckpointError(path, f"cannot read the file ({error.strerror or error})") from None


def _no_data(storage: StorageRef) -> str:
    return "its data is inside a plain pickle; statistics need a torch.save file"


# --- walking the object ----------------------------------------------------------------------------

_MODULE_STATE = ("_parameters", "_buffers", "_modules")


def _walk(
    obj: Any, prefix: str, out: list[tuple[str, TensorRef]], seen: set[int], depth: int
) -> None:
    if depth > 200:
        return
    if isinstance(obj, TensorRef):
        out.append((prefix, obj))
        return
    if isinstance(obj, dict | list | tuple | Opaque):
        if id(obj) in seen:
            return
        seen.add(id(obj))
    if isinstance(obj, dict):
        for key, value in obj.items():
            _walk(value, _join(prefix, key), out, seen, depth + 1)
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            _walk(value, _join(prefix, i), out, seen, depth + 1)
    elif isinstance(obj, Opaque):
        state = obj.state_mapping()
        if isinstance(state, dict) and all(k in state for k in _MODULE_STATE):
            # a whole nn.Module pickled with torch.save(model): name tensors as its state_dict does
            for key in ("_parameters", "_buffers"):
                if isinstance(state[key], dict):
                    for name, value in state[key].items():
                        _walk(value, _join(prefix, name), out, seen, depth + 1)
            if isinstance(state["_modules"], dict):
                for name, module in state["_modules"].items():
                    _walk(module, _join(prefix, name), out, seen, depth + 1)
            return
        for part in (state, obj.items, obj.listitems, obj.args):
            if part:
                _walk(part, prefix, out, seen, depth + 1)


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _section_of(name: str, numel: int, has_model: bool, training_dict: bool) -> Section:
    parts = name.split(".")
    if parts[0] in OPTIMIZER_KEYS or "exp_avg" in parts[-1] or parts[-1] == "momentum_buffer":
        return "optimizer"
    if parts[0] == "callbacks" and numel <= 1:
        return "training"  # a callback's bookkeeping: best score, k-th value
    if has_model and any(p in COPY_KEYS for p in parts[:-1]):
        return "copy"
    if training_dict and len(parts) == 1:
        return "training"  # a loose tensor beside the state dicts: a metric, a step counter
    return "model"


def _collect_tensors(
    path: Path,
    obj: Any,
    storages: dict[str, StorageRef],
    locate: Any,
    result: ReadResult,
    extra: list[tuple[str, TensorRef]] | None = None,
) -> None:
    found: list[tuple[str, TensorRef]] = []
    _walk(obj, "", found, set(), 0)
    found.extend(extra or ())
    if not isinstance(obj, dict | Opaque) and found and found[0][0] == "":
        found = [("tensor", ref) for _, ref in found]  # torch.save(a_tensor)
    has_model = any(
        name.split(".")[0] not in OPTIMIZER_KEYS
        and not any(p in COPY_KEYS for p in name.split(".")[:-1])
        for name, _ in found
    )
    # a training dict nests state dicts; a plain state dict maps every name to a tensor
    training_dict = isinstance(obj, dict) and any(isinstance(v, dict) for v in obj.values())
    first_view: dict[tuple, str] = {}
    places: dict[str, tuple[int, int] | str] = {}
    unreadable = 0
    devices: dict[str, int] = {}
    for name, ref in found:
        dtype = DTYPES[ref.dtype]
        numel = ref.numel
        storage = ref.storage
        source: DataSource | None = None
        device = ""
        if storage is not None:
            device = storage.location
            devices[device] = devices.get(device, 0) + 1
            if storage.key not in places:
                places[storage.key] = locate(storage)
            place = places[storage.key]
            if isinstance(place, str):
                unreadable += 1
                if unreadable <= 3:
                    result.warnings.append(f"{name}: {place}")
            else:
                source = _source(path, place, storage, ref, dtype.nbytes(1), result, name)
        view = (
            storage.key if storage else id(ref),
            ref.storage_offset,
            ref.shape,
            ref.stride,
        )
        tied_to = first_view.get(view) if storage is not None else None
        if tied_to is None:
            first_view[view] = name
        result.tensors.append(
            TensorInfo(
                name=name,
                shape=ref.shape,
                dtype=ref.dtype,
                numel=numel,
                nbytes=dtype.nbytes(numel),
                source=source,
                section=_section_of(name, numel, has_model, training_dict),
                tied_to=tied_to,
                device=device,
            )
        )
    if unreadable > 3:
        result.warnings.append(f"… {unreadable - 3} more tensors whose data cannot be read")
    if devices:
        result.metadata["saved on"] = ", ".join(f"{d} ({n})" for d, n in sorted(devices.items()))
    if not found:
        result.warnings.append("the file holds no tensors")


def _source(
    path: Path,
    place: tuple[int, int],
    storage: StorageRef,
    ref: TensorRef,
    itemsize: int,
    result: ReadResult,
    name: str,
) -> DataSource | None:
    start, storage_bytes = place
    first = (storage.view_offset + ref.storage_offset) * itemsize
    contiguous = _contiguous_strides(ref.shape)
    if ref.numel == 0:
        span = 0
    else:
        span = (1 + sum((d - 1) * s for d, s in zip(ref.shape, ref.stride, strict=True))) * itemsize
    if first + span > storage_bytes:
        result.warnings.append(f"{name}: its view reaches beyond its storage (corrupt file)")
        return None
    strides = None if ref.stride == contiguous or ref.numel <= 1 else ref.stride
    return DataSource(file=path, offset=start + first, nbytes=span, strides=strides)


def _contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for d in reversed(shape):
        strides.append(step)
        step *= max(d, 1)
    return tuple(reversed(strides))


# --- hyperparameters inside the training dict --------------------------------------------------------


def _collect_hyperparams(obj: Any, result: ReadResult) -> None:
    if not isinstance(obj, dict):
        return
    own: dict[str, Any] = {}
    for key, value in obj.items():
        key = str(key)
        if key in HPARAM_SECTIONS and value is not None:
            plain = to_plain(value)
            result.hyperparams[f"checkpoint:{key}"] = (
                plain if isinstance(plain, dict) else {"value": plain}
            )
        elif key in CONFIG_KEYS and isinstance(value, dict | Opaque):
            plain = to_plain(value)
            if isinstance(plain, dict):
                result.hyperparams[f"checkpoint:{key}"] = plain
        elif _is_scalar_entry(value):
            own[key] = to_plain(value)
    if own and _looks_like_training_dict(obj):
        result.hyperparams["checkpoint"] = own
    for key in (
        "epoch",
        "global_step",
        "step",
        "pytorch-lightning_version",
        "lightning_version",
    ):
        if key in own:
            result.facts[key] = str(own[key])


def _is_scalar_entry(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple) and len(value) <= 64:
        return all(v is None or isinstance(v, bool | int | float | str) for v in value)
    return isinstance(value, Opaque) and value.module.startswith("numpy")


def _looks_like_training_dict(obj: dict) -> bool:
    """A plain state dict maps names to tensors; a training dict mixes tensors with other entries."""
    return not all(isinstance(v, TensorRef) for v in obj.values())
