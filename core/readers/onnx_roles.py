"""What an ONNX tensor is, from the operators that consume it.

Exporters name weights after their own variables, not after the layer they belong to:
PaddlePaddle's `conv2d_0.w_0` and `batch_norm_0.w_2`, tf2onnx's `…/Conv2D/ReadVariableOp:0`,
`W__12` and `const_fold_opt__21`, torch.onnx's `onnx::LSTM_137`. The graph says what each one is:
input 1 of a `Conv` is a conv weight, input 3 of a `BatchNormalization` its running mean, a
1-D tensor added to a `MatMul`'s output a linear bias. `GraphRoles.hint` follows a tensor through
the operators that only move or re-type it (Transpose, Reshape, Slice, Concat, Cast,
DequantizeLinear, …) to the operator that uses it, and into model-local functions it is passed to.
A hint is (kind, role) as core.roles names them; `core.roles.classify` takes it over the name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from core.dtypes import is_float
from core.model import Kind, Role

Hint = tuple[Kind, Role]


@dataclass(slots=True)
class OpNode:
    op: str  # op_type, prefixed by its domain outside the default one ("com.microsoft.Attention")
    inputs: list[str]
    outputs: list[str]


W_CONV: Hint = ("weight", "conv")
B_CONV: Hint = ("bias", "conv")
W_LINEAR: Hint = ("weight", "linear")
B_LINEAR: Hint = ("bias", "linear")
W_RECURRENT: Hint = ("weight", "recurrent")  # as torch's weight_ih_l0 and Keras recurrent_kernel
B_RECURRENT: Hint = ("bias", "recurrent")
W_NORM: Hint = ("weight", "norm")
B_NORM: Hint = ("bias", "norm")
EMBEDDING: Hint = ("weight", "embedding")
SLOPE: Hint = ("weight", "other")  # PRelu's learned slope: a parameter of no layer type
BUFFER: Hint = ("other", "buffer")  # state or a constant of the computation, not learned

# operator → input index → what that input is (ONNX operator specs; com.microsoft: onnxruntime's)
_INPUTS: dict[str, dict[int, Hint]] = {
    "Conv": {1: W_CONV, 2: B_CONV},
    "ConvTranspose": {1: W_CONV, 2: B_CONV},
    "DeformConv": {1: W_CONV, 3: B_CONV},
    "ConvInteger": {1: W_CONV},
    "QLinearConv": {3: W_CONV, 8: B_CONV},
    "com.microsoft.FusedConv": {1: W_CONV, 2: B_CONV},
    "com.microsoft.NhwcConv": {1: W_CONV, 2: B_CONV},
    "Gemm": {0: W_LINEAR, 1: W_LINEAR, 2: B_LINEAR},
    "MatMul": {0: W_LINEAR, 1: W_LINEAR},
    "MatMulInteger": {1: W_LINEAR},
    "QLinearMatMul": {3: W_LINEAR},
    "com.microsoft.FusedMatMul": {0: W_LINEAR, 1: W_LINEAR},
    "com.microsoft.FusedGemm": {0: W_LINEAR, 1: W_LINEAR, 2: B_LINEAR},
    # X, W, R, B, sequence_lens, initial_h, initial_c, P (peepholes)
    "LSTM": {1: W_RECURRENT, 2: W_RECURRENT, 3: B_RECURRENT, 5: BUFFER, 6: BUFFER, 7: W_RECURRENT},
    "GRU": {1: W_RECURRENT, 2: W_RECURRENT, 3: B_RECURRENT, 5: BUFFER},
    "RNN": {1: W_RECURRENT, 2: W_RECURRENT, 3: B_RECURRENT, 5: BUFFER},
    "BatchNormalization": {1: W_NORM, 2: B_NORM, 3: BUFFER, 4: BUFFER},
    "LayerNormalization": {1: W_NORM, 2: B_NORM},
    "InstanceNormalization": {1: W_NORM, 2: B_NORM},
    "GroupNormalization": {1: W_NORM, 2: B_NORM},
    "RMSNormalization": {1: W_NORM},
    "SimplifiedLayerNormalization": {1: W_NORM},
    "com.microsoft.SkipLayerNormalization": {2: W_NORM, 3: B_NORM, 4: B_LINEAR},
    "com.microsoft.SkipSimplifiedLayerNormalization": {2: W_NORM, 3: B_LINEAR},
    "com.microsoft.Attention": {1: W_LINEAR, 2: B_LINEAR},
    "com.microsoft.EmbedLayerNormalization": {
        2: EMBEDDING,
        3: EMBEDDING,
        4: EMBEDDING,
        5: W_NORM,
        6: B_NORM,
    },
    "com.microsoft.BiasGelu": {1: B_LINEAR},
    "com.microsoft.FastGelu": {1: B_LINEAR},
    "Gather": {0: EMBEDDING},
    "PRelu": {1: SLOPE},
}
_MATRIX_OPERANDS = {"Gemm", "MatMul", "com.microsoft.FusedMatMul", "com.microsoft.FusedGemm"}
_LINEAR_OPS = {
    "MatMul",
    "Gemm",
    "Einsum",
    "MatMulInteger",
    "QLinearMatMul",
    "com.microsoft.FusedMatMul",
}
_CONV_OPS = {"Conv", "ConvTranspose", "ConvInteger", "QLinearConv", "com.microsoft.FusedConv"}
# operators that hand their first input on changed only in layout, type or extent
_PASS_ON = {
    "Identity",
    "Cast",
    "CastLike",
    "Transpose",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Expand",
    "Slice",
    "Split",
    "Tile",
    "DequantizeLinear",
    "com.microsoft.DequantizeLinear",
}
# a stronger claim wins when a tensor has several uses (tied embeddings: Gather and MatMul)
_RANK = {
    EMBEDDING: 0,
    W_CONV: 1,
    W_LINEAR: 2,
    W_RECURRENT: 2,
    W_NORM: 3,
    B_CONV: 4,
    B_LINEAR: 5,
    B_RECURRENT: 5,
    B_NORM: 6,
    SLOPE: 7,
    BUFFER: 8,
}
_INDEX_TYPES = {"int32", "int64", "uint64", "bool"}  # shapes, axes, indices, counts, flags
_FOLLOW = 8  # operators followed from a tensor to its use, and back from an input to its maker
_USES_SEEN = 256  # uses looked at per tensor: a hostile graph cannot make the walk quadratic


@dataclass(slots=True)
class Function:
    key: str  # how a node calls it: "domain.name" ("name" in the default domain)
    namespace: int
    inputs: list[str]


class GraphRoles:
    """Who uses each value, and who makes it, per namespace: 0 for the main graph and its
    subgraphs (which see the names around them), n for the model's nth local function."""

    def __init__(
        self,
        nodes: list[tuple[int, OpNode]],
        functions: list[Function],
        constants_are_literals: bool = False,
    ) -> None:
        # torch.onnx writes every parameter as an initializer, folded ones too; its Constant
        # nodes hold the literals and values of forward() (a 0.5, a mask, an arange)
        self._literals = constants_are_literals
        self._uses: dict[tuple[int, str], list[tuple[OpNode, int]]] = defaultdict(list)
        self._maker: dict[tuple[int, str], OpNode] = {}
        self._functions = {f.key: f for f in functions}
        for namespace, node in nodes:
            for index, name in enumerate(node.inputs):
                if name:
                    self._uses[namespace, name].append((node, index))
            for name in node.outputs:
                if name:
                    self._maker[namespace, name] = node

    def hint(
        self, namespace: int, name: str, shape: tuple[int, ...], dtype: str, constant: bool
    ) -> Hint | None:
        """What the graph says this tensor is, or None when it says nothing."""
        best: Hint | None = None
        for node, index, namespace_used, dequantised in self._uses_of(namespace, name):
            found = self._role_at(node, index, namespace_used, shape)
            if found is None or not (is_float(dtype) or dequantised or found == BUFFER):
                continue
            if best is None or _RANK[found] < _RANK[best]:
                best = found
        if best is not None:
            return best
        if dtype in _INDEX_TYPES:
            return BUFFER
        numel = 1
        for d in shape:
            numel *= d
        if constant and (numel <= 1 or self._literals):
            # a scalar Constant is a literal of the computation (an epsilon, sqrt(d)), not a
            # parameter; PaddlePaddle's Constant parameters are found by their operators above
            return BUFFER
        return None

    def _uses_of(self, namespace: int, name: str) -> Iterator[tuple[OpNode, int, int, bool]]:
        """(node, input index, namespace, passed through DequantizeLinear) for each real use."""
        seen = {(namespace, name)}
        frontier = [(namespace, name, False)]
        budget = _USES_SEEN
        for _ in range(_FOLLOW):
            onward = []
            for space, value, dequantised in frontier:
                for node, index in self._uses.get((space, value), ()):
                    budget -= 1
                    if budget < 0:
                        return
                    called = self._functions.get(node.op)
                    if called is not None and index < len(called.inputs):
                        step = [(called.namespace, called.inputs[index])]
                    elif node.op in _PASS_ON and index == 0 or node.op == "Concat":
                        outputs = node.outputs if node.op == "Split" else node.outputs[:1]
                        step = [(space, out) for out in outputs]
                    else:
                        yield node, index, space, dequantised
                        continue
                    for key in step:
                        if key[1] and key not in seen:
                            seen.add(key)
                            onward.append((*key, dequantised or "DequantizeLinear" in node.op))
            frontier = onward
            if not frontier:
                return

    def _role_at(
        self, node: OpNode, index: int, namespace: int, shape: tuple[int, ...]
    ) -> Hint | None:
        op, ndim = node.op, len(shape)
        # a norm's scale or shift is one number per channel: [C], [1, C], [1, 1, C]
        per_channel = ndim >= 1 and shape[-1] > 1 and all(d == 1 for d in shape[:-1])
        if op == "Add" and len(node.inputs) == 2:
            # added to a product: its bias; a table added to looked-up embeddings: positions
            maker = self._made_by(namespace, node.inputs[1 - index])
            if maker is None:
                return None
            if maker.op in _LINEAR_OPS:
                return B_LINEAR
            if maker.op in _CONV_OPS:
                return B_CONV
            if maker.op == "Mul" and per_channel and self._normalised(namespace, maker):
                return B_NORM
            return EMBEDDING if maker.op == "Gather" and ndim >= 2 else None
        if op == "Mul" and len(node.inputs) == 2:
            # LayerNorm/RMSNorm written out (opsets before 17): (x - mean) / sqrt(var + eps)
            # or x * (1 / sqrt(…)), then times the scale, plus the shift
            return W_NORM if per_channel and self._normalised(namespace, node, index) else None
        if op == "Einsum":
            return W_LINEAR if ndim >= 2 else None
        found = _INPUTS.get(op, {}).get(index)
        if found == W_LINEAR and op in _MATRIX_OPERANDS and ndim < 2:
            return None  # a vector operand of a matrix product is not a layer's weight
        if found == EMBEDDING and op == "Gather" and ndim != 2:
            return None
        return found

    def _normalised(self, namespace: int, mul: OpNode, skip: int = -1) -> bool:
        """Whether a Mul scales a normalised value: an input (not `skip`) made by a Div, or
        by a Mul with a factor made by Reciprocal or Div."""
        for k, name in enumerate(mul.inputs):
            maker = self._made_by(namespace, name) if k != skip else None
            if maker is None:
                continue
            if maker.op == "Div":
                return True
            if maker.op == "Mul" and any(
                (inner := self._made_by(namespace, n)) is not None
                and inner.op in ("Reciprocal", "Div")
                for n in maker.inputs
            ):
                return True
        return False

    def _made_by(self, namespace: int, name: str) -> OpNode | None:
        """The operator that computes `name`, looking through operators that only pass it on."""
        for _ in range(_FOLLOW):
            node = self._maker.get((namespace, name))
            if node is None or node.op not in _PASS_ON or not node.inputs:
                return node
            name = node.inputs[0]
        return None
