"""Tensor values that protobuf stores as numbers rather than as a run of bytes.

ONNX keeps most weights in `raw_data`, a plain run of elements that statistics read from its
offset. Small tensors, and some exporters' constants, are stored instead as protobuf numbers:
`int32_data`/`int64_data`/`uint64_data` (varints), a Constant node's `value_int(s)` (varints, packed
or one field each) and `value_floats` (floats, one tagged field each). Their bytes are not the
elements, so such a tensor's `DataSource` spans the message that holds the numbers and names the
field in its encoding, `protobuf:<field>:<kind>:<count>`; `iter_raw` walks that message and yields the
elements in the tensor's own storage dtype. Bounded: the messages are read whole, and a message
past MAX_BYTES is not offered for reading (the reader says so instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from core.errors import CheckpointError
from core.fileread import read_exact
from core.model import DataSource

PREFIX = "protobuf:"
if TYPE_CHECKING:
    import numpy as np

MAX_BYTES = 16 << 20  # a message holding numbers is read whole: bigger ones are not offered
KINDS = ("varint", "uvarint", "float32")


def encoding(field: int, kind: str, count: int) -> str:
    """`count` is the element count the shape asks for: a message holding another number of
    values is corrupt, and is said to be rather than read."""
    assert kind in KINDS
    return f"{PREFIX}{field}:{kind}:{count}"


def is_protobuf(encoding: str) -> bool:
    return encoding.startswith(PREFIX)


def _parse(encoding: str) -> tuple[int, str, int]:
    field, kind, count = encoding[len(PREFIX) :].split(":")
    return int(field), kind, int(count)


class Truncated(Exception):
    """The bytes end inside a protobuf value."""


def varint(data, pos: int, end: int) -> tuple[int, int]:
    """(value, next position) of the base-128 varint at `pos`; Truncated when it runs past
    `end`, ValueError past the 10 bytes a 64-bit value takes. The ONNX reader's too."""
    value = shift = 0
    while True:
        if pos >= end:
            raise Truncated
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 63:
            raise ValueError("a varint longer than 10 bytes")


def numbers(message: bytes, field: int, kind: str) -> list[int] | list[float]:
    """Every value of `field` in a serialised message, packed or one field each, in order."""
    import struct

    out: list = []
    pos = 0
    while pos < len(message):
        tag, pos = varint(message, pos, len(message))
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = varint(message, pos, len(message))
            if number == field:
                out.append(value)
        elif wire == 2:
            length, pos = varint(message, pos, len(message))
            end = pos + length
            if end > len(message):
                raise ValueError("a field runs past its message")
            if number == field:
                if kind == "float32":
                    out.extend(
                        struct.unpack(f"<{length // 4}f", message[pos : pos + length // 4 * 4])
                    )
                else:
                    at = pos
                    while at < end:
                        value, at = varint(message, at, end)
                        out.append(value)
            pos = end
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if number == field and kind == "float32" and wire == 5:
                out.append(struct.unpack("<f", message[pos : pos + width])[0])
            pos += width
        else:
            raise ValueError(f"wire type {wire}")
    return out


def values(message: bytes, field: int, kind: str, dtype: np.dtype) -> np.ndarray:
    """The numbers as elements of the tensor's storage dtype. ONNX keeps 8- and 16-bit floats
    (float16, bfloat16, float8) in int32_data as their bit patterns, not as values."""
    import numpy as np

    found = numbers(message, field, kind)
    if kind == "float32":
        return np.asarray(found, dtype=np.float32).astype(dtype, copy=False)
    if kind == "uvarint":
        return np.asarray(found, dtype=np.uint64).astype(dtype, copy=False)
    # signed: a negative number is written as its 64-bit two's complement
    signed = np.asarray(found, dtype=np.uint64).view(np.int64)
    if dtype.kind in "fV" and dtype.itemsize < 4:
        bits = signed.astype(np.dtype(f"<u{dtype.itemsize}"))
        return bits.view(dtype)
    return signed.astype(dtype, copy=False)


def iter_raw(source: DataSource, dtype: np.dtype) -> Iterator[tuple[np.ndarray, int]]:
    """(elements, bytes consumed): the whole tensor at once; these tensors are small."""
    if source.nbytes > MAX_BYTES:
        raise CheckpointError(
            source.file, "too many values stored as protobuf numbers to read", "not supported"
        )
    message = bytearray(source.nbytes)
    with open(source.file, "rb") as handle:
        handle.seek(source.offset)
        read_exact(handle, memoryview(message), str(source.file))
    field, kind, count = _parse(source.encoding)
    try:
        elements = values(bytes(message), field, kind, dtype)
    except (ValueError, Truncated) as error:
        raise CheckpointError(
            source.file, f"its protobuf numbers are malformed ({error or 'cut short'})", "corrupt"
        ) from None
    if elements.size != count:
        raise CheckpointError(
            source.file,
            f"it holds {elements.size:,} numbers where its shape needs {count:,}",
            "corrupt file",
        )
    yield elements, source.nbytes
