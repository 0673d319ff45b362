"""Reading files that may change underneath us: training rewrites `last.ckpt` and
`model.safetensors` over and over while people look at them.

Nothing here maps a file. A mapped page past the end of a file that another process has just
truncated kills the whole process with SIGBUS (in the window: a crash with no message), and no
Python code can catch that. `read`/`readinto` on a shortened file returns fewer bytes instead,
which we turn into an error that names the file:
- `FileBytes` gives a parser random access to a file's bytes by index and slice, read in
  windows, so header parsers written against an mmap need not map the file;
- `read_exact` fills a buffer or says why it could not;
- `Version` (size and modification time in ns) is what a job checks between chunks, so a file
  touched, rewritten or replaced while it is read stops the job with `FileChanged` instead of
  mixing two versions of the data.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import CheckpointError

CHANGED = "the file changed while it was read"
CHANGED_HINT = "it was rewritten, touched or replaced meanwhile; reload it once the writer is done"
WINDOW_BYTES = (
    4 << 10
)  # a parser reads through windows of this size (payloads it skips stay unread)


class FileChanged(CheckpointError):
    """A file's size or modification time changed while a job read it: its results would mix
    two versions of the data, so the job stops; reloading the file starts it again."""

    def __init__(self, path: str | Path, detail: str = "") -> None:
        super().__init__(path, CHANGED + (f" ({detail})" if detail else ""), CHANGED_HINT)
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Version:
    """What says a file is still the one a job started on."""

    size: int
    mtime_ns: int

    @staticmethod
    def of(status: os.stat_result) -> Version:
        return Version(status.st_size, status.st_mtime_ns)


def version(path: str | Path) -> Version:
    """The file's current version; CheckpointError when it cannot be looked at."""
    try:
        return Version.of(os.stat(path))
    except OSError as error:
        raise CheckpointError(path, f"cannot read the file ({error.strerror or error})") from None


def check_unchanged(path: str | Path, expected: Version) -> None:
    """FileChanged unless the file at `path` still has the expected size and mtime.

    By path, not by open handle: a writer that replaces the file (write a temporary, rename it
    over) leaves our handle on the old data, but the next open would read the new one."""
    try:
        now = Version.of(os.stat(path))
    except OSError:
        raise FileChanged(path, "it is gone") from None
    if now != expected:
        what = f"{expected.size:,} → {now.size:,} bytes" if now.size != expected.size else ""
        raise FileChanged(path, what)


def read_exact(
    handle: BinaryIO, view: memoryview, path: str | Path, expected: Version | None = None
) -> None:
    """Fill `view` from the handle's position. A short read is FileChanged when the file is no
    longer the `expected` version, else "the file ends inside a tensor's data"."""
    done = 0
    while done < len(view):
        got = handle.readinto(view[done:])
        if not got:
            if expected is not None:
                check_unchanged(path, expected)
            raise CheckpointError(
                path,
                "the file ends inside a tensor's data",
                "it is truncated or still being written",
            )
        done += got


@cache
def _struct(fmt: str) -> struct.Struct:
    return struct.Struct(fmt)


class FileBytes:
    """An open file's bytes by index (`data[i]`) and slice (`data[a:b]`), as a parser written
    for an mmap uses them, read with `read` in windows instead of mapped.

    The length is the file's size when it was opened. When the file turns out shorter than that
    (truncated while we parse), a read raises FileChanged instead of faulting. Use it as a
    context manager: leaving the block normally checks that the file did not change meanwhile.
    """

    def __init__(self, path: str | Path, window: int = WINDOW_BYTES) -> None:
        self.path = Path(path)
        self._handle = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        try:
            status = os.fstat(self._handle.fileno())
        except OSError:
            self._handle.close()
            raise
        self.version = Version.of(status)
        self.size = status.st_size
        self._window = max(1, window)
        self._start = 0
        self._data = b""

    def __enter__(self) -> FileBytes:
        return self

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        self.close()
        if kind is None:
            check_unchanged(self.path, self.version)

    def close(self) -> None:
        self._handle.close()

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.size)
            if step != 1:
                raise ValueError("FileBytes slices have no step")
            return self.span(start, stop)
        index = key + self.size if key < 0 else key
        at = index - self._start
        if 0 <= at < len(self._data):
            return self._data[at]
        if not 0 <= index < self.size:
            raise IndexError("FileBytes index out of range")
        self._load(index)
        return self._data[0]

    def span(self, start: int, stop: int) -> bytes:
        """Bytes start … stop (clipped to the file, as slicing an mmap is)."""
        start, stop = max(0, start), min(stop, self.size)
        if stop <= start:
            return b""
        at = start - self._start
        if at >= 0 and stop - self._start <= len(self._data):
            return self._data[at : at + stop - start]
        if stop - start <= self._window:
            self._load(start)
            return self._data[: stop - start]
        return self._read(start, stop - start)

    def unpack_from(self, fmt: str, offset: int = 0) -> tuple[Any, ...]:
        """struct.unpack_from(fmt, data, offset) over the file's bytes."""
        layout = _struct(fmt)
        raw = self.span(offset, offset + layout.size)
        if len(raw) < layout.size:
            raise struct.error(f"unpack_from requires a buffer of at least {layout.size} bytes")
        return layout.unpack(raw)

    def _load(self, start: int) -> None:
        self._data = self._read(start, min(self._window, self.size - start))
        self._start = start

    def _read(self, start: int, n: int) -> bytes:
        self._handle.seek(start)
        data = self._handle.read(n)
        if len(data) < n:  # shorter than when we opened it: a writer truncated it
            raise FileChanged(
                self.path, f"it ended at byte {start + len(data):,} of {self.size:,} bytes"
            )
        return data
