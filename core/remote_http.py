"""HTTP for remote models on the standard library: range requests, redirects followed by hand
so the Hub token only ever goes to the origin it is for, timeouts, Cancel between reads, and one
message per failure (gated, private, missing, rate-limited, offline, dropped) saying what to do.
docs/remote.md says why this is not huggingface_hub."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from core.errors import Cancelled, CheckpointError
from core.units import exact, size

if TYPE_CHECKING:
    import http.client

TIMEOUT = 30.0  # seconds a server may stay silent before we give up on it
CHUNK = 1 << 16  # bytes a read asks for; Cancel is checked between reads
MAX_CONFIG = 16 << 20

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


class RemoteError(CheckpointError):
    """A request that failed; `status` is the HTTP status (0: no answer)."""

    def __init__(self, where: str, what: str, hint: str = "", status: int = 0) -> None:
        super().__init__(where, what, hint)
        self.status = status


def token() -> str:
    """The Hub token: HF_TOKEN, HUGGING_FACE_HUB_TOKEN, or the file `hf auth login` writes."""
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"):
        value = os.environ.get(name, "").strip()
        if value:
            return value
    candidates = []
    if os.environ.get("HF_TOKEN_PATH"):
        candidates.append(Path(os.environ["HF_TOKEN_PATH"]).expanduser())
    home = os.environ.get("HF_HOME")
    if home:
        candidates.append(Path(home).expanduser() / "token")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        candidates.append(Path(base).expanduser() / "huggingface" / "token")
    for file in candidates:
        try:
            value = file.read_text(encoding="utf-8").strip()
        except OSError:
            continue
        if value:
            return value
    return ""


def origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


@dataclass(slots=True)
class Client:
    """Range requests with the token for `auth_origin` only, a timeout and a cancel check.
    `received` counts every body byte read (headers, configs and data)."""

    token: str = ""
    auth_origin: tuple[str, str, int | None] | None = None
    timeout: float = TIMEOUT
    cancelled: CancelFn | None = None
    received: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _check(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise Cancelled

    def _open(
        self, url: str, headers: dict[str, str]
    ) -> tuple[http.client.HTTPConnection, Any, str]:
        """The response to GET `url`, redirects followed (at most 8); the token goes along only
        while the request stays on the origin it was given for."""
        # here, not at the top: every open imports this module, few open a remote model
        import http.client
        import ssl

        for _ in range(8):
            self._check()
            parts = urlsplit(url)
            send = dict(headers)
            if self.token and self.auth_origin is not None and origin(url) == self.auth_origin:
                send["Authorization"] = f"Bearer {self.token}"
            if parts.scheme == "https":
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    parts.hostname,
                    parts.port,
                    timeout=self.timeout,
                    context=ssl.create_default_context(),
                )
            else:
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
            target = parts.path or "/"
            if parts.query:
                target += "?" + parts.query
            try:
                conn.request("GET", target, headers=send)
                response = conn.getresponse()
            except BaseException as error:
                conn.close()
                raise _network_error(url, error) from None
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("Location")
                conn.close()
                if not location:
                    raise RemoteError(url, f"redirect {response.status} without a Location")
                url = urljoin(url, location)
                continue
            return conn, response, url
        raise RemoteError(url, "too many redirects", "the server sends requests in a circle")

    def get(
        self,
        url: str,
        start: int | None = None,
        stop: int | None = None,
        progress: ProgressFn | None = None,
        limit: int = 0,
    ) -> tuple[bytes, int]:
        """Bytes start … stop (None: the whole body, at most `limit` bytes) and the file's total
        size. A server that answers a range request with the whole file is refused unread."""
        from core import __version__  # noqa: PLC0415 — core/__init__ imports this module

        headers = {"User-Agent": f"ParamScope/{__version__}", "Accept-Encoding": "identity"}
        ranged = start is not None
        if ranged:
            if stop is not None and stop <= start:
                return b"", -1
            headers["Range"] = f"bytes={start}-" + (f"{stop - 1}" if stop is not None else "")
        conn, response, final = self._open(url, headers)
        try:
            status = response.status
            if status >= 400:
                raise _status_error(url, response)
            length = response.getheader("Content-Length")
            expected = int(length) if length and length.isdigit() else -1
            total = expected
            if ranged and status == 206:
                found = re.match(
                    r"bytes (\d+)-(\d+)/(\d+|\*)", response.getheader("Content-Range") or ""
                )
                if not found or int(found[1]) != start:
                    raise RemoteError(
                        url, "the server answered a different range than asked", status=status
                    )
                total = int(found[3]) if found[3] != "*" else -1
                expected = int(found[2]) - int(found[1]) + 1
            elif ranged and status == 200:
                whole = start == 0 and stop is not None and 0 <= expected <= stop
                if not whole:
                    # reading on would download the whole file: never silently
                    raise RemoteError(
                        url,
                        "the server ignores range requests: it would send the whole file"
                        + (f" ({size(expected)})" if expected >= 0 else ""),
                        "ParamScope reads headers only; download the file and open it locally",
                        status=status,
                    )
            elif status != 200:
                raise RemoteError(url, f"unexpected HTTP status {status}", status=status)
            if not ranged and limit and expected > limit:
                raise RemoteError(url, f"the file is {size(expected)}, larger than {size(limit)}")
            data = self._read(response, expected, final, progress, limit)
            return data, total
        finally:
            conn.close()

    def _read(
        self, response: Any, expected: int, url: str, progress: ProgressFn | None, limit: int
    ) -> bytes:
        parts: list[bytes] = []
        got = 0
        while expected < 0 or got < expected:
            self._check()
            want = CHUNK if expected < 0 else min(CHUNK, expected - got)
            try:
                piece = response.read1(want)
            except BaseException as error:
                raise _network_error(url, error, got, expected) from None
            if not piece:
                if expected < 0:
                    break
                raise RemoteError(
                    url,
                    f"the connection dropped after {exact(got)} of {exact(expected)} bytes",
                    "try again; nothing half-read is kept",
                )
            parts.append(piece)
            got += len(piece)
            with self._lock:
                self.received += len(piece)
            if limit and got > limit:
                raise RemoteError(url, f"the file is larger than {size(limit)}")
            if progress is not None:
                progress(got, expected)
        return b"".join(parts)

    def json(self, url: str) -> Any:
        data, _ = self.get(url, limit=MAX_CONFIG)
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RemoteError(url, "the server's answer is not JSON") from None


def _network_error(
    url: str, error: BaseException, got: int = 0, expected: int = -1
) -> BaseException:
    import http.client
    import socket

    host = urlsplit(url).hostname or url
    if isinstance(error, (Cancelled, KeyboardInterrupt, RemoteError)):
        return error
    if isinstance(error, (TimeoutError, socket.timeout)):
        return RemoteError(
            url, f"{host} did not answer in time", "the server or the network is slow; try again"
        )
    if isinstance(
        error,
        (
            http.client.RemoteDisconnected,
            ConnectionResetError,
            http.client.IncompleteRead,
            BrokenPipeError,
        ),
    ):
        of = f" after {exact(got)} of {exact(expected)} bytes" if expected > 0 else ""
        return RemoteError(url, f"the connection to {host} dropped{of}", "try again")
    if isinstance(error, (socket.gaierror, ConnectionRefusedError, OSError)):
        return RemoteError(
            url,
            f"cannot reach {host} ({getattr(error, 'strerror', None) or error})",
            "are you offline? A model opened before reopens from the cache without the network",
        )
    return RemoteError(url, f"request failed ({type(error).__name__}: {error})")


def _status_error(url: str, response: Any) -> RemoteError:
    status = response.status
    code = response.getheader("X-Error-Code") or ""
    message = response.getheader("X-Error-Message") or ""
    detail = f" ({message})" if message else ""
    if status in (401, 403):
        gated = code == "GatedRepo" or "gated" in message.lower()
        what = "the model is gated" if gated else "access denied: the model is private or gated"
        hint = (
            "accept its licence on the model's page, then set HF_TOKEN (or run `hf auth login`) "
            "with a token of the account that accepted it"
            if gated
            else "set HF_TOKEN or run `hf auth login` with a token that can read it"
        )
        if token():
            hint = "your token cannot read it: " + hint
        return RemoteError(url, what + detail, hint, status)
    if status == 404:
        return RemoteError(
            url,
            "not found: no such model, revision or file" + detail,
            "check the spelling and the revision; a private model also answers 404 without a token",
            status,
        )
    if status == 416:
        return RemoteError(
            url, "the file is shorter than a header", "it is not a model file", status
        )
    if status == 429:
        wait = response.getheader("Retry-After")
        return RemoteError(
            url,
            "rate-limited: too many requests" + detail,
            f"wait {wait + ' s' if wait else 'a minute'} and try again; a token raises the limit",
            status,
        )
    return RemoteError(url, f"the server answered HTTP {status}{detail}", "try again later", status)
