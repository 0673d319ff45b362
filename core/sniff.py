"""Which format a path holds, by its content (magic bytes and structure), never by its extension.

Each reader answers `match(path, head)` cheaply; this module only asks them in turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core import alternatives, foreign
from core.errors import CheckpointError
from core.readers.base import Reader

HEAD_BYTES = 128
MAX_FOLDER_ENTRIES = 256
# configs, notes and logs beside a model: never a model file themselves
SIDE_FILE_SUFFIXES = {".json", ".yaml", ".yml", ".toml", ".txt", ".md", ".log", ".csv", ".py"}
KNOWN_SUFFIXES = {
    ".safetensors",
    ".pt",
    ".pth",
    ".bin",
    ".ckpt",
    ".gguf",
    ".onnx",
    ".npy",
    ".npz",
    ".h5",
    ".keras",
}


@dataclass(frozen=True, slots=True)
class Located:
    """The reader for a path, the path it reads, and the other copies of the same model beside it
    (a folder's `model.int8.safetensors` when `model.safetensors` is opened)."""

    reader: Reader
    path: Path
    alternatives: tuple[Path, ...] = ()


def readers() -> list[Reader]:
    """Every reader, most specific first. Imported here so adding a format touches one list."""
    return list(iter_readers())


def iter_readers() -> Iterator[Reader]:
    """The readers in the order they are asked, each imported when its turn comes: a
    safetensors model never pays for importing the pickle, ONNX and HDF5 readers."""
    from core.readers.safetensors import SafetensorsReader

    yield SafetensorsReader()
    for module, cls in _optional_readers():
        try:
            mod = __import__(f"core.readers.{module}", fromlist=[cls])
        except ImportError:
            continue
        yield getattr(mod, cls)()
    # PyTorch last: it claims any zip it cannot parse (to explain a broken torch.save), so the
    # readers that know .npz and .keras zips by their member names must look first
    from core.readers.pytorch import PyTorchReader

    yield PyTorchReader()


def _optional_readers() -> list[tuple[str, str]]:
    return [
        ("gguf", "GGUFReader"),
        ("onnx", "ONNXReader"),
        ("numpy", "NumpyReader"),
        ("keras", "KerasReader"),
    ]


def read_head(path: Path) -> bytes:
    if path.is_dir():
        return b""
    try:
        with open(path, "rb") as f:
            return f.read(HEAD_BYTES)
    except OSError as error:
        raise CheckpointError(path, f"cannot read the file ({error.strerror or error})") from None


def matches(reader: Reader, path: Path, head: bytes) -> bool:
    """Whether `reader` claims the file; a `match` that trips over crafted bytes means "not mine",
    so one odd file can neither crash detection nor stop the folder it lies in from opening."""
    try:
        return bool(reader.match(path, head))
    except Exception:  # noqa: BLE001 — a guess about a file, not a read of it
        return False


def find_reader(path: Path) -> Reader:
    return locate(path)[0]


def locate(path: Path) -> tuple[Reader, Path]:
    found = resolve(path)
    return found.reader, found.path


def resolve(path: Path) -> Located:
    """The reader for `path` and the path it reads: a folder of alternative copies of one model
    opens the preferred copy; a folder no reader claims as a whole opens as the one model file
    inside it (an ONNX export with its external data, a lone GGUF)."""
    if not path.exists():
        raise CheckpointError(path, "no such file or folder")
    if not path.is_dir() and not path.is_file():
        # a pipe or a device would block or never end
        raise CheckpointError(path, "not a regular file or folder")
    head = read_head(path)
    if not path.is_dir() and not head:
        raise CheckpointError(path, "the file is empty")
    known = foreign.identify(path, head)
    if known is not None and known.first:  # a SavedModel's protobuf would pass for ONNX
        raise known.error(path)
    if path.is_dir():
        chosen = _folder_choice(path)
        if chosen is not None:
            return chosen
    for reader in iter_readers():
        if matches(reader, path, head):
            return Located(reader, path)
    if path.is_dir():
        return _single_model_file(path)
    if known is not None:
        raise known.error(path)
    named = f"its name ends in {path.suffix} but " if path.suffix in KNOWN_SUFFIXES else ""
    raise foreign.describe_unknown(path, head, named)


def _reader_of(file: Path) -> Reader | None:
    try:
        head = read_head(file)
    except CheckpointError:
        return None  # an unreadable neighbour is not what the person asked to open
    if not head:
        return None
    return next((r for r in iter_readers() if matches(r, file, head)), None)


def _folder_choice(folder: Path) -> Located | None:
    """What a folder opens as, judged by the content of its files, not their names alone.

    Copies of one model (not shards): the preferred copy, naming the others. One model file among
    files no reader claims (a stray `.bin` that is not a pickle): that file. None when an index or shard names say the
    files belong together, or the files are different models: the readers decide as before.
    """
    if any(folder.glob("*.index.json")):
        return None
    files = [f for f in _folder_candidates(folder) if not alternatives.is_side_state(f.name)]
    for sub in alternatives.EXPORT_SUBFOLDERS:
        if (folder / sub).is_dir():
            files += _folder_candidates(folder / sub)
    if not files or any(alternatives.is_shard(f.name) for f in files):
        return None
    models = [(reader, f) for f in files if (reader := _reader_of(f)) is not None]
    if len(models) == 1 and models[0][1].parent == folder:
        reader, file = models[0]
        # the safetensors reader reads a folder by its content (one file, or named shards), so a
        # Hugging Face folder stays the path shown; the pickle reader takes every .bin and .pt
        # in it by name, stray ones included, so it gets the one file that is a model
        whole = reader.format == "safetensors" and matches(reader, folder, b"")
        return Located(reader, folder if whole else file)
    if len(models) < 2 or len({alternatives.family(f.name) for _, f in models}) != 1:
        return None
    models.sort(
        key=lambda m: alternatives.preference(m[1].name, m[0].format, m[1].parent != folder)
    )
    (reader, best), others = models[0], models[1:]
    return Located(reader, best, tuple(f for _, f in others))


def _single_model_file(folder: Path) -> Located:
    found: list[tuple[Reader, Path]] = []
    for file in _folder_candidates(folder):
        reader = _reader_of(file)
        if reader is not None:
            found.append((reader, file))
    if len(found) == 1:
        return Located(*found[0])
    if not found:
        others = _foreign_files(folder)
        if others:
            shown = ", ".join(others[:4]) + (" …" if len(others) > 4 else "")
            raise CheckpointError(
                folder,
                f"the folder holds no checkpoint ParamScope can read, only {shown}: "
                f"{'a format' if len(others) == 1 else 'formats'} it cannot read yet",
                foreign.OPENS,
            )
        raise CheckpointError(
            folder,
            "the folder holds no checkpoint ParamScope can read",
            "open a model file instead",
        )
    names = ", ".join(file.name for _, file in found[:6]) + (" …" if len(found) > 6 else "")
    raise CheckpointError(
        folder, f"the folder holds {len(found)} different model files", f"open one of {names}"
    )


def _foreign_files(folder: Path) -> list[str]:
    """The files of formats ParamScope knows of but does not read, each named with its format:
    "model.tflite (a TensorFlow Lite model)"."""
    named = []
    for file in _folder_candidates(folder):
        try:
            known = foreign.identify(file, read_head(file))
        except CheckpointError:
            continue
        if known is not None:
            looks = "" if known.by_content else "looks like "
            named.append(f"{file.name} ({looks}{known.format})")
    return named


def _folder_candidates(folder: Path) -> list[Path]:
    """Regular files worth a look, by name only to skip what is surely text; a bounded number, so
    a folder of a million images costs nothing."""
    try:
        entries = sorted(folder.iterdir())[:MAX_FOLDER_ENTRIES]
    except OSError as error:
        raise CheckpointError(
            folder, f"cannot list the folder ({error.strerror or error})"
        ) from None
    return [
        p
        for p in entries
        if not p.name.startswith(".") and p.suffix.lower() not in SIDE_FILE_SUFFIXES and p.is_file()
    ]
