"""A hostile-input campaign: mutated files of every format and hostile pickles in every container,
each opened with `info --json` and `stats` of its first tensors in a child process with a 20 s
timeout and a 3 GiB address-space cap. Not part of `make test`: it takes minutes.

    .venv/bin/python benchmarks/fuzz.py [--cases 10000] [--seed 1] [--jobs 2] [--keep DIR]

The base files are real, made by torch / safetensors / gguf / onnx / numpy / h5py in a separate
process (tests/format_fixtures.py, tests/checkpoints.py). Mutations: bit flips, byte runs,
truncation at every structural boundary (zip records, safetensors header and data offsets, GGUF
fields, protobuf fields, .npy header), length and count fields set to huge values, safetensors
header JSON edits, zip directory edits, protobuf varints, GGUF counts, edits inside zip members
with the CRC made right (data.pkl, .npy, config.json). Hostile pickles try to create a marker file.

A fork server runs the cases: this process imports the engine once and forks a child per case
(rlimits set in the child, result through a pipe, killed at the timeout), so thousands of cases
take minutes on two cores. It prints: tried / opened / clean errors / tracebacks / hangs /
over 1 GiB / signals / markers, then each class of traceback, hang or signal with a reproducer
(kept under --keep).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 20.0
ADDRESS_SPACE = 3 << 30
BIG_RSS_KIB = 1 << 20  # 1 GiB in ru_maxrss units (KiB on Linux)
PRELOAD = [
    "numpy",
    "yaml",
    "core.cli",
    "core.open",
    "core.stats",
    "core.stats_cli",
    "core.hparams.cli",
    "core.hparams.discover",
    "core.readers.safetensors",
    "core.readers.pytorch",
    "core.readers.gguf",
    "core.readers.onnx",
    "core.readers.numpy",
    "core.readers.keras",
]
HUGE = [2**64 - 1, 2**63, 2**63 - 1, 2**62, 2**40 + 1, 2**32, 2**32 - 1, 2**31, 0xFFFF, 10**12]


# --- the corpus: real files, made in a process that may import torch ---------------------------

PAYLOADS = {
    "system": "os.system",
    "eval": "eval",
    "exec": "exec",
    "popen": "subprocess.Popen",
    "getattr": "getattr(__import__('os'), 'system')",
    "from_type": "torch._tensor._rebuild_from_type_v2(os.system, …)",
    "partial": "functools.partial(os.system, …)()",
    "runpy": "runpy._run_code",
    "timeit": "timeit.timeit",
    "storage_bytes": "torch.storage._load_from_bytes(legacy stream with os.system)",
    "nested_pickle": "pickle.loads(pickle of os.system)",
    "apply": "builtins.__import__('os').system via operator.methodcaller",
}
CONTAINERS = ("torch_zip", "torch_legacy", "training_args", "lightning", "npy", "npz")


def make_corpus(folder: Path) -> None:
    """Base files (one folder each: the file and what must lie beside it) and hostile pickles."""
    sys.path.insert(0, str(ROOT / "tests"))
    import numpy as np
    import torch
    from checkpoints import make_model, save_lightning, save_safetensors, save_training_dict
    from format_fixtures import (
        keras_weights,
        npz_arrays,
        write_gguf,
        write_h5,
        write_keras,
        write_npy,
        write_onnx,
    )

    bases = folder / "bases"
    model = make_model(layers=2, width=16)

    def base(name: str) -> Path:
        place = bases / name
        place.mkdir(parents=True)
        return place

    save_safetensors(model, base("safetensors") / "model.safetensors")
    torch.save(model.state_dict(), base("torch_zip") / "model.pt")
    torch.save(
        model.state_dict(), base("torch_legacy") / "model.pt", _use_new_zipfile_serialization=False
    )
    save_lightning(model, base("lightning") / "last.ckpt")
    save_training_dict(model, base("training") / "checkpoint.pt")
    write_gguf(base("gguf") / "model.gguf", layers=1)
    write_onnx(base("onnx") / "model.onnx", external=False)
    write_onnx(base("onnx_external") / "model.onnx", external=True)
    write_npy(base("npy") / "weights.npy", np.arange(60, dtype=np.float32).reshape(6, 10))
    write_npy(base("npy_fortran") / "weights.npy", np.asfortranarray(np.ones((5, 7), np.float16)))
    np.savez(base("npz") / "arrays.npz", **npz_arrays())
    np.savez_compressed(base("npz_compressed") / "arrays.npz", **npz_arrays())
    write_keras(base("keras") / "model.keras")
    write_h5(base("h5") / "model.weights.h5", keras_weights())
    _hostile(folder / "hostile", model)
    _crafted(folder / "crafted", model)


def _crafted(folder: Path, model) -> None:
    """The crafted inputs of issue 14 that are valid files with hostile values."""
    import shutil as _shutil
    import warnings as _warnings

    import numpy as np
    import torch
    from safetensors.numpy import save_file

    def place(name: str) -> Path:
        path = folder / name
        path.mkdir(parents=True)
        return path

    (place("thirteen_bytes") / "model.bin").write_bytes(b"\x08" + b"\xff" * 11 + b"\x01")
    torch.save({"w": torch.zeros(1).expand(2**40)}, place("stride0") / "model.pt")
    save_file(
        {".".join(["a"] * 1000) + ".weight": np.ones(3, np.float32)},
        str(place("thousand_dots") / "model.safetensors"),
    )
    torch.save(
        {"hyper_parameters": {"lr": 10**20000}, "state_dict": model.state_dict()},
        place("digit_limit") / "last.ckpt",
    )
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        huge = _Call(
            torch._utils._rebuild_tensor_v2,
            torch.zeros(1).storage(),
            0,
            (10**200, 10**200),
            (0, 0),
            False,
            {},
        )
        import pickle

        (place("beyond_float") / "model.pkl").write_bytes(pickle.dumps({"w": huge}, protocol=4))
    for name, other in (("adapter_a", "adapter_b"), ("adapter_b", "adapter_a")):
        adapter = place(name)
        save_file(
            {
                "base_model.model.l.lora_A.weight": np.ones((4, 8), np.float32),
                "base_model.model.l.lora_B.weight": np.ones((8, 4), np.float32),
            },
            str(adapter / "adapter_model.safetensors"),
        )
        config = {"peft_type": "LORA", "r": 4, "base_model_name_or_path": f"../{other}"}
        text = json.dumps(config)[:-1] + ', "lora_alpha": ' + "9" * 400 + "}"
        (adapter / "adapter_config.json").write_text(text)
    gguf_split = place("gguf_split_name")
    _shutil.copy(
        folder.parent / "bases" / "gguf" / "model.gguf", gguf_split / "m-00005-of-00003.gguf"
    )


class _Call:
    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args

    def __call__(self, *args):  # lets a call stand as the function of another (pickling only)
        raise AssertionError("never called while pickling")


def _payload(kind: str, marker: Path):
    import functools
    import io
    import operator
    import pickle
    import runpy
    import timeit

    import torch

    command = f"touch {marker}"
    code = f"import os; os.system({command!r})"
    if kind == "system":
        return _Call(os.system, command)
    if kind == "eval":
        return _Call(eval, f"__import__('os').system({command!r})")
    if kind == "exec":
        return _Call(exec, code)
    if kind == "popen":
        return _Call(subprocess.Popen, ["touch", str(marker)])
    if kind == "getattr":
        return _Call(_Call(getattr, _Call(__import__, "os"), "system"), command)
    if kind == "from_type":
        return _Call(torch._tensor._rebuild_from_type_v2, os.system, torch.Tensor, (command,), {})
    if kind == "partial":
        return _Call(_Call(functools.partial, os.system, command))
    if kind == "runpy":
        return _Call(runpy._run_code, code, {})
    if kind == "timeit":
        return _Call(timeit.timeit, code, "pass", time.perf_counter, 1)
    if kind == "nested_pickle":
        return _Call(pickle.loads, pickle.dumps(_Call(os.system, command), protocol=2))
    if kind == "apply":
        return _Call(_Call(operator.methodcaller, "system", command), _Call(__import__, "os"))
    if kind == "storage_bytes":
        storage = object()

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj):
                if obj is storage:
                    return ("storage", _Call(os.system, command), "0", "cpu", 4, None)
                return None

        out = io.BytesIO()
        for value in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}):
            pickle.dump(value, out, protocol=2)
        Pickler(out, protocol=2).dump(storage)
        pickle.dump(["0"], out, protocol=2)
        return _Call(torch.storage._load_from_bytes, out.getvalue())
    raise ValueError(kind)


def _hostile(folder: Path, model) -> None:
    import numpy as np
    import torch
    from checkpoints import save_safetensors

    for kind in PAYLOADS:
        for container in CONTAINERS:
            place = folder / f"{kind}-{container}"
            place.mkdir(parents=True)
            marker = place / "MARKER"
            evil = _payload(kind, marker)
            state = model.state_dict()
            if container == "torch_zip":
                torch.save({"state_dict": state, "evil": evil}, place / "model.pt")
            elif container == "torch_legacy":
                torch.save(
                    {"state_dict": state, "evil": evil},
                    place / "model.pt",
                    _use_new_zipfile_serialization=False,
                )
            elif container == "training_args":
                save_safetensors(model, place / "model.safetensors")
                torch.save({"learning_rate": 1e-4, "evil": evil}, place / "training_args.bin")
            elif container == "lightning":
                torch.save(
                    {
                        "state_dict": state,
                        "hyper_parameters": {"lr": 0.1, "evil": evil},
                        "pytorch-lightning_version": "2.4.0",
                    },
                    place / "last.ckpt",
                )
            elif container == "npy":
                array = np.empty(2, dtype=object)
                array[0], array[1] = evil, 1.0
                np.save(place / "evil.npy", array, allow_pickle=True)
            elif container == "npz":
                array = np.empty(1, dtype=object)
                array[0] = evil
                np.savez(place / "evil.npz", w=np.ones(3, np.float32), evil=array)


# --- structure: where the boundaries and the length/count fields of each format lie -------------


@dataclass
class Layout:
    boundaries: set[int] = field(default_factory=set)
    fields: list[tuple[int, int, str]] = field(default_factory=list)  # offset, size, what
    varints: list[tuple[int, int]] = field(default_factory=list)  # protobuf: offset, size


def layout(data: bytes) -> Layout:
    out = Layout(boundaries={0, len(data)})
    if data[:4] == b"PK\x03\x04":
        _zip_layout(data, out)
    elif data[:4] == b"GGUF":
        _gguf_layout(data, out)
    elif data[:6] == b"\x93NUMPY":
        _npy_layout(data, out)
    elif data[:8] == b"\x89HDF\r\n\x1a\n":
        pass  # HDF5: bit flips, runs and truncation only
    elif len(data) > 8 and data[8:9] == b"{":
        (n,) = struct.unpack_from("<Q", data)
        out.boundaries |= {8, 8 + n}
        out.fields.append((0, 8, "safetensors header length"))
        try:
            header = json.loads(data[8 : 8 + n])
            for entry in header.values():
                if isinstance(entry, dict) and "data_offsets" in entry:
                    out.boundaries |= {8 + n + o for o in entry["data_offsets"]}
        except ValueError:
            pass
    elif data[:1] in (b"\x08", b"\x0a", b"\x12", b"\x3a", b"\x42"):
        _protobuf_layout(data, 0, len(data), out, 0)
    return out


def _zip_layout(data: bytes, out: Layout) -> None:
    at = 0
    while (at := data.find(b"PK", at)) >= 0:
        tag = data[at : at + 4]
        if tag == b"PK\x03\x04" and at + 30 <= len(data):
            name_len, extra_len = struct.unpack_from("<HH", data, at + 26)
            out.boundaries |= {at, at + 30, at + 30 + name_len + extra_len}
            out.fields += [(at + 18, 4, "local compressed size"), (at + 22, 4, "local size")]
            out.fields += [(at + 26, 2, "local name length"), (at + 28, 2, "local extra length")]
        elif tag == b"PK\x01\x02" and at + 46 <= len(data):
            out.boundaries.add(at)
            out.fields += [
                (at + 10, 2, "method"),
                (at + 20, 4, "compressed size"),
                (at + 24, 4, "size"),
                (at + 28, 2, "name length"),
                (at + 30, 2, "extra length"),
                (at + 42, 4, "local header offset"),
            ]
        elif tag == b"PK\x05\x06" and at + 22 <= len(data):
            out.boundaries.add(at)
            out.fields += [
                (at + 8, 2, "entries here"),
                (at + 10, 2, "entries"),
                (at + 12, 4, "directory size"),
                (at + 16, 4, "directory offset"),
            ]
        elif tag == b"PK\x06\x06":
            out.boundaries.add(at)
        at += 2


def _gguf_layout(data: bytes, out: Layout) -> None:
    out.fields += [(8, 8, "tensor count"), (16, 8, "kv count")]
    scalar = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    try:
        tensors, kvs = struct.unpack_from("<QQ", data, 8)
        at = 24

        def string(what: str) -> None:
            nonlocal at
            out.fields.append((at, 8, f"{what} length"))
            (n,) = struct.unpack_from("<Q", data, at)
            at += 8 + n

        for _ in range(min(kvs, 10_000)):
            out.boundaries.add(at)
            string("key")
            out.fields.append((at, 4, "value type"))
            (kind,) = struct.unpack_from("<I", data, at)
            at += 4
            if kind == 8:
                string("string value")
            elif kind == 9:
                (item,) = struct.unpack_from("<I", data, at)
                out.fields += [(at, 4, "array type"), (at + 4, 8, "array count")]
                (count,) = struct.unpack_from("<Q", data, at + 4)
                at += 12
                for _ in range(count):
                    if item == 8:
                        (n,) = struct.unpack_from("<Q", data, at)
                        at += 8 + n
                    else:
                        at += scalar[item]
            else:
                at += scalar[kind]
        for _ in range(min(tensors, 10_000)):
            out.boundaries.add(at)
            string("tensor name")
            out.fields.append((at, 4, "n_dims"))
            (dims,) = struct.unpack_from("<I", data, at)
            at += 4
            out.fields += [(at + 8 * i, 8, "dim") for i in range(dims)]
            at += 8 * dims
            out.fields += [(at, 4, "ggml type"), (at + 4, 8, "tensor offset")]
            at += 12
        out.boundaries.add(at)
    except (struct.error, KeyError):
        pass


def _npy_layout(data: bytes, out: Layout) -> None:
    out.boundaries |= {6, 8, 10}
    out.fields.append((8, 2, "npy header length"))
    (n,) = struct.unpack_from("<H", data, 8)
    out.boundaries.add(10 + n)


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    start = at
    while True:
        if at >= len(data) or at - start > 9:
            raise ValueError("varint")
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7


def _protobuf_layout(data: bytes, start: int, end: int, out: Layout, depth: int) -> bool:
    """Record the fields of a protobuf message; whether `data[start:end]` parsed as one."""
    at = start
    found: list[tuple[int, int, int, int]] = []
    try:
        while at < end:
            key, after_key = _varint(data, at)
            wire = key & 7
            if key >> 3 == 0 or wire in (3, 4, 6, 7):
                return False
            if wire == 0:
                _, after = _varint(data, after_key)
                found.append((at, after_key, after, -1))
            elif wire == 1:
                after = after_key + 8
            elif wire == 5:
                after = after_key + 4
            else:
                length, body = _varint(data, after_key)
                after = body + length
                found.append((at, after_key, body, after))
            if after > end:
                return False
            at = after
    except ValueError:
        return False
    for field_at, value_at, body, after in found:
        out.boundaries.add(field_at)
        out.varints.append((value_at, body - value_at))
        if after >= 0 and depth < 12 and len(out.varints) < 20_000:
            out.boundaries.add(after)
            _protobuf_layout(data, body, after, out, depth + 1)
    return True


# --- mutations --------------------------------------------------------------------------------


def mutate(data: bytes, shape: Layout, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of `data`, chosen to fit its structure, and a short name for it."""
    choices = ["bitflip", "byterun", "truncate_boundary", "truncate_random"]
    if shape.fields:
        choices += ["huge_field"] * 3
    if shape.varints:
        choices += ["varint"] * 3
    if len(data) > 8 and data[8:9] == b"{":
        choices += ["header_json"] * 4
    if data[:4] == b"PK\x03\x04":
        choices += ["zip_member"] * 3 + ["zip_directory"] * 2
    if data[:6] == b"\x93NUMPY":
        choices += ["npy_header"] * 3
    kind = rng.choice(choices)
    buf = bytearray(data)
    if kind == "bitflip":
        for _ in range(rng.choice((1, 1, 2, 4, 16))):
            at = rng.randrange(len(buf))
            buf[at] ^= 1 << rng.randrange(8)
        return kind, bytes(buf)
    if kind == "byterun":
        at, n = rng.randrange(len(buf)), rng.choice((1, 2, 4, 8, 64, 512))
        fill = rng.choice((b"\x00", b"\xff", b"\x7f", None))
        run = fill * n if fill else rng.randbytes(n)
        buf[at : at + n] = run[: len(buf) - at]
        return f"{kind}", bytes(buf)
    if kind == "truncate_boundary":
        cut = rng.choice(sorted(shape.boundaries)) + rng.choice((-1, 0, 0, 1))
        return kind, data[: max(0, cut)]
    if kind == "truncate_random":
        return kind, data[: rng.randrange(len(data))]
    if kind == "huge_field":
        at, size, what = rng.choice(shape.fields)
        value = rng.choice(HUGE + [0, 1, len(data), len(data) + 1]) % (1 << (8 * size))
        buf[at : at + size] = value.to_bytes(size, "little")
        return f"{kind}:{what}", bytes(buf)
    if kind == "varint":
        at, size = rng.choice(shape.varints)
        if rng.random() < 0.7:  # same length: the enclosing lengths stay right
            buf[at : at + size] = b"\xff" * (size - 1) + b"\x7f"
        else:
            value = rng.choice(HUGE)
            encoded = bytearray()
            while True:
                encoded.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
                value >>= 7
                if not value:
                    break
            buf[at : at + size] = encoded
        return kind, bytes(buf)
    if kind == "header_json":
        return _header_json(data, rng)
    if kind == "zip_member":
        return _zip_member(data, rng)
    if kind == "zip_directory":
        return _zip_directory(data, rng)
    return _npy_header(data, rng)


def _header_json(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    (n,) = struct.unpack_from("<Q", data)
    header = json.loads(data[8 : 8 + n])
    body = data[8 + n :]
    names = [k for k in header if k != "__metadata__"]
    name = rng.choice(names)
    entry = header[name]
    edit = rng.choice(
        [
            "huge_dim", "negative_dim", "zero_dim", "float_dim", "text_dim", "many_dims",
            "dtype", "offsets_swapped", "offsets_beyond", "offsets_huge", "offsets_overlap",
            "offsets_not_list", "entry_not_dict", "dotted_name", "empty_name", "metadata",
            "many_names", "deep_nesting", "nan", "duplicate_key", "padding", "not_utf8",
            "length_short", "length_long",
        ]
    )  # fmt: skip
    text = None
    if edit == "huge_dim":
        entry["shape"] = [rng.choice(HUGE), *entry["shape"][1:]]
    elif edit == "negative_dim":
        entry["shape"] = [-rng.choice((1, 2**63)), *entry["shape"][1:]]
    elif edit == "zero_dim":
        entry["shape"] = [0, *entry["shape"]]
    elif edit == "float_dim":
        entry["shape"] = [1.5, *entry["shape"]]
    elif edit == "text_dim":
        entry["shape"] = ["4", *entry["shape"]]
    elif edit == "many_dims":
        entry["shape"] = [1] * rng.choice((64, 1000, 100_000))
    elif edit == "dtype":
        entry["dtype"] = rng.choice(["F128", "", "F8_E4M3", "BOOL", "I4", "U64", 7, None, "C64"])
    elif edit == "offsets_swapped":
        entry["data_offsets"] = entry["data_offsets"][::-1]
    elif edit == "offsets_beyond":
        entry["data_offsets"] = [o + len(body) for o in entry["data_offsets"]]
    elif edit == "offsets_huge":
        entry["data_offsets"] = [entry["data_offsets"][0], rng.choice(HUGE)]
    elif edit == "offsets_overlap":
        entry["data_offsets"] = [0, entry["data_offsets"][1] - entry["data_offsets"][0]]
    elif edit == "offsets_not_list":
        entry["data_offsets"] = rng.choice([None, 5, "0,4", [0], [0, 1, 2], {"a": 1}])
    elif edit == "entry_not_dict":
        header[name] = rng.choice([None, 1, "x", [1, 2], []])
    elif edit == "dotted_name":
        header[".".join(["a"] * rng.choice((100, 1000, 5000))) + ".weight"] = header.pop(name)
    elif edit == "empty_name":
        header[rng.choice(["", ".", "..", " ", "\x00", "a..b", ".weight"])] = header.pop(name)
    elif edit == "metadata":
        header["__metadata__"] = rng.choice(
            [None, 1, [1], {"a": 1}, {"a": None}, {"a": {"b": "c"}}, {"x" * 10_000: "y" * 10**6}]
        )
    elif edit == "many_names":
        for i in range(rng.choice((10_000, 100_000))):
            header[f"m.{i}.w"] = dict(entry)
    elif edit == "deep_nesting":
        header["__metadata__"] = {"k": "[" * 10_000 + "]" * 10_000}
        text = json.dumps(header).replace('"[', "[", 1).replace(']"', "]", 1)
    elif edit == "nan":
        entry["shape"] = [float("nan")]
    elif edit == "duplicate_key":
        text = json.dumps(header)
        text = text[:-1] + ", " + json.dumps({name: entry})[1:]
    elif edit == "padding":
        text = json.dumps(header) + " " * rng.choice((1, 7, 100_000))
    elif edit == "not_utf8":
        raw = json.dumps(header).encode().replace(name.encode(), name.encode() + b"\xff\xfe", 1)
        return f"header_json:{edit}", struct.pack("<Q", len(raw)) + raw + body
    elif edit in ("length_short", "length_long"):
        raw = json.dumps(header).encode()
        delta = -rng.randrange(1, 9) if edit == "length_short" else rng.randrange(1, 9)
        return f"header_json:{edit}", struct.pack("<Q", len(raw) + delta) + raw + body
    raw = (text if text is not None else json.dumps(header)).encode()
    return f"header_json:{edit}", struct.pack("<Q", len(raw)) + raw + body


def _rezip(data: bytes, rng: random.Random, edit_member) -> tuple[str, bytes] | None:
    import io

    try:
        src = zipfile.ZipFile(io.BytesIO(data))
        infos = src.infolist()
    except (zipfile.BadZipFile, ValueError, OSError):
        return None
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        target = rng.choice(infos)
        what = ""
        for info in infos:
            content = src.read(info)
            if info is target:
                what, info, content = edit_member(info, content)
                if what.endswith("duplicate"):  # the same name twice, the second one shorter
                    dst.writestr(info, content + b"\0")
            dst.writestr(info, content)
    return what, out.getvalue()


def _zip_member(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    def edit(info: zipfile.ZipInfo, content: bytes):
        buf = bytearray(content)
        how = rng.choice(("bitflip", "byterun", "truncate", "pickle_int", "json"))
        if not buf:
            return "zip_member:empty", info, content
        if how == "bitflip":
            for _ in range(rng.choice((1, 2, 8))):
                at = rng.randrange(len(buf))
                buf[at] ^= 1 << rng.randrange(8)
        elif how == "byterun":
            at = rng.randrange(len(buf))
            n = rng.choice((1, 4, 16, 128))
            buf[at : at + n] = rng.randbytes(n)[: len(buf) - at]
        elif how == "truncate":
            del buf[rng.randrange(len(buf)) :]
        elif how == "pickle_int" and info.filename.endswith(".pkl"):
            # a BININT / LONG4 argument set to something huge
            at = buf.find(rng.choice((b"J", b"K", b"M", b"\x8a", b"q", b"r", b"h", b"j")))
            if at >= 0:
                buf[at + 1 : at + 5] = rng.choice(HUGE).to_bytes(8, "little")[:4]
        elif how == "json" and info.filename.endswith(".json"):
            try:
                config = json.loads(content)
                config[rng.choice(list(config) or ["x"])] = rng.choice(
                    [None, [], {}, 10**400, "x" * 100_000, [[[[[]]]]]]
                )
                buf = bytearray(json.dumps(config).encode())
            except ValueError:
                pass
        return f"zip_member:{how}:{Path(info.filename).suffix}", info, bytes(buf)

    done = _rezip(data, rng, edit)
    return done if done is not None else ("zip_member:unreadable", data)


def _zip_directory(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    def edit(info: zipfile.ZipInfo, content: bytes):
        how = rng.choice(
            ("empty_name", "dotdot", "duplicate", "folder", "method", "flag", "long_name")
        )
        if how == "empty_name":
            info.filename = ""
        elif how == "dotdot":
            info.filename = "../" + info.filename
        elif how == "folder":
            info.filename = info.filename + "/"
        elif how == "long_name":
            info.filename = "x/" * 20_000 + info.filename
        elif how == "duplicate":
            content = content[: len(content) // 2]
        elif how == "method":
            info.compress_type = rng.choice((zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2))
        elif how == "flag":
            info.flag_bits |= 0x1
        return f"zip_directory:{how}", info, content

    done = _rezip(data, rng, edit)
    if done is None:
        return "zip_directory:unreadable", data
    what, rebuilt = done
    if what.endswith("method") and rng.random() < 0.5:
        # the method byte says one thing, the data is another (stored data called bzip2)
        at = rebuilt.rfind(b"PK\x01\x02")
        if at >= 0:
            method = rng.choice((12, 14, 93, 99, 1))
            rebuilt = rebuilt[: at + 10] + struct.pack("<H", method) + rebuilt[at + 12 :]
            what += f"-{method}"
    return what, rebuilt


def _npy_header(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    (n,) = struct.unpack_from("<H", data, 8)
    body = data[10 + n :]
    header = rng.choice(
        [
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776,), }",
            "{'descr': '<f4', 'fortran_order': True, 'shape': (0, 10**30), }",
            "{'descr': '|O', 'fortran_order': False, 'shape': (3,), }",
            "{'descr': '<U10', 'fortran_order': False, 'shape': (2,), }",
            "{'descr': '>f8', 'fortran_order': True, 'shape': (6, 10), }",
            "{'descr': [('a', '<f4'), ('b', '<i8')], 'fortran_order': False, 'shape': (2,), }",
            "{'descr': '<f2', 'fortran_order': False, 'shape': (-1,), }",
            "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 500 + ")" * 500 + "}",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (" + "2," * 100 + "), }",
            "{'descr': '<f4', 'fortran_order': 'yes', 'shape': (60,), }",
            "{'descr': '<V0', 'fortran_order': False, 'shape': (10,), }",
            "{'descr': '<f4', 'shape': (60,), }",
            "not a dict at all",
            "{'descr': '<f4', 'fortran_order': False, 'shape': (60,), 'x': " + "9" * 5000 + "}",
        ]
    )
    raw = header.encode("latin1")
    raw += b" " * (-(len(raw) + 11) % 64) + b"\n"
    return "npy_header", data[:8] + struct.pack("<H", len(raw)) + raw + body


# --- the fork server -----------------------------------------------------------------------------


@dataclass
class Case:
    number: int
    what: str  # base name and mutation
    folder: Path  # the case's own folder (its file, and what lies beside it)
    path: Path  # what is opened
    marker: Path | None = None
    change: str = ""  # how the file changes while it is read (CHANGES), or "" for none


def _child(case: Case, write_fd: int) -> None:
    """In the forked child: cap memory, run the commands, report through the pipe, exit."""
    os.setpgid(0, 0)  # its own group: a hang is killed with every process it started
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
    outcome: dict = {}
    try:
        outcome = _changing(case.path, case.change) if case.change else _run_commands(case.path)
    except BaseException as error:  # noqa: BLE001 — this is what the campaign looks for
        frames = traceback.extract_tb(error.__traceback__)
        ours = [f for f in frames if str(ROOT) in f.filename and "benchmarks" not in f.filename]
        where = ours[-1] if ours else (frames[-1] if frames else None)
        place = (
            f"{Path(where.filename).relative_to(ROOT) if str(ROOT) in where.filename else where.filename}:{where.lineno} {where.name}"
            if where
            else "?"
        )  # noqa: E501
        outcome = {
            "kind": "traceback",
            "class": f"{type(error).__name__} at {place}",
            "message": f"{type(error).__name__}: {str(error)[:300]}",
        }
    try:
        import multiprocessing

        for worker in multiprocessing.active_children():  # an isolated HDF5 reader, if any
            worker.kill()
    except Exception:  # noqa: BLE001, S110
        pass
    os.write(write_fd, json.dumps(outcome).encode()[:60_000])
    os._exit(0)


def _run_commands(path: Path) -> dict:
    import io

    from core.cli import main as cli_main
    from core.errors import CheckpointError
    from core.open import BUG_HINT, open_checkpoint

    try:
        names = [t.name for t in open_checkpoint(path).tensors[:3]]
    except CheckpointError as error:
        if error.hint == BUG_HINT and error.__cause__ is not None:
            # "this is a bug in ParamScope": the exception behind it, with its place
            raise error.__cause__ from None
        names = None
    sys.stderr = io.StringIO()
    if cli_main(["info", str(path), "--json"]) != 0 or names is None:
        return {"kind": "clean"}
    if names:
        args = ["stats", str(path), "--json", "--workers", "0"]
        for name in names:
            args += ["--tensor", name]
        cli_main(args)
    cli_main(["hparams", str(path), "--json"])
    said = sys.stderr.getvalue()
    if BUG_HINT in said:
        line = next(text for text in said.splitlines() if BUG_HINT in text)
        return {"kind": "traceback", "class": "bug hint", "message": line.split(": ", 1)[-1]}
    return {"kind": "opened"}


# Training rewrites last.ckpt and model.safetensors while people look at them: each way a file can
# change under a reader, applied at the first progress report of a statistics run over it.
CHANGES = ("truncate-half", "truncate-start", "touch", "zeros", "replace")


def _change_file(path: Path, change: str) -> None:
    size = path.stat().st_size
    if change == "truncate-half":
        os.truncate(path, size // 2)
    elif change == "truncate-start":
        os.truncate(path, min(size, 64))
    elif change == "touch":
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000_000))
    elif change == "zeros":  # rewritten in place, same size, other bytes
        with open(path, "r+b") as f:
            f.write(b"\0" * size)
    elif change == "replace":  # a writer's atomic rename of a new, shorter file over it
        fresh = path.with_name(path.name + ".new")
        fresh.write_bytes(path.read_bytes()[: size // 3])
        os.replace(fresh, path)


def _changing(path: Path, change: str) -> dict:
    """Open, then read every tensor's statistics while the file changes underneath: a clean
    error ("the file changed while it was read") or correct results, never a signal or a trace."""
    from core.errors import CheckpointError
    from core.open import open_checkpoint
    from core.stats import many_stats

    try:
        checkpoint = open_checkpoint(path)
    except CheckpointError:
        return {"kind": "clean"}
    changed = []

    def progress(done: int, total: int) -> None:
        if not changed:
            changed.append(True)
            for file in checkpoint.files:
                _change_file(Path(file), change)

    readable = [t for t in checkpoint.tensors if t.source is not None]
    try:
        many_stats(readable, bins=16, progress=progress, workers=0)
    except CheckpointError:
        return {"kind": "clean"}
    return {"kind": "opened"}


@dataclass
class Tally:
    tried: int = 0
    opened: int = 0
    clean: int = 0
    tracebacks: int = 0
    hangs: int = 0
    big: int = 0
    signals: int = 0
    markers: int = 0
    classes: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    mutations: Counter = field(default_factory=Counter)


def run_cases(cases: list[Case], jobs: int, keep: Path | None, tally: Tally) -> None:
    pending = list(reversed(cases))
    running: dict[int, tuple[Case, float, int]] = {}
    while pending or running:
        while pending and len(running) < jobs:
            case = pending.pop()
            read_fd, write_fd = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                _child(case, write_fd)
            os.close(write_fd)
            running[pid] = (case, time.monotonic(), read_fd)
        pid, status, usage = os.wait4(-1, os.WNOHANG)
        if pid == 0:
            now = time.monotonic()
            for child, (case, started, _) in list(running.items()):
                if now - started > TIMEOUT:
                    os.killpg(child, signal.SIGKILL)  # the group of our own child, not reaped
                    _, status, usage = os.wait4(child, 0)
                    _finish(case, running.pop(child)[2], status, usage, True, keep, tally)
            time.sleep(0.002)
            continue
        case, _, read_fd = running.pop(pid)
        _finish(case, read_fd, status, usage, False, keep, tally)


def _finish(
    case: Case, read_fd: int, status: int, usage, hung: bool, keep: Path | None, tally: Tally
) -> None:
    chunks = []
    while chunk := os.read(read_fd, 65536):
        chunks.append(chunk)
    os.close(read_fd)
    tally.tried += 1
    tally.mutations[case.what.split(" ")[1].split(":")[0]] += 1
    problem = None
    if hung:
        tally.hangs += 1
        problem = f"hang (over {TIMEOUT:.0f} s) in {case.what.split(' ')[0]}"
    elif os.WIFSIGNALED(status):
        tally.signals += 1
        problem = f"signal {signal.Signals(os.WTERMSIG(status)).name} in {case.what.split(' ')[0]}"
    else:
        try:
            outcome = json.loads(b"".join(chunks) or b"{}")
        except ValueError:
            outcome = {}
        kind = outcome.get("kind")
        if kind == "opened":
            tally.opened += 1
        elif kind == "clean":
            tally.clean += 1
        elif kind == "traceback":
            tally.tracebacks += 1
            problem = f"{outcome['class']} — {outcome['message'][:160]}"
        else:
            tally.signals += 1
            problem = f"no result (exit status {status})"
    if usage.ru_maxrss > BIG_RSS_KIB:
        tally.big += 1
        problem = problem or f"over 1 GiB ({usage.ru_maxrss >> 10} MiB) in {case.what}"
    if case.marker is not None and case.marker.exists():
        tally.markers += 1
        problem = f"MARKER CREATED: {case.what}"
    if problem:
        examples = tally.classes[problem]
        reproducer = str(case.path)
        if keep is not None and len(examples) < 3:
            dest = keep / f"case{case.number:05d}"
            shutil.copytree(case.folder, dest, dirs_exist_ok=True)
            reproducer = str(dest / case.path.relative_to(case.folder))
        examples.append(f"{reproducer}  [{case.what}]")
    shutil.rmtree(case.folder, ignore_errors=True)


# --- the campaign -----------------------------------------------------------------------------


def campaign(args: argparse.Namespace) -> Tally:
    work = Path(tempfile.mkdtemp(prefix="paramscope-fuzz-"))
    try:
        subprocess.run([sys.executable, __file__, "--make-corpus", str(work)], check=True, cwd=ROOT)
        # the engine and what it loads lazily, imported once here and shared by every case
        import importlib

        for module in PRELOAD:
            try:
                importlib.import_module(module)
            except ImportError:
                pass
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name" for our own edits

        rng = random.Random(args.seed)
        tally = Tally()
        keep = Path(args.keep).resolve() if args.keep else None
        if keep:
            keep.mkdir(parents=True, exist_ok=True)
        bases = sorted((work / "bases").iterdir())
        cases = _hostile_cases(work, keep) + _crafted_cases(work) + _changing_cases(work, bases)
        shapes = {}
        for place in bases:
            main = _main_file(place)
            shapes[place.name] = (main, main.read_bytes())
        mutated = max(0, args.cases - len(cases))
        batch = 200
        started = time.monotonic()
        run_cases(cases, args.jobs, keep, tally)
        for first in range(0, mutated, batch):
            group = []
            for number in range(first, min(mutated, first + batch)):
                place = bases[number % len(bases)]
                main, data = shapes[place.name]
                what, new = mutate(data, layout(data), rng)
                folder = work / "cases" / f"{number:05d}"
                shutil.copytree(place, folder)
                (folder / main.name).write_bytes(new)
                group.append(Case(number, f"{place.name} {what}", folder, folder / main.name))
            run_cases(group, args.jobs, keep, tally)
            done = min(mutated, first + batch)
            print(
                f"\r{done + len(cases):,} cases, {time.monotonic() - started:.0f} s",
                end="",
                file=sys.stderr,
                flush=True,
            )
        print(file=sys.stderr)
        return tally
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _main_file(place: Path) -> Path:
    files = sorted(p for p in place.iterdir() if p.is_file())
    suffixes = (".safetensors", ".pt", ".ckpt", ".gguf", ".onnx", ".npy", ".npz", ".keras", ".pkl")
    for suffix in suffixes:
        for file in files:
            if file.name.endswith(suffix):
                return file
    return files[0]


def _hostile_cases(work: Path, keep: Path | None) -> list[Case]:
    cases = []
    for number, place in enumerate(sorted((work / "hostile").iterdir())):
        kind, container = place.name.split("-", 1)
        path = place if container == "training_args" else _main_file(place)
        cases.append(
            Case(100_000 + number, f"{container} hostile:{kind}", place, path, place / "MARKER")
        )
    return cases


def _changing_cases(work: Path, bases: list[Path]) -> list[Case]:
    cases = []
    for number, (place, change) in enumerate(
        (place, change) for place in bases for change in CHANGES
    ):
        folder = work / "changing" / f"{number:05d}"
        shutil.copytree(place, folder)
        main = folder / _main_file(place).name
        cases.append(
            Case(300_000 + number, f"{place.name} changing:{change}", folder, main, None, change)
        )
    return cases


def _crafted_cases(work: Path) -> list[Case]:
    cases = []
    for number, place in enumerate(sorted((work / "crafted").iterdir())):
        path = place if place.name.startswith("adapter") else _main_file(place)
        cases.append(Case(200_000 + number, f"{place.name} crafted", place, path))
    return cases


def report(tally: Tally, seconds: float) -> str:
    rows = [
        ("tried", tally.tried),
        ("opened", tally.opened),
        ("clean errors", tally.clean),
        ("tracebacks", tally.tracebacks),
        ("hangs", tally.hangs),
        ("over 1 GiB", tally.big),
        ("signals", tally.signals),
        ("markers", tally.markers),
    ]
    lines = [f"{name:<14}{count:>8,}" for name, count in rows]
    lines.append(f"{'seconds':<14}{seconds:>8.0f}")
    lines.append("mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.mutations.items())))
    for problem, examples in sorted(tally.classes.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"\n[{len(examples)}x] {problem}")
        lines += [f"    {example}" for example in examples[:3]]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--keep", metavar="DIR", help="copy each problem case's files here")
    parser.add_argument("--make-corpus", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.make_corpus:
        make_corpus(Path(args.make_corpus))
        return 0
    started = time.monotonic()
    tally = campaign(args)
    print(report(tally, time.monotonic() - started))
    bad = tally.tracebacks + tally.hangs + tally.big + tally.signals + tally.markers
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
