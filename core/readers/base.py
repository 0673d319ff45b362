"""The interface every format reader implements, and what it hands back.

A reader looks at a path cheaply (`match`) and, if it is its format, reads headers only (`read`).
It returns tensors with names, shapes, dtypes, sections and data sources; `core.open_checkpoint`
then classifies them, builds the module tree and the totals, so no reader repeats that work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.model import TensorInfo


@dataclass(slots=True)
class ReadResult:
    format: str
    files: list[Path]
    tensors: list[TensorInfo]
    metadata: dict[str, Any] = field(default_factory=dict)
    # hyperparameter sources found inside the file(s): source name → nested plain mapping
    hyperparams: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)


class Reader(Protocol):
    format: str

    def match(self, path: Path, head: bytes) -> bool:
        """True if `path` holds this format. `head` is the first bytes of a file (b"" for a folder)."""
        ...

    def read(self, path: Path) -> ReadResult:
        """Read headers only; raise CheckpointError for anything malformed."""
        ...


def value_from_text(value: Any) -> Any:
    """A metadata string as the value it spells: JSON objects and lists (configs), and numbers and
    booleans written exactly as JSON writes them ("0.001", "12", "true"); anything else, such as
    "1.0.2" or "123e4", stays the text it is."""
    if not isinstance(value, str) or not value:
        return value
    try:
        parsed = json.loads(value)
    except ValueError:
        return value
    if isinstance(parsed, (dict, list)):
        return parsed
    if isinstance(parsed, (bool, int, float)) and json.dumps(parsed) == value:
        return parsed
    return value
