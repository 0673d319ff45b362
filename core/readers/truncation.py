"""A file cut short with its header intact (a download stopped early, a copy that ran out of
space): the header is shown, and each tensor is whole, partial (the file ends inside its data) or
missing (its data lies wholly past the end). Partial and missing tensors have no data source, so
statistics leave them out and say why (`core.stats`); every format says it in the same words."""

from __future__ import annotations

from dataclasses import dataclass, field

from core.units import exact, size

PARTIAL, MISSING = "partial", "missing"
NAMES_SHOWN = 5
# why such a tensor has no statistics: a partial one is refused rather than summarised from the
# bytes that are there, which would show numbers of a different tensor without a word
REASONS = {
    PARTIAL: "the truncated file ends inside its data: statistics of part of a tensor are not given",
    MISSING: "its data lies past the end of the truncated file",
}


def cut(begin: int, end: int, file_size: int) -> str:
    """ "" if the bytes [begin, end) lie in the file, else PARTIAL or MISSING."""
    if end <= file_size:
        return ""
    return PARTIAL if begin < file_size else MISSING


@dataclass(slots=True)
class Cuts:
    """The tensors of one file cut short, counted as they are read."""

    file_size: int
    partial: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    reach: int = 0  # where the last tensor's data should end

    def add(self, name: str, begin: int, end: int) -> str:
        state = cut(begin, end, self.file_size)
        if state:
            (self.partial if state == PARTIAL else self.missing).append(name)
            self.reach = max(self.reach, end)
        return state

    def warning(self, tensors: int) -> str:
        """ "" for a whole file; else how many tensors are whole, partial and missing."""
        if not (self.partial or self.missing):
            return ""
        whole = tensors - len(self.partial) - len(self.missing)
        lost = self.reach - self.file_size
        parts = [f"{exact(whole)} whole"]
        if self.partial:
            parts.append(f"{exact(len(self.partial))} partial ({_names(self.partial)})")
        if self.missing:
            parts.append(f"{exact(len(self.missing))} missing ({_names(self.missing)})")
        return (
            f"the file is truncated: of {exact(tensors)} tensors {', '.join(parts)}; "
            f"{exact(lost)} bytes ({size(lost)}) are missing, so partial and missing tensors "
            f"have no statistics"
        )

    def fact(self) -> str:
        return f"{exact(self.reach - self.file_size)} bytes missing"


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:NAMES_SHOWN])
    return shown + (
        f" and {exact(len(names) - NAMES_SHOWN)} more" if len(names) > NAMES_SHOWN else ""
    )
