"""Zip archives seen from their bytes: the first member's name (what kind of archive this is,
from the file's head alone), where a member's bytes lie (for readers that map them in place), and
every member's contents, read through `MemberStream`.

A member's data starts after its local header, whose name and extra-field lengths may differ
from the central directory's (torch pads the extra field to align data to 64 bytes), so the
local header is read. Checked against the file size: a damaged or truncated archive is an error.

Readers never read a member with zipfile's own `read`/`open`: those trust the declared size
only after inflating (bzip2 and lzma without limit, deflate 2 GiB at a time), so a 2 KB member
can cost 4 GB. `MemberStream` produces at most the declared size, through `core.inflate`'s
bounded decompressor, and a member whose data goes on past it is an error naming it.
"""

from __future__ import annotations

import io
import os
import zipfile
import zlib
from pathlib import Path
from typing import Any

from core.errors import CheckpointError
from core.inflate import METHODS, CorruptStream, Inflater, method_name
from core.units import exact

LOCAL_HEADER = 30
READ_BYTES = 64 << 10  # compressed bytes read at a time


def first_member_name(head: bytes) -> bytes | None:
    """The name of the archive's first member, from the file's first bytes (its local header);
    None when `head` is too short to hold it. Reading it costs nothing, while listing the
    central directory of a 100,000-tensor checkpoint costs half a second."""
    name_len = int.from_bytes(head[26:28], "little")
    if len(head) < LOCAL_HEADER + name_len:
        return None
    return head[LOCAL_HEADER : LOCAL_HEADER + name_len]


def member_data_offset(path: Path, fd: int, member: zipfile.ZipInfo, size: int) -> int:
    """The absolute offset of `member`'s bytes in the archive open as descriptor `fd`."""
    local = os.pread(fd, LOCAL_HEADER, member.header_offset)
    if len(local) < LOCAL_HEADER or local[:4] != b"PK\x03\x04":
        raise CheckpointError(path, f"the local header of {member.filename} is damaged", "corrupt")
    name_len = int.from_bytes(local[26:28], "little")
    extra_len = int.from_bytes(local[28:30], "little")
    start = member.header_offset + LOCAL_HEADER + name_len + extra_len
    stored = member.compress_size  # = file_size for a stored member; less when deflated
    if start + stored > size:
        raise CheckpointError(
            path,
            f"{member.filename} ends at byte {exact(start + stored)} "
            f"but the file ends at {exact(size)}",
            "the file is truncated",
        )
    return start


def read_member(path: Path, member: zipfile.ZipInfo) -> bytes:
    """All of a member's bytes: exactly its declared size (the caller has checked that size
    against what it expects), its CRC checked, and an error if the data inflates to more."""
    with MemberStream(path, member) as stream:
        out = bytearray(member.file_size)
        view = memoryview(out)
        done = 0
        while done < len(out):
            got = stream.readinto(view[done:])
            if not got:
                break  # readinto has raised if the member ends early
            done += got
        stream.check_end()
        return bytes(out)


class MemberStream(io.RawIOBase):
    """A read-only, seekable file object over one member's decompressed bytes.

    Never holds more than one read's worth of output: each read asks the decompressor for at
    most what is wanted, and no more than the declared size in all. Seeking back starts the
    member over (as zipfile does). Reading to the end checks the CRC and that the compressed
    data holds nothing more.
    """

    def __init__(self, path: Path, member: zipfile.ZipInfo) -> None:
        super().__init__()
        self._path, self._member = path, member
        self._what = f"member {member.filename!r}"
        if member.flag_bits & 0x1:
            raise CheckpointError(
                path, f"{self._what} is encrypted", "ParamScope reads no passwords"
            )
        if member.compress_type not in METHODS:
            raise CheckpointError(
                path,
                f"{self._what} is compressed with {method_name(member.compress_type)}",
                "ParamScope reads stored, deflate, bzip2 and lzma zip members: "
                "re-pack the archive with one of them",
            )
        self._file = open(path, "rb")  # noqa: SIM115 — closed in close()
        try:
            size = os.fstat(self._file.fileno()).st_size
            self._start = member_data_offset(path, self._file.fileno(), member, size)
        except BaseException:
            self._file.close()
            raise
        self._stored = member.compress_type == zipfile.ZIP_STORED
        if self._stored and member.compress_size != member.file_size:
            self._file.close()
            raise CheckpointError(
                path,
                f"{self._what} is stored as {exact(member.compress_size)} bytes but declares "
                f"{exact(member.file_size)}",
                "the archive is damaged",
            )
        self._size = member.file_size
        self._pos = 0  # where the reader is
        self._restart()

    def _restart(self) -> None:
        """Back to the member's first byte (a compressed member is decoded from its start)."""
        self._made = 0  # decompressed bytes produced so far (≤ _pos until a read catches up)
        self._taken = 0  # compressed bytes handed to the decompressor
        self._crc = 0
        self._ended = False
        self._inflater = None if self._stored else Inflater(self._member.compress_type, self._size)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = min(self._size, max(0, base + offset))
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        wanted = min(len(view), self._size - self._pos)
        if wanted <= 0:
            return 0
        if self._stored:
            got = os.preadv(self._file.fileno(), [view[:wanted]], self._start + self._pos)
            if got <= 0:
                raise self._error(f"{self._what} ends early", "the file is truncated")
            if self._pos == self._made:  # read in order: the CRC can still be checked
                self._crc = zlib.crc32(view[:got], self._crc)
                self._made += got
            self._pos += got
            return got
        if self._pos < self._made:
            self._restart()
        while self._made < self._pos:  # skip forward by decoding (a seek ahead)
            self._produce(min(READ_BYTES, self._pos - self._made))
        out = self._produce(wanted)
        view[: len(out)] = out
        self._pos += len(out)
        return len(out)

    def _produce(self, n: int) -> bytes:
        """The next 1…n decompressed bytes, reading compressed bytes as the decoder needs them."""
        assert self._inflater is not None
        while True:
            data = self._next_input()
            try:
                out = self._inflater.inflate(data, n)
            except CorruptStream as error:
                raise self._error(
                    f"{self._what} is corrupt ({error})", "the archive is damaged"
                ) from None
            if out:
                self._crc = zlib.crc32(out, self._crc)
                self._made += len(out)
                return out
            if self._inflater.eof or (not data and self._inflater.needs_input):
                raise self._error(
                    f"{self._what} holds {exact(self._made)} of the {exact(self._size)} bytes "
                    "it declares",
                    "the archive is truncated or damaged",
                )

    def _next_input(self) -> bytes:
        assert self._inflater is not None
        left = self._member.compress_size - self._taken
        if not self._inflater.needs_input or left <= 0:
            return b""
        data = os.pread(self._file.fileno(), min(READ_BYTES, left), self._start + self._taken)
        self._taken += len(data)
        return data

    def check_end(self) -> None:
        """After every declared byte was read in order: the CRC matches, and the compressed data
        does not go on to produce more (a member that lies about its size is refused)."""
        if self._ended or self._made < self._size:
            return
        self._ended = True
        if self._inflater is not None:
            while not self._inflater.eof:
                data = self._next_input()
                try:
                    more = self._inflater.inflate(data, 1)
                except CorruptStream as error:
                    raise self._error(
                        f"{self._what} is corrupt ({error})", "the archive is damaged"
                    ) from None
                if more:
                    raise self._error(
                        f"{self._what} inflates past its declared size of "
                        f"{exact(self._size)} bytes",
                        "a forged or damaged archive (a zip bomb?)",
                    )
                if not data and self._inflater.needs_input:
                    break
        if self._crc != self._member.CRC:
            raise self._error(f"{self._what} fails its CRC check", "the archive is corrupt")

    def _error(self, what: str, hint: str) -> CheckpointError:
        return CheckpointError(self._path, what, hint)

    def close(self) -> None:
        if hasattr(self, "_file"):
            self._file.close()
        super().close()
