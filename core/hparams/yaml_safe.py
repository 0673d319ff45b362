"""YAML in and out without ever constructing an object a file asks for.

Loading uses PyYAML's safe constructor (the C one when present). Tags the safe loader does not
know — `!!python/object:…` that Lightning writes for odd hyperparameters, or custom `!tags` — are
read as plain data marked with the tag, instead of failing or running anything. Floats in
exponent form without a dot (`3e-4`), which YAML 1.1 reads as text, are read as floats, since
that is what every training config means by them. Values that plain data (JSON, TOML) cannot
hold are read as plain data too: dates as the text they were written as, `!!binary` as its text,
`!!set` as a list, `!!omap` as a mapping.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_BaseDumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class InertLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    """Safe loader that keeps unknown tags as data."""


class Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """Safe dumper that quotes the strings our loader would read as floats (`"3e-4"`)."""


def _unknown_tag(loader: yaml.BaseLoader, tag_suffix: str, node: yaml.Node) -> Any:
    # `!!python/object:argparse.Namespace {lr: 0.1}` → {"__class__": "argparse.Namespace", …},
    # the same shape the inert unpickler gives objects; `!!python/name:torch.nn.GELU ''` → its name
    tag = node.tag
    name = tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:python/") else tag
    if isinstance(node, yaml.MappingNode):
        mapping = loader.construct_mapping(node, deep=True)
        return {"__class__": name, **{str(k): v for k, v in mapping.items()}}
    if isinstance(node, yaml.SequenceNode):
        items = loader.construct_sequence(node, deep=True)
        if "python/object" in tag:  # a call the file asks for: shown, never made
            return {"__class__": name, "args": items}
        return items
    value = loader.construct_scalar(node)
    return value if value != "" else name


def _as_written(loader: yaml.BaseLoader, node: yaml.Node) -> str:
    return str(loader.construct_scalar(node))


def _binary_text(loader: yaml.BaseLoader, node: yaml.Node) -> str:
    data = yaml.SafeLoader.construct_yaml_binary(loader, node)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return str(loader.construct_scalar(node)).replace("\n", "")  # the base64 text


def _set_as_list(loader: yaml.BaseLoader, node: yaml.Node) -> list:
    return list(loader.construct_mapping(node, deep=True))


def _pairs_as_mapping(loader: yaml.BaseLoader, node: yaml.Node) -> dict:
    mapping: dict[str, Any] = {}
    for pair in loader.construct_sequence(node, deep=True):
        if isinstance(pair, dict):
            mapping.update((str(k), v) for k, v in pair.items())
    return mapping


InertLoader.add_multi_constructor("", _unknown_tag)
InertLoader.add_constructor("tag:yaml.org,2002:timestamp", _as_written)
InertLoader.add_constructor("tag:yaml.org,2002:binary", _binary_text)
InertLoader.add_constructor("tag:yaml.org,2002:set", _set_as_list)
InertLoader.add_constructor("tag:yaml.org,2002:omap", _pairs_as_mapping)
InertLoader.add_constructor("tag:yaml.org,2002:pairs", _pairs_as_mapping)
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
for _cls in (InertLoader, Dumper):
    _cls.add_implicit_resolver("tag:yaml.org,2002:float", _EXPONENT_FLOAT, list("-+0123456789"))


def load(text: str) -> Any:
    """Parse YAML text as plain data; raises yaml.YAMLError on malformed input."""
    return yaml.load(text, Loader=InertLoader)  # noqa: S506 — InertLoader is a SafeLoader


def dump(data: Any) -> str:
    """Plain data as block-style YAML, keys in their original order."""
    return yaml.dump(
        data, Dumper=Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False
    )


def scalar(text: str) -> Any:
    """One value as YAML reads it (`3e-4` → float, `true` → bool, `[1, 2]` → list)."""
    try:
        return load(text) if text.strip() else ""
    except (yaml.YAMLError, ValueError, RecursionError):
        # ValueError: an int of more than 4,300 digits, which Python refuses to read
        return text
