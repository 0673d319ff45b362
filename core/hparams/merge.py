"""One merged view over several hyperparameter sources, with provenance and conflicts.

Sources are merged in the order given (inside the checkpoint first, then the files beside it):
the first source to hold a key path gives its value; later ones fill in what is missing. A
conflict is the same hyperparameter — the same known key under any of its spellings
(`lr` in `hyper_parameters`, `learning_rate` in `training_args.bin`), or the same path for
unknown keys — holding different values in two sources. Conflicts are marked, never resolved
silently: every source's value stays visible.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.hparams.keys import spec_for

KeyPath = tuple[str, ...]
# Not hyperparameters, shown elsewhere (trainer_state's log history is a table of its own).
NOT_MERGED = frozenset({"log_history"})


def flatten(data: Any, prefix: KeyPath = ()) -> dict[KeyPath, Any]:
    """Leaves of a nested mapping by key path; lists and empty mappings are leaves."""
    if not isinstance(data, dict) or (not data and prefix):
        return {prefix: data}
    leaves: dict[KeyPath, Any] = {}
    for key, value in data.items():
        leaves.update(flatten(value, (*prefix, str(key))))
    return leaves


def dotted(path: KeyPath) -> str:
    return ".".join(path)


@dataclass
class Merged:
    data: dict[str, Any]  # the merged nested mapping
    origin: dict[KeyPath, str] = field(default_factory=dict)  # leaf path → source it came from
    # leaf path → {source: value} for every source holding this hyperparameter, when they differ
    conflicts: dict[KeyPath, dict[str, Any]] = field(default_factory=dict)


def merge(sources: dict[str, dict]) -> Merged:
    merged = Merged(data={})
    holders: dict[str, list[tuple[str, KeyPath, Any]]] = {}
    for source, data in sources.items():
        for path, value in flatten(data).items():
            if not path or path[0] in NOT_MERGED:
                continue
            spec = spec_for(path)
            # one hyperparameter under two spellings only when the value fits it: `layers: [64,
            # 128]` in a data config is not a layer count
            key = spec.canonical if spec and _fits(spec.kind, value) else "path:" + dotted(path)
            holders.setdefault(key, []).append((source, path, value))
            blocker = _place(merged.data, path, value)
            if blocker is None:
                merged.origin[path] = source
            elif blocker != path or isinstance(_get(merged.data, path), dict):
                _shadowed(merged, blocker, source, path, value)
    for held in holders.values():
        if len({s for s, _, _ in held}) < 2 or _all_equal([v for _, _, v in held]):
            continue
        same_path = len({p for _, p, _ in held}) == 1
        values = {s if same_path else f"{s} ({dotted(p)})": v for s, p, v in held}
        for _, path, _ in held:
            if path in merged.origin:
                merged.conflicts[path] = values
    return merged


def _fits(kind: str, value: Any) -> bool:
    if isinstance(value, dict | list):
        return False
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    return True


def _place(tree: dict[str, Any], path: KeyPath, value: Any) -> KeyPath | None:
    """Set a leaf unless that path is taken; returns None when set, else what took it: the
    path itself, a value on the way to it (`model: resnet50` before `model.depth`), or a
    mapping where a value was to go (`model.depth` before `model: resnet50`)."""
    node = tree
    for depth, key in enumerate(path[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            return path[: depth + 1]
        node = child
    if path[-1] in node:
        return path
    node[path[-1]] = value
    return None


def _shadowed(merged: Merged, blocker: KeyPath, source: str, path: KeyPath, value: Any) -> None:
    """A value the merged view cannot show because another source holds something else there:
    marked as a conflict on the value that is shown, never dropped silently."""
    shown = blocker if blocker in merged.origin else None
    if shown is None:  # a mapping was in the way: mark its first value
        shown = next((p for p in merged.origin if p[: len(blocker)] == blocker), None)
    if shown is None:
        return
    conflict = merged.conflicts.setdefault(shown, {merged.origin[shown]: _get(merged.data, shown)})
    conflict[f"{source} ({dotted(path)})"] = value


def _get(tree: dict[str, Any], path: KeyPath) -> Any:
    for key in path:
        tree = tree[key]
    return tree


def _all_equal(values: list[Any]) -> bool:
    first = values[0]
    return all(_same(first, v) for v in values[1:])


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) != isinstance(b, bool):
        return False
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # NaN in both: the same value, not a conflict
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def log_history(sources: dict[str, dict]) -> list[dict[str, Any]]:
    """trainer_state.json's log history: one row per logging step (loss, lr, grad norm…)."""
    for data in sources.values():
        rows = data.get("log_history")
        if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
            return rows
    return []
