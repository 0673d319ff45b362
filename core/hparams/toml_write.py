"""TOML text of plain data (dicts, lists, strings, numbers, booleans) in one linear pass.

tomlkit builds a document that re-scans what it holds on every addition: a 21,843-entry id2label
took three minutes and a 200,000-value list a quarter of an hour. Hyperparameters are plain data,
so they are written directly: scalars and arrays as `key = value`, nested dicts as `[tables]`,
dicts inside arrays as inline tables. Nulls and integers beyond 64 bits are handled before this
(`core.hparams.export`); anything else returns None so the caller can fall back to tomlkit.
"""

from __future__ import annotations

import math
import re
from typing import Any

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f\x7f]')


class NotPlain(Exception):
    """The data holds a value this writer does not know how to write."""


def dumps(data: dict[str, Any]) -> str | None:
    """TOML text of `data`, or None if it holds a value that is not plain data."""
    lines: list[str] = []
    try:
        _table(data, (), lines)
    except NotPlain:
        return None
    return "\n".join(lines) + "\n" if lines else ""


def _table(table: dict[str, Any], path: tuple[str, ...], lines: list[str]) -> None:
    """A table's own `key = value` lines, then each sub-table under its header."""
    subtables = []
    for key, value in table.items():
        if isinstance(value, dict):
            subtables.append((key, value))
        else:
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in subtables:
        inner = (*path, _key(key))
        # a header for every table, even one that only holds tables: an empty dict stays a dict
        if lines:
            lines.append("")
        lines.append(f"[{'.'.join(inner)}]")
        _table(value, inner, lines)


def _key(key: Any) -> str:
    text = str(key)
    return text if _BARE_KEY.fullmatch(text) else _string(text)


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise NotPlain(type(value).__name__)


def _string(text: str) -> str:
    if _NEEDS_ESCAPE.search(text):
        text = _NEEDS_ESCAPE.sub(lambda m: _ESCAPES.get(m[0]) or f"\\u{ord(m[0]):04x}", text)
    return f'"{text}"'
