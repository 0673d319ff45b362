"""What a tensor is, from its name, dtype, shape and its siblings in the same module.

`kind` is what the name says (weight / bias / other). `role` is what the tensor does: an embedding
table, a norm scale or shift, a linear or conv weight, a buffer (state that training does not
learn: BatchNorm running statistics, position ids, rotary frequencies, masks) or something else.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

from core.dtypes import is_float, is_quantised
from core.model import Kind, Role, TensorInfo

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
# Quantisation state stored beside a quantised weight: scales, zero points, group indices (GPTQ and
# AWQ `scales`/`qzeros`/`g_idx`, compressed-tensors and FP8 `weight_scale`, bitsandbytes `SCB`).
# They turn stored integers into values but are not the model's weights: counted as buffers.
QUANT_STATE_LEAVES = {
    "weight_scale",
    "weight_scale_inv",
    "weight_zero_point",
    "weight_global_scale",
    "weight_g_idx",
    "input_scale",
    "input_global_scale",
    "output_scale",
    "k_scale",
    "v_scale",
    "scales",
    "qzeros",
    "g_idx",
    "SCB",
    "weight_format",
    "absmax",
    "quant_map",
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


@lru_cache(maxsize=4096)
def _kind_of_leaf(leaf: str) -> Kind:
    if (
        leaf == "weight"
        or leaf.endswith("_weight")
        or leaf in ("kernel", "gamma", "scale", "qweight", "weight_quantized")
        or leaf.startswith(_EXPORTED_WEIGHT)
    ):
        return "weight"
    if leaf == "bias" or leaf.endswith("_bias") or leaf == "beta":
        return "bias"
    return "other"


def kind_of(name: str) -> Kind:
    return _kind_of_leaf(name.rpartition(".")[2])


# Names repeat across blocks (`layers.N.input_layernorm`): match each distinct one once.
@lru_cache(maxsize=4096)
def _is_norm_module(module_leaf: str) -> bool:
    return bool(_NORM_MODULE.search(module_leaf))


@lru_cache(maxsize=4096)
def _is_embed_module(module_leaf: str) -> bool:
    return bool(_EMBED_MODULE.search(module_leaf))


def role_of(t: TensorInfo, siblings: set[str]) -> Role:
    module, _, leaf = t.name.rpartition(".")
    module_leaf = module.rpartition(".")[2]
    if leaf in QUANT_STATE_LEAVES:
        return "buffer"
    # integers with scales beside them (int8 / GPTQ `qweight` / onnxruntime's
    # `weight_quantized`) and GGML blocks are real weights
    quantised = is_quantised(t.dtype) or (
        leaf in ("weight", "qweight", "weight_quantized")
        and not siblings.isdisjoint(QUANT_STATE_LEAVES)
    )
    if not (quantised or is_float(t.dtype)) or leaf in BUFFER_LEAVES or "mask" in leaf:
        return "buffer"
    if leaf in ("bias", "masked_bias") and len(t.shape) == 4 and t.shape[:2] == (1, 1):
        return "buffer"  # GPT-2's causal mask `attn.bias` [1, 1, n, n]: not a parameter
    kind = _kind_of_leaf(leaf)
    ndim = len(t.shape)
    if kind != "other" and (
        not siblings.isdisjoint(NORM_SIBLINGS) or (ndim <= 1 and _is_norm_module(module_leaf))
    ):
        return "norm"
    if _is_embed_module(module_leaf) or (kind == "other" and "embed" in leaf and ndim >= 2):
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
    tensors = list(tensors)
    split = [t.name.rpartition(".") for t in tensors]
    leaves_by_module: dict[str, set[str]] = defaultdict(set)
    for module, _, leaf in split:
        leaves_by_module[module].add(leaf)
    weight_role: dict[str, Role] = {}
    for t, (module, _, leaf) in zip(tensors, split, strict=True):
        t.kind = _kind_of_leaf(leaf)
        t.role = role_of(t, leaves_by_module[module])
        if t.declared:
            t.role = _as_declared(t, t.role)
        # the file's structure (an ONNX graph) knows better than the name, except that a float
        # tensor the name calls a buffer (running_mean, inv_freq, cos_cached, masks) is one
        if t.role_hint is not None and not (t.role == "buffer" and is_float(t.dtype)):
            t.kind, t.role = t.role_hint
        if t.kind == "weight":
            weight_role.setdefault(module, t.role)
    for t, (module, _, leaf) in zip(tensors, split, strict=True):
        if t.kind == "bias" and t.role == "other":
            partner = weight_role.get(module)
            if leaf.endswith("_bias") and module:
                # nn.MultiheadAttention: in_proj_bias belongs with in_proj_weight
                partner = "linear"
            if partner and partner != "buffer":
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
