"""A hostile checkpoint opens as data: the code it asks for never runs, and the user is told."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from checkpoints import make_model, torch_counts

from core import open_checkpoint
from core.unpickle import load_pickled_object


class _Payload:
    """Pickles as a call to `func(*args)`; unpickling with pickle.load would make that call."""

    def __init__(self, func, *args) -> None:
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args

    def __call__(self, *args):  # lets a payload stand as the function of another payload
        raise AssertionError("never called while pickling")


def _payloads(marker: Path) -> dict[str, _Payload]:
    command = f"touch {marker}"
    return {
        "system": _Payload(os.system, command),
        "eval": _Payload(eval, f"__import__('os').system({command!r})"),
        "exec": _Payload(exec, f"import os; os.system({command!r})"),
        "popen": _Payload(subprocess.Popen, ["touch", str(marker)]),
        "getattr": _Payload(_Payload(getattr, _Payload(__import__, "os"), "system"), command),
    }


def _save(obj: object, path: Path, container: str) -> None:
    if container == "pickle":
        with open(path, "wb") as f:
            pickle.dump(obj, f, protocol=4)
    else:
        torch.save(obj, path, _use_new_zipfile_serialization=container == "zip")


@pytest.mark.parametrize("container", ["zip", "legacy", "pickle"])
@pytest.mark.parametrize("payload", ["system", "eval", "exec", "popen", "getattr"])
def test_blocked_call_never_runs(tmp_path: Path, container: str, payload: str) -> None:
    marker = tmp_path / "pwned"
    model = make_model()
    state = {"state_dict": model.state_dict(), "evil": _payloads(marker)[payload], "epoch": 1}
    path = tmp_path / f"evil.{container}.pt"
    _save(state, path, container)

    ckpt = open_checkpoint(path)

    assert not marker.exists()
    if container != "pickle":  # a plain pickle has no storages: its tensors have no data
        assert ckpt.totals.params == torch_counts(model)[0]
    text = " ".join(ckpt.warnings)
    assert "ran none of it" in text
    assert "blocked a call to" in text


def test_nested_payloads_in_hyperparameters_are_inert(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    payloads = _payloads(marker)
    path = tmp_path / "nested.ckpt"
    torch.save(
        {
            "hyper_parameters": {"lr": 0.1, "callback": payloads["system"]},
            "args": [payloads["eval"]],
        },
        path,
    )
    ckpt = open_checkpoint(path)
    assert not marker.exists()
    assert ckpt.hyperparams["checkpoint:hyper_parameters"]["lr"] == 0.1
    _obj, warnings = load_pickled_object(path)
    assert not marker.exists()
    assert any("system" in w for w in warnings)


def test_pickled_unknown_class_is_kept_as_data(tmp_path: Path) -> None:
    import argparse

    path = tmp_path / "args.pt"
    args = argparse.Namespace(lr=0.01, batch_size=16, name="run-1")
    torch.save({"args": args, "model": {"w": torch.ones(2)}}, path)
    ckpt = open_checkpoint(path)
    assert ckpt.hyperparams["checkpoint:args"] == {"lr": 0.01, "batch_size": 16, "name": "run-1"}
    assert not any("blocked" in w for w in ckpt.warnings)


def test_engine_never_imports_qt_or_torch() -> None:
    code = (
        "import sys, core, core.cli, core.info, core.readers.pytorch, core.readers.safetensors;"
        "import core.unpickle, core.sniff;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch', 'pyqtgraph', 'gui')];"
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parent.parent)


def test_info_command_imports_neither_qt_nor_torch(tmp_path: Path) -> None:
    path = tmp_path / "m.pt"
    torch.save(make_model().state_dict(), path)
    code = (
        "import sys, main;"
        f"assert main.main(['info', {str(path)!r}, '--json']) == 0;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('PySide6', 'torch', 'pyqtgraph')];"
        "assert not bad, bad"
    )
    subprocess.run(
        [sys.executable, "-c", code],
        check=True,
        cwd=Path(__file__).parent.parent,
        stdout=subprocess.DEVNULL,
    )


def test_no_unsafe_loading_in_the_code() -> None:
    root = Path(__file__).parent.parent
    for folder in ("core", "gui"):
        for source in (root / folder).rglob("*.py"):
            text = source.read_text()
            assert "weights_only=False" not in text.replace(" ", ""), source
            assert "pickle.load(" not in text and "pickle.loads(" not in text, source
            assert "eval(" not in text.replace("literal_eval(", ""), source


def test_shared_references_cannot_expand_into_a_hang(tmp_path) -> None:
    """A 2 KB file whose config holds one list twice, 40 levels deep (2**40 items if expanded)."""
    import subprocess
    import sys

    nested: list = ["lol"]
    for _ in range(40):
        nested = [nested, nested]
    path = tmp_path / "laughs.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "hyper_parameters": {"cfg": nested}}, path)
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, str(root / "main.py"), "info", str(path), "--json"],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


def test_blocked_calls_are_named_as_python_3_names_them(tmp_path: Path) -> None:
    """torch.save writes pickle protocol 2, where eval is `__builtin__.eval`: the warning should
    name what a reader knows, `builtins.eval`."""
    marker = tmp_path / "pwned"
    state = {"state_dict": make_model().state_dict(), "evil": _payloads(marker)["eval"]}
    path = tmp_path / "evil.pt"
    torch.save(state, path)
    text = " ".join(open_checkpoint(path).warnings)
    assert "builtins.eval" in text and "__builtin__" not in text
    assert not marker.exists()


def _zip_with_deflated_pickle(path: Path, pickled: bytes) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data.pkl", pickled)
        archive.writestr("archive/version", "3\n")
    return path


@pytest.mark.parametrize("head", [b"", b"\x80\x02"])
def test_a_deflated_data_pkl_bomb_is_refused_without_inflating_it(
    tmp_path: Path, head: bytes
) -> None:
    """200 MiB of zeros deflate to 200 KiB; inflating them to unpickle took that much memory
    and then failed with 'KeyError: 0'."""
    import tracemalloc

    from core.errors import CheckpointError

    path = _zip_with_deflated_pickle(tmp_path / "bomb.pt", head + bytes(200 << 20))
    tracemalloc.start()
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    message = str(caught.value)
    assert "bomb.pt" in message and "KeyError" not in message
    assert "not a pickle" in message or "inflate" in message
    assert peak < 64 << 20, peak


def test_a_pickle_with_an_unknown_opcode_says_so(tmp_path: Path) -> None:
    from core.errors import CheckpointError

    path = _zip_with_deflated_pickle(tmp_path / "odd.pt", b"\x80\x02}q\x00\xff\xff.")
    with pytest.raises(CheckpointError, match=r"0xff") as caught:
        open_checkpoint(path)
    assert "KeyError" not in str(caught.value)
