"""Which format a path holds, by its content (magic bytes and structure), never by its extension.

Each reader answers `match(path, head)` cheaply; this module only asks them in turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


def find_reader(path: Path) -> Reader:
    return locate(path)[0]


def locate(path: Path) -> tuple[Reader, Path]:
    """The reader for `path` and the path it reads: a folder no reader claims as a whole opens as
    the one model file inside it (an ONNX export with its external data, a lone GGUF)."""
    if not path.exists():
        raise CheckpointError(path, "no such file or folder")
    if not path.is_dir() and not path.is_file():
        # a pipe or a device would block or never end
        raise CheckpointError(path, "not a regular file or folder")
    head = read_head(path)
    if not path.is_dir() and not head:
        raise CheckpointError(path, "the file is empty")
    for reader in iter_readers():
        if reader.match(path, head):
            return reader, path
    if path.is_dir():
        return _single_model_file(path)
    named = f"its name ends in {path.suffix} but " if path.suffix in KNOWN_SUFFIXES else ""
    raise CheckpointError(
        path,
        "not a checkpoint ParamScope can read",
        f"{named}its first bytes {head[:8]!r} match no known format",
    )


def _single_model_file(folder: Path) -> tuple[Reader, Path]:
    found: list[tuple[Reader, Path]] = []
    for file in _folder_candidates(folder):
        try:
            head = read_head(file)
        except CheckpointError:
            continue  # an unreadable neighbour is not what the person asked to open
        for reader in readers():
            if head and reader.match(file, head):
                found.append((reader, file))
                break
    if len(found) == 1:
        return found[0]
    if not found:
        raise CheckpointError(
            folder,
            "the folder holds no checkpoint ParamScope can read",
            "open a model file instead",
        )
    names = ", ".join(file.name for _, file in found[:6]) + (" …" if len(found) > 6 else "")
    raise CheckpointError(
        folder, f"the folder holds {len(found)} different model files", f"open one of {names}"
    )


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
