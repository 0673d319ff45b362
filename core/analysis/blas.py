"""How many threads numpy's BLAS uses, set for a stretch of work (OpenBLAS via ctypes).

Small matrix products gain nothing from BLAS threads, and on a busy machine OpenBLAS's spinning
threads make them 10× slower (measured: the spectra of a 22 M-parameter model took 16 s with
the default threads under load, 1.5 s with one). Worker processes run in parallel instead.
When numpy's BLAS is not OpenBLAS, nothing is changed.
"""

from __future__ import annotations

import ctypes
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

_lock = threading.Lock()
_NAMES = (
    ("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
    ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
    ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
    ("openblas_get_num_threads", "openblas_set_num_threads"),
)


@cache
def _functions() -> tuple | None:
    import numpy  # noqa: F401 — its BLAS must be loaded to be found

    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for getter, setter in _NAMES:
            if hasattr(library, getter) and hasattr(library, setter):
                get, put = getattr(library, getter), getattr(library, setter)
                get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]
                return get, put
    return None


@contextmanager
def threads(count: int) -> Iterator[None]:
    """BLAS uses at most `count` threads inside the block (process-wide: held under a lock)."""
    functions = _functions()
    if functions is None:
        yield
        return
    get, put = functions
    with _lock:
        before = get()
        put(max(1, min(count, before)))
        try:
            yield
        finally:
            put(before)
