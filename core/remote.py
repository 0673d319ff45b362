"""Models on the Hugging Face Hub or at any https URL, opened from their headers alone.

Only headers travel: a safetensors file's length field and JSON header, a GGUF file's key/value
header and tensor table (the range grows from 1 MiB, doubling), a PyTorch zip's central directory,
its `data.pkl` and the local header of each storage, and the small configs beside the weights.

The bytes land in a *header mirror*: a folder in the user's cache laid out like the repository,
each weight file a sparse file of its real size holding the fetched ranges at their real offsets
and holes elsewhere. The readers open the mirror as they open any local folder (one reader per
format, nothing duplicated), so the tree, counts, configs and memory plan come out as for a local
copy. A manifest beside the files (`MANIFEST`) says which URL each file came from and which
ranges hold real bytes; `require` refuses to let statistics read a hole, and `fetch_range` reads
a tensor's byte range on request. Mirrors of Hub repos are kept by commit, so a model opened
once reopens offline.

HTTP is core/remote_http.py, on the standard library.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import struct
import sys
import threading
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, urlsplit

from core.errors import CheckpointError
from core.remote_http import (
    MAX_CONFIG,
    TIMEOUT,
    CancelFn,
    Client,
    ProgressFn,
    RemoteError,
    origin,
    token,
)
from core.units import exact, size

DEFAULT_ENDPOINT = "https://huggingface.co"
MANIFEST = ".paramscope-remote.json"
PARALLEL = 8  # shard headers fetched at once
MAX_HEADER = 100_000_000  # as the safetensors library
GGUF_FIRST = 1 << 20  # the GGUF header range starts at 1 MiB and doubles
GGUF_LIMIT = 1 << 30
ZIP_TAIL = 1 << 16
MAX_MEMBER = 256 << 20  # a zip member other than a storage (data.pkl, constants.pkl)
CONFIG_NAMES = (
    "config.json",
    "params.json",
    "generation_config.json",
    "adapter_config.json",
    "trainer_state.json",
    "hparams.yaml",
    "args.yaml",
    "config.yaml",
)
WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt", ".pth", ".ckpt")
_REPO = r"[A-Za-z0-9][\w.-]*/[\w.-]+"
_BARE = re.compile(rf"^{_REPO}$")
_HF = re.compile(rf"^hf://(?P<repo>{_REPO}?)(?:@(?P<rev>[^/]+))?(?:/(?P<path>.+))?$")
_STORAGE = re.compile(r"(^|/)data/\d+$")
_RESOLVE = re.compile(rf"^/(?P<repo>{_REPO}?)/(?:resolve|blob)/(?P<rev>[^/]+)/(?P<path>.+)$")
_TREE = re.compile(rf"^/(?P<repo>{_REPO}?)(?:/tree/(?P<rev>[^/]+))?/?$")


class RemoteDataMissing(CheckpointError):
    """Statistics asked for bytes that are still on the server."""

    def __init__(self, path: Path, missing: int) -> None:
        super().__init__(
            path,
            f"this tensor's {size(missing)} ({exact(missing)} bytes) are on the server, "
            "not downloaded",
            "fetch them first (in the window: Fetch Tensor Data; on the command line: "
            "stats --fetch)",
        )
        self.missing = missing


# ---------------------------------------------------------------------------- what to open


@dataclass(frozen=True, slots=True)
class Target:
    """A Hub repository (with a revision and perhaps one file in it) or a plain URL."""

    url: str = ""  # a plain https URL of one file
    repo: str = ""
    revision: str = "main"
    path: str = ""  # a file inside the repo, or "" for the whole model
    endpoint: str = DEFAULT_ENDPOINT

    @property
    def hub(self) -> bool:
        return bool(self.repo)

    def __str__(self) -> str:
        if self.hub:
            return f"hf://{self.repo}@{self.revision}" + (f"/{self.path}" if self.path else "")
        return self.url


def endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "").rstrip("/") or DEFAULT_ENDPOINT


def is_repo_name(text: str) -> bool:
    """`org/name`, as the Hub spells a repository."""
    return bool(_BARE.match(text.strip()))


def looks_remote(text: str) -> bool:
    """An address open_checkpoint fetches rather than a local path."""
    return text.startswith(("hf://", "https://", "http://"))


def parse(text: str, bare_repo: bool = False) -> Target:
    """The Target an address names; `bare_repo` also takes `org/name` (the Open URL dialog).
    CheckpointError for what is not an address ParamScope can fetch."""
    text = text.strip()
    hub = endpoint()
    if bare_repo and _BARE.match(text):
        return Target(repo=text, endpoint=hub)
    found = _HF.match(text)
    if found:
        return Target(
            repo=found["repo"],
            revision=found["rev"] or "main",
            path=found["path"] or "",
            endpoint=hub,
        )
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise CheckpointError(text, "not an address ParamScope can open", _ADDRESS_HINT)
    origin = f"{parts.scheme}://{parts.netloc}"
    if origin in (hub, DEFAULT_ENDPOINT) and not parts.query:
        path = parts.path
        for prefix in ("/models/",):
            if path.startswith(prefix):
                path = path[len(prefix) - 1 :]
        resolve = _RESOLVE.match(path)
        if resolve:
            return Target(
                repo=resolve["repo"], revision=resolve["rev"], path=resolve["path"], endpoint=origin
            )
        tree = _TREE.match(path)
        if tree and not path.startswith(("/api/", "/datasets/", "/spaces/")):
            return Target(repo=tree["repo"], revision=tree["rev"] or "main", endpoint=origin)
    return Target(url=text)


_ADDRESS_HINT = (
    "give hf://org/name[@revision], a huggingface.co model page, a …/resolve/… link or the "
    "https URL of a safetensors, GGUF or PyTorch file"
)


# ---------------------------------------------------------------------------- the cache


def cache_root() -> Path:
    """Where mirrors live: $PARAMSCOPE_CACHE, else the platform's user cache folder."""
    key = tuple(
        os.environ.get(k, "") for k in ("PARAMSCOPE_CACHE", "XDG_CACHE_HOME", "LOCALAPPDATA")
    )
    return _resolved_root(key)


@functools.lru_cache(maxsize=8)
def _resolved_root(_environment: tuple[str, ...]) -> Path:
    # statistics ask for every tensor whether it is remote: resolve the folder once, not each time
    return _cache_base().resolve()


def _cache_base() -> Path:
    if os.environ.get("PARAMSCOPE_CACHE"):
        return Path(os.environ["PARAMSCOPE_CACHE"]).expanduser() / "remote"
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "ParamScope" / "cache" / "remote"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "ParamScope" / "remote"
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "paramscope" / "remote"


# ---------------------------------------------------------------------------- the mirror


@dataclass(slots=True)
class Manifest:
    """What a mirror holds: file → {url, size, ranges}; written atomically beside the files."""

    folder: Path
    source: str = ""
    commit: str = ""
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_bytes: int = 0  # tensor data fetched on request (statistics), not headers
    opens: str = ""  # the file inside the mirror to open ("" = the folder)

    @staticmethod
    def load(folder: Path) -> Manifest | None:
        try:
            raw = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(raw, dict) or not isinstance(raw.get("files"), dict):
            return None
        return Manifest(
            folder,
            str(raw.get("source", "")),
            str(raw.get("commit", "")),
            raw["files"],
            int(raw.get("data_bytes", 0)),
            str(raw.get("opens", "")),
        )

    def save(self) -> None:
        document = {
            "source": self.source,
            "commit": self.commit,
            "files": self.files,
            "data_bytes": self.data_bytes,
            "opens": self.opens,
        }
        temporary = self.folder / (MANIFEST + f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(document, indent=1), encoding="utf-8")
        os.replace(temporary, self.folder / MANIFEST)


def _write_ranges(file: Path, total: int, pieces: list[tuple[int, bytes]]) -> None:
    file.parent.mkdir(parents=True, exist_ok=True)
    with open(file, "r+b" if file.exists() else "w+b") as f:
        _sparse(f)
        f.truncate(total)
        for offset, data in pieces:
            f.seek(offset)
            f.write(data)


def _sparse(f: Any) -> None:
    """On Windows a file is only sparse when asked (else the holes are written as zeros)."""
    if sys.platform != "win32":
        return
    try:
        import ctypes
        import msvcrt
        from ctypes import wintypes

        handle = msvcrt.get_osfhandle(f.fileno())
        returned = wintypes.DWORD()
        ctypes.windll.kernel32.DeviceIoControl(  # FSCTL_SET_SPARSE
            wintypes.HANDLE(handle), 0x900C4, None, 0, None, 0, ctypes.byref(returned), None
        )
    except (OSError, AttributeError, ImportError):
        pass


def _merge(ranges: list[list[int]]) -> list[list[int]]:
    merged: list[list[int]] = []
    for a, b in sorted(ranges):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


def _covered(ranges: list[list[int]], start: int, stop: int) -> int:
    """Bytes of start … stop the ranges hold."""
    return sum(max(0, min(b, stop) - max(a, start)) for a, b in ranges)


# ---------------------------------------------------------------------------- headers per format


class _Fetcher:
    """Reads one remote file's header ranges into its mirror file."""

    def __init__(self, client: Client, url: str, file: Path, name: str) -> None:
        self.client, self.url, self.file, self.name = client, url, file, name
        self.pieces: list[tuple[int, bytes]] = []
        self.total = -1

    def get(self, start: int, stop: int) -> bytes:
        if self.total >= 0:
            stop = min(stop, self.total)
        data, total = self.client.get(self.url, start, stop)
        if total >= 0:
            self.total = total
        self.pieces.append((start, data))
        return data

    def run(self) -> dict[str, Any]:
        head = self.get(0, 8)
        if self.total < 0:
            raise RemoteError(self.url, "the server does not say how long the file is")
        if head[:4] == b"GGUF" or head[:4] == b"FUGG":
            self._gguf()
        elif head[:4] == b"PK\x03\x04":
            self._zip()
        elif self.name.endswith(".onnx"):
            raise _needs_download(
                self.url, self.total, "an ONNX model keeps its weights inside its protobuf"
            )
        elif len(head) == 8 and 2 <= int.from_bytes(head, "little") <= min(
            MAX_HEADER, self.total - 8
        ):
            self._safetensors(int.from_bytes(head, "little"))
        else:
            raise _needs_download(
                self.url,
                self.total,
                "its format cannot be read from a header (not safetensors, GGUF or a PyTorch zip)",
            )
        _write_ranges(self.file, self.total, self.pieces)
        ranges = _merge([[offset, offset + len(data)] for offset, data in self.pieces])
        return {"url": self.url, "size": self.total, "ranges": ranges}

    def _safetensors(self, n: int) -> None:
        body = self.get(8, 8 + n)
        if body[:1] != b"{":
            raise _needs_download(self.url, self.total, "it is not a safetensors file")

    def _gguf(self) -> None:
        want = GGUF_FIRST
        have = self.get(8, min(want, self.total))
        data = self.pieces[0][1] + have
        while True:
            try:
                gguf_header_end(data)
                return
            except _NeedMore:
                if len(data) >= self.total or want >= GGUF_LIMIT:
                    raise RemoteError(
                        self.url, "the GGUF header does not end inside the file"
                    ) from None
                want *= 2
                data += self.get(len(data), min(want, self.total))

    def _zip(self) -> None:
        tail_start = max(0, self.total - ZIP_TAIL)
        tail = self.get(tail_start, self.total)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            raise _needs_download(self.url, self.total, "its zip directory is not at the end")
        cd_size, cd_offset = struct.unpack_from("<II", tail, at + 12)
        if cd_offset == 0xFFFFFFFF or cd_size == 0xFFFFFFFF:  # zip64: the locator sits before
            locator = tail.rfind(b"PK\x06\x07", 0, at)
            if locator < 0:
                raise RemoteError(self.url, "the zip64 directory locator is missing")
            (record,) = struct.unpack_from("<Q", tail, locator + 8)
            if record < tail_start:
                self.get(record, tail_start)
                tail = b""  # read back from the mirror below
            raw = self._bytes(record, record + 56)
            cd_size, cd_offset = struct.unpack_from("<QQ", raw, 40)
        if cd_offset < tail_start:
            self.get(cd_offset, tail_start)
        _write_ranges(self.file, self.total, self.pieces)
        with zipfile.ZipFile(self.file) as archive:
            members = archive.infolist()
        storages = [m for m in members if _STORAGE.search(m.filename)]
        others = [m for m in members if not _STORAGE.search(m.filename)]
        for member in others:
            if member.compress_size > MAX_MEMBER:
                raise _needs_download(
                    self.url,
                    self.total,
                    f"its {member.filename} alone is {size(member.compress_size)}",
                )
        # a storage's local header only (its data stays on the server); other members whole
        jobs = [(m, 30 + len(m.filename.encode()) + 128) for m in storages]
        jobs += [(m, 30 + len(m.filename.encode()) + 128 + m.compress_size) for m in others]
        with ThreadPoolExecutor(PARALLEL) as pool:
            list(
                pool.map(
                    lambda job: self.get(job[0].header_offset, job[0].header_offset + job[1]), jobs
                )
            )
        for member, want in jobs:  # a local extra field longer than we guessed
            local = self._bytes(member.header_offset, member.header_offset + 30)
            name_len, extra_len = struct.unpack_from("<HH", local, 26)
            need = 30 + name_len + extra_len + (0 if member in storages else member.compress_size)
            if need > want:
                self.get(member.header_offset + want, member.header_offset + need)

    def _bytes(self, start: int, stop: int) -> bytes:
        out = bytearray(stop - start)
        for offset, data in self.pieces:
            a, b = max(start, offset), min(stop, offset + len(data))
            if a < b:
                out[a - start : b - start] = data[a - offset : b - offset]
        return bytes(out)


def _needs_download(url: str, total: int, why: str) -> RemoteError:
    name = PurePosixPath(urlsplit(url).path).name or url
    return RemoteError(
        url,
        f"{why}, so it cannot be read from its header",
        f"download {name} ({size(total)}, {exact(total)} bytes) and open the file",
    )


class _NeedMore(Exception):
    pass


def gguf_header_end(data: bytes) -> int:
    """Where a GGUF file's tensor table ends, from its first bytes; _NeedMore if they stop short."""
    end = "<" if data[:4] == b"GGUF" else ">"
    pos = 4

    def take(fmt: str) -> tuple[Any, ...]:
        nonlocal pos
        layout = struct.Struct(end + fmt)
        if pos + layout.size > len(data):
            raise _NeedMore
        values = layout.unpack_from(data, pos)
        pos += layout.size
        return values

    (version,) = take("I")
    if version > 0xFFFF:  # a big-endian file read little-endian
        end = ">" if end == "<" else "<"
    tensors, kvs = take("QQ")
    scalar = {
        0: "B",
        1: "b",
        2: "H",
        3: "h",
        4: "I",
        5: "i",
        6: "f",
        7: "?",
        10: "Q",
        11: "q",
        12: "d",
    }

    def skip_string() -> None:
        nonlocal pos
        (n,) = take("Q")
        pos += n
        if pos > len(data):
            raise _NeedMore

    def skip_value(kind: int) -> None:
        nonlocal pos
        if kind == 8:
            skip_string()
        elif kind == 9:
            inner, count = take("IQ")
            if inner in scalar:
                pos += struct.calcsize(scalar[inner]) * count
                if pos > len(data):
                    raise _NeedMore
            else:
                for _ in range(count):
                    skip_value(inner)
        elif kind in scalar:
            take(scalar[kind])
        else:
            raise RemoteError("gguf", f"unknown GGUF value type {kind}")

    for _ in range(kvs):
        skip_string()
        (kind,) = take("I")
        skip_value(kind)
    for _ in range(tensors):
        skip_string()
        (dims,) = take("I")
        take("Q" * dims + "IQ")
    return pos


# ---------------------------------------------------------------------------- opening


@dataclass(slots=True)
class Mirror:
    """A fetched header mirror: the local path to open and what it came from."""

    path: Path
    manifest: Manifest
    received: int  # bytes transferred by this open (0 when it came from the cache)
    offline: bool = False


def open_remote(
    text: str,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
    timeout: float = TIMEOUT,
    bare_repo: bool = False,
) -> Mirror:
    """Fetch the headers `text` names into a mirror (or find it in the cache) and say where."""
    target = parse(text, bare_repo)
    client = Client(token=token(), timeout=timeout, cancelled=cancelled)
    if target.hub:
        client.auth_origin = origin(target.endpoint)
        return _open_hub(target, client, progress)
    return _open_url(target, client, progress)


def _hub_folder(target: Target, commit: str) -> Path:
    host = urlsplit(target.endpoint).netloc.replace(":", "_")
    org, name = target.repo.split("/", 1)
    return cache_root() / "hub" / host / org / commit / name


def _ref_file(target: Target) -> Path:
    host = urlsplit(target.endpoint).netloc.replace(":", "_")
    key = hashlib.sha256(f"{target.repo}@{target.revision}".encode()).hexdigest()[:24]
    return cache_root() / "hub" / host / "refs" / key


def _open_hub(target: Target, client: Client, progress: ProgressFn | None) -> Mirror:
    api = f"{target.endpoint}/api/models/{target.repo}/revision/{quote(target.revision, safe='')}"
    try:
        info = client.json(api)
    except RemoteError as error:
        cached = _cached_hub(target) if error.status in (0, 429) or error.status >= 500 else None
        if cached is None:
            raise
        return cached
    commit = info.get("sha") if isinstance(info, dict) else None
    siblings = info.get("siblings") if isinstance(info, dict) else None
    if not isinstance(commit, str) or not isinstance(siblings, list):
        raise RemoteError(api, "the Hub's answer has no commit or file list")
    files = [
        s.get("rfilename")
        for s in siblings
        if isinstance(s, dict) and isinstance(s.get("rfilename"), str)
    ]
    folder = _hub_folder(target, commit)
    manifest = Manifest.load(folder)
    pinned = Target(repo=target.repo, revision=commit, path=target.path, endpoint=target.endpoint)
    cached = manifest is not None and _complete(manifest, folder, target.path)
    if not cached:
        manifest = Manifest(folder, str(target), commit)
        wanted = _choose(pinned, files, client, manifest)

        def url_of(path: str) -> str:
            return f"{target.endpoint}/{target.repo}/resolve/{commit}/{quote(path)}"

        weights = {f: url_of(f) for f in wanted.weights}
        _fetch_all(client, manifest, weights, wanted.configs, url_of, progress)
        manifest.opens = wanted.open
        manifest.save()
    _write_ref(target, commit)
    assert manifest is not None
    opens = target.path or manifest.opens
    return Mirror(folder / opens if opens else folder, manifest, client.received)


def _complete(manifest: Manifest, folder: Path, path: str) -> bool:
    """A mirror made for this request before: same file asked for, every file in place."""
    if path and path != manifest.opens and path not in manifest.files:
        return False
    return bool(manifest.files) and all((folder / name).exists() for name in manifest.files)


@dataclass(slots=True)
class _Choice:
    weights: list[str]
    configs: list[str]
    open: str  # what to open inside the mirror ("" = the folder)


def _choose(target: Target, files: list[str], client: Client, manifest: Manifest) -> _Choice:
    """Which files of a repository hold the model: the one asked for, else an index's shards,
    else the safetensors files, else one GGUF, else PyTorch files; and the configs beside."""
    if target.path:
        if target.path not in files:
            raise RemoteError(
                str(target), f"{target.path} is not in {target.repo}", "check the file name"
            )
        base = str(PurePosixPath(target.path).parent)
        configs = _configs(files, base)
        if target.path.endswith(".index.json"):
            return _Choice(
                _index_shards(target, client, target.path, manifest), configs, target.path
            )
        if target.path.endswith(".onnx"):
            raise _needs_download(
                str(target), -1, "an ONNX model keeps its weights inside its protobuf"
            )
        return _Choice([target.path], configs, target.path)
    top = [f for f in files if "/" not in f]
    configs = _configs(files, ".")
    for index in (
        "model.safetensors.index.json",
        *sorted(f for f in top if f.endswith(".safetensors.index.json")),
    ):
        if index in files:
            return _Choice(_index_shards(target, client, index, manifest), configs, "")
    safetensors = [f for f in top if f.endswith(".safetensors")]
    if "model.safetensors" in safetensors:
        safetensors = ["model.safetensors"]
    if safetensors:
        return _Choice(safetensors, configs, "")
    ggufs = sorted(f for f in files if f.endswith(".gguf"))
    if ggufs:
        preferred = [f for f in ggufs if "q4_k_m" in f.lower()] or ggufs
        return _Choice([preferred[0]], configs, preferred[0])
    if "pytorch_model.bin.index.json" in files:
        return _Choice(
            _index_shards(target, client, "pytorch_model.bin.index.json", manifest),
            configs,
            "",
        )
    torch_files = [
        f for f in top if f.endswith((".bin", ".pt", ".pth", ".ckpt")) and "training_args" not in f
    ]
    if torch_files:
        first = "pytorch_model.bin" if "pytorch_model.bin" in torch_files else torch_files[0]
        return _Choice([first], configs, first)
    onnx = [f for f in files if f.endswith(".onnx")]
    if onnx:
        raise RemoteError(
            str(target),
            f"the model is ONNX ({onnx[0]}), which cannot be read from a header",
            f"download {onnx[0]} and open the file",
        )
    raise RemoteError(str(target), "the repository holds no safetensors, GGUF or PyTorch weights")


def _configs(files: list[str], base: str) -> list[str]:
    def beside(name: str) -> str:
        return name if base in (".", "") else f"{base}/{name}"

    return [beside(n) for n in CONFIG_NAMES if beside(n) in files]


def _index_shards(target: Target, client: Client, index: str, manifest: Manifest) -> list[str]:
    """The shards an index names; the index itself goes into the mirror as it is."""
    url = f"{target.endpoint}/{target.repo}/resolve/{target.revision}/{quote(index)}"
    raw, _ = client.get(url, limit=MAX_CONFIG)
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise RemoteError(url, "the index is not valid JSON") from None
    file = _inside(manifest.folder, index)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_bytes(raw)
    manifest.files[index] = {"url": url, "size": len(raw), "ranges": [[0, len(raw)]]}
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict):
        raise RemoteError(url, "the index has no weight_map")
    base = PurePosixPath(index).parent
    shards = sorted(
        {
            str(base / v) if str(base) != "." else v
            for v in weight_map.values()
            if isinstance(v, str)
        }
    )
    for shard in shards:
        if ".." in PurePosixPath(shard).parts or shard.startswith("/"):
            raise RemoteError(url, f"shard {shard!r} lies outside the repository")
    return shards


def _fetch_all(
    client: Client,
    manifest: Manifest,
    weights: dict[str, str],
    configs: list[str],
    url_of: Callable[[str], str],
    progress: ProgressFn | None,
) -> None:
    folder = manifest.folder
    folder.mkdir(parents=True, exist_ok=True)
    total = len(weights) + len(configs)
    done = [0]
    lock = threading.Lock()

    def tick() -> None:
        with lock:
            done[0] += 1
            if progress is not None:
                progress(done[0], total)

    def config(name: str) -> None:
        url = url_of(name)
        data, _ = client.get(url, limit=MAX_CONFIG)
        target = _inside(folder, name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        manifest.files[name] = {"url": url, "size": len(data), "ranges": [[0, len(data)]]}
        tick()

    def weight(name: str) -> None:
        manifest.files[name] = _Fetcher(client, weights[name], _inside(folder, name), name).run()
        tick()

    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = [pool.submit(config, c) for c in configs]
        futures += [pool.submit(weight, w) for w in weights]
        try:
            for future in futures:
                future.result()
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    manifest.save()


def _inside(folder: Path, name: str) -> Path:
    target = (folder / name).resolve()
    if folder.resolve() not in target.parents:
        raise RemoteError(name, "a file name points outside the model folder")
    return target


def _write_ref(target: Target, commit: str) -> None:
    ref = _ref_file(target)
    ref.parent.mkdir(parents=True, exist_ok=True)
    temporary = ref.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps({"target": str(target), "commit": commit}), encoding="utf-8")
    os.replace(temporary, ref)


def _cached_hub(target: Target) -> Mirror | None:
    """The mirror a revision pointed to when it was last opened online."""
    try:
        commit = json.loads(_ref_file(target).read_text(encoding="utf-8"))["commit"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    folder = _hub_folder(target, commit)
    manifest = Manifest.load(folder)
    if manifest is None:
        return None
    path = folder / target.path if target.path else folder
    if not path.exists():
        return None
    if not target.path and manifest.opens:
        path = folder / manifest.opens
    return Mirror(path, manifest, 0, offline=True)


def _open_url(target: Target, client: Client, progress: ProgressFn | None) -> Mirror:
    key = hashlib.sha256(target.url.encode()).hexdigest()[:24]
    name = PurePosixPath(urlsplit(target.url).path).name or "model"
    folder = cache_root() / "url" / key
    manifest = Manifest(folder, target.url, "")
    try:
        _fetch_all(client, manifest, {name: target.url}, [], lambda n: target.url, progress)
    except RemoteError as error:
        cached = Manifest.load(folder)
        if cached is not None and error.status in (0, 429) and (folder / name).exists():
            return Mirror(folder / name, cached, 0, offline=True)
        raise
    return Mirror(folder / name, manifest, client.received)


# ---------------------------------------------------------------------------- tensor data


def manifest_of(file: Path) -> tuple[Manifest, str] | None:
    """The manifest of the mirror `file` lies in, and the file's name in it; None for a file
    that is not a remote mirror's (the common case, answered without touching the disk)."""
    root = cache_root()
    if not str(file).startswith(str(root)):
        return None
    file = Path(file)
    for folder in file.parents:
        if folder == root or len(folder.parts) <= len(root.parts):
            break
        if (folder / MANIFEST).is_file():
            manifest = Manifest.load(folder)
            if manifest is None:
                return None
            return manifest, file.relative_to(folder).as_posix()
    return None


def is_remote(file: Path) -> bool:
    return manifest_of(file) is not None


def missing_bytes(file: Path, offset: int, nbytes: int) -> int:
    """Bytes of file[offset : offset + nbytes] still on the server (0 for a local file)."""
    found = manifest_of(file)
    if found is None:
        return 0
    manifest, name = found
    entry = manifest.files.get(name)
    if entry is None:
        return nbytes
    return nbytes - _covered(entry.get("ranges", []), offset, offset + nbytes)


def require(file: Path, offset: int, nbytes: int) -> None:
    """RemoteDataMissing unless every byte of the range is here."""
    missing = missing_bytes(file, offset, nbytes)
    if missing:
        raise RemoteDataMissing(file, missing)


_fetch_lock = threading.Lock()


def fetch_range(
    file: Path,
    offset: int,
    nbytes: int,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
    timeout: float = TIMEOUT,
) -> int:
    """Download file[offset : offset + nbytes] into the mirror; returns the bytes transferred.
    The file's size and modification time stay as they were, so nothing reads it as changed."""
    found = manifest_of(file)
    if found is None:
        return 0
    manifest, name = found
    entry = manifest.files[name]
    url = entry["url"]
    client = Client(token=token(), timeout=timeout, cancelled=cancelled)
    source = parse(manifest.source) if manifest.source.startswith(("hf://",)) else None
    if source is not None:
        client.auth_origin = origin(source.endpoint)
    holes = _holes(entry.get("ranges", []), offset, offset + nbytes)
    need = sum(b - a for a, b in holes)
    done = 0
    for a, b in holes:
        start = a
        while start < b:
            stop = min(b, start + (8 << 20))
            base = done

            def report(got: int, _expected: int, base: int = base) -> None:
                if progress is not None:
                    progress(base + got, need)

            data, _ = client.get(url, start, stop, progress=report)
            if len(data) != stop - start:
                raise RemoteError(url, "the server sent fewer bytes than asked")
            status = os.stat(file)
            with _fetch_lock, open(file, "r+b") as f:
                f.seek(start)
                f.write(data)
            os.utime(file, ns=(status.st_atime_ns, status.st_mtime_ns))
            with _fetch_lock:
                current = Manifest.load(manifest.folder) or manifest
                record = current.files[name]
                record["ranges"] = _merge([*record.get("ranges", []), [start, stop]])
                current.data_bytes += stop - start
                current.save()
            done += stop - start
            start = stop
    return client.received


def _holes(ranges: list[list[int]], start: int, stop: int) -> list[tuple[int, int]]:
    holes: list[tuple[int, int]] = []
    at = start
    for a, b in _merge(ranges):
        if b <= at or a >= stop:
            continue
        if a > at:
            holes.append((at, min(a, stop)))
        at = max(at, b)
    if at < stop:
        holes.append((at, stop))
    return holes


def describe(mirror: Mirror) -> str:
    """The line a remote tab shows: "remote · commit abc1234 · 0 bytes of weights downloaded"."""
    manifest = Manifest.load(mirror.manifest.folder) or mirror.manifest
    return describe_manifest(manifest, mirror.offline)


def describe_manifest(manifest: Manifest, offline: bool = False) -> str:
    where = f"commit {manifest.commit[:7]}" if manifest.commit else "URL"
    text = f"remote · {where} · {exact(manifest.data_bytes)} bytes of weights downloaded"
    if offline:
        text += " · offline, from the cache"
    return text
