"""Editing hyperparameters with types and validation, Qt-free.

`HyperParamSet` holds the discovered sources, their merged view and one `EditableConfig` per
view ("merged" or a source name). An `EditableConfig` keeps the original beside the current
values: edits are typed and validated (`coerce`), added and removed keys are tracked, any key can
be reset, and `diff()` lists what changed. The window's undo stack wraps `put`, which restores a
value exactly (including "this key did not exist").
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

from core import json_strict
from core.hparams.keys import KeySpec, canonical, spec_for
from core.hparams.merge import KeyPath, Merged, dotted, flatten, log_history, merge

MERGED = "merged"


class HParamError(ValueError):
    """A value that cannot be stored: says which key and why, in words a person can act on."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()  # "no such key": what undo restores after an added key


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return type(value).__name__


_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def coerce(path: KeyPath, value: Any, current: Any = MISSING) -> Any:
    """`value` (text or an already typed value) as the type the key holds, validated.

    The type comes from the current value; for a new key or a null, from the known key's
    spec, else from how YAML reads the text. Raises HParamError with a message otherwise.
    """
    name = dotted(path)
    spec = spec_for(path)
    target = _target_type(current, spec)
    if target is None:
        from core.hparams import yaml_safe  # noqa: PLC0415 — PyYAML: loaded when a value is typed

        typed = yaml_safe.scalar(value) if isinstance(value, str) else value
    else:
        typed = _convert(name, value, target, current)
    if isinstance(typed, dict):
        raise HParamError(f"{name}: a mapping cannot be set as one value; edit its keys")
    _check_finite(name, typed)
    _check_limits(name, typed, spec)
    return typed


def _check_finite(name: str, value: Any) -> None:
    """NaN or infinity is never a setting anyone means, and JSON cannot hold it."""
    if isinstance(value, float) and not math.isfinite(value):
        raise HParamError(f"{name} must be a finite number; {value!r} is not")
    if isinstance(value, list):
        for i, item in enumerate(value):
            _check_finite(f"{name}[{i}]", item)
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(f"{name}.{key}", item)


def _element_type(items: Any) -> str | None:
    """The one scalar type a list's elements share (ints among floats count as floats)."""
    if not isinstance(items, list | tuple) or not items:
        return None
    kinds = {type_name(item) for item in items}
    if kinds == {"int", "float"}:
        return "float"
    if len(kinds) == 1 and (kind := kinds.pop()) in ("int", "float", "str", "bool"):
        return kind
    return None


def _target_type(current: Any, spec: KeySpec | None) -> str | None:
    if current is not MISSING and current is not None:
        kind = type_name(current)
        if kind == "int" and spec is not None and spec.kind == "float":
            return "float"  # `lr: 1` in a file is still a learning rate: 0.5 must be accepted
        if kind in ("int", "float") and spec is not None and spec.kind == "number":
            return "number"  # `epochs: 3` may become 2.5 and stays an int when given one
        return kind
    if spec is not None and spec.kind:
        return spec.kind
    return None


def _convert(name: str, value: Any, target: str, current: Any = MISSING) -> Any:
    if target == "str":
        return value if isinstance(value, str) else _refuse(name, value, "text")
    if target == "bool":
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        return _refuse(name, value, "true or false")
    if target == "int":
        if isinstance(value, bool):
            return _refuse(name, value, "a whole number")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip().replace("_", ""))
            except ValueError:
                pass
            try:
                as_float = float(value)
            except ValueError:
                as_float = math.nan
            if as_float.is_integer():
                return int(as_float)
        return _refuse(name, value, "a whole number")
    if target == "number":
        if isinstance(value, bool):
            return _refuse(name, value, "a number")
        if isinstance(value, int | float):
            return value
        text = str(value).strip().replace("_", "")
        try:
            return int(text)
        except ValueError:
            return _convert(name, value, "float")
    if target == "float":
        if isinstance(value, bool):
            return _refuse(name, value, "a number")
        if isinstance(value, int | float):
            try:
                return float(value)
            except OverflowError:  # an int beyond float range
                return _refuse(name, value, "a number a float can hold")
        if isinstance(value, str):
            try:
                return float(value.strip().replace("_", ""))
            except ValueError:
                pass
            from core.hparams import yaml_safe  # noqa: PLC0415 — as above

            spelled = yaml_safe.scalar(value)  # YAML's own spellings: `.inf`, `.nan`
            if isinstance(spelled, float):
                return spelled
        return _refuse(name, value, "a number")
    if target == "list":
        typed = value
        if isinstance(value, str):
            text = value.strip()
            # "0.9, 0.95" means the list a person would write in brackets; a bare "0.9" is more
            # likely a slip than a list of one
            if not text.startswith("[") and "," in text:
                text = f"[{text}]"
            from core.hparams import yaml_safe  # noqa: PLC0415 — as above

            typed = yaml_safe.scalar(text)
        if isinstance(typed, tuple):
            typed = list(typed)
        if not isinstance(typed, list):
            return _refuse(name, value, "a list such as [0.9, 0.95]")
        element = _element_type(current)
        if element is None:
            return typed
        return [_convert(f"{name}[{i}]", item, element) for i, item in enumerate(typed)]
    if target == "mapping":
        raise HParamError(f"{name}: a mapping cannot be set as one value; edit its keys")
    return value


def _refuse(name: str, value: Any, wanted: str) -> Any:
    too_long = isinstance(value, int) and value.bit_length() > json_strict.MAX_INT_BITS
    shown = json_strict.huge_int_text(value) if too_long else repr(value)
    raise HParamError(f"{name} must be {wanted}; {shown} is not")


def _check_limits(name: str, value: Any, spec: KeySpec | None) -> None:
    if spec is None:
        return
    if isinstance(value, int | float) and not isinstance(value, bool):
        if spec.unset is not None and value == spec.unset:
            return  # "not set" (-1), whatever the limits say
        if spec.above_zero and not value > 0:
            raise HParamError(f"{name} must be above 0; {value!r} is not")
        if spec.minimum is not None and value < spec.minimum:
            raise HParamError(f"{name} cannot be below {spec.minimum:g}; {value!r} is")
        if spec.maximum is not None and value > spec.maximum:
            raise HParamError(f"{name} cannot be above {spec.maximum:g}; {value!r} is")
    if isinstance(value, str) and spec.strict and spec.choices and value not in spec.choices:
        raise HParamError(f"{name} must be one of {', '.join(spec.choices)}; {value!r} is not")


@dataclass(frozen=True)
class Change:
    path: KeyPath
    kind: str  # "changed", "added" or "removed"
    old: Any
    new: Any

    def __str__(self) -> str:
        if self.kind == "added":
            return f"+ {dotted(self.path)}: {self.new!r}"
        if self.kind == "removed":
            return f"- {dotted(self.path)}: {self.old!r}"
        return f"~ {dotted(self.path)}: {self.old!r} → {self.new!r}"


class EditableConfig:
    """A nested mapping being edited, with its original kept for marks, reset and diff."""

    def __init__(self, original: dict[str, Any]) -> None:
        self.original = copy.deepcopy(original)
        self.current = copy.deepcopy(original)

    # --- reading ---------------------------------------------------------------------------------
    def get(self, path: KeyPath, default: Any = MISSING) -> Any:
        return _get(self.current, path, default)

    def original_value(self, path: KeyPath) -> Any:
        return _get(self.original, path, MISSING)

    def is_edited(self, path: KeyPath) -> bool:
        """True for a changed, added or removed leaf, and for a mapping holding one."""
        old, new = self.original_value(path), self.get(path)
        if isinstance(old, dict) and isinstance(new, dict):
            return any(c.path[: len(path)] == path for c in self.diff())
        return not _identical(old, new)

    def resolve(self, dotted_key: str) -> KeyPath:
        """A dotted key as a path of existing keys; keys may hold dots themselves
        (`general.architecture` in GGUF metadata), so the longest existing key wins."""
        parts = dotted_key.split(".")
        path: list[str] = []
        node: Any = self.current
        i = 0
        while i < len(parts):
            for j in range(len(parts), i, -1):
                key = ".".join(parts[i:j])
                if isinstance(node, dict) and key in node:
                    path.append(key)
                    node = node[key]
                    i = j
                    break
            else:  # the rest names new keys
                path.extend(parts[i:])
                break
        return tuple(path)

    def known_spelling(self, path: KeyPath) -> KeyPath | None:
        """The existing key that a missing known key is another spelling of: `learning_rate` when
        the config says `lr`, looked for beside it first, then (for a bare name) anywhere, and only
        when exactly one key answers."""
        name = canonical(path)
        if name is None or self.get(path) is not MISSING:
            return None
        leaves = [p for p in flatten(self.current) if canonical(p) == name]
        beside = [p for p in leaves if p[:-1] == path[:-1]]
        if len(beside) == 1:
            return beside[0]
        if len(path) == 1 and len(leaves) == 1:
            return leaves[0]
        candidates = beside if len(beside) > 1 else (leaves if len(path) == 1 else [])
        if len(candidates) > 1:  # adding a third spelling beside them would help no one
            named = ", ".join(dotted(p) for p in candidates)
            raise HParamError(f"{dotted(path)} could mean {named}; name the one to change")
        return None

    # --- editing ---------------------------------------------------------------------------------
    def set(self, path: KeyPath, value: Any) -> tuple[Any, Any]:
        """Validate and store a new value for an existing key; returns (old, new)."""
        old = self.get(path)
        if old is MISSING:
            raise HParamError(f"{dotted(path)}: no such key (add it instead)")
        new = coerce(path, value, old)
        self.put(path, new)
        return old, new

    def add(self, path: KeyPath, value: Any) -> Any:
        """Add a key that does not exist yet; the value is typed from the text (or the known key)."""
        if not path or not all(path):
            raise HParamError("a key needs a name")
        if self.get(path) is not MISSING:
            raise HParamError(f"{dotted(path)} already exists")
        parent = self.get(path[:-1]) if len(path) > 1 else self.current
        if parent is not MISSING and not isinstance(parent, dict):
            raise HParamError(f"{dotted(path[:-1])} holds a value, not a mapping of keys")
        new = coerce(path, value)
        self.put(path, new)
        return new

    def remove(self, path: KeyPath) -> Any:
        old = self.get(path)
        if old is MISSING:
            raise HParamError(f"{dotted(path)}: no such key")
        self.put(path, MISSING)
        return old

    def reset(self, path: KeyPath | None = None) -> None:
        """Back to the original value (of one key, or of everything)."""
        if path is None:
            self.current = copy.deepcopy(self.original)
            return
        self.put(path, copy.deepcopy(self.original_value(path)))

    def put(self, path: KeyPath, value: Any) -> None:
        """Store without validation (undo/redo of an already validated edit); MISSING deletes."""
        if value is MISSING:
            parent = _get(self.current, path[:-1], MISSING) if len(path) > 1 else self.current
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
            # undoing `add a.b` also drops the `a` it created, so the diff is empty again
            if len(path) > 1 and parent == {} and self.original_value(path[:-1]) is MISSING:
                self.put(path[:-1], MISSING)
            return
        node = self.current
        for key in path[:-1]:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[path[-1]] = copy.deepcopy(value)

    # --- comparing -------------------------------------------------------------------------------
    def diff(self) -> list[Change]:
        before, after = flatten(self.original), flatten(self.current)
        changes: list[Change] = []
        for path, old in before.items():
            if path not in after:
                changes.append(Change(path, "removed", old, MISSING))
            elif not _identical(old, after[path]):
                changes.append(Change(path, "changed", old, after[path]))
        changes.extend(Change(p, "added", MISSING, v) for p, v in after.items() if p not in before)
        return changes

    @property
    def edit_count(self) -> int:
        return len(self.diff())


def _get(tree: Any, path: KeyPath, default: Any) -> Any:
    node = tree
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def _identical(a: Any, b: Any) -> bool:
    """Equal with the same types: 1 and 1.0 or 1 and True are different edits."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, list):
        return len(a) == len(b) and all(_identical(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_identical(a[k], b[k]) for k in a)
    return a == b


class HyperParamSet:
    """All sources of one checkpoint, their merged view, and an editable config per view."""

    def __init__(self, sources: dict[str, dict]) -> None:
        self.sources = sources
        self.merged: Merged = merge(sources)
        self.log_history = log_history(sources)
        self._configs: dict[str, EditableConfig] = {}

    @property
    def views(self) -> list[str]:
        return [MERGED, *self.sources] if self.sources else []

    def config(self, view: str = MERGED) -> EditableConfig:
        if view not in self._configs:
            if view == MERGED:
                original = self.merged.data
            elif view in self.sources:
                original = self.sources[view]
            else:
                raise HParamError(f"no source named {view!r}; there are: {', '.join(self.views)}")
            self._configs[view] = EditableConfig(original)
        return self._configs[view]

    def configs(self) -> list[EditableConfig]:
        """The views opened for editing so far."""
        return list(self._configs.values())

    def opened_views(self) -> dict[str, EditableConfig]:
        """View name → its config, for the views opened for editing so far."""
        return dict(self._configs)

    def source_of(self, view: str, path: KeyPath) -> str:
        if view != MERGED:
            return view
        for depth in range(len(path), 0, -1):
            found = self.merged.origin.get(path[:depth])
            if found:
                return found
        return ""

    def conflict(self, view: str, path: KeyPath) -> dict[str, Any]:
        return self.merged.conflicts.get(path, {}) if view == MERGED else {}
