"""An inert unpickler: reads PyTorch pickles as data and never runs anything they ask for.

Python's unpickler only runs code through the globals it looks up (`find_class`) and the objects
those return. We never import or return a real global: a small allow-list maps the globals that
build tensors and plain containers to our own inert builders, and every other global becomes an
`Opaque` class that records its name, the arguments it was called with and the state it was
given. Calls to it do nothing else. A call that looks like code execution (`os.system`, `eval`,
`subprocess.Popen`…) is reported as blocked, so the user knows the file tried.
"""

from __future__ import annotations

import _compat_pickle
import functools
import io
import pickle
import re
import struct
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

from core import interrupt
from core.dtypes import DTYPES, TORCH_DTYPE_ATTRS, TORCH_STORAGE_DTYPES
from core.json_strict import MAX_INT_BITS, huge_int_text

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # torch.save's legacy format starts with this pickled int

# Modules whose functions only exist to run code, read or write files, or reach the network.
DANGEROUS_MODULES = {
    "os",
    "posix",
    "nt",
    "subprocess",
    "builtins",
    "__builtin__",
    "sys",
    "shutil",
    "socket",
    "importlib",
    "runpy",
    "code",
    "codeop",
    "pty",
    "ctypes",
    "webbrowser",
    "pickle",
    "_pickle",
    "marshal",
    "types",
    "operator",
    "functools",
    "io",
    "_io",
    "pathlib",
    "tempfile",
    "urllib",
    "requests",
    "http",
    "ftplib",
    "smtplib",
    "asyncio",
    "multiprocessing",
    "threading",
    "platform",
    "commands",
    "popen2",
    "pdb",
    "bdb",
    "timeit",
    "cProfile",
    "profile",
    "trace",
    "torch.hub",
    "torch.jit",
    "torch.ops",
    "torch._ops",
    "numpy.testing",
    "distutils",
    "setuptools",
    # classes whose constructor writes files, starts processes or servers, or opens a display:
    # a capitalised name is no sign of harmlessness here (zipfile.ZipFile(path, "w") truncates)
    "zipfile",
    "tarfile",
    "gzip",
    "bz2",
    "lzma",
    "shelve",
    "dbm",
    "sqlite3",
    "logging",
    "socketserver",
    "xmlrpc",
    "concurrent",
    "tkinter",
    "turtle",
    "venv",
    "ensurepip",
    "zipimport",
    "pkgutil",
    "site",
    "signal",
    "mmap",
    "select",
    "selectors",
    "ssl",
    "sched",
    "imaplib",
    "poplib",
    "telnetlib",
    "nntplib",
    "wsgiref",
}


@dataclass(slots=True)
class StorageRef:
    """A storage the pickle refers to by key; its bytes lie outside the pickle."""

    key: str
    dtype: str
    location: str
    numel: int  # elements of `dtype` the storage holds, per the pickle
    view_offset: int = 0  # legacy format only: a view starting this many elements in


@dataclass(slots=True)
class TensorRef:
    """A tensor as the pickle describes it: a strided view of a storage. No data is read."""

    storage: StorageRef | None
    storage_offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str
    is_parameter: bool = False

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(slots=True)
class DTypeRef:
    dtype: str


class Opaque:
    """Stands in for any global we do not allow. Subclassed per global by the unpickler."""

    module: str = ""
    qualname: str = ""
    _log: list[str] | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        obj = object.__new__(cls)
        obj.args = args
        obj.kwargs = kwargs
        obj.state = None
        obj.items = {}
        obj.listitems = []
        obj.called = False
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Reached only by a REDUCE (a call); NEWOBJ builds instances without calling __init__.
        self.called = True
        if self._log is not None:
            self._log.append(_describe_call(self.module, self.qualname, args))

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __call__(self, *args: Any, **kwargs: Any) -> Opaque:
        # the result of a blocked call, called in turn (getattr(os, "system")("…")): still inert
        if self._log is not None:
            self._log.append(_describe_call(self.module, self.qualname + "(…)", args))
        return type(self).__new__(type(self), *args)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.items[key] = value

    def append(self, value: Any) -> None:
        self.listitems.append(value)

    def extend(self, values: Any) -> None:
        self.listitems.extend(values)

    @property
    def name(self) -> str:
        return f"{self.module}.{self.qualname}"

    def state_mapping(self) -> Any:
        """The BUILD state, with `(dict_state, slots_state)` pairs merged into one dict."""
        state = self.state
        if isinstance(state, tuple) and len(state) == 2 and isinstance(state[1], dict):
            return {**state[0], **state[1]} if isinstance(state[0], dict) else state[1]
        return state

    def __repr__(self) -> str:
        return f"<{self.name}>"


def is_dangerous(module: str, qualname: str) -> bool:
    """A global that a checkpoint has no business calling: code execution, files, network."""
    top = module.split(".")[0]
    if module in DANGEROUS_MODULES or top in DANGEROUS_MODULES:
        return True
    # a lowercase name is a function, not a class: calling one is running code
    return not qualname[:1].isupper() and qualname not in _HARMLESS_FUNCTIONS


_HARMLESS_FUNCTIONS = {"_reconstruct", "scalar", "_reconstructor", "__newobj__"}


def _describe_call(module: str, qualname: str, args: tuple) -> str:
    shown = ", ".join(_short_repr(a) for a in args[:3])
    if is_dangerous(module, qualname):
        return f"blocked a call to {module}.{qualname}({shown}); nothing was run"
    return f"kept {module}.{qualname} as opaque data; its code was not run"


def _short_repr(value: Any) -> str:
    text = repr(value) if isinstance(value, str | bytes | int | float | bool | None) else "…"
    return text if len(text) <= 60 else text[:57] + "…"


# --- the allow-list: our own inert builders, chosen by name -------------------------------------


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any) -> Any:
    return _tensor_ref(storage, storage_offset, size, stride)


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> Any:
    return _tensor_ref(storage, storage_offset, size, stride)


def _tensor_ref(storage: Any, storage_offset: Any, size: Any, stride: Any) -> TensorRef:
    if not isinstance(storage, StorageRef):
        raise pickle.UnpicklingError("a tensor refers to something that is not a storage")
    shape = _int_tuple(size, "size")
    strides = _int_tuple(stride, "stride")
    if len(shape) != len(strides) or type(storage_offset) is not int or storage_offset < 0:
        raise pickle.UnpicklingError("a tensor has an inconsistent size, stride or offset")
    return TensorRef(storage, storage_offset, shape, strides, storage.dtype)


def _int_tuple(value: Any, what: str) -> tuple[int, ...]:
    if isinstance(value, Opaque) and value.name == "torch.Size":
        value = value.args[0] if value.args else ()
    if not isinstance(value, tuple | list) or not all(type(v) is int and v >= 0 for v in value):
        raise pickle.UnpicklingError(f"a tensor has an invalid {what}")
    if any(v > _INT64_MAX for v in value):  # torch keeps sizes and strides in int64
        raise pickle.UnpicklingError(f"a tensor's {what} has a number beyond 64 bits")
    return tuple(value)


def _rebuild_qtensor(storage: Any, storage_offset: Any, size: Any, stride: Any, *_: Any) -> Any:
    # a quantised tensor: its stored integers; the quantiser (scale, zero point) stays unread
    return _tensor_ref(storage, storage_offset, size, stride)


_INT64_MAX = 2**63 - 1


def _rebuild_parameter(data: Any, *_: Any) -> Any:
    if isinstance(data, TensorRef):
        data.is_parameter = True
    return data


def _rebuild_from_type_v2(func: Any, new_type: Any, args: Any, state: Any) -> Any:
    if callable(func) and func in _SAFE_BUILDERS and isinstance(args, tuple):
        return func(*args)
    # torch.load would call `func(*args)` here: name the call it asked for, as a REDUCE would
    _note_call(func, args if isinstance(args, tuple) else (args,))
    return None


def _note_call(func: Any, args: tuple) -> None:
    """Log a call that a plain unpickler would have made to a global outside the allow-list."""
    if isinstance(func, type) and issubclass(func, Opaque):
        if func._log is not None:
            func._log.append(_describe_call(func.module, func.qualname, args))
    elif isinstance(func, Opaque) and func._log is not None:
        func._log.append(_describe_call(func.module, func.qualname + "(…)", args))


def _rebuild_meta(dtype: Any, size: Any, stride: Any, *_: Any) -> TensorRef:
    name = dtype.dtype if isinstance(dtype, DTypeRef) else "float32"
    return TensorRef(None, 0, _int_tuple(size, "size"), _int_tuple(stride, "stride"), name)


def _torch_size(*args: Any) -> tuple:
    return tuple(args[0]) if args else ()


def _storage_from_bytes(data: Any, log: list[str] | None = None) -> StorageRef:
    """`torch.storage._load_from_bytes`: a storage pickled with plain pickle carries a small
    legacy torch.save stream; read it with the same inert unpickler, whose blocked calls are
    the outer file's (`log`)."""
    if not isinstance(data, bytes):
        raise pickle.UnpicklingError("a pickled storage is not bytes")
    inner = InertUnpickler(data)
    if log is not None:
        inner.log = log
    if inner.load() != LEGACY_MAGIC:
        raise pickle.UnpicklingError("a pickled storage is not in torch's format")
    inner.load()  # protocol version
    inner.load()  # system info
    storage = inner.load()
    if not isinstance(storage, StorageRef):
        raise pickle.UnpicklingError("a pickled storage holds no storage")
    return StorageRef("inline", storage.dtype, storage.location, storage.numel)


def _jit_list(data: Any) -> Any:
    """`torch.jit._pickle.build_intlist` and its kin: TorchScript's typed lists, as they are."""
    if not isinstance(data, list):
        raise pickle.UnpicklingError("a TorchScript list is not a list")
    return data


def _jit_type_tag(value: Any, type_str: Any = None) -> Any:
    # `torch.jit._pickle.restore_type_tag(value, "Dict[str, Tensor]")`: the tag only types it
    return value


def _jit_tensor_from_id(data: Any) -> Any:
    return data if type(data) is int else None


def _latin1_bytes(text: Any, encoding: Any = "utf-8", log: list[str] | None = None) -> Any:
    """`_codecs.encode(text, "latin1")`: how protocol 2 (torch.save) writes a `bytes` value.
    Only that spelling is decoded; any other call is named, never made."""
    if isinstance(text, str) and encoding in ("latin1", "latin-1"):
        try:
            return text.encode("latin1")
        except UnicodeEncodeError:
            pass
    if log is not None:
        log.append(_describe_call("_codecs", "encode", (text, encoding)))
    return None


def _reconstructor(cls: Any, base: Any, state: Any = None) -> Any:
    # copyreg._reconstructor(cls, object, None): protocol 0/1's way to build an instance
    if (
        isinstance(base, type)
        and issubclass(base, Opaque)
        and (base.module, base.qualname) != ("builtins", "object")
    ):
        # copyreg would call `base.__new__(cls, state)` and `base.__init__(obj, state)`
        _note_call(base, (state,))
    if isinstance(cls, type) and issubclass(cls, Opaque):
        return cls.__new__(cls)
    if cls in (dict, list, set, OrderedDict):
        return cls()
    raise pickle.UnpicklingError("copyreg._reconstructor of a forbidden type")


_SAFE_BUILDERS = {
    _rebuild_tensor_v2,
    _rebuild_qtensor,
    _rebuild_tensor,
    _rebuild_parameter,
    _rebuild_meta,
    _torch_size,
}

ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_qtensor"): _rebuild_qtensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("torch._utils", "_rebuild_meta_tensor_no_storage"): _rebuild_meta,
    ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
    ("torch", "Size"): _torch_size,
    ("torch.storage", "_load_from_bytes"): _storage_from_bytes,
    # TorchScript archives (torch.jit.save) wrap their lists in these identity functions
    ("torch.jit._pickle", "build_intlist"): _jit_list,
    ("torch.jit._pickle", "build_tensorlist"): _jit_list,
    ("torch.jit._pickle", "build_doublelist"): _jit_list,
    ("torch.jit._pickle", "build_boollist"): _jit_list,
    ("torch.jit._pickle", "build_tensor_from_id"): _jit_tensor_from_id,
    ("torch.jit._pickle", "restore_type_tag"): _jit_type_tag,
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "dict"): dict,
    ("builtins", "list"): list,
    ("builtins", "tuple"): tuple,
    ("__builtin__", "set"): set,
    ("_codecs", "encode"): _latin1_bytes,
    ("copy_reg", "_reconstructor"): _reconstructor,
    ("copyreg", "_reconstructor"): _reconstructor,
}

_STORAGE_MODULES = ("torch", "torch.cuda", "torch.storage")
_ORDERED_DICT_NAMES = frozenset(dir(OrderedDict))


class InertUnpickler(pickle._Unpickler):
    """Unpickles to plain data, `TensorRef`s, `StorageRef`s and `Opaque` stand-ins.

    Built on the pure-Python unpickler: the C one keeps its memo in an array sized by the largest
    memo index the stream names, so a four-byte index can make it allocate tens of gigabytes.
    It reads from bytes in memory, starting at `start`: no length field in the stream can make it
    allocate more than those bytes, and reads run at C speed.
    """

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, data: bytes, start: int = 0) -> None:
        self.buffer = io.BytesIO(data)
        self.buffer.seek(start)
        self.size = len(data)
        super().__init__(self.buffer, encoding="utf-8", errors="surrogateescape")
        self.log: list[str] = []
        self.storages: dict[str, StorageRef] = {}
        self._opaque: dict[tuple[str, str], type[Opaque]] = {}
        self._references = 0

    def tell(self) -> int:
        """Where the next pickle in the same bytes starts, once `load()` returned."""
        return self.buffer.tell()

    def load_build(self) -> None:
        # Only our own stand-ins and plain dicts take state; never setattr on anything else.
        state = self.stack.pop()
        inst = self.stack[-1]
        if isinstance(inst, Opaque):
            inst.__setstate__(state)
        elif isinstance(inst, OrderedDict) and isinstance(state, dict):
            # e.g. a state dict's _metadata; never a name that would hide a dict method
            # (`items = 5` makes every later `.items()` fail)
            shadowing = sorted(str(k) for k in state if str(k) in _ORDERED_DICT_NAMES)
            if shadowing:
                raise pickle.UnpicklingError(
                    f"the pickle sets {shadowing[0]!r} on a dictionary, hiding its own "
                    f"method of that name — the file is corrupt or crafted"
                )
            vars(inst).update((str(k), v) for k, v in state.items())

    dispatch[pickle.BUILD[0]] = load_build

    def load_bytearray8(self) -> None:
        (size,) = struct.unpack("<Q", self.read(8))
        if size > self.size - self.buffer.tell():
            raise pickle.UnpicklingError("BYTEARRAY8 is longer than the rest of the file")
        buffer = bytearray(size)
        self.readinto(buffer)
        self.append(buffer)

    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3:
            # torch.save writes protocol 2, in Python 2's names (`__builtin__.eval`): use the
            # names Python 3 gives them, for the allow-list and for what the warnings say
            module, name = _compat_pickle.NAME_MAPPING.get((module, name), (module, name))
            module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        builder = ALLOWED.get((module, name))
        if builder in (_storage_from_bytes, _latin1_bytes):
            return functools.partial(builder, log=self.log)
        if builder is not None:
            return builder
        if module in _STORAGE_MODULES:
            if name in TORCH_STORAGE_DTYPES:
                return DTypeRef(TORCH_STORAGE_DTYPES[name])
            if name in ("UntypedStorage", "ByteStorage", "_UntypedStorage"):
                return DTypeRef("uint8")
        if module == "torch" and name in TORCH_DTYPE_ATTRS:
            return DTypeRef(TORCH_DTYPE_ATTRS[name])
        key = (module, name)
        cls = self._opaque.get(key)
        if cls is None:
            cls = type(
                re.sub(r"\W", "_", name) or "Opaque",
                (Opaque,),
                {"module": module, "qualname": name, "_log": self.log},
            )
            self._opaque[key] = cls
        return cls

    def persistent_load(self, pid: Any) -> Any:
        if not isinstance(pid, tuple) or not pid:
            raise pickle.UnpicklingError("unsupported persistent id")
        self._references += 1
        if self._references % 512 == 0:  # one per tensor: a cheap place to stop when asked
            interrupt.poll()
        if pid[0] == "storage" and len(pid) >= 5:
            storage_type, key, location, numel = pid[1], str(pid[2]), pid[3], pid[4]
            dtype = storage_type.dtype if isinstance(storage_type, DTypeRef) else "uint8"
            if type(numel) is not int or numel < 0:
                raise pickle.UnpicklingError(f"storage {key} has an invalid size")
            if dtype not in DTYPES:
                raise pickle.UnpicklingError(f"storage {key} has an unsupported type")
            known = self.storages.get(key)
            if known is None:
                known = StorageRef(key, dtype, str(location), numel)
                self.storages[key] = known
            if len(pid) >= 6 and pid[5] is not None:
                # legacy view of a larger storage: (view_key, offset, size); views share bytes
                view = pid[5]
                if not (isinstance(view, tuple) and len(view) == 3 and type(view[1]) is int):
                    raise pickle.UnpicklingError(f"storage {key} has an invalid view")
                return StorageRef(known.key, dtype, known.location, numel, view[1])
            return known
        if pid[0] == "module":
            return None  # legacy format: the source code of a pickled module class, never used
        raise pickle.UnpicklingError(f"unsupported persistent id {pid[0]!r}")


# --- plain data for display ---------------------------------------------------------------------


_MAX_DEPTH = 64


_MAX_PLAIN_ITEMS = 200_000  # values one hyperparameter source may expand to
_budget = threading.local()


def to_plain(value: Any, depth: int = 0) -> Any:
    """Turn unpickled data into JSON-like plain data for hyperparameter views.

    Namespaces and OmegaConf containers become dicts; other objects become
    {"__class__": name, …their state}; tensors become a short description.
    """
    if depth == 0:
        _budget.left = _MAX_PLAIN_ITEMS
    _budget.left -= 1
    # shared references (a list holding itself twice, 40 levels deep) would expand to 2**40
    # items: past the budget, the rest is an ellipsis, never a hang
    if depth > _MAX_DEPTH or _budget.left < 0:
        return "…"
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        return huge_int_text(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, dict):
        return {str(k): to_plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_plain(v, depth + 1) for v in value]
    if isinstance(value, TensorRef):
        return f"tensor{list(value.shape)} {value.dtype}"
    if isinstance(value, DTypeRef):
        return value.dtype
    if isinstance(value, Opaque):
        return _opaque_to_plain(value, depth)
    return repr(value)


def _opaque_to_plain(obj: Opaque, depth: int) -> Any:
    name = obj.name
    state = obj.state_mapping()
    if name.startswith("omegaconf."):
        return _omegaconf_to_plain(obj, depth)
    if name in ("numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar"):
        return _numpy_scalar(obj)
    if name in (
        "numpy.core.multiarray._reconstruct",
        "numpy._core.multiarray._reconstruct",
    ):
        return _numpy_array(obj)
    if name in ("pathlib.PosixPath", "pathlib.WindowsPath", "pathlib.Path"):
        return "/".join(str(a) for a in obj.args)
    if name == "torch.device":
        return ":".join(str(a) for a in obj.args)
    if isinstance(state, dict):
        plain = to_plain(state, depth + 1)
        if name == "argparse.Namespace":
            return plain
        return {"__class__": name, **plain}
    if obj.items:
        return {"__class__": name, **to_plain(obj.items, depth + 1)}
    if obj.listitems:
        return to_plain(obj.listitems, depth + 1)
    if len(obj.args) == 1 and isinstance(obj.args[0], str | int | float | bool):
        return obj.args[0]  # an enum member or a simple wrapper: show its value
    return f"<{name}>"


def _omegaconf_to_plain(obj: Opaque, depth: int) -> Any:
    state = obj.state if isinstance(obj.state, dict) else {}
    if "_content" in state:
        content = state["_content"]
        if isinstance(content, dict):
            return {str(k): _omega_value(v, depth + 1) for k, v in content.items()}
        if isinstance(content, list):
            return [_omega_value(v, depth + 1) for v in content]
        return to_plain(content, depth + 1)
    if "_val" in state:
        return to_plain(state["_val"], depth + 1)
    return f"<{obj.name}>"


def _omega_value(value: Any, depth: int) -> Any:
    if isinstance(value, Opaque) and value.name.startswith("omegaconf."):
        return _omegaconf_to_plain(value, depth)
    return to_plain(value, depth)


def _numpy_dtype_str(dtype: Any) -> str | None:
    if isinstance(dtype, Opaque) and dtype.args and isinstance(dtype.args[0], str):
        code = dtype.args[0]
        if re.fullmatch(r"[fiub][1248]", code):
            order = "<"
            if isinstance(dtype.state, tuple) and len(dtype.state) > 1 and dtype.state[1] in "<>|":
                order = dtype.state[1] if dtype.state[1] != "|" else "<"
            return order + code
    return None


def _numpy_scalar(obj: Opaque) -> Any:
    if len(obj.args) == 2 and isinstance(obj.args[1], bytes):
        code = _numpy_dtype_str(obj.args[0])
        if code:
            import numpy as np  # lazily: decoding bytes we hold is plain data handling

            if np.dtype(code).itemsize == len(obj.args[1]):
                return np.frombuffer(obj.args[1], dtype=code)[0].item()
    return "<numpy scalar>"


def _numpy_array(obj: Opaque) -> Any:
    state = obj.state
    if isinstance(state, tuple) and len(state) == 5:
        _, shape, dtype, _, raw = state
        code = _numpy_dtype_str(dtype)
        if code and isinstance(raw, bytes) and isinstance(shape, tuple) and len(raw) <= 4096:
            import numpy as np

            try:
                return np.frombuffer(raw, dtype=code).reshape(shape).tolist()
            except ValueError:
                pass
        return f"<numpy array {list(shape) if isinstance(shape, tuple) else '?'}>"
    return "<numpy array>"


# --- convenience for whole files -----------------------------------------------------------------


def load_pickled_object(path: Path) -> tuple[Any, list[str]]:
    """The top-level object of a torch.save file (zip or legacy) or a plain pickle, as plain data,
    with the warnings about what was blocked. Nothing in the file runs."""
    from core.readers.pytorch import read_pickled_object

    obj, log = read_pickled_object(Path(path))
    return to_plain(obj), log
