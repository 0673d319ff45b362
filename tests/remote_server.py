"""A loopback stand-in for the Hugging Face Hub: `GET /api/models/{repo}/revision/{rev}` and
`GET /{repo}/resolve/{rev}/{path}` on one port, the latter redirected to a second port (the CDN)
that serves the bytes and honours Range; plain files under `/files/`. Every request and every
body byte sent is recorded. Failure modes are switched on per test. Nothing leaves 127.0.0.1."""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


@dataclass
class Repo:
    folder: Path
    commit: str
    revisions: tuple[str, ...] = ("main",)


@dataclass
class Hub:
    repos: dict[str, Repo] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)  # /files/<name> on the CDN port
    requests: list[dict[str, Any]] = field(default_factory=list)
    sent: int = 0  # body bytes sent by both servers
    status: dict[str, tuple[int, dict[str, str]]] = field(
        default_factory=dict
    )  # path prefix → status
    ignore_range: bool = False
    drop_after: int = -1  # close the connection after this many body bytes
    delay: float = 0.0  # seconds before answering
    dribble: float = 0.0  # seconds between 1 KiB pieces of a body
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Hub:
        self.cdn = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, cdn=True))
        self.api = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self, cdn=False))
        for server in (self.cdn, self.api):
            server.daemon_threads = True
            # a client that hangs up (refused, cancelled, timed out) is what the tests want
            server.handle_error = lambda request, address: None  # type: ignore[method-assign]
            threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        for server in (self.api, self.cdn):
            server.shutdown()
            server.server_close()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.api.server_address[1]}"

    @property
    def cdn_url(self) -> str:
        return f"http://127.0.0.1:{self.cdn.server_address[1]}"

    def weight_bytes_sent(self) -> int:
        return self.sent


def _handler(hub: Hub, cdn: bool) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 — http.server's spelling
            with hub.lock:
                hub.requests.append(
                    {
                        "server": "cdn" if cdn else "api",
                        "path": self.path,
                        "range": self.headers.get("Range"),
                        "authorization": self.headers.get("Authorization"),
                    }
                )
            if hub.delay:
                time.sleep(hub.delay)
            for prefix, (status, headers) in hub.status.items():
                if self.path.startswith(prefix):
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
            if cdn:
                self._cdn()
            else:
                self._api()

        def _api(self) -> None:
            found = re.match(r"^/api/models/(.+?/.+?)/revision/([^/]+)$", self.path)
            if found:
                repo = hub.repos.get(found[1])
                if repo is None or found[2] not in (*repo.revisions, repo.commit):
                    return self._status(404)
                siblings = [
                    {"rfilename": p.relative_to(repo.folder).as_posix()}
                    for p in sorted(repo.folder.rglob("*"))
                    if p.is_file()
                ]
                body = json.dumps({"id": found[1], "sha": repo.commit, "siblings": siblings})
                return self._body(body.encode())
            found = re.match(r"^/(.+?/.+?)/resolve/([^/]+)/(.+)$", self.path)
            if found and found[1] in hub.repos:
                self.send_response(302)
                self.send_header("Location", f"{hub.cdn_url}/cdn/{found[1]}/{found[2]}/{found[3]}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self._status(404)

        def _cdn(self) -> None:
            found = re.match(r"^/cdn/(.+?/.+?)/([^/]+)/(.+)$", self.path)
            file: Path | None = None
            if found and found[1] in hub.repos:
                repo = hub.repos[found[1]]
                if found[2] in (*repo.revisions, repo.commit):
                    file = repo.folder / found[3]
            elif self.path.startswith("/files/"):
                file = hub.files.get(self.path[len("/files/") :])
            if file is None or not file.is_file():
                return self._status(404)
            size = file.stat().st_size
            wanted = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range") or "")
            if wanted and not hub.ignore_range:
                start = int(wanted[1])
                stop = min(int(wanted[2]) + 1 if wanted[2] else size, size)
                if start >= size:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{size}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
            else:
                start, stop = 0, size
                self.send_response(200)
            self.send_header("Content-Length", str(stop - start))
            self.end_headers()
            with open(file, "rb") as f:
                f.seek(start)
                left = stop - start
                while left:
                    piece = f.read(min(left, 1024 if hub.dribble else 1 << 16))
                    if hub.drop_after >= 0 and hub.sent >= hub.drop_after:
                        self.connection.close()
                        return
                    try:
                        self.wfile.write(piece)
                    except OSError:  # the client hung up (it refused or cancelled)
                        return
                    with hub.lock:
                        hub.sent += len(piece)
                    left -= len(piece)
                    if hub.dribble:
                        time.sleep(hub.dribble)

        def _body(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            with hub.lock:
                hub.sent += len(body)

        def _status(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler
