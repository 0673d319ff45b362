"""Numbers for people: `22.7 M` parameters, `86.7 MiB`, `1,234,567` in tooltips."""

from __future__ import annotations

import math


def count(n: float) -> str:
    """Short element count: 950, 12.3 K, 22.7 M, 70.6 B, 1.2 T."""
    if _beyond_float(n):
        return _magnitude(n)
    n = float(n)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= limit:
            value = n / limit
            return f"{value:.1f} {suffix}" if value < 100 else f"{value:.0f} {suffix}"
    return f"{n:.0f}"


def size(nbytes: float) -> str:
    """Short byte size in binary units: 512 B, 86.7 MiB, 1.85 GiB."""
    if _beyond_float(nbytes):
        return _magnitude(nbytes) + " B"
    nbytes = float(nbytes)
    for limit, suffix in (
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ):
        if abs(nbytes) >= limit:
            value = nbytes / limit
            return f"{value:.2f} {suffix}" if value < 10 else f"{value:.1f} {suffix}"
    return f"{nbytes:.0f} B"


def exact(n: int) -> str:
    """Exact integer with thousands separators: 1,234,567."""
    if isinstance(n, int) and n.bit_length() > _EXACT_BITS:
        return _magnitude(n)  # Python refuses to print an int of more than 4,300 digits
    return f"{n:,}"


_EXACT_BITS = 4000 * 3  # about 3,600 digits: well inside Python's limit of 4,300


def _beyond_float(n: float) -> bool:
    return isinstance(n, int) and n.bit_length() > 1000  # floats end near 2**1024


def _magnitude(n: int) -> str:
    """An integer too large for a float (only a crafted header says so): its order of magnitude."""
    return f"{'-' if n < 0 else ''}~10^{math.log10(abs(n)):.0f}"


def percent(part: float, whole: float) -> str:
    if whole <= 0:
        return "–"
    share = 100 * part / whole  # int / int divides exactly: no float of a huge count on the way
    if share == 0:
        return "0"
    if share < 0.1:
        return "<0.1"
    return f"{share:.1f}"
