"""What a tensor is, from its name, dtype, shape and its siblings in the same module.

`kind` is what the name says (weight / bias / other). `role` is what the tensor does: an embedding
table, a norm scale or shift, a linear, conv or recurrent weight, quantisation metadata (scales and
zero points beside stored integers, `core.quant_state`), a buffer (state that training does not
learn: BatchNorm running statistics, position ids, rotary frequencies, masks) or something else.

The same tensor gets the same role in every format it is saved in: torch's LSTM `weight_ih_l0`
and Keras's `lstm_cell/kernel` are both recurrent weights, Keras's `depthwise_kernel` and a
torch depthwise `Conv2d.weight` both conv, Keras's `embeddings` and `nn.Embedding.weight` both
embeddings. TensorFlow variable paths (`dense/kernel/Read/ReadVariableOp`) are read by their
variable's name.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

from core.dtypes import DTYPES, is_float, is_quantised
from core.model import Kind, Role, TensorInfo
from core.quant_state import QUANT_STATE_LEAVES, QuantLinks, quant_links

__all__ = ["QUANT_STATE_LEAVES", "classify", "kind_of", "role_of"]

BUFFER_LEAVES = {
    "running_mean",
    "running_var",
    "num_batches_tracked",
    "moving_mean",  # Keras BatchNormalization
    "moving_variance",
    "position_ids",
    "token_type_ids",
    "inv_freq",
    "masked_bias",
    "causal_mask",
    "attn_mask",
    "attention_mask",
    "relative_position_index",
    "cos_cached",
    "sin_cached",
    "_float_tensor",
}
# a module that holds any of these leaves is a normalisation layer (BatchNorm / InstanceNorm)
NORM_SIBLINGS = {"running_mean", "running_var", "num_batches_tracked", "moving_mean"}
_NORM_MODULE = re.compile(
    r"(^|[._])(norm|layernorm|layer_norm|ln|ln_\w+|ln\d*|bn\d*|batchnorm|batch_norm|rmsnorm|"
    r"rms_norm|groupnorm|group_norm|\w*_norm|\w*norm\d*|norm_\w+|final_layernorm)$",
    re.IGNORECASE,
)
_EMBED_MODULE = re.compile(
    r"(embed|embedding|embeddings|embd|wte|wpe|tok_embeddings|word_embeddings|shared|pos_emb|"
    r"relative_attention_bias)",  # T5: an nn.Embedding of position buckets × heads
    re.IGNORECASE,
)


# torch.onnx names a weight it found no module name for after the operator that takes it
_EXPORTED_WEIGHT = ("onnx::MatMul_", "onnx::Gemm_", "onnx::Conv_", "onnx::ConvTranspose_")


# torch's RNN/LSTM/GRU (and their cells): weight_ih_l0, bias_hh_l1_reverse, weight_hr_l0 (proj)
# and flat names of the same (g2p-en's NumPy `enc_w_ih`, `dec_b_hh`)
_RECURRENT_LEAF = re.compile(r"^(?:\w+_)?(weight|bias|w|b)_(ih|hh|hr)(_l\d+)?(_reverse)?$")
# flat names that say weight or bias by a last `w`/`b` (`fc_w`, `fc_b`; PaddlePaddle's `w_0`)
_FLAT_WEIGHT = re.compile(r"^(?:\w+_)?w(_\d+)?$")
_FLAT_BIAS = re.compile(r"^(?:\w+_)?b(_\d+)?$")
# an embedding table named as such inside a flat name (`enc_emb`, `tok_emb`)
_FLAT_EMBEDDING = re.compile(r"(^|_)emb(_|$)|embed", re.IGNORECASE)
# word-vector tables as gensim names them (word2vec/doc2vec/fastText: input and output vectors)
_VECTOR_TABLES = frozenset(
    {"syn0", "syn1", "syn1neg", "vectors", "vectors_ngrams", "vectors_vocab", "vectors_docs"}
)
# Keras/TF: a layer with a recurrent kernel is recurrent, its input kernel and bias too
_RECURRENT_SIBLING = "recurrent_kernel"
# TensorFlow names the read of a variable after it: `dense/kernel/Read/ReadVariableOp:0`
_TF_READS = frozenset({"read", "Read", "ReadVariableOp", "Identity"})
_TF_OUTPUT = re.compile(r":\d+$")


@lru_cache(maxsize=4096)
def _kind_of_leaf(leaf: str) -> Kind:
    if (
        leaf == "weight"
        or leaf.endswith(("_weight", "_kernel"))  # Keras depthwise/pointwise/recurrent_kernel
        or leaf in ("kernel", "gamma", "scale", "qweight", "embeddings")
        or leaf.startswith(_EXPORTED_WEIGHT)
    ):
        return "weight"
    if leaf == "bias" or leaf.endswith("_bias") or leaf == "beta":
        return "bias"
    recurrent = _RECURRENT_LEAF.match(leaf)
    if recurrent:
        return "weight" if recurrent[1] in ("weight", "w") else "bias"
    if _FLAT_WEIGHT.match(leaf):
        return "weight"
    if _FLAT_BIAS.match(leaf):
        return "bias"
    for stored in ("_quantized", "_packed"):  # onnxruntime's `<w>_quantized`, compressed-tensors
        if leaf.endswith(stored) and len(leaf) > len(stored):
            return _kind_of_leaf(leaf[: -len(stored)])
    return "other"


def split_name(name: str) -> tuple[str, str]:
    """(module, leaf) of a tensor name: dotted, or a TensorFlow variable path inside its last
    part (`model/dense/kernel/Read/ReadVariableOp:0` → `model/dense`, `kernel`)."""
    module, _, leaf = name.rpartition(".")
    if "/" in leaf:
        parts = _TF_OUTPUT.sub("", leaf).split("/")
        while len(parts) > 1 and parts[-1] in _TF_READS:
            parts.pop()
        if len(parts) > 1 and parts[-1]:
            inner = "/".join(parts[:-1])
            return (f"{module}.{inner}" if module else inner), parts[-1]
    return module, leaf


def kind_of(name: str) -> Kind:
    return _kind_of_leaf(split_name(name)[1])


@lru_cache(maxsize=4096)
def _is_recurrent_leaf(leaf: str) -> bool:
    return _RECURRENT_LEAF.match(leaf) is not None


# Names repeat across blocks (`layers.N.input_layernorm`): match each distinct one once.
@lru_cache(maxsize=4096)
def _is_norm_module(module_leaf: str) -> bool:
    return bool(_NORM_MODULE.search(module_leaf))


@lru_cache(maxsize=4096)
def _is_embed_module(module_leaf: str) -> bool:
    return bool(_EMBED_MODULE.search(module_leaf))


_SMALL_INTS = frozenset({"int8", "uint8", "int4", "uint4"})


def _stored_integers(t: TensorInfo, leaf: str, quant: QuantLinks | None) -> bool:
    """Integers that stand for real weights: with a scale matched to them (int8 `qweight` +
    `scale`, GPTQ's packed int32, onnxruntime's `_quantized`), or int8/int4 named as a weight."""
    if quant is not None and t.name in quant.by_weight:
        return True
    return t.dtype in _SMALL_INTS and _kind_of_leaf(leaf) == "weight"


def role_of(
    t: TensorInfo,
    siblings: set[str],
    quant: QuantLinks | None = None,
    leaf: str | None = None,
    module: str | None = None,
) -> Role:
    if leaf is None or module is None:
        module, leaf = split_name(t.name)
    module_leaf = module.rpartition(".")[2]
    if leaf in QUANT_STATE_LEAVES or (quant is not None and t.name in quant.metadata):
        return "quant"
    # integers with scales beside them and GGML blocks are real weights
    real = is_float(t.dtype) or is_quantised(t.dtype)
    if not real and t.dtype in DTYPES:
        real = _stored_integers(t, leaf, quant)
    if not real or leaf in BUFFER_LEAVES or "mask" in leaf:
        return "buffer"
    if leaf in ("bias", "masked_bias") and len(t.shape) == 4 and t.shape[:2] == (1, 1):
        return "buffer"  # GPT-2's causal mask `attn.bias` [1, 1, n, n]: not a parameter
    kind = _kind_of_leaf(leaf)
    ndim = len(t.shape)
    if _is_recurrent_leaf(leaf) or (
        kind != "other" and _RECURRENT_SIBLING in siblings and leaf != "embeddings"
    ):
        return "recurrent"
    if kind != "other" and (
        not siblings.isdisjoint(NORM_SIBLINGS) or (ndim <= 1 and _is_norm_module(module_leaf))
    ):
        return "norm"
    if _is_embed_module(module_leaf) or (
        (kind == "other" or leaf == "embeddings")
        and (_FLAT_EMBEDDING.search(leaf) or leaf in _VECTOR_TABLES)
        and ndim >= 2
    ):
        return "embedding"
    if kind == "weight":
        if ndim >= 3:
            return "conv"
        if ndim == 2:
            return "linear"
        if ndim == 1:
            return "norm"  # a 1-D learned scale is a norm scale (LayerNorm, RMSNorm, BatchNorm)
    return "other"  # a bias's role is settled from the weight it belongs to, in classify()


def classify(tensors: Iterable[TensorInfo]) -> None:
    """Set `kind` and `role` on every tensor, in place. Biases follow their module's weight."""
    tensors = tensors if isinstance(tensors, list) else list(tensors)
    split = [split_name(t.name) for t in tensors]
    leaves_by_module: dict[str, set[str]] = defaultdict(set)
    for module, leaf in split:
        leaves_by_module[module].add(leaf)
    quant = quant_links(tensors)
    weight_role: dict[str, Role] = {}
    for t, (module, leaf) in zip(tensors, split, strict=True):
        t.kind = _kind_of_leaf(leaf)
        t.role = role_of(t, leaves_by_module[module], quant, leaf, module)
        if t.declared:
            t.role = _as_declared(t, t.role)
        # the file's structure (an ONNX graph) knows better than the name, except that a float
        # tensor the name calls a buffer (running_mean, inv_freq, cos_cached, masks) is one, and
        # a scale or zero point matched to its integer weight stays quantisation state
        hinted = t.role_hint is not None and t.role != "quant"
        if hinted and not (t.role == "buffer" and is_float(t.dtype)):
            t.kind, t.role = t.role_hint
        if t.role == "quant":
            t.kind = "other"  # a scale or zero point, whatever its name
        elif t.role == "embedding" and t.kind == "other":
            t.kind = "weight"  # a table named as one (`enc_emb`) is a weight, as torch's is
        if t.kind == "weight":
            weight_role.setdefault(module, t.role)
    flat_weights = {
        (module, leaf): t.role
        for t, (module, leaf) in zip(tensors, split, strict=True)
        if t.kind == "weight" and _FLAT_WEIGHT.match(leaf)
    }
    for t, (module, leaf) in zip(tensors, split, strict=True):
        if t.kind == "bias" and t.role == "other":
            partner = weight_role.get(module)
            flat = _FLAT_BIAS.match(leaf)
            if flat:  # `fc_b` belongs with `fc_w`, whatever else shares the flat namespace
                weight = (
                    leaf[: flat.start(1) if flat[1] else len(leaf)][:-1] + "w" + (flat[1] or "")
                )
                partner = flat_weights.get((module, weight), partner)
            if leaf.endswith("_bias") and module:
                # nn.MultiheadAttention: in_proj_bias belongs with in_proj_weight
                partner = "linear"
            if partner and partner not in ("buffer", "quant"):
                t.role = partner
            elif len(t.shape) == 1 and _is_norm_module(module.rpartition(".")[2]):
                t.role = "norm"


def _as_declared(t: TensorInfo, role: Role) -> Role:
    """The file says what the tensor is (TorchScript's `__buffers__`): a name that sounds like a
    buffer (`mask_token`) can be a parameter, and one that sounds like a weight a buffer."""
    if t.declared == "buffer":
        return "buffer"
    if t.declared != "parameter" or role != "buffer":
        return role
    ndim = len(t.shape)
    if t.kind == "weight":
        return "conv" if ndim >= 3 else "linear" if ndim == 2 else "norm"
    return "other"
