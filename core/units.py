"""Numbers for people: `22.7 M` parameters, `86.7 MiB`, `1,234,567` in tooltips."""

from __future__ import annotations


def count(n: float) -> str:
    """Short element count: 950, 12.3 K, 22.7 M, 70.6 B, 1.2 T."""
    n = float(n)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(n) >= limit:
            value = n / limit
            return f"{value:.1f} {suffix}" if value < 100 else f"{value:.0f} {suffix}"
    return f"{n:.0f}"


def size(nbytes: float) -> str:
    """Short byte size in binary units: 512 B, 86.7 MiB, 1.85 GiB."""
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
    return f"{n:,}"


def percent(part: float, whole: float) -> str:
    if whole <= 0:
        return "–"
    share = 100.0 * part / whole
    if share == 0:
        return "0"
    if share < 0.1:
        return "<0.1"
    return f"{share:.1f}"


def duration(seconds: float) -> str:
    """A rough time for a person: `less than a second`, `12 s`, `3 min`, `2 h 10 min`."""
    if seconds < 1:
        return "less than a second"
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"
