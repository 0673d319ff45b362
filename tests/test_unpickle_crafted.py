"""Pickles that hide a call where our allow-listed builders take a function, or that set state
which would break the data they build: the call is named in a warning, the state refused with a
message that blames the file."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from core import CheckpointError, open_checkpoint
from core.unpickle import LEGACY_MAGIC


class _Call:
    """Pickles as a call to `func(*args)`; pickle.load would make that call."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _save(obj: object, path: Path, container: str) -> None:
    if container == "pickle":
        path.write_bytes(pickle.dumps(obj, protocol=4))
    else:
        torch.save(obj, path, _use_new_zipfile_serialization=container == "zip")


@pytest.mark.parametrize("container", ["zip", "legacy", "pickle"])
def test_a_call_hidden_in_rebuild_from_type_is_named(tmp_path: Path, container: str) -> None:
    marker = tmp_path / "pwned"
    hidden = _Call(
        torch._tensor._rebuild_from_type_v2, os.system, torch.Tensor, (f"touch {marker}",), {}
    )
    path = tmp_path / f"from_type.{container}.pt"
    _save({"w": torch.zeros(2), "x": hidden}, path, container)

    checkpoint = open_checkpoint(path)

    assert not marker.exists()
    warnings = " ".join(checkpoint.warnings)
    assert "ran none of it" in warnings
    assert "blocked a call to posix.system('touch " in warnings


def test_a_call_hidden_in_copyreg_reconstructor_is_named(tmp_path: Path) -> None:
    import copyreg

    marker = tmp_path / "pwned"
    path = tmp_path / "reconstructor.pt"
    evil = _Call(copyreg._reconstructor, OrderedDict, os.system, f"touch {marker}")
    torch.save({"w": torch.zeros(2), "x": evil}, path)

    checkpoint = open_checkpoint(path)

    assert not marker.exists()
    assert any("blocked a call to posix.system" in w for w in checkpoint.warnings)


def _legacy_storage_bytes(storage_type: object) -> bytes:
    """A legacy torch.save stream of one storage, as `torch.storage._load_from_bytes` reads,
    whose storage type is `storage_type` (a call, in a hostile file)."""

    storage = object()

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: object) -> object:
            if obj is storage:
                return ("storage", storage_type, "0", "cpu", 4, None)
            return None

    out = io.BytesIO()
    for value in (LEGACY_MAGIC, 1001, {"little_endian": True}):
        pickle.dump(value, out, protocol=2)
    Pickler(out, protocol=2).dump(storage)
    pickle.dump(["0"], out, protocol=2)
    return out.getvalue()


def test_a_call_inside_a_plain_pickled_storage_is_named(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    inner = _legacy_storage_bytes(_Call(os.system, f"touch {marker}"))
    storage = _Call(torch.storage._load_from_bytes, inner)
    tensor = _Call(torch._utils._rebuild_tensor_v2, storage, 0, (4,), (1,), False, OrderedDict())
    path = tmp_path / "plain.pkl"
    path.write_bytes(pickle.dumps({"w": tensor}, protocol=4))

    checkpoint = open_checkpoint(path)

    assert not marker.exists()
    assert [t.name for t in checkpoint.tensors] == ["w"]
    assert any("blocked a call to posix.system('touch " in w for w in checkpoint.warnings)


class _ShadowingState(OrderedDict):
    """An OrderedDict whose pickled state sets `items`, hiding the dict's own method."""

    def __reduce__(self):
        return OrderedDict, (), {"items": 5, "_metadata": {}}, None, iter(self.items())


def test_state_that_hides_a_dict_method_blames_the_file(tmp_path: Path) -> None:
    path = tmp_path / "shadow.pt"
    torch.save(_ShadowingState(w=torch.zeros(2)), path)

    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(path)

    message = str(caught.value)
    assert "sets 'items' on a dictionary" in message
    assert "bug in ParamScope" not in message


def test_an_npz_member_without_a_name(tmp_path: Path) -> None:
    import numpy as np

    path = tmp_path / "arrays.npz"
    np.savez(path, x=np.zeros(3))
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr(zipfile.ZipInfo(""), b"x")

    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(path)

    assert "has no name" in str(caught.value)
    assert "bug in ParamScope" not in str(caught.value)


def test_bytes_saved_by_torch_are_data_not_a_blocked_call(tmp_path: Path) -> None:
    from core.unpickle import load_pickled_object

    path = tmp_path / "with_bytes.pt"
    torch.save({"w": torch.zeros(2), "blob": b"\x00\xffabc"}, path)  # protocol 2: _codecs.encode

    checkpoint = open_checkpoint(path)

    assert not any("blocked" in w or "run code" in w for w in checkpoint.warnings)
    obj, log = load_pickled_object(path)
    assert obj["blob"] == "<5 bytes>" and log == []


@pytest.mark.parametrize("container", ["zip", "legacy"])
def test_a_call_inside_a_pickled_storage_saved_by_torch_is_named(
    tmp_path: Path, container: str
) -> None:
    marker = tmp_path / "pwned"
    inner = _legacy_storage_bytes(_Call(os.system, f"touch {marker}"))
    storage = _Call(torch.storage._load_from_bytes, inner)
    tensor = _Call(torch._utils._rebuild_tensor_v2, storage, 0, (4,), (1,), False, OrderedDict())
    path = tmp_path / f"storage.{container}.pt"
    _save({"w": torch.zeros(2), "x": tensor}, path, container)

    checkpoint = open_checkpoint(path)

    assert not marker.exists()
    assert any("blocked a call to posix.system('touch " in w for w in checkpoint.warnings)


@pytest.mark.parametrize(
    "cls",
    [zipfile.ZipFile, __import__("logging").FileHandler, __import__("gzip").GzipFile],
)
def test_a_class_that_writes_files_when_built_is_named(tmp_path: Path, cls: type) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    path = tmp_path / "classes.pt"
    torch.save({"w": torch.zeros(2), "x": _Call(cls, str(victim), "w")}, path)

    checkpoint = open_checkpoint(path)

    assert victim.read_text() == "keep me"
    assert any(
        f"blocked a call to {cls.__module__}.{cls.__qualname__}(" in w for w in checkpoint.warnings
    )
