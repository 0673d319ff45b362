"""Zip archives seen from their bytes: the first member's name (what kind of archive this is,
from the file's head alone) and where a member's bytes lie, for readers that map them in place.

A member's data starts after its local header, whose name and extra-field lengths may differ
from the central directory's (torch pads the extra field to align data to 64 bytes), so the
local header is read. Checked against the file size: a damaged or truncated archive is an error.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from core.errors import CheckpointError
from core.units import exact

LOCAL_HEADER = 30


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
