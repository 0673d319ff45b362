"""Does the config describe these weights? Compare what the config says (hidden size, layers,
heads, feed-forward width, vocabulary, tied embeddings) with what the tensors' shapes say.

Each check is a match, a mismatch (worth a red mark: a config saying 6 layers over weights with
12 blocks) or unknown, with a reason a person can follow. Shapes are read from the model tensors
only (not optimizer state); the block stack is the numbered module holding the most parameters.
"""

from __future__ import annotations

import copy
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from core.hparams.edit import MERGED, MISSING, HyperParamSet
from core.hparams.keys import spec_for
from core.hparams.merge import KeyPath, dotted, flatten
from core.model import Checkpoint, ModuleNode, TensorInfo

# Sources most likely to describe the architecture, tried first.
PREFERRED = ("config.json", "adapter_config.json", "gguf metadata", "checkpoint:hyper_parameters")
HEAD_NAMES = (
    "lm_head.weight",
    "head.weight",
    "output.weight",
    "embed_out.weight",
    "classifier.weight",
)
TOKEN_EMBEDDING = (
    "wte",
    "embed_tokens",
    "word_embeddings",
    "tok_embeddings",
    "token_embd",
    "token_embedding",
    "shared.weight",  # T5
    "embed",  # last: the loosest
)


@dataclass(frozen=True, slots=True)
class ArchCheck:
    what: str  # "hidden size", "layers", …
    key: str  # the config key checked, as "source: dotted.path"
    config_value: Any
    tensor_value: Any  # what the tensors say, or None
    status: str  # "match", "mismatch" or "unknown"
    reason: str
    source: str = ""  # where the config value came from
    path: KeyPath = ()  # and under which key

    @property
    def mark(self) -> str:
        return {"match": "✓", "mismatch": "✗"}.get(self.status, "?")


def config_values(sources: dict[str, dict]) -> dict[str, tuple[str, KeyPath, Any]]:
    """Canonical architecture key → (source, path, value), the shallowest occurrence in the
    preferred source (a multimodal config's `text_config.hidden_size` loses to `hidden_size`)."""
    order = [s for s in PREFERRED if s in sources] + [s for s in sources if s not in PREFERRED]
    found: dict[str, tuple[str, KeyPath, Any]] = {}
    for source in order:
        leaves = sorted(flatten(sources[source]).items(), key=lambda item: len(item[0]))
        # CLIP's text_config and vision_config both say hidden_size, a level down: which one
        # the block stack is cannot be told, so neither is checked
        nested_twice = Counter(
            spec.canonical
            for path, _ in leaves
            if len(path) == 2 and (spec := spec_for(path)) is not None
        )
        for path, value in leaves:
            spec = spec_for(path)
            if spec is None or spec.group != "architecture" or spec.canonical in found:
                continue
            if len(path) > 1 and nested_twice[spec.canonical] > 1:
                continue
            if spec.kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
                continue
            if spec.kind == "bool" and not isinstance(value, bool):
                continue
            found[spec.canonical] = (source, path, value)
    return found


def edited_sources(hset: HyperParamSet) -> dict[str, dict]:
    """The sources as the person has edited them: a source's own edits, and an edit of the merged
    view put into the source its value came from (so the check says what the edit means)."""
    edits = [(view, c) for view, config in hset.opened_views().items() for c in config.diff()]
    if not edits:
        return hset.sources
    sources = {name: copy.deepcopy(data) for name, data in hset.sources.items()}
    for view, change in edits:
        source = hset.source_of(view, change.path) if view == MERGED else view
        if source not in sources:
            source = next(iter(sources))  # a key added to the merged view
        _put(sources[source], change.path, change.new)
    return sources


def _put(tree: dict, path: KeyPath, value: Any) -> None:
    node = tree
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = node[key] = {}
        node = child
    if value is MISSING:
        node.pop(path[-1], None)
    else:
        node[path[-1]] = copy.deepcopy(value)


def check_architecture(
    checkpoint: Checkpoint, sources: dict[str, dict] | None = None
) -> list[ArchCheck]:
    """The checks of `sources` (the checkpoint's own hyperparameters unless given: edited ones)."""
    sources = checkpoint.hyperparams if sources is None else sources
    config = config_values(sources)
    model = [t for t in checkpoint.tensors if t.section == "model"]
    if not config or not model:
        return []
    if any("lora_" in t.name for t in model):
        return []  # adapter weights: the base model's shapes the config describes are not here
    embedding = _token_embedding(model)
    blocks = _block_stack(checkpoint.tree)
    checks: list[ArchCheck] = []

    def key(name: str) -> str:
        source, path, _ = config[name]
        return f"{source}: {dotted(path)}"

    if "vocab_size" in config:
        checks.append(_check_vocab(config["vocab_size"][2], embedding, key("vocab_size")))
    hidden = embedding.shape[1] if embedding else _common_width(blocks)
    if "hidden_size" in config:
        checks.append(
            _check_hidden(
                config["hidden_size"][2],
                hidden,
                embedding,
                _common_width(blocks),
                key("hidden_size"),
            )
        )
    if "num_layers" in config:
        checks.append(_check_layers(config["num_layers"][2], blocks, key("num_layers")))
    latent = any(_has_key(data, "kv_lora_rank") for data in sources.values())
    if "num_heads" in config and not latent:  # DeepSeek's latent attention hides head counts
        width = config.get("hidden_size", (None, None, hidden))[2] or hidden
        heads = config["num_heads"][2]
        head_dim = config["head_dim"][2] if "head_dim" in config else None
        projections = _first_block_tensors(blocks)
        checks.append(_check_heads(heads, width, head_dim, projections, key("num_heads")))
        if "num_kv_heads" in config:
            kv_heads = config["num_kv_heads"][2]
            check = _check_kv_heads(kv_heads, heads, width, head_dim, projections)
            checks.append(replace(check, key=key("num_kv_heads")))
    if "intermediate_size" in config:
        checks.append(_check_ffn(config["intermediate_size"][2], blocks, key("intermediate_size")))
    if "tie_word_embeddings" in config and embedding is not None:
        tied = config["tie_word_embeddings"][2]
        checks.append(_check_tied(tied, embedding, model, key("tie_word_embeddings")))
    by_key = {f"{source}: {dotted(path)}": (source, path) for source, path, _ in config.values()}
    return [replace(c, source=by_key[c.key][0], path=by_key[c.key][1]) for c in checks]


# --- what the tensors say ----------------------------------------------------------------------


def _heads(count: int) -> str:
    return "1 head" if count == 1 else f"{count} heads"


def _has_key(data: Any, name: str) -> bool:
    return any(path and path[-1] == name for path in flatten(data))


def _token_embedding(model: list[TensorInfo]) -> TensorInfo | None:
    """The token embedding: a 2-D embedding named like one, else the one with the most rows —
    never a position table (ESM's has 1,026 rows over a vocabulary of 33)."""
    tables = [
        t
        for t in model
        if len(t.shape) == 2 and t.role == "embedding" and "position" not in t.name.lower()
    ]
    named = [t for t in tables if any(n in t.name for n in TOKEN_EMBEDDING[:-1])]
    candidates = named or tables
    if not candidates:
        candidates = [
            t
            for t in model
            if len(t.shape) == 2
            and any(f"{n}." in t.name or t.name.endswith(n) for n in TOKEN_EMBEDDING)
        ]
    return max(candidates, key=lambda t: t.shape[0], default=None)


def _block_stack(tree: ModuleNode) -> ModuleNode | None:
    stacks = [n for n in tree.walk() if n.repeat and _is_model_node(n)]
    return max(stacks, key=lambda n: n.params, default=None)


def _is_model_node(node: ModuleNode) -> bool:
    return node.params > 0


def _block_dims(blocks: ModuleNode | None) -> Counter[int]:
    dims: Counter[int] = Counter()
    if blocks is None:
        return dims
    first = blocks.children[min(blocks.children, key=int)]
    for node in first.walk():
        for tensor in node.tensors:
            if tensor.section == "model" and len(tensor.shape) >= 2:
                dims.update(tensor.shape[:2])
    return dims


def _common_width(blocks: ModuleNode | None) -> int | None:
    dims = _block_dims(blocks)
    return dims.most_common(1)[0][0] if dims else None


# --- the checks ----------------------------------------------------------------------------------


def _check_vocab(vocab: int, embedding: TensorInfo | None, key: str) -> ArchCheck:
    if embedding is None:
        return ArchCheck("vocabulary", key, vocab, None, "unknown", "no token embedding found")
    rows = embedding.shape[0]
    if rows == vocab:
        return ArchCheck(
            "vocabulary", key, vocab, rows, "match", f"{embedding.name} has {rows:,} rows"
        )
    if vocab < rows < vocab + 1024 and rows % 8 == 0:
        reason = (
            f"{embedding.name} has {rows:,} rows: padded to a round size beyond {vocab:,} tokens"
        )
        return ArchCheck("vocabulary", key, vocab, rows, "match", reason)
    reason = f"{embedding.name} has {rows:,} rows, the config says {vocab:,} tokens"
    return ArchCheck("vocabulary", key, vocab, rows, "mismatch", reason)


def _check_hidden(
    hidden: int,
    width: int | None,
    embedding: TensorInfo | None,
    block_width: int | None,
    key: str,
) -> ArchCheck:
    if width != hidden and block_width == hidden and embedding is not None:
        # a factorised embedding (ALBERT: 128 wide, projected up to the 768-wide blocks)
        reason = f"the blocks are {hidden:,} wide ({embedding.name} is {width:,}: factorised)"
        return ArchCheck("hidden size", key, hidden, hidden, "match", reason)
    if width is None:
        return ArchCheck(
            "hidden size", key, hidden, None, "unknown", "no embedding or block weights"
        )
    where = (
        f"{embedding.name} is {width:,} wide" if embedding else f"block weights are {width:,} wide"
    )
    status = "match" if width == hidden else "mismatch"
    return ArchCheck("hidden size", key, hidden, width, status, where)


def _check_layers(layers: int, blocks: ModuleNode | None, key: str) -> ArchCheck:
    if blocks is None:
        return ArchCheck(
            "layers", key, layers, None, "unknown", "no numbered blocks in the weights"
        )
    count = blocks.repeat
    reason = f"{blocks.path} has {count} numbered blocks"
    return ArchCheck(
        "layers", key, layers, count, "match" if count == layers else "mismatch", reason
    )


Q_PROJ = (
    "q_proj.weight",
    "query.weight",
    "wq.weight",
    "attn_q.weight",
    "to_q.weight",
    "SelfAttention.q.weight",  # T5
)
K_PROJ = ("k_proj.weight", "key.weight", "wk.weight", "attn_k.weight", "to_k.weight")


def _first_block_tensors(blocks: ModuleNode | None) -> list[TensorInfo]:
    if blocks is None:
        return []
    first = blocks.children[min(blocks.children, key=int)]
    return [t for node in first.walk() for t in node.tensors if t.section == "model"]


def _projection_rows(tensors: list[TensorInfo], endings: tuple[str, ...]) -> TensorInfo | None:
    return next((t for t in tensors if t.name.endswith(endings) and len(t.shape) == 2), None)


def _check_heads(
    heads: int, width: int | None, head_dim: int | None, tensors: list[TensorInfo], key: str
) -> ArchCheck:
    if not width or heads <= 0:
        return ArchCheck("heads", key, heads, None, "unknown", "the hidden size is not known")
    query = _projection_rows(tensors, Q_PROJ)
    if query is not None and (head_dim or width % heads == 0):
        size = head_dim or width // heads
        rows = query.shape[0]
        if rows == heads * size:
            reason = f"{query.name} has {rows:,} rows = {_heads(heads)} × {size}"
            return ArchCheck("heads", key, heads, heads, "match", reason)
        found = rows // size if rows % size == 0 else None
        reason = f"{query.name} has {rows:,} rows, not {_heads(heads)} × {size}"
        return ArchCheck("heads", key, heads, found, "mismatch", reason)
    if width % heads and not head_dim:
        reason = f"{width:,} does not split into {heads} equal heads"
        return ArchCheck("heads", key, heads, None, "mismatch", reason)
    size = head_dim or width // heads
    reason = (
        f"{width:,} splits into {_heads(heads)} of {size}; fused weights do not store the count"
    )
    return ArchCheck("heads", key, heads, None, "unknown", reason)


def _check_kv_heads(
    kv_heads: int, heads: int, width: int | None, head_dim: int | None, tensors: list[TensorInfo]
) -> ArchCheck:
    what = "key/value heads"
    size = head_dim or (width // heads if width and heads > 0 and width % heads == 0 else None)
    keys = _projection_rows(tensors, K_PROJ)
    if keys is None or not size or kv_heads <= 0:
        return ArchCheck(what, "", kv_heads, None, "unknown", "no separate key projection")
    rows = keys.shape[0]
    found = rows // size if rows % size == 0 else None
    status = "match" if rows == kv_heads * size else "mismatch"
    reason = f"{keys.name} has {rows:,} rows" + (f" = {_heads(found)} × {size}" if found else "")
    return ArchCheck(what, "", kv_heads, found, status, reason)


def _check_ffn(size: int, blocks: ModuleNode | None, key: str) -> ArchCheck:
    dims = _block_dims(blocks)
    if not dims:
        return ArchCheck("feed-forward width", key, size, None, "unknown", "no block weights")
    if size in dims:
        reason = f"block {min(blocks.children, key=int)} has weights {size:,} wide"  # type: ignore[union-attr]
        return ArchCheck("feed-forward width", key, size, size, "match", reason)
    if 2 * size in dims:
        reason = f"a fused gate/up weight is {2 * size:,} wide (2 × {size:,})"
        return ArchCheck("feed-forward width", key, size, 2 * size, "match", reason)
    widths = ", ".join(f"{d:,}" for d in sorted(dims))
    reason = f"no weight in the first block is {size:,} wide (widths: {widths})"
    return ArchCheck("feed-forward width", key, size, max(dims), "mismatch", reason)


def _check_tied(tied: bool, embedding: TensorInfo, model: list[TensorInfo], key: str) -> ArchCheck:
    heads = [
        t
        for t in model
        if t.shape == embedding.shape and t is not embedding and t.name.endswith(HEAD_NAMES)
    ]
    head = heads[0] if heads else None
    shares = head is None or head.tied_to is not None
    if tied:
        if shares:
            reason = (
                "no separate output head: it reuses the embedding"
                if head is None
                else f"{head.name} shares {embedding.name}'s storage"
            )
            return ArchCheck("tied embeddings", key, tied, True, "match", reason)
        reason = f"{head.name} is stored separately from {embedding.name}"
        return ArchCheck("tied embeddings", key, tied, False, "mismatch", reason)
    if head is None:
        reason = "no output head of the embedding's shape; it may be tied after all"
        return ArchCheck("tied embeddings", key, tied, None, "unknown", reason)
    if head.tied_to is not None:
        reason = f"{head.name} shares {embedding.name}'s storage"
        return ArchCheck("tied embeddings", key, tied, True, "mismatch", reason)
    return ArchCheck(
        "tied embeddings", key, tied, False, "match", f"{head.name} has its own weights"
    )


def _is_attention(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in ("attn", "attention", "q_proj", "k_proj", "v_proj"))


# --- selection ------------------------------------------------------------------------------------


def related_keys(checkpoint: Checkpoint, names: list[str]) -> set[str]:
    """Canonical architecture keys that concern the selected tensors or modules: a matrix 768
    wide concerns the hidden size, an embedding or output head the vocabulary, a stack of 12
    blocks the number of layers, an attention projection the heads."""
    config = config_values(checkpoint.hyperparams)
    related: set[str] = set()
    for name in names:
        tensor = checkpoint.tensor(name)
        tensors: list[TensorInfo] = []
        repeat = 0
        if tensor is not None:
            tensors.append(tensor)
        else:
            node = checkpoint.tree.find(name)
            if node is None:
                continue
            repeat = node.repeat
            for sub in node.walk():
                tensors.extend(sub.tensors[:8])
                if len(tensors) > 64:  # a few blocks say as much as all of them
                    break
        for canonical, (_, _, value) in config.items():
            if _concerns(canonical, value, name, tensors, repeat):
                related.add(canonical)
    return related


def _concerns(
    canonical: str, value: Any, name: str, tensors: list[TensorInfo], repeat: int
) -> bool:
    dims = {d for t in tensors for d in t.shape}
    if canonical == "num_layers":
        return bool(repeat) and value == repeat
    if canonical == "vocab_size":
        return any(_is_vocab_matrix(t) and t.shape[0] == value for t in tensors)
    if canonical == "hidden_size":
        return value in dims
    if canonical == "intermediate_size":
        return value in dims or (isinstance(value, int) and 2 * value in dims)
    if canonical in ("num_heads", "num_kv_heads", "head_dim"):
        return _is_attention(name) or any(_is_attention(t.name) for t in tensors)
    return False


def _is_vocab_matrix(tensor: TensorInfo) -> bool:
    return len(tensor.shape) == 2 and (
        tensor.role == "embedding" or tensor.name.endswith(HEAD_NAMES)
    )
