"""TorchScript archives (`torch.jit.save`): what the archive's own code declares, read as text.

A TorchScript archive is a torch zip whose data.pkl pickles `__torch__.…` module objects and whose
`code/` folder holds each module class as TorchScript source. Every class lists its parameters and
buffers (`__parameters__ = ["weight", "bias", ]`, `__buffers__ = [...]`); any other tensor attribute
is neither. That source is only ever parsed (`ast.parse`, or a line scan when Python cannot parse
it) and read as text for display: nothing here compiles, evaluates or imports it.
"""

from __future__ import annotations

import ast
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from core.errors import CheckpointError
from core.model import Checkpoint
from core.unpickle import Opaque, TensorRef

Declared = Literal["parameter", "buffer", "attribute"]

CODE_FOLDER = "code/"
# what one code file may hold to be parsed for declarations or shown; the code of a whole large
# model is a few MB, so more is not a TorchScript archive's code
CODE_FILE_LIMIT = 8 << 20
CODE_TOTAL_LIMIT = 64 << 20
_ZIP_ERRORS = (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, RuntimeError, EOFError)


@dataclass(frozen=True, slots=True)
class ClassDeclaration:
    """One module class as its TorchScript source declares it."""

    parameters: frozenset[str]
    buffers: frozenset[str]


@dataclass(frozen=True, slots=True)
class CodeFile:
    name: (
        str  # its path under the archive's code/ folder, e.g. "__torch__/torch/nn/modules/conv.py"
    )
    size: int  # bytes, uncompressed


def is_torchscript(names: list[str], prefix: str) -> bool:
    """A torch zip holding TorchScript: code/ beside data.pkl, and constants.pkl."""
    code = prefix + CODE_FOLDER
    return prefix + "constants.pkl" in names and any(n.startswith(code) for n in names)


# --- declarations ---------------------------------------------------------------------------------


def declarations(zf: zipfile.ZipFile, prefix: str) -> dict[str, ClassDeclaration]:
    """Every class declared in the archive's code/, by the qualified name data.pkl uses
    (`__torch__.torch.nn.modules.conv.Conv2d`)."""
    found: dict[str, ClassDeclaration] = {}
    budget = CODE_TOTAL_LIMIT
    for info in zf.infolist():
        name = info.filename
        if not (name.startswith(prefix + CODE_FOLDER) and name.endswith(".py")):
            continue
        if info.file_size > CODE_FILE_LIMIT or info.file_size > budget:
            continue  # not a class file a model writes; its classes stay undeclared
        budget -= info.file_size
        try:
            text = _read_bounded(zf, info, CODE_FILE_LIMIT)[0]
        except (*_ZIP_ERRORS, CheckpointError):
            continue  # an unreadable code file only loses its declarations
        module = name[len(prefix + CODE_FOLDER) : -len(".py")].replace("/", ".")
        for cls, declaration in parse_declarations(text).items():
            found[f"{module}.{cls}"] = declaration
    return found


def parse_declarations(text: str) -> dict[str, ClassDeclaration]:
    """Class name → its declared parameters and buffers, from TorchScript source text."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return _scan_declarations(text)
    found: dict[str, ClassDeclaration] = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            lists = {"__parameters__": frozenset[str](), "__buffers__": frozenset[str]()}
            for statement in node.body:
                if (
                    isinstance(statement, ast.Assign)
                    and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name)
                    and statement.targets[0].id in lists
                    and isinstance(statement.value, ast.List | ast.Tuple)
                ):
                    lists[statement.targets[0].id] = frozenset(
                        e.value
                        for e in statement.value.elts
                        if isinstance(e, ast.Constant) and isinstance(e.value, str)
                    )
            found[node.name] = ClassDeclaration(lists["__parameters__"], lists["__buffers__"])
    return found


_CLASS_LINE = re.compile(r"^class\s+(\w+)\s*[(:]")
_LIST_LINE = re.compile(r"^\s+(__parameters__|__buffers__)\s*=\s*\[(.*)\]\s*$")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')


def _scan_declarations(text: str) -> dict[str, ClassDeclaration]:
    """The same, line by line, for source Python cannot parse (TorchScript is nearly Python)."""
    lists: dict[str, dict[str, frozenset[str]]] = {}
    current: str | None = None
    for line in text.splitlines():
        header = _CLASS_LINE.match(line)
        if header:
            current = header.group(1)
            lists[current] = {"__parameters__": frozenset(), "__buffers__": frozenset()}
            continue
        declared = _LIST_LINE.match(line)
        if declared and current is not None:
            lists[current][declared.group(1)] = frozenset(_STRING.findall(declared.group(2)))
    return {
        cls: ClassDeclaration(parts["__parameters__"], parts["__buffers__"])
        for cls, parts in lists.items()
    }


def declared_tensors(obj: Any, classes: dict[str, ClassDeclaration]) -> dict[str, Declared]:
    """Each tensor's dotted name (as `core.readers.pytorch` names it) → what its module declares.

    A tensor held directly by a `__torch__` module object is a parameter or a buffer when its
    class lists it so, and an attribute otherwise; one inside a list or dict attribute is an
    attribute. Modules of undeclared classes leave their tensors out (names decide for them).
    """
    out: dict[str, Declared] = {}
    _declare(obj, "", None, classes, out, set(), 0)
    return out


def _declare(
    obj: Any,
    prefix: str,
    owner: ClassDeclaration | None,
    classes: dict[str, ClassDeclaration],
    out: dict[str, Declared],
    seen: set[int],
    depth: int,
) -> None:
    if depth > 200:
        return
    if isinstance(obj, TensorRef):
        if owner is not None:
            leaf = prefix.rpartition(".")[2]
            if leaf in owner.parameters:
                out[prefix] = "parameter"
            elif leaf in owner.buffers:
                out[prefix] = "buffer"
            else:
                out[prefix] = "attribute"
        return
    if isinstance(obj, dict | list | tuple | Opaque):
        if id(obj) in seen:
            return
        seen.add(id(obj))
    if isinstance(obj, Opaque):
        module_class = classes.get(obj.name) if obj.module.startswith("__torch__") else None
        state = obj.state_mapping()
        if module_class is not None and isinstance(state, dict):
            for key, value in state.items():
                _declare(value, _join(prefix, key), module_class, classes, out, seen, depth + 1)
            return
        for part in (state, obj.items, obj.listitems, obj.args):
            if part:
                _declare(part, prefix, None, classes, out, seen, depth + 1)
        return
    # a list or dict attribute: whatever tensors it holds are the module's attributes
    inner = _ATTRIBUTE if owner is not None else None
    if isinstance(obj, dict):
        for key, value in obj.items():
            _declare(value, _join(prefix, key), inner, classes, out, seen, depth + 1)
    elif isinstance(obj, list | tuple):
        for i, value in enumerate(obj):
            _declare(value, _join(prefix, i), inner, classes, out, seen, depth + 1)


_ATTRIBUTE = ClassDeclaration(frozenset(), frozenset())


def _join(prefix: str, key: Any) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


# --- the code, as text for people to read ---------------------------------------------------------


def code_files(archive: Path) -> list[CodeFile]:
    """The TorchScript source files of an archive, in the archive's order; [] for anything else."""
    try:
        with zipfile.ZipFile(archive) as zf:
            prefix = _prefix(zf.namelist())
            if prefix is None or not is_torchscript(zf.namelist(), prefix):
                return []
            folder = prefix + CODE_FOLDER
            return [
                CodeFile(info.filename[len(folder) :], info.file_size)
                for info in zf.infolist()
                if info.filename.startswith(folder) and info.filename.endswith(".py")
            ]
    except _ZIP_ERRORS:
        return []


def read_code(archive: Path, name: str, limit: int = CODE_FILE_LIMIT) -> str:
    """One code file's text, cut after `limit` bytes (marked with "…"); never run."""
    try:
        with zipfile.ZipFile(archive) as zf:
            prefix = _prefix(zf.namelist())
            if prefix is None:
                raise CheckpointError(archive, "the archive holds no data.pkl")
            try:
                info = zf.getinfo(prefix + CODE_FOLDER + name)
            except KeyError:
                raise CheckpointError(archive, f"the archive holds no code file {name}") from None
            text, cut = _read_bounded(zf, info, limit)
    except _ZIP_ERRORS as error:
        raise CheckpointError(archive, f"cannot read code/{name} ({error})", "corrupt") from None
    return text + "…" if cut else text


def _read_bounded(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> tuple[str, bool]:
    # through the bounded stream: a member that claims little and inflates to much is an error,
    # and no more than `limit` bytes are read in any case
    from core.readers.zipmember import MemberStream

    chunks: list[bytes] = []
    wanted = limit + 1
    with MemberStream(Path(str(zf.filename)), info) as stream:
        while wanted > 0:
            chunk = stream.read(wanted)
            if not chunk:
                break
            chunks.append(chunk)
            wanted -= len(chunk)
    data = b"".join(chunks)
    cut = len(data) > limit
    return data[:limit].decode("utf-8", "replace"), cut


def _prefix(names: list[str]) -> str | None:
    from core.readers.pytorch import _find_data_pkl

    data_pkl = _find_data_pkl(names)
    return None if data_pkl is None else data_pkl[: -len("data.pkl")]


def checkpoint_code(checkpoint: Checkpoint) -> tuple[Path, list[CodeFile]] | None:
    """The archive and its code files when `checkpoint` is one TorchScript archive, else None."""
    if checkpoint.format != "torchscript" or len(checkpoint.files) != 1:
        return None
    files = code_files(checkpoint.files[0])
    return (checkpoint.files[0], files) if files else None
