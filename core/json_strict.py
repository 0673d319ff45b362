"""`--json` output that every JSON parser accepts.

Python's `json` writes NaN and infinities as bare `NaN`/`Infinity`, which strict parsers (jq,
JavaScript's JSON.parse, serde) refuse. A checkpoint can hold them honestly (`best_metric: nan`
after a diverged run), so they are written as the text "nan", "inf" and "-inf" instead.
"""

from __future__ import annotations

import json
import math
from typing import IO, Any


def strict(value: Any) -> Any:
    """`value` with every non-finite float replaced by its text."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {key: strict(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict(item) for item in value]
    return value


def dump(document: Any, stream: IO[str]) -> None:
    json.dump(strict(document), stream, indent=1, default=str, allow_nan=False)
    stream.write("\n")
