"""The single-instance socket is private to its user: it lives in a 0700 folder of theirs, is keyed
by display, and a socket or folder that someone else made is refused, never used."""

from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from gui import single_instance
from gui.single_instance import InstanceServer, UnsafeSocket, hand_over, server_name, socket_dir

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX socket folders")
OTHER_UID = 65534  # nobody
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another user needs root")


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    monkeypatch.setenv("DISPLAY", ":7")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    return folder


def test_socket_lives_in_a_private_folder_of_the_runtime_dir(runtime: Path) -> None:
    name = Path(server_name())
    assert name.parent == runtime / "paramscope"
    assert stat.S_IMODE(name.parent.stat().st_mode) == 0o700
    assert name.parent.stat().st_uid == os.getuid()


def test_socket_is_keyed_by_display(runtime: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = server_name()
    monkeypatch.setenv("DISPLAY", ":8")
    assert server_name() != first
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert "wayland-0" in server_name()


def test_no_runtime_dir_falls_back_to_a_per_user_temp_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setattr(single_instance.tempfile, "gettempdir", lambda: str(tmp_path))
    folder = socket_dir()
    assert folder == tmp_path / f"paramscope-{os.getuid()}"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_folder_open_to_others_is_refused(runtime: Path) -> None:
    (runtime / "paramscope").mkdir(mode=0o700)
    os.chmod(runtime / "paramscope", 0o777)
    with pytest.raises(UnsafeSocket):
        server_name()


def test_a_symlinked_folder_is_refused(runtime: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    (runtime / "paramscope").symlink_to(elsewhere)
    with pytest.raises(UnsafeSocket):
        server_name()


def test_a_world_writable_runtime_dir_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(shared))
    monkeypatch.setattr(single_instance.tempfile, "gettempdir", lambda: str(tmp_path))
    assert socket_dir() == tmp_path / f"paramscope-{os.getuid()}"


@as_root
def test_a_folder_made_by_another_user_is_refused(runtime: Path) -> None:
    (runtime / "paramscope").mkdir(mode=0o700)
    os.chown(runtime / "paramscope", OTHER_UID, OTHER_UID)
    with pytest.raises(UnsafeSocket):
        server_name()


@as_root
def test_a_socket_precreated_by_another_user_is_refused_not_used(
    qapp, runtime: Path, tmp_path: Path
) -> None:
    """Another user listening on the name first must receive nothing, and its socket must be
    neither connected to nor removed."""
    name = server_name()
    squatter = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    squatter.bind(name)
    squatter.listen(1)
    os.chown(name, OTHER_UID, OTHER_UID)
    squatter.setblocking(False)
    try:
        with pytest.raises(UnsafeSocket):
            hand_over([str(tmp_path / "secret.safetensors")], name)
        with pytest.raises(BlockingIOError):
            squatter.accept()  # nobody connected
        assert not InstanceServer(name).listen()
        assert os.path.exists(name)
    finally:
        squatter.close()
