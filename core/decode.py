"""Raw little-endian tensor bytes → float numbers, for every element type statistics understand.

Two views of the same data:
- `storage_dtype(name)` is the numpy type the raw bytes are read as (bfloat16 and the float8 types
  have no numpy type, so they are read as their bit patterns: uint16 / uint8);
- `decode(raw, name)` turns such an array into float32 or float64 values;
- `pattern_values(name)` is, for types of 16 bits or fewer, the value of every possible bit pattern
  (65,536 or 256 entries). Counting patterns with `np.bincount` and looking their values up in this
  table gives every statistic exactly, in one pass, without decoding element by element.

The float8 tables are computed from the formats' definitions (OCP FP8 / PyTorch):
- float8_e4m3fn: 1 sign, 4 exponent (bias 7), 3 mantissa bits; no infinities; S.1111.111 is NaN,
  so the largest finite value is 448.
- float8_e5m2: 1 sign, 5 exponent (bias 15), 2 mantissa bits; IEEE-like with ±Inf and NaN.
- float8_e8m0fnu: an unsigned power of two 2^(e-127); 0xFF is NaN.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from core.dtypes import DTYPES, RAW_STORAGE
from core.readable import dtype_supported as is_supported  # noqa: F401 — one answer for both

SUPPORTED: frozenset[str] = frozenset(RAW_STORAGE)


def storage_dtype(name: str) -> np.dtype:
    """The numpy type to read a tensor's raw bytes as; KeyError for types we cannot decode."""
    return np.dtype(RAW_STORAGE[name])


def is_counted(name: str) -> bool:
    """True for types small enough (≤ 16 bits) to be summarised by counting bit patterns."""
    return name in RAW_STORAGE and DTYPES[name].bits <= 16


def decode(raw: np.ndarray, name: str, out: type = np.float64) -> np.ndarray:
    """Values of `raw` (an array of `storage_dtype(name)`) as float32 or float64."""
    if name == "bfloat16":
        # bfloat16 is the upper half of a float32: shift the pattern into place and reinterpret.
        values = (raw.astype(np.uint32) << 16).view(np.float32)
        with np.errstate(invalid="ignore"):  # signalling NaN patterns are still NaN
            return values.astype(out, copy=False)
    if name in ("float8_e4m3fn", "float8_e5m2", "float8_e8m0fnu", "bool"):
        return pattern_values(name).astype(out, copy=False)[raw]
    return raw.astype(out, copy=False)


@cache
def pattern_values(name: str) -> np.ndarray:
    """float64 value of every bit pattern of a ≤ 16-bit type, indexed by the pattern."""
    bits = DTYPES[name].bits
    if bits > 16:
        raise ValueError(f"{name} has {bits} bits: too many patterns to tabulate")
    patterns = np.arange(1 << bits, dtype=np.uint32)
    if name == "float16":
        table = patterns.astype(np.uint16).view(np.float16).astype(np.float64)
    elif name == "bfloat16":
        with np.errstate(invalid="ignore"):
            table = (patterns << 16).view(np.float32).astype(np.float64)
    elif name == "float8_e4m3fn":
        table = _minifloat(patterns, exponent_bits=4, mantissa_bits=3, ieee_specials=False)
    elif name == "float8_e5m2":
        table = _minifloat(patterns, exponent_bits=5, mantissa_bits=2, ieee_specials=True)
    elif name == "float8_e8m0fnu":
        table = np.where(patterns == 0xFF, np.nan, np.ldexp(1.0, patterns.astype(np.int64) - 127))
    elif name == "bool":
        table = (patterns != 0).astype(np.float64)
    else:  # 8- and 16-bit integers
        unsigned = np.uint16 if bits == 16 else np.uint8
        table = patterns.astype(unsigned).view(storage_dtype(name)).astype(np.float64)
    table.flags.writeable = False
    return table


def _minifloat(
    patterns: np.ndarray, exponent_bits: int, mantissa_bits: int, ieee_specials: bool
) -> np.ndarray:
    """Values of 8-bit floats with the given layout; see the module docstring for the specials."""
    bias = (1 << (exponent_bits - 1)) - 1
    sign = np.where(patterns >> 7 & 1, -1.0, 1.0)
    exponent = (patterns >> mantissa_bits & ((1 << exponent_bits) - 1)).astype(np.int64)
    mantissa = (patterns & ((1 << mantissa_bits) - 1)).astype(np.float64)
    fraction = mantissa / (1 << mantissa_bits)
    normal = np.ldexp(1.0 + fraction, exponent - bias)
    subnormal = np.ldexp(fraction, 1 - bias)
    values = sign * np.where(exponent == 0, subnormal, normal)
    top = exponent == (1 << exponent_bits) - 1
    if ieee_specials:  # all-ones exponent: infinity when the mantissa is zero, else NaN
        values = np.where(top & (mantissa == 0), sign * np.inf, values)
        values = np.where(top & (mantissa != 0), np.nan, values)
    else:  # "fn" types: only the all-ones pattern (exponent and mantissa) is NaN
        values = np.where(top & (mantissa == (1 << mantissa_bits) - 1), np.nan, values)
    return values
