"""Numbers for people: `22.7 M` parameters, `86.7 MiB`, `1,234,567` in tooltips."""

from __future__ import annotations

import math
import struct
from decimal import Decimal
from typing import Any


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


# --- values --------------------------------------------------------------------------------------


def shortest(x: float, bits: int = 64) -> str:
    """The shortest decimal that reads back as the same value at `bits` of precision:
    float32 0.0001 is `0.0001`, not `0.00010000000474974513`.

    The same digits as numpy's `format_float_positional(unique=True)` (Dragon4; checked against
    it for every float16 and a million float32 and float64 values), in pure Python: formatting
    a number never loads numpy."""
    x = float(x)
    if not math.isfinite(x):
        return "NaN" if math.isnan(x) else ("-Inf" if x < 0 else "Inf")
    value = _at_precision(x, bits)
    if not math.isfinite(value):  # beyond float16's or float32's range
        return "-Inf" if value < 0 else "Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    digits = Decimal(_shortest_digits(value, bits))
    # from 0.0001 on, a decimal reads easier than an exponent (allowing float32's own rounding
    # of 0.0001 to 9.99999974e-05)
    if 0.99999e-4 <= abs(x) < 1e16:
        return _trimmed(format(digits, "f"))
    mantissa, _, exponent = format(digits, "e").partition("e")
    return f"{_trimmed(mantissa)}e{int(exponent)}"


_PACKERS = {16: struct.Struct("<e"), 32: struct.Struct("<f")}


def _at_precision(x: float, bits: int) -> float:
    """`x` rounded to the nearest float16 or float32 (±Inf beyond its range); float64 as is."""
    packer = _PACKERS.get(bits)
    if packer is None:
        return x
    try:
        return packer.unpack(packer.pack(x))[0]
    except OverflowError:
        return math.copysign(math.inf, x)


def _shortest_digits(value: float, bits: int) -> str:
    """The fewest significant digits that round back to `value` at `bits`, in e-notation."""
    if bits not in _PACKERS:
        return repr(value)  # Python's repr is already the shortest round trip of a float64
    if abs(math.frexp(value)[0]) == 0.5:
        return _digits_at_power_of_two(value, bits)
    for places in range(17):
        text = f"{value:.{places}e}"  # the nearest decimal with places + 1 digits
        if _at_precision(float(text), bits) == value:
            return text
    return repr(value)


def _digits_at_power_of_two(value: float, bits: int) -> str:
    """At a power of two the values below lie closer than those above, so a decimal one step
    from the nearest may round back where the nearest does not; of those that do, the closest."""
    exact = Decimal(value)
    for places in range(17):
        nearest = Decimal(f"{value:.{places}e}")
        step = Decimal((0, (1,), nearest.adjusted() - places))
        found = [
            c
            for c in (nearest, nearest - step, nearest + step)
            if _at_precision(float(c), bits) == value
        ]
        if found:
            return str(min(found, key=lambda c: abs(c - exact)))
    return repr(value)


def _trimmed(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def float_text(x: float) -> str:
    """A Python float as a person reads it. A value that is exactly a float32 (read from a
    32-bit field) shows its float32 shortest form when that is shorter: float32 noise hidden,
    the exact value left for tooltips."""
    if not math.isfinite(x):
        return shortest(x)
    wide = shortest(x, 64)
    if _at_precision(x, 32) == x:
        narrow = shortest(x, 32)
        if len(narrow) < len(wide):
            return narrow
    return wide


def number(x: float | None, digits: int = 4) -> str:
    """A statistic in a cell: 4 significant digits, exponents without Python's `e+06`."""
    if x is None:
        return "–"
    x = float(x)
    if not math.isfinite(x):
        return shortest(x)
    if x == 0 or 1e-3 <= abs(x) < 1e5:
        return f"{x:.{digits}g}"
    mantissa, _, exponent = f"{x:.{digits - 1}e}".partition("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return _plain_exponent(f"{mantissa}e{exponent}")


def _plain_exponent(text: str) -> str:
    """`1.5e-06` → `1.5e-6`, `1e+20` → `1e20`."""
    mantissa, _, exponent = text.partition("e")
    if not exponent:
        return text
    sign = "-" if exponent.startswith("-") else ""
    return f"{mantissa}e{sign}{int(exponent.lstrip('+-'))}"


def tick_labels(values: list[float], spacing: float) -> list[str]:
    """Axis tick labels in one format for the whole axis (never `1.1e+06` beside `900000`):
    plain decimals with as many places as the spacing needs, a shared K/M/B suffix for big
    values and a shared power of ten for tiny ones."""
    if not values:
        return []
    largest = max(abs(v) for v in values)
    spacing = abs(spacing) or largest or 1.0
    if largest >= 1e5:
        for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
            if largest >= limit:
                places = _places(spacing / limit)
                return [_fixed(v / limit, places) + f" {suffix}" for v in values]
    if 0 < largest < 1e-3:
        power = math.floor(math.log10(largest))
        places = _places(spacing / 10**power)
        return ["0" if v == 0 else _fixed(v / 10**power, places) + f"e{power}" for v in values]
    places = _places(spacing)
    return [_fixed(v, places) for v in values]


def _places(spacing: float) -> int:
    """Decimal places that show a step of `spacing` exactly (2.5 → 1, 0.05 → 2)."""
    for places in range(13):
        scaled = spacing * 10**places
        if abs(round(scaled) - scaled) <= 1e-6 * scaled and round(scaled) >= 1:
            return places
    return 12


def _fixed(x: float, places: int) -> str:
    text = f"{x:.{places}f}"
    return "0" if text.strip("-0.") == "" else text


def human(value: Any, limit: int = 60) -> str:
    """A metadata value for a person: no Python reprs (dicts, bytes, float32 noise)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = float_text(value)
    elif isinstance(value, int):
        text = exact(value) if abs(value) >= 10_000 else str(value)
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        shown = " ".join(f"{b:02x}" for b in data[:8]) + (" …" if len(data) > 8 else "")
        text = f"{exact(len(data))} bytes ({shown})" if data else "0 bytes"
    elif isinstance(value, dict):
        text = ", ".join(f"{k} {human(v, limit)}" for k, v in value.items())
    elif isinstance(value, list | tuple):
        text = ", ".join(human(v, limit) for v in value[:limit])
        text = f"[{text}{', …' if len(value) > limit else ''}]"
    elif value is None:
        text = "none"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
