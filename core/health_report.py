"""A health check's findings added up: per module (for the tree) and for the whole file (for
the summary line). Made in the worker that ran the check, so that the window only shows it —
for 100,000 tensors the adding up alone would hold the UI thread for a third of a second."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core import units
from core.model import Checkpoint, ModuleNode

if TYPE_CHECKING:
    from core.stats import TensorStats

# How a finding reads after its count: (one, many).
_FINDING_WORDS: dict[str, tuple[str, str]] = {
    "nan": ("with NaN", "with NaN"),
    "inf": ("with Inf", "with Inf"),
    "dead": ("dead", "dead"),
    "outliers": ("outlier", "outliers"),
    "sparse": ("mostly zero", "mostly zero"),
}


def finding_text(flag: str, count: int) -> str:
    """`1 outlier`, `17 outliers`, `2 with NaN`: a count of flagged tensors in words."""
    one, many = _FINDING_WORDS.get(flag, (flag, flag))
    return f"{units.exact(count)} {one if count == 1 else many}"


@dataclass(slots=True)
class NodeHealth:
    """What a health check found under one module: flagged tensors by flag, and zeros."""

    checked: int = 0
    numel: int = 0
    zeros: int = 0
    flags: dict[str, list[str]] = field(default_factory=dict)  # flag → tensor names

    def add(self, other: NodeHealth) -> None:
        self.checked += other.checked
        self.numel += other.numel
        self.zeros += other.zeros
        for flag, names in other.flags.items():
            self.flags.setdefault(flag, []).extend(names)


@dataclass(slots=True)
class HealthReport:
    results: dict[str, TensorStats]  # tensor name → its statistics and flags
    by_node: dict[int, NodeHealth]  # id(ModuleNode) → what was found under it
    # flag → tensor names: the model's own tensors, and state kept beside them (optimizer
    # moments are heavy-tailed by nature: reported apart, not as findings about the model)
    flagged: dict[str, list[str]]
    elsewhere: dict[str, list[str]]
    zeros: int  # exact zeros among the model's own values
    values: int


def health_report(checkpoint: Checkpoint, results: dict[str, TensorStats]) -> HealthReport:
    flagged: dict[str, list[str]] = {}
    elsewhere: dict[str, list[str]] = {}
    zeros = values = 0
    for name, result in results.items():
        t = checkpoint.tensor(name)
        own = t is None or t.section == "model"
        if own:
            zeros += result.zeros
            values += result.numel
        for flag in result.flags:
            (flagged if own else elsewhere).setdefault(flag, []).append(name)
    by_node = health_by_node(checkpoint.tree, results)
    return HealthReport(results, by_node, flagged, elsewhere, zeros, values)


def health_by_node(tree: ModuleNode, results: dict[str, TensorStats]) -> dict[int, NodeHealth]:
    """Each module's health, bottom-up, once (keyed by id of the node)."""
    found: dict[int, NodeHealth] = {}
    stack: list[tuple[ModuleNode, bool]] = [(tree, False)]
    while stack:
        node, done = stack.pop()
        if not done:
            stack.append((node, True))
            stack.extend((child, False) for child in node.children.values())
            continue
        health = NodeHealth()
        for t in node.tensors:
            result = results.get(t.name)
            if result is None or t.tied_to:
                continue
            health.checked += 1
            health.numel += result.numel
            health.zeros += result.zeros
            for flag in result.flags:
                health.flags.setdefault(flag, []).append(t.name)
        for child in node.children.values():
            health.add(found[id(child)])
        found[id(node)] = health
    return found
