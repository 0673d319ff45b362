"""`--json` output that every JSON parser accepts.

Python's `json` writes NaN and infinities as bare `NaN`/`Infinity`, which strict parsers (jq,
JavaScript's JSON.parse, serde) refuse. A checkpoint can hold them honestly (`best_metric: nan`
after a diverged run), so they are written as the text "nan", "inf" and "-inf" instead.
"""

from __future__ import annotations

import json
import math
from typing import IO, Any

# Python refuses to turn an int of more than 4,300 digits into text (sys.get_int_max_str_digits),
# and a pickle holds one in a few kilobytes: such a value is shown as its size instead.
MAX_INT_BITS = 14_000  # about 4,200 digits


def huge_int_text(value: int) -> str:
    sign = "-" if value < 0 else ""
    return f"<an integer of about {sign}10^{math.log10(abs(value)):.0f}, too long to show>"


def strict(value: Any) -> Any:
    """`value` with every non-finite float replaced by its text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        return huge_int_text(value)  # json cannot write more digits than Python prints
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict(item) for item in value]
    return value


def dump(document: Any, stream: IO[str]) -> None:
    json.dump(strict(document), stream, indent=1, default=str, allow_nan=False)
    stream.write("\n")
