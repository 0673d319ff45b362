"""The data model every reader produces and every view consumes.

A `Checkpoint` is built from headers alone: names, shapes, dtypes and where each tensor's bytes lie
(`DataSource`). Nothing here holds tensor data; statistics read it later through the source.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

Kind = Literal["weight", "bias", "other"]
# "recurrent": an RNN/LSTM/GRU's input, hidden and projection matrices and their biases;
# "quant": quantisation metadata (scales, zero points, group indices) beside stored integer
# weights: neither parameters nor buffers, counted apart
Role = Literal["embedding", "norm", "linear", "conv", "recurrent", "quant", "buffer", "other"]
# "model": counted as the model's parameters/buffers; "optimizer": optimizer state (exp_avg, …);
# "copy": another copy of the model's tensors (EMA weights); "training": other training state
# (a callback's best score, a loose metric tensor beside the state dicts, a TorchScript module's
# tensor attribute that is neither a parameter nor a buffer).
Section = Literal["model", "optimizer", "copy", "training"]

KINDS: tuple[Kind, ...] = ("weight", "bias", "other")
ROLES: tuple[Role, ...] = (
    "embedding",
    "norm",
    "linear",
    "conv",
    "recurrent",
    "quant",
    "buffer",
    "other",
)
# The summary's split: what a person calls each part of the model.
CATEGORIES = ("weights", "biases", "norm scales", "embeddings", "other", "quantisation", "buffers")
NOT_PARAMETERS: frozenset[str] = frozenset({"buffer", "quant"})  # roles counted apart


@dataclass(frozen=True, slots=True)
class DataSource:
    """Where a tensor's bytes lie, so statistics can read them without the reader.

    `offset` is the absolute byte offset of the tensor's first element in `file`. `strides` are in
    elements and None for a C-contiguous tensor; `nbytes` is the span of bytes the tensor touches.
    `encoding` names a non-plain layout (e.g. a GGML block type) for decoders; "" means raw
    little-endian elements of the tensor's dtype.
    """

    file: Path
    offset: int
    nbytes: int
    strides: tuple[int, ...] | None = None
    encoding: str = ""


@dataclass(slots=True)
class TensorInfo:
    name: str  # full dotted path, e.g. "state_dict.encoder.layers.0.linear1.weight"
    shape: tuple[int, ...]
    dtype: str  # canonical name from core.dtypes
    numel: int
    nbytes: int
    source: DataSource | None
    kind: Kind = "other"
    role: Role = "other"
    section: Section = "model"
    tied_to: str | None = None  # same storage and view as this earlier tensor: counted once
    device: str = ""
    # what the file itself declares the tensor to be (TorchScript's `__parameters__` /
    # `__buffers__`): "parameter" or "buffer" overrides what the name suggests; "" = undeclared
    declared: str = ""
    # (kind, role) the file's own structure states (ONNX: the operator that consumes the tensor);
    # core.roles.classify takes it over what the name suggests (a float buffer by name stays one)
    role_hint: tuple[Kind, Role] | None = None
    # a file cut short: "partial" (the file ends inside its data) or "missing" (its data lies past
    # the end); such a tensor has no source, and statistics say why (core.readers.truncation)
    truncated: str = ""

    @property
    def is_parameter(self) -> bool:
        """Counted in the model's parameters: a model tensor that is not a buffer nor a tie."""
        return self.section == "model" and self.role not in NOT_PARAMETERS and self.tied_to is None

    @property
    def is_buffer(self) -> bool:
        return self.section == "model" and self.role == "buffer" and self.tied_to is None

    @property
    def is_quant_state(self) -> bool:
        """A scale, zero point or group index of quantised weights (counted apart)."""
        return self.section == "model" and self.role == "quant" and self.tied_to is None

    @property
    def category(self) -> str:
        """One of CATEGORIES, for the summary split and the colours."""
        if self.role == "buffer":
            return "buffers"
        if self.role == "quant":
            return "quantisation"
        if self.role == "embedding":
            return "embeddings"
        if self.kind == "bias":
            return "biases"
        if self.role == "norm":
            return "norm scales"
        if self.kind == "weight":
            return "weights"
        return "other"


@dataclass(slots=True)
class ModuleNode:
    """One module (or tensor leaf's parent) in the tree made from dotted names.

    Counts are filled once, bottom-up, by `core.tree.build_tree`; views read them, never recompute.
    `state` counts elements that are not the model's (optimizer state, EMA copies).
    """

    name: str  # last path component ("" for the root)
    path: str  # full dotted path ("" for the root)
    children: dict[str, ModuleNode] = field(default_factory=dict)
    tensors: list[TensorInfo] = field(default_factory=list)
    weight: int = 0
    bias: int = 0
    other: int = 0
    buffer: int = 0
    quant: int = 0  # elements of quantisation metadata (scales, zero points)
    state: int = 0
    nbytes: int = 0
    tensor_count: int = 0
    dtypes: tuple[str, ...] = ()
    role: str = ""  # the role shared by all of its parameter tensors, or "" if mixed
    # a level too wide to read row by row (more than core.tree.WIDE children and tensors): its
    # entries in consecutive groups, each a node with their counts (`core.tree.grouped`)
    groups: list[ModuleNode] = field(default_factory=list, repr=False)
    # a group node's entries in the order they were grouped in (children and tensors mixed)
    entry_order: list[ModuleNode | TensorInfo] = field(default_factory=list, repr=False)

    @property
    def params(self) -> int:
        return self.weight + self.bias + self.other

    @property
    def repeat(self) -> int:
        """Number of children when all are numbered blocks (`layers.0` … `layers.79`), else 0."""
        if self.children and all(k.isdigit() for k in self.children):
            return len(self.children)
        return 0

    def find(self, path: str) -> ModuleNode | None:
        node: ModuleNode | None = self
        for part in path.split(".") if path else []:
            node = node.children.get(part) if node else None
        return node

    def walk(self):
        yield self
        for child in self.children.values():
            yield from child.walk()


@dataclass(slots=True)
class Totals:
    params: int = 0
    buffers: int = 0
    quant_state: int = 0  # elements of quantisation metadata: scales, zero points, group indices
    nbytes: int = 0  # bytes as stored, of every tensor in the file(s)
    param_bytes: int = 0  # bytes as stored, of the parameters only
    tensors: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # by kind, sums to params
    roles: dict[str, int] = field(default_factory=dict)  # elements per role, buffers included
    categories: dict[str, int] = field(default_factory=dict)  # CATEGORIES → elements
    dtypes: dict[str, int] = field(default_factory=dict)  # dtype → parameter elements
    optimizer_state: int = 0
    copies: int = 0
    training_state: int = 0
    tied: int = 0  # tensors counted once because they share another's storage


@dataclass(slots=True)
class Checkpoint:
    path: Path
    format: str  # "safetensors", "pytorch", …
    files: list[Path]
    tensors: list[TensorInfo]
    tree: ModuleNode
    totals: Totals
    memory: dict[str, int]
    metadata: dict[str, Any] = field(default_factory=dict)
    # source name (e.g. "checkpoint:hyper_parameters", "config.json") → nested plain mapping
    hyperparams: dict[str, dict[str, Any]] = field(default_factory=dict)
    config_files: list[Path] = field(default_factory=list)  # config files found beside it
    warnings: list[str] = field(default_factory=list)
    facts: dict[str, str] = field(default_factory=dict)  # format's own facts for the summary
    file_bytes: int = 0  # size of all its files on disk
    # other copies of the same model beside it (an int8 or fp16 copy, a .bin, an ONNX export),
    # preferred first; opened on request, never merged into this one
    alternatives: list[Path] = field(default_factory=list)
    _by_name: dict[str, TensorInfo] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.path.name

    def tensor(self, name: str) -> TensorInfo | None:
        if not self._by_name:
            self._by_name.update((t.name, t) for t in self.tensors)
        return self._by_name.get(name)
