"""NumPy `.npy` (one array) and `.npz` (a zip of `.npy` members), without unpickling anything.

An `.npy` file is b"\\x93NUMPY", a version, a header length, a Python-literal header (dtype,
order, shape) and the raw data. We read the header with numpy's own parser (a literal parser that
executes nothing) and locate the data; an array of Python objects is a pickle and is refused.
In an `.npz`, a stored (uncompressed) member's data lies at a fixed offset in the zip, so its
tensors get a data source; a `savez_compressed` member's data source points at its deflated bytes,
which statistics inflate a chunk at a time (`core.inflate`).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from core import inflate
from core.dtypes import DTYPES
from core.errors import CheckpointError
from core.model import DataSource, TensorInfo
from core.readers.base import ReadResult
from core.readers.zipmember import MemberStream, first_member_name, member_data_offset
from core.units import exact

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
MAX_HEADER = 1 << 20  # numpy's own default limit is 10,000 bytes; wide structured dtypes need more
_BY_NUMPY = {d.numpy: d.name for d in DTYPES.values() if d.numpy}
REFUSE_PICKLE = "ParamScope never unpickles: save numeric arrays (allow_pickle=False)"


class NumpyReader:
    format = "numpy"

    def match(self, path: Path, head: bytes) -> bool:
        if head[:6] == NPY_MAGIC:
            return True
        return head[:4] == ZIP_MAGIC and _looks_like_npz(path, head)

    def read(self, path: Path) -> ReadResult:
        try:
            with open(path, "rb") as f:
                if f.read(6) == NPY_MAGIC:
                    return _read_npy(path, f)
            return _read_npz(path)
        except OSError as error:
            raise CheckpointError(
                path, f"cannot read the file ({error.strerror or error})"
            ) from None


def _looks_like_npz(path: Path, head: bytes) -> bool:
    first = first_member_name(head)  # np.savez writes only <key>.npy members
    if first is not None:
        return first.endswith(b".npy")
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return False
    return bool(names) and all(n.endswith(".npy") for n in names)


def _npy_header(path: Path, f: BinaryIO, what: str) -> tuple[tuple[int, ...], bool, Any]:
    """(shape, fortran_order, numpy dtype) of the `.npy` stream `f`, positioned at its start."""
    from numpy.lib import format as npy_format

    try:
        version = npy_format.read_magic(f)
        if version == (1, 0):
            return npy_format.read_array_header_1_0(f, max_header_size=MAX_HEADER)
        if version in ((2, 0), (3, 0)):
            return npy_format.read_array_header_2_0(f, max_header_size=MAX_HEADER)
        raise ValueError(f"unknown .npy version {version}")
    except Exception as e:  # noqa: BLE001 — numpy's literal parser raises many kinds (TokenError…)
        raise CheckpointError(
            path, f"{what}: the .npy header cannot be read ({e})", "corrupt or truncated file"
        ) from None


def _tensor(
    path: Path, name: str, header: tuple[tuple[int, ...], bool, Any], what: str
) -> tuple[TensorInfo, bool]:
    """A TensorInfo without a source yet (`_locate` adds it), and whether its data is
    little-endian (statistics read little-endian elements only)."""
    shape, fortran, dt = header
    if dt.hasobject:
        raise CheckpointError(path, f"{what} holds Python objects (a pickled array)", REFUSE_PICKLE)
    if dt.names is not None or dt.subdtype is not None:
        raise CheckpointError(path, f"{what} is a structured array ({dt})", "not a tensor")
    little = dt.byteorder in ("<", "|", "=") and not (dt.byteorder == "=" and _big_machine())
    canonical = _BY_NUMPY.get(dt.newbyteorder("<").str if dt.itemsize > 1 else dt.str)
    if canonical is None:
        raise CheckpointError(path, f"{what} has element type {dt}, which ParamScope cannot show")
    numel = 1
    for d in shape:
        numel *= d
    info = TensorInfo(
        name=name,
        shape=tuple(shape),
        dtype=canonical,
        numel=numel,
        nbytes=numel * dt.itemsize,
        source=None,
    )
    return info, little


def _big_machine() -> bool:
    import sys

    return sys.byteorder == "big"


def _fortran_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    strides, step = [], 1
    for d in shape:
        strides.append(step)
        step *= d
    return tuple(strides)


def _locate(info: TensorInfo, file: Path, offset: int, fortran: bool) -> None:
    # a Fortran-order array is the transpose of its storage: strides in elements say so
    strides = _fortran_strides(info.shape) if fortran and len(info.shape) > 1 else None
    info.source = DataSource(file=file, offset=offset, nbytes=info.nbytes, strides=strides)


def _read_npy(path: Path, f: BinaryIO) -> ReadResult:
    f.seek(0)
    header = _npy_header(path, f, "the array")
    info, little = _tensor(path, path.stem.removesuffix(".npy") or "array", header, "the array")
    data_start = f.tell()
    size = os.fstat(f.fileno()).st_size
    if data_start + info.nbytes > size:
        raise CheckpointError(
            path,
            f"the array needs {exact(info.nbytes)} bytes from byte {exact(data_start)} "
            f"but the file ends at {exact(size)}",
            "the file is truncated",
        )
    result = ReadResult(format="numpy", files=[path], tensors=[info])
    if little:
        _locate(info, path, data_start, header[1])
    else:
        info.source = None
        result.warnings.append("big-endian array: shown, but statistics are not available")
    if size > data_start + info.nbytes:
        result.warnings.append(
            f"{exact(size - data_start - info.nbytes)} bytes follow the array's data"
        )
    result.facts.update({"npy": _order_fact(header)})
    return result


def _order_fact(header: tuple[tuple[int, ...], bool, Any]) -> str:
    return "Fortran order" if header[1] else "C order"


def _read_npz(path: Path) -> ReadResult:
    size = path.stat().st_size
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, ValueError, NotImplementedError, EOFError, OSError) as error:
        raise CheckpointError(
            path, f"the .npz zip cannot be read ({error})", "the file is truncated or corrupt"
        ) from None
    result = ReadResult(format="numpy", files=[path], tensors=[])
    compressed = unreadable = 0
    refused: list[str] = []
    with zf, open(path, "rb") as raw:
        for member in zf.infolist():
            if not member.filename:  # zipfile's is_dir() fails on it: say what is wrong instead
                raise CheckpointError(path, "a member of the .npz zip has no name", "corrupt")
            if member.is_dir():
                continue
            key = member.filename.removesuffix(".npy")
            what = f"member {member.filename!r}"
            try:
                # bounded: a member that inflates without end costs one read's worth
                with MemberStream(path, member) as stream:
                    header = _npy_header(path, stream, what)
            except OSError as error:
                raise CheckpointError(path, f"{what} cannot be read ({error})", "corrupt") from None
            try:
                info, little = _tensor(path, key.replace("/", "."), header, what)
            except CheckpointError as error:
                if "pickled" not in error.what:
                    raise
                refused.append(member.filename)
                continue
            result.tensors.append(info)
            data_start = member_data_offset(path, raw.fileno(), member, size)
            npy_header_len = member.file_size - info.nbytes
            stored = member.compress_type == zipfile.ZIP_STORED
            if npy_header_len < 10 or data_start + member.compress_size > size:
                raise CheckpointError(
                    path, f"{what} does not hold the {exact(info.nbytes)} bytes its header says"
                )
            if not stored:
                compressed += 1
                # statistics inflate it a chunk at a time; they do not depend on the order of
                # the elements, so a Fortran-order array reads the same way
                if member.compress_type == zipfile.ZIP_DEFLATED and little:
                    info.source = DataSource(
                        file=path,
                        offset=data_start,
                        nbytes=member.compress_size,
                        encoding=inflate.encoding(npy_header_len, info.nbytes, member.CRC),
                    )
                else:
                    unreadable += 1
                continue
            if little:
                _locate(info, path, data_start + npy_header_len, header[1])
            else:
                info.source = None
    if refused:
        names = ", ".join(refused[:5])
        if not result.tensors:
            raise CheckpointError(
                path, f"every array is pickled Python objects ({names})", REFUSE_PICKLE
            )
        result.warnings.append(f"{len(refused)} pickled object arrays not shown ({names})")
    if unreadable:
        result.warnings.append(
            f"{unreadable} compressed arrays use a zip method or layout ParamScope cannot stream: "
            "their shapes and counts are shown, statistics are not available"
        )
    result.facts.update({"npz arrays": str(len(result.tensors))})
    if compressed:
        result.facts["compressed"] = str(compressed)
    return result
