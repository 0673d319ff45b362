"""Zip members' compressed bytes, decompressed so that no stream can produce more than asked.

`Inflater` is the one decompressor every zip member goes through (core.readers.zipmember reads
members with it; statistics stream `np.savez_compressed` arrays with it, below). Python's zipfile
inflates bzip2 and lzma without any limit and deflate up to 2 GiB per read, whatever size the
archive declares, so a 2 KB member can cost 4 GB; here every call is given how much output it
may return, and the codec keeps the rest of its input for the next call.

Methods: stored, deflate, bzip2 and lzma, the four that zip tools write and Python reads.
Checkpoints use stored (torch.save) and deflate (np.savez_compressed, .keras); bzip2 and lzma
cost no more to bound, so an archive re-packed with them still opens. Any other method
(deflate64, zstd, ppmd…) is refused with its name (`method_name`).

Elements of a deflate-compressed array (an `np.savez_compressed` member) stream too: its data
source's `encoding` says "deflate:<skip>:<size>:<crc>": `skip` bytes of the decompressed stream
(the .npy header) come before the elements, which fill exactly `size` bytes, and the zip's CRC-32
of the whole member is checked at the end (deflate itself notices little damage). Nothing beyond
`size` is ever produced, so a stream that inflates to more (a deflate bomb) costs nothing.
"""

from __future__ import annotations

import bz2
import lzma
import zipfile
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from core.errors import CheckpointError
from core.model import DataSource

if TYPE_CHECKING:  # numpy loads when an array is read, not when the reader is chosen
    import numpy as np

PREFIX = "deflate:"
METHODS = {
    zipfile.ZIP_STORED: "stored",
    zipfile.ZIP_DEFLATED: "deflate",
    zipfile.ZIP_BZIP2: "bzip2",
    zipfile.ZIP_LZMA: "lzma",
}
_LZMA_DICT_MIN = 4096  # liblzma's smallest dictionary


class CorruptStream(Exception):
    """The compressed bytes are not a valid stream of their method (the caller names the file)."""


def method_name(method: int) -> str:
    """A zip compression method's name, for messages."""
    return METHODS.get(method) or zipfile.compressor_names.get(method) or f"method {method}"


class Inflater:
    """A decompressor for one zip member of `method` (deflate, bzip2 or lzma) that returns at
    most `max_length` bytes per call, keeping unread input for the next call.

    `expected` is the member's declared size: an lzma stream's dictionary is allocated up front
    at the size its header asks for (up to 4 GiB), but no back-reference reaches further than the
    output so far, so a dictionary one byte larger than the declared size decodes every stream
    that keeps to it, and one that does not fails instead of allocating.
    """

    def __init__(self, method: int, expected: int) -> None:
        if method not in METHODS or method == zipfile.ZIP_STORED:
            raise ValueError(f"not a compression method: {method_name(method)}")
        self.method = method
        self._expected = expected
        self._tail = b""  # deflate: input zlib has not consumed yet
        self._lzma_head = b""  # lzma: the zip's 4-byte header and the properties after it
        self._codec: object | None = None
        if method == zipfile.ZIP_DEFLATED:
            self._codec = zlib.decompressobj(-zlib.MAX_WBITS)  # a zip holds raw deflate data
        elif method == zipfile.ZIP_BZIP2:
            self._codec = bz2.BZ2Decompressor()

    @property
    def eof(self) -> bool:
        return self._codec is not None and bool(self._codec.eof)  # type: ignore[attr-defined]

    @property
    def needs_input(self) -> bool:
        """Whether another call needs more compressed bytes (False: output is still waiting)."""
        if self._codec is None or self.eof:
            return True
        if self.method == zipfile.ZIP_DEFLATED:
            return not self._tail
        return bool(self._codec.needs_input)  # type: ignore[attr-defined]

    def inflate(self, data: bytes, max_length: int) -> bytes:
        """Up to `max_length` (≥ 1) more bytes of output, after taking in `data` (may be b"")."""
        try:
            if self._codec is None:
                data = self._start_lzma(data)
                if self._codec is None:
                    return b""
            if self.eof:
                return b""
            if self.method == zipfile.ZIP_DEFLATED:
                out = self._codec.decompress(self._tail + data, max_length)  # type: ignore[attr-defined]
                self._tail = self._codec.unconsumed_tail  # type: ignore[attr-defined]
                return out
            return self._codec.decompress(data, max_length)  # type: ignore[attr-defined]
        except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError) as error:
            raise CorruptStream(str(error) or type(error).__name__) from None

    def _start_lzma(self, data: bytes) -> bytes:
        """Parse the zip's lzma header (version, properties size, LZMA1 properties) once it is
        all there; the input after it is returned for the decoder."""
        self._lzma_head += data
        head = self._lzma_head
        if len(head) < 4:
            return b""
        size = int.from_bytes(head[2:4], "little")
        if len(head) < 4 + size:
            return b""
        if size != 5:
            raise CorruptStream(f"lzma properties of {size} bytes (LZMA1 has 5)")
        props = head[4]
        if props >= 9 * 5 * 5:
            raise CorruptStream("invalid lzma properties")
        wanted = int.from_bytes(head[5:9], "little")
        dict_size = max(_LZMA_DICT_MIN, min(wanted, self._expected + 1))
        lc, rest = props % 9, props // 9
        filters = [
            {
                "id": lzma.FILTER_LZMA1,
                "lc": lc,
                "lp": rest % 5,
                "pb": rest // 5,
                "dict_size": dict_size,
            }
        ]
        self._codec = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)
        self._lzma_head = b""
        return head[4 + size :]


def encoding(skip: int, size: int, crc: int) -> str:
    return f"{PREFIX}{skip}:{size}:{crc}"


def is_deflate(name: str) -> bool:
    return name.startswith(PREFIX)


def layout(name: str) -> tuple[int, int, int]:
    """(bytes to skip, bytes of elements, CRC-32 of the member) of a "deflate:…" encoding."""
    skip, size, crc = name.removeprefix(PREFIX).split(":")
    return int(skip), int(size), int(crc)


def iter_raw(
    source: DataSource, dtype: np.dtype, max_bytes: int
) -> Iterator[tuple[np.ndarray, int]]:
    """(elements, compressed bytes consumed) a chunk at a time; each array of `dtype` is valid
    until the next one is asked for."""
    import numpy as np

    skip, size, expected_crc = layout(source.encoding)
    crc = 0
    itemsize = dtype.itemsize
    step = max(itemsize, max_bytes // itemsize * itemsize)
    inflater = Inflater(zipfile.ZIP_DEFLATED, skip + size)
    pending = b""  # decompressed bytes not yet handed out (less than one chunk)
    produced = 0
    remaining = source.nbytes
    with open(source.file, "rb") as f:
        f.seek(source.offset)
        while produced < size:
            if not inflater.needs_input:
                data, consumed = b"", 0
            else:
                data = f.read(min(step, remaining)) if remaining > 0 else b""
                consumed = len(data)
                remaining -= consumed
                if not data:
                    raise CheckpointError(
                        source.file,
                        f"a compressed array ends after {produced:,} of {size:,} bytes",
                        "the file is truncated or corrupt",
                    )
            try:
                out = inflater.inflate(data, step)
            except CorruptStream as error:
                raise CheckpointError(
                    source.file, f"a compressed array is corrupt ({error})"
                ) from None
            crc = zlib.crc32(out, crc)
            if skip:
                cut = min(skip, len(out))
                out, skip = out[cut:], skip - cut
            pending += out
            whole = min(len(pending) // itemsize * itemsize, size - produced)
            if whole >= step or (whole and produced + whole == size):
                produced += whole
                if produced == size and crc != expected_crc:
                    raise CheckpointError(
                        source.file,
                        "a compressed array fails its CRC check",
                        "the file is corrupt",
                    )
                yield np.frombuffer(pending[:whole], dtype), consumed
                pending = pending[whole:]
            elif consumed:
                yield np.zeros(0, dtype), consumed  # progress: compressed bytes read so far
            if produced >= size:
                break
            if not out and inflater.eof:
                raise CheckpointError(
                    source.file,
                    f"a compressed array holds {produced + len(pending):,} of {size:,} bytes",
                    "the file is corrupt",
                )
