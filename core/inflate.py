"""Elements of a deflate-compressed array (an `np.savez_compressed` member), decompressed a
bounded chunk at a time, so statistics stream over it as over a plain one.

The data source's `encoding` says "deflate:<skip>:<size>:<crc>": `skip` bytes of the decompressed
stream (the .npy header) come before the elements, which fill exactly `size` bytes, and the zip's
CRC-32 of the whole member is checked at the end (deflate itself notices little damage). Nothing
beyond `size` is ever produced, so a stream that inflates to more (a deflate bomb) costs nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from core.errors import CheckpointError
from core.model import DataSource

if TYPE_CHECKING:  # numpy loads when an array is read, not when the reader is chosen
    import numpy as np

PREFIX = "deflate:"


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
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # a zip member holds raw deflate data
    pending = b""  # decompressed bytes not yet handed out (less than one chunk)
    produced = 0
    remaining = source.nbytes
    with open(source.file, "rb") as f:
        f.seek(source.offset)
        while produced < size:
            if inflater.unconsumed_tail:
                data, consumed = inflater.unconsumed_tail, 0
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
                out = inflater.decompress(data, step)
            except zlib.error as error:
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
