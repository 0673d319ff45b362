"""One window per user and display: a second launch hands its files to the running one over a
local socket.

The first ParamScope listens on a QLocalServer. A later launch (a double-click on a checkpoint while
ParamScope runs) connects, sends its paths as one JSON line and exits; the running window opens
them as tabs and raises itself. `--new-window` skips all of this.

Whoever listens on the socket receives every path a later launch hands over, so on POSIX the socket
lives in a directory only this user can reach: `$XDG_RUNTIME_DIR/paramscope` (or a per-user folder
in the temp directory), created 0700 and refused when someone else owns it or may write to it.
The name is keyed by display, so a launch on a second display opens its own window.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import stat
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

CONNECT_MS = 500


class UnsafeSocket(Exception):
    """The socket's folder or file belongs to someone else, or others may write to it."""


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 — no user name: the uid or one shared name still works
        return str(os.getuid()) if hasattr(os, "getuid") else "user"


def _display() -> str:
    """The display or session this launch belongs to, as a file-name-safe key."""
    key = (
        os.environ.get("WAYLAND_DISPLAY")
        or os.environ.get("DISPLAY")
        or os.environ.get("SESSIONNAME")  # Windows: Console, RDP-Tcp#3, …
        or "console"
    )
    return re.sub(r"[^A-Za-z0-9_.-]", "_", key)


def _private(folder: Path) -> bool:
    """A real directory (not a link) owned by this user that nobody else may enter or write."""
    try:
        info = os.lstat(folder)
    except OSError:
        return False
    return (
        stat.S_ISDIR(info.st_mode)
        and info.st_uid == os.getuid()
        and stat.S_IMODE(info.st_mode) & 0o077 == 0
    )


def socket_dir() -> Path:
    """This user's private folder for the socket, made if needed; UnsafeSocket when the folder
    exists but is not private (another user made it first, or it is open to others)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and _private(Path(runtime)):
        folder = Path(runtime) / "paramscope"
    else:
        folder = Path(tempfile.gettempdir()) / f"paramscope-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as error:
        raise UnsafeSocket(f"cannot make {folder}: {error.strerror or error}") from None
    if not _private(folder):
        raise UnsafeSocket(f"{folder} is not a private folder of this user")
    return folder


def server_name(display: str | None = None) -> str:
    """The socket's name: a path in the private folder on POSIX, a per-user pipe on Windows
    (where QLocalServer's UserAccessOption limits the pipe to this user)."""
    key = display or _display()
    if sys.platform == "win32":
        return f"paramscope-{_user()}-{key}"
    return str(socket_dir() / f"instance-{key}")


def _ours(name: str) -> bool:
    """True unless `name` is a socket path whose file another user owns (never talk to it)."""
    if sys.platform == "win32" or not os.path.isabs(name):
        return True
    try:
        return os.lstat(name).st_uid == os.getuid()
    except FileNotFoundError:
        return True
    except OSError:
        return False


def hand_over(paths: list[str], name: str | None = None) -> bool:
    """Send `paths` to a running instance; False when none answers (then start normally).
    UnsafeSocket when the socket is not this user's own: the paths are never sent there."""
    name = name or server_name()
    if not _ours(name):
        raise UnsafeSocket(f"{name} belongs to another user")
    socket = QLocalSocket()
    socket.connectToServer(name)
    if not socket.waitForConnected(CONNECT_MS):
        return False
    from core.remote import looks_remote  # noqa: PLC0415 — a URL stays the address it is

    absolute = [
        str(p) if looks_remote(str(p)) else str(Path(p).expanduser().absolute()) for p in paths
    ]
    socket.write((json.dumps({"open": absolute}) + "\n").encode())
    ok = socket.waitForBytesWritten(CONNECT_MS)
    socket.disconnectFromServer()
    if socket.state() != QLocalSocket.LocalSocketState.UnconnectedState:
        socket.waitForDisconnected(CONNECT_MS)
    return ok


class InstanceServer(QObject):
    """Listens for later launches; `received(paths)` fires once per launch (paths may be [])."""

    received = Signal(list)

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or server_name()
        self.server = QLocalServer(self)
        self.server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self.server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}

    def listen(self) -> bool:
        # Qt binds with UserAccessOption in a temporary folder and renames the socket into place,
        # which would replace someone else's socket: look first
        if not _ours(self.name):
            return False  # someone else's socket: neither used nor removed
        if self.server.listen(self.name):
            return True
        # a socket file left by a crashed instance: nobody answered hand_over, so take it over
        QLocalServer.removeServer(self.name)
        return self.server.listen(self.name)

    def close(self) -> None:
        self.server.close()

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            socket = self.server.nextPendingConnection()
            self._buffers[socket] = b""
            socket.readyRead.connect(lambda s=socket: self._read(s))
            socket.disconnected.connect(lambda s=socket: self._finish(s))
            if socket.bytesAvailable():
                self._read(socket)

    def _read(self, socket: QLocalSocket) -> None:
        self._buffers[socket] = self._buffers.get(socket, b"") + bytes(socket.readAll().data())
        if b"\n" in self._buffers[socket]:
            self._finish(socket)

    def _finish(self, socket: QLocalSocket) -> None:
        data = self._buffers.pop(socket, None)
        if data is None:
            return
        data += bytes(socket.readAll().data())
        socket.deleteLater()
        line = data.split(b"\n", 1)[0]
        if not line.strip():
            return
        try:
            message = json.loads(line)
            paths = [str(p) for p in message.get("open", [])]
        except (ValueError, AttributeError, TypeError):
            return  # not one of ours: ignore
        self.received.emit(paths)
