"""ONNX weights that are not top-level initializers: `Constant` nodes (PaddlePaddle and tf2onnx
exports, torch.onnx's folded constants), initializers and Constants inside `If`/`Loop` bodies and
inside model-local functions, sparse tensors and the scalar/list attributes of a Constant. Each is a
tensor named by its output, with the shape, dtype and values onnx's own `numpy_helper` reads; the
operator that consumes a tensor says what it is (a conv weight, a linear bias, a norm scale, a
buffer), since exporters' names (`conv2d_0.w_0`, `…/ReadVariableOp:0`, `onnx::LSTM_137`) do not."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from core import stats
from core.open import open_checkpoint

ROOT = Path(__file__).resolve().parent.parent
FLOATS = (np.float16, np.float32, np.float64)


@dataclass
class Held:
    """A tensor onnx says the model holds: where it was found and its values (dense)."""

    name: str
    scope: str  # "" for the main graph, else the subgraph or function it lies in
    array: np.ndarray
    constant: bool


def onnx_tensors(path: Path) -> list[Held]:
    """The reference: every initializer, sparse initializer and tensor-valued Constant of the main
    graph, every subgraph and every model-local function, read by onnx itself."""
    import onnx
    from onnx import AttributeProto, helper, numpy_helper

    model = onnx.load(str(path))
    found: list[Held] = []

    def dense(sparse) -> np.ndarray:
        values = numpy_helper.to_array(sparse.values)
        indices = numpy_helper.to_array(sparse.indices)
        out = np.zeros(int(np.prod(sparse.dims)), values.dtype)
        if indices.ndim == 2:
            indices = np.ravel_multi_index(indices.T, tuple(sparse.dims))
        out[indices] = values
        return out.reshape(tuple(sparse.dims))

    def constant_value(node) -> np.ndarray | None:
        for attr in node.attribute:
            value = helper.get_attribute_value(attr)
            if attr.name == "value":
                return numpy_helper.to_array(value)
            if attr.name == "sparse_value":
                return dense(value)
            if attr.name in ("value_float", "value_floats"):
                return np.array(value, np.float32)
            if attr.name in ("value_int", "value_ints"):
                return np.array(value, np.int64)
        return None

    def inner(scope: str, node, attr: str) -> str:
        return f"{scope}/{node.name}/{attr}" if scope else f"{node.name}/{attr}"

    def walk(graph, scope: str) -> None:
        for init in graph.initializer:
            found.append(Held(init.name, scope, numpy_helper.to_array(init), False))
        for sparse in graph.sparse_initializer:
            found.append(Held(sparse.values.name, scope, dense(sparse), False))
        walk_nodes(graph.node, scope)

    def walk_nodes(nodes, scope: str) -> None:
        for node in nodes:
            if node.op_type == "Constant":
                array = constant_value(node)
                if array is not None:
                    found.append(Held(node.output[0], scope, array, True))
            for attr in node.attribute:
                if attr.type == AttributeProto.GRAPH:
                    walk(attr.g, inner(scope, node, attr.name))
                elif attr.type == AttributeProto.GRAPHS:
                    for k, g in enumerate(attr.graphs):
                        walk(g, inner(scope, node, f"{attr.name}[{k}]"))

    walk(model.graph, "")
    for function in model.functions:
        walk_nodes(function.node, function.name)
    return found


def shown_names(reference: list[Held]) -> list[str]:
    """The names a person sees: the main graph's own; a name from a subgraph or function keeps
    its name unless that is taken, and is then `<scope>.<name>`."""
    taken = {h.name for h in reference if not h.scope}
    names = []
    for h in reference:
        name = h.name
        if h.scope:
            name = h.name if h.name not in taken else f"{h.scope}.{h.name}"
            taken.add(name)
        names.append(name)
    return names


def check_against_onnx(path: Path) -> None:
    """Every tensor onnx finds is there, once, with its shape, dtype, count and exact statistics;
    nothing else is there."""
    ckpt = open_checkpoint(path)
    reference = onnx_tensors(path)
    names = shown_names(reference)
    assert sorted(t.name for t in ckpt.tensors) == sorted(names)
    stats.clear_cache()
    for held, name in zip(reference, names, strict=True):
        t = ckpt.tensor(name)
        array = held.array
        assert t.shape == array.shape and t.numel == array.size, held.name
        assert t.dtype == str(array.dtype), held.name
        if t.source is None:
            continue
        result = stats.tensor_stats(t, workers=1)
        values = array.astype(np.float64).ravel()
        assert result.numel == array.size
        assert (result.nan, result.inf) == (np.isnan(values).sum(), np.isinf(values).sum())
        values = values[np.isfinite(values)]  # ParamScope's moments are of the finite values
        if not values.size:
            continue
        assert result.min == values.min() and result.max == values.max(), held.name
        assert result.mean == pytest.approx(values.mean(), rel=1e-12, abs=1e-15), held.name
        assert result.std == pytest.approx(values.std(), rel=1e-9, abs=1e-15), held.name


def save(model, path: Path, *, full_check: bool = True) -> Path:
    import onnx

    onnx.checker.check_model(model, full_check=full_check)
    onnx.save_model(model, str(path))
    return path


# ── PaddlePaddle: every parameter a Constant node named after the parameter ─────────────────


def write_paddle_style(path: Path) -> dict[str, np.ndarray]:
    """The graph paddle2onnx (0.x) writes for conv2d + batch_norm + linear + embedding: each
    parameter is a `Constant` whose value holds its numbers as float_data (helper.make_tensor with
    a list of floats), the conv bias is an `Add` after a `Reshape` to [1, C, 1, 1], the flatten
    shape is an int64 Constant."""
    import onnx
    from onnx import TensorProto, helper

    rng = np.random.default_rng(3)
    params = {
        "conv2d_0.w_0": rng.standard_normal((8, 3, 3, 3)).astype(np.float32),
        "conv2d_0.b_0": rng.standard_normal(8).astype(np.float32),
        "batch_norm_0.w_0": rng.uniform(0.5, 1.5, 8).astype(np.float32),
        "batch_norm_0.b_0": rng.standard_normal(8).astype(np.float32),
        "batch_norm_0.w_1": rng.standard_normal(8).astype(np.float32),  # running mean
        "batch_norm_0.w_2": rng.uniform(0.5, 2.0, 8).astype(np.float32),  # running variance
        "linear_0.w_0": rng.standard_normal((8, 5)).astype(np.float32),
        "linear_0.b_0": rng.standard_normal(5).astype(np.float32),
        "embedding_0.w_0": rng.standard_normal((11, 6)).astype(np.float32),
    }

    def constant(name: str, array: np.ndarray) -> onnx.NodeProto:
        value = helper.make_tensor(name, TensorProto.FLOAT, array.shape, array.ravel().tolist())
        return helper.make_node("Constant", [], [name], value=value)

    shape_4d = helper.make_tensor("bias_shape", TensorProto.INT64, [4], [1, -1, 1, 1])
    flat = helper.make_tensor("flat_shape", TensorProto.INT64, [2], [1, -1])
    nodes = [constant(k, v) for k, v in params.items()]
    nodes += [
        helper.make_node("Constant", [], ["reshape_0.tmp_0.shape"], value=shape_4d),
        helper.make_node("Constant", [], ["flatten_0.tmp_0.shape"], value=flat),
        helper.make_node("Conv", ["image", "conv2d_0.w_0"], ["conv2d_0.tmp_0"], pads=[1] * 4),
        helper.make_node("Reshape", ["conv2d_0.b_0", "reshape_0.tmp_0.shape"], ["b4"]),
        helper.make_node("Add", ["conv2d_0.tmp_0", "b4"], ["conv2d_0.tmp_1"]),
        helper.make_node(
            "BatchNormalization",
            [
                "conv2d_0.tmp_1",
                "batch_norm_0.w_0",
                "batch_norm_0.b_0",
                "batch_norm_0.w_1",
                "batch_norm_0.w_2",
            ],
            ["batch_norm_0.tmp_2"],
            epsilon=1e-5,
        ),
        helper.make_node("Relu", ["batch_norm_0.tmp_2"], ["relu_0.tmp_0"]),
        helper.make_node("GlobalAveragePool", ["relu_0.tmp_0"], ["pool2d_0.tmp_0"]),
        helper.make_node("Reshape", ["pool2d_0.tmp_0", "flatten_0.tmp_0.shape"], ["flat"]),
        helper.make_node("MatMul", ["flat", "linear_0.w_0"], ["linear_0.tmp_0"]),
        helper.make_node("Add", ["linear_0.tmp_0", "linear_0.b_0"], ["linear_0.tmp_1"]),
        helper.make_node("Gather", ["embedding_0.w_0", "ids"], ["embedding_0.tmp_0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "paddle-infer",
        [
            helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 6, 6]),
            helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 4]),
        ],
        [
            helper.make_tensor_value_info("linear_0.tmp_1", TensorProto.FLOAT, [1, 5]),
            helper.make_tensor_value_info("embedding_0.tmp_0", TensorProto.FLOAT, [1, 4, 6]),
        ],
    )
    model = helper.make_model(
        graph, producer_name="PaddlePaddle", opset_imports=[helper.make_opsetid("", 11)]
    )
    model = onnx.shape_inference.infer_shapes(model)
    save(model, path)
    return params


def test_paddle_constant_weights_are_tensors_with_their_values(tmp_path):
    path = tmp_path / "inference.onnx"
    params = write_paddle_style(path)
    check_against_onnx(path)
    ckpt = open_checkpoint(path)
    running = {"batch_norm_0.w_1", "batch_norm_0.w_2"}
    assert ckpt.totals.params == sum(v.size for k, v in params.items() if k not in running)
    assert ckpt.totals.buffers == 16 + 4 + 2  # running mean/var and the two shape constants
    # helper.make_tensor keeps int64 in varints (int64_data): read from there, like any tensor
    assert ckpt.warnings == []
    shape = ckpt.tensor("flatten_0.tmp_0.shape")
    assert shape is not None and shape.source is not None


def test_paddle_roles_come_from_the_consuming_operator(tmp_path):
    write_paddle_style(tmp_path / "inference.onnx")
    ckpt = open_checkpoint(tmp_path / "inference.onnx")
    roles = {t.name: (t.kind, t.role) for t in ckpt.tensors}
    assert roles["conv2d_0.w_0"] == ("weight", "conv")
    assert roles["conv2d_0.b_0"] == ("bias", "conv")  # Reshape → Add after the Conv
    assert roles["batch_norm_0.w_0"] == ("weight", "norm")
    assert roles["batch_norm_0.b_0"] == ("bias", "norm")
    assert roles["batch_norm_0.w_1"][1] == roles["batch_norm_0.w_2"][1] == "buffer"
    assert roles["linear_0.w_0"] == ("weight", "linear")
    assert roles["linear_0.b_0"] == ("bias", "linear")
    assert roles["embedding_0.w_0"] == ("weight", "embedding")
    assert roles["flatten_0.tmp_0.shape"][1] == roles["reshape_0.tmp_0.shape"][1] == "buffer"
    assert ckpt.totals.categories.get("other", 0) == 0


# ── tf2onnx: initializers named after TensorFlow's variable reads ───────────────────────────

TF = "StatefulPartitionedCall/sequential"


def write_tf2onnx_style(path: Path) -> dict[str, np.ndarray]:
    """What tf2onnx writes for a Keras Conv2D + LSTM + Dense model: NHWC Transposes around the
    Conv, weights as raw_data initializers named `…/ReadVariableOp:0` and `W__12`, shapes folded
    into `const_fold_opt__N`, the LSTM's zero initial state a Constant."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    w = {
        f"{TF}/conv2d/Conv2D/ReadVariableOp:0": rng.standard_normal((4, 2, 3, 3)),
        f"{TF}/conv2d/BiasAdd/ReadVariableOp:0": rng.standard_normal(4),
        "W__12": rng.standard_normal((1, 20, 4)),
        "R__13": rng.standard_normal((1, 20, 5)),
        "B__14": rng.standard_normal((1, 40)),
        f"{TF}/dense/MatMul/ReadVariableOp:0": rng.standard_normal((5, 3)),
        f"{TF}/dense/BiasAdd/ReadVariableOp:0": rng.standard_normal(3),
    }
    w = {k: v.astype(np.float32) for k, v in w.items()}
    w["const_fold_opt__21"] = np.array([1, 9, 4], np.int64)
    w["const_axes__30"] = np.array([1], np.int64)
    inits = [numpy_helper.from_array(v, k) for k, v in w.items()]
    zeros = numpy_helper.from_array(np.zeros((1, 1, 5), np.float32), "zeros")
    conv = f"{TF}/conv2d"
    nodes = [
        helper.make_node("Constant", [], ["lstm/zeros__17:0"], value=zeros),
        helper.make_node("Transpose", ["input_1"], [f"{conv}/Conv2D__6:0"], perm=[0, 3, 1, 2]),
        helper.make_node(
            "Conv",
            [
                f"{conv}/Conv2D__6:0",
                f"{conv}/Conv2D/ReadVariableOp:0",
                f"{conv}/BiasAdd/ReadVariableOp:0",
            ],
            [f"{conv}/BiasAdd:0"],
            pads=[1, 1, 1, 1],
        ),
        helper.make_node("Relu", [f"{conv}/BiasAdd:0"], [f"{conv}/Relu:0"]),
        helper.make_node("Transpose", [f"{conv}/Relu:0"], ["nhwc"], perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["nhwc", "const_fold_opt__21"], ["seq"]),
        helper.make_node("Transpose", ["seq"], ["tbc"], perm=[1, 0, 2]),
        helper.make_node(
            "LSTM",
            ["tbc", "W__12", "R__13", "B__14", "", "lstm/zeros__17:0", "lstm/zeros__17:0"],
            ["", "h_n"],
            hidden_size=5,
        ),
        helper.make_node("Squeeze", ["h_n", "const_axes__30"], ["h"]),
        helper.make_node("MatMul", ["h", f"{TF}/dense/MatMul/ReadVariableOp:0"], ["mm"]),
        helper.make_node("Add", ["mm", f"{TF}/dense/BiasAdd/ReadVariableOp:0"], ["dense"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tf2onnx",
        [helper.make_tensor_value_info("input_1", TensorProto.FLOAT, [1, 3, 3, 2])],
        [helper.make_tensor_value_info("dense", TensorProto.FLOAT, [1, 3])],
        initializer=inits,
    )
    model = helper.make_model(
        graph,
        producer_name="tf2onnx",
        producer_version="1.16.1 15c810",
        opset_imports=[helper.make_opsetid("", 13)],
    )
    save(model, path)
    return w


def test_tf2onnx_names_get_roles_from_their_operators(tmp_path):
    path = tmp_path / "model.onnx"
    w = write_tf2onnx_style(path)
    check_against_onnx(path)
    ckpt = open_checkpoint(path)
    roles = {t.name: (t.kind, t.role) for t in ckpt.tensors}
    assert roles[f"{TF}/conv2d/Conv2D/ReadVariableOp:0"] == ("weight", "conv")
    assert roles[f"{TF}/conv2d/BiasAdd/ReadVariableOp:0"] == ("bias", "conv")
    assert roles["W__12"] == roles["R__13"] == ("weight", "recurrent")
    assert roles["B__14"] == ("bias", "recurrent")
    assert roles[f"{TF}/dense/MatMul/ReadVariableOp:0"] == ("weight", "linear")
    assert roles[f"{TF}/dense/BiasAdd/ReadVariableOp:0"] == ("bias", "linear")
    # the LSTM's initial state and the folded shapes are not learned
    assert roles["lstm/zeros__17:0"][1] == roles["const_fold_opt__21"][1] == "buffer"
    assert ckpt.totals.params == sum(v.size for v in w.values() if v.dtype == np.float32)
    assert ckpt.totals.categories.get("other", 0) == 0


def write_jax2tf_style(path: Path) -> dict[str, np.ndarray]:
    """What jax2tf + tf2onnx write for a Flax embedding + Dense: the parameters are the
    function's captured arguments (`jax2tf_arg_N/ReadVariableOp:0`), the position table is sliced
    and added to the looked-up tokens, constants folded by tf2onnx are `const_fold_opt__N`."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(9)
    w = {
        "jax2tf_arg_0/ReadVariableOp:0": rng.standard_normal((50, 8)),  # token table
        "jax2tf_arg_1/ReadVariableOp:0": rng.standard_normal((16, 8)),  # position table
        "jax2tf_arg_2/ReadVariableOp:0": rng.standard_normal((8, 6)),  # Dense kernel
        "jax2tf_arg_3/ReadVariableOp:0": rng.standard_normal(6),  # Dense bias
    }
    w = {k: v.astype(np.float32) for k, v in w.items()}
    w["const_fold_opt__7"] = np.array([0], np.int64)
    w["const_fold_opt__8"] = np.array([5], np.int64)
    nodes = [
        helper.make_node("Gather", ["jax2tf_arg_0/ReadVariableOp:0", "tokens"], ["tok"]),
        helper.make_node(
            "Slice",
            ["jax2tf_arg_1/ReadVariableOp:0", "const_fold_opt__7", "const_fold_opt__8"],
            ["pos"],
        ),
        helper.make_node("Add", ["tok", "pos"], ["emb"]),
        helper.make_node("MatMul", ["emb", "jax2tf_arg_2/ReadVariableOp:0"], ["mm"]),
        helper.make_node("Add", ["mm", "jax2tf_arg_3/ReadVariableOp:0"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tf2onnx",
        [helper.make_tensor_value_info("tokens", TensorProto.INT64, [1, 5])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 5, 6])],
        initializer=[numpy_helper.from_array(v, k) for k, v in w.items()],
    )
    model = helper.make_model(
        graph, producer_name="tf2onnx", opset_imports=[helper.make_opsetid("", 15)]
    )
    save(model, path)
    return w


def test_jax2tf_tables_and_dense_get_roles_from_their_operators(tmp_path):
    path = tmp_path / "flax.onnx"
    write_jax2tf_style(path)
    check_against_onnx(path)
    roles = {t.name: (t.kind, t.role) for t in open_checkpoint(path).tensors}
    assert roles["jax2tf_arg_0/ReadVariableOp:0"] == ("weight", "embedding")
    assert roles["jax2tf_arg_1/ReadVariableOp:0"] == ("weight", "embedding")
    assert roles["jax2tf_arg_2/ReadVariableOp:0"] == ("weight", "linear")
    assert roles["jax2tf_arg_3/ReadVariableOp:0"] == ("bias", "linear")
    assert roles["const_fold_opt__7"][1] == "buffer"


# ── subgraphs and functions ─────────────────────────────────────────────────────────────────


def write_control_flow(path: Path) -> None:
    """An `If` whose branches each hold a Constant weight (both named `w` inside their branch, as
    exporters name them) and a `Loop` whose body holds an initializer and a Constant bias."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(11)

    def branch(name: str, w: np.ndarray) -> object:
        return helper.make_graph(
            [
                helper.make_node("Constant", [], ["w"], value=numpy_helper.from_array(w)),
                helper.make_node("MatMul", ["x", "w"], [f"{name}_y"]),
            ],
            name,
            [],
            [helper.make_tensor_value_info(f"{name}_y", TensorProto.FLOAT, [1, 3])],
        )

    then_w = rng.standard_normal((4, 3)).astype(np.float32)
    else_w = rng.standard_normal((4, 3)).astype(np.float32)
    body_w = rng.standard_normal((3, 3)).astype(np.float32)
    body_b = rng.standard_normal(3).astype(np.float32)
    body = helper.make_graph(
        [
            helper.make_node("Constant", [], ["body_bias"], value=numpy_helper.from_array(body_b)),
            helper.make_node("MatMul", ["h_in", "cell.weight"], ["mm"]),
            helper.make_node("Add", ["mm", "body_bias"], ["h_out"]),
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
        ],
        "loop_body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("h_in", TensorProto.FLOAT, [1, 3]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("h_out", TensorProto.FLOAT, [1, 3]),
        ],
        initializer=[numpy_helper.from_array(body_w, "cell.weight")],
    )
    trips = numpy_helper.from_array(np.array(2, np.int64), "trips")
    nodes = [
        helper.make_node("Constant", [], ["trips"], value=trips),
        helper.make_node(
            "If",
            ["flag"],
            ["branch_y"],
            name="choose",
            then_branch=branch("then", then_w),
            else_branch=branch("else", else_w),
        ),
        helper.make_node("Loop", ["trips", "", "branch_y"], ["y"], name="steps", body=body),
    ]
    graph = helper.make_graph(
        nodes,
        "control",
        [
            helper.make_tensor_value_info("flag", TensorProto.BOOL, []),
            helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
        ],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    save(model, path)


def test_subgraph_constants_and_initializers_are_tensors(tmp_path):
    path = tmp_path / "control.onnx"
    write_control_flow(path)
    check_against_onnx(path)
    ckpt = open_checkpoint(path)
    names = [t.name for t in ckpt.tensors]
    # `w` twice: the first in the file (onnx sorts attributes: else_branch) keeps its name,
    # the second is named after its branch
    assert "w" in names and "choose/then_branch.w" in names
    assert "cell.weight" in names and "body_bias" in names
    roles = {t.name: (t.kind, t.role) for t in ckpt.tensors}
    assert roles["w"] == roles["choose/then_branch.w"] == ("weight", "linear")
    assert roles["body_bias"] == ("bias", "linear")
    assert roles["trips"][1] == "buffer"
    assert ckpt.totals.params == 12 + 12 + 9 + 3


def write_function_model(path: Path) -> np.ndarray:
    """A model-local function (as torch.onnx's `export_modules_as_functions` writes) whose body
    holds its weight as a Constant; the main graph calls it twice and holds its own `weight`."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    fn_w = rng.standard_normal((4, 4)).astype(np.float32)
    main_w = rng.standard_normal((4, 2)).astype(np.float32)
    function = helper.make_function(
        "custom",
        "Proj",
        ["x"],
        ["y"],
        [
            helper.make_node("Constant", [], ["weight"], value=numpy_helper.from_array(fn_w)),
            helper.make_node("MatMul", ["x", "weight"], ["y"]),
        ],
        [helper.make_opsetid("", 17)],
    )
    # torch.onnx's export_modules_as_functions passes a module's parameters in as inputs
    norm = helper.make_function(
        "custom",
        "Norm",
        ["x", "gamma"],
        ["y"],
        [helper.make_node("LayerNormalization", ["x", "gamma"], ["y"])],
        [helper.make_opsetid("", 17)],
    )
    gamma = rng.uniform(0.5, 1.5, 4).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Proj", ["x"], ["a"], domain="custom"),
            helper.make_node("Proj", ["a"], ["n"], domain="custom"),
            helper.make_node("Norm", ["n", "Variable__5"], ["b"], domain="custom"),
            helper.make_node("MatMul", ["b", "weight"], ["y"]),
        ],
        "calls",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        initializer=[
            numpy_helper.from_array(main_w, "weight"),
            numpy_helper.from_array(gamma, "Variable__5"),
        ],
    )
    model = helper.make_model(
        graph,
        functions=[function, norm],
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("custom", 1)],
    )
    save(model, path)
    return fn_w


def test_function_constants_are_tensors_named_after_their_function(tmp_path):
    path = tmp_path / "functions.onnx"
    write_function_model(path)
    check_against_onnx(path)
    ckpt = open_checkpoint(path)
    assert [t.name for t in ckpt.tensors] == ["weight", "Variable__5", "Proj.weight"]
    roles = {t.name: (t.kind, t.role) for t in ckpt.tensors}
    assert roles["weight"] == roles["Proj.weight"] == ("weight", "linear")
    assert roles["Variable__5"] == ("weight", "norm")  # what the function does with it
    assert ckpt.totals.params == 8 + 4 + 16


# ── the other ways a Constant holds values ──────────────────────────────────────────────────


def write_attribute_constants(path: Path) -> None:
    """value_float / value_floats / value_int / value_ints / sparse_value Constants, and a graph
    sparse_initializer: all legal since opset 12."""
    from onnx import TensorProto, helper, numpy_helper

    sparse_values = numpy_helper.from_array(np.float32([0.5, -2.0, 3.25]), "mask.weight")
    sparse_indices = numpy_helper.from_array(np.int64([1, 6, 10]), "mask.weight_indices")
    sparse = helper.make_sparse_tensor(sparse_values, sparse_indices, [3, 4])
    init_values = numpy_helper.from_array(np.float32([1.5, -1.0]), "proj.weight")
    init_indices = numpy_helper.from_array(np.int64([[0, 1], [3, 0]]), "proj.weight_indices")
    sparse_init = helper.make_sparse_tensor(init_values, init_indices, [4, 2])
    nodes = [
        helper.make_node("Constant", [], ["temperature"], value_float=0.75),
        helper.make_node("Constant", [], ["gain"], value_floats=[1.0, -2.5, 4.0]),
        helper.make_node("Constant", [], ["axis"], value_int=1),
        helper.make_node("Constant", [], ["new_shape"], value_ints=[1, 2]),
        helper.make_node("Constant", [], ["mask.weight"], sparse_value=sparse),
        helper.make_node("Mul", ["x", "gain"], ["g"]),
        helper.make_node("Mul", ["g", "temperature"], ["t"]),
        helper.make_node("MatMul", ["t", "mask.weight"], ["m"]),
        helper.make_node("MatMul", ["m", "proj.weight"], ["p"]),
        helper.make_node("Reshape", ["p", "new_shape"], ["r"]),
        helper.make_node("Softmax", ["r"], ["y"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "attrs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        sparse_initializer=[sparse_init],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    save(model, path, full_check=False)  # onnx's shape inference does not follow sparse values


def test_attribute_and_sparse_constants(tmp_path):
    path = tmp_path / "attrs.onnx"
    write_attribute_constants(path)
    check_against_onnx(path)
    ckpt = open_checkpoint(path)
    # a scalar value_float lies in the file as four bytes: readable
    assert ckpt.tensor("temperature").source is not None
    # value_floats and value_int(s) are protobuf numbers, read from the file as such; sparse
    # tensors are not a run of elements: counted, and a warning names them
    unreadable = {t.name for t in ckpt.tensors if t.source is None}
    assert unreadable == {"mask.weight", "proj.weight"}
    said = " ".join(ckpt.warnings)
    for name in unreadable:
        assert name in said
    assert "sparse" in said and "statistics are not available" in said
    roles = {t.name: t.role for t in ckpt.tensors}
    assert roles["axis"] == roles["new_shape"] == roles["temperature"] == "buffer"
    assert roles["mask.weight"] == roles["proj.weight"] == "linear"


# ── torch.onnx.export, as a user exports a model ────────────────────────────────────────────


class _Net:
    """Embedding → Conv1d → BatchNorm → LSTM → LayerNorm → Linear, the layers whose exported
    weights torch.onnx renames (`onnx::Conv_118`, `onnx::LSTM_137`, `onnx::MatMul_142`)."""

    @staticmethod
    def make():
        import torch

        class Net(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.emb = torch.nn.Embedding(20, 8)
                self.conv = torch.nn.Conv1d(8, 8, 3, padding=1)
                self.bn = torch.nn.BatchNorm1d(8)
                self.lstm = torch.nn.LSTM(8, 6, batch_first=True)
                self.ln = torch.nn.LayerNorm(6)
                self.fc = torch.nn.Linear(6, 4)

            def forward(self, x):
                h = self.emb(x).transpose(1, 2)
                h = self.bn(self.conv(h)).transpose(1, 2)
                h, _ = self.lstm(h)
                return self.fc(self.ln(h)) * 0.5

        torch.manual_seed(0)
        net = Net().eval()
        with torch.no_grad():  # statistics a fresh BatchNorm would not have
            net.bn.running_mean.uniform_(-1, 1)
            net.bn.running_var.uniform_(0.5, 2)
        return net


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "unfolded"])
def test_torch_export_constants_and_roles(tmp_path, fold):
    import torch

    net = _Net.make()
    path = tmp_path / "net.onnx"
    x = torch.randint(0, 20, (2, 5))
    torch.onnx.export(net, (x,), str(path), dynamo=False, do_constant_folding=fold)
    check_against_onnx(path)
    ckpt = open_checkpoint(path)
    constants = [h for h in onnx_tensors(path) if h.constant]
    assert constants and all(ckpt.tensor(h.name) is not None for h in constants)
    # torch's own Constant nodes (shapes, the LSTM's zero state, the 0.5) are not parameters
    assert all(ckpt.tensor(h.name).role == "buffer" for h in constants)
    if not fold:
        learned = sum(p.numel() for p in net.parameters())
        assert ckpt.totals.params == learned
    other = ckpt.totals.categories.get("other", 0)
    assert other < 0.01 * ckpt.totals.params
    roles = {t.name: t.role for t in ckpt.tensors}
    conv = [t for t in ckpt.tensors if len(t.shape) == 3 and t.shape[-1] == 3]
    assert [roles[t.name] for t in conv] == ["conv"]
    assert roles["emb.weight"] == "embedding"


def _attention():
    """GPT-2-style attention with a causal-mask buffer and rotary frequencies computed in forward:
    torch.onnx folds `arange`, the mask slice and the scale into Constants and initializers."""
    import math

    import torch

    class Attention(torch.nn.Module):
        def __init__(self, d: int = 16, n: int = 8) -> None:
            super().__init__()
            self.c_attn = torch.nn.Linear(d, 3 * d)
            self.c_proj = torch.nn.Linear(d, d)
            self.register_buffer("bias", torch.tril(torch.ones(n, n)).view(1, 1, n, n))
            self.register_buffer("inv_freq", 1.0 / (10000 ** (torch.arange(0, d, 2) / d)))

        def forward(self, x):
            steps = x.shape[1]
            q, k, v = self.c_attn(x).split(16, dim=2)
            freqs = torch.outer(torch.arange(steps, dtype=torch.float32), self.inv_freq)
            q = q * torch.cat([freqs.cos(), freqs.sin()], -1)
            w = q @ k.transpose(-1, -2) / math.sqrt(16)
            w = w.masked_fill(self.bias[0, 0, :steps, :steps] == 0, float("-inf"))
            return self.c_proj(w.softmax(-1) @ v)

    torch.manual_seed(1)
    return Attention().eval()


@pytest.mark.parametrize("fold", [True, False], ids=["folded", "unfolded"])
def test_torch_export_counts_what_torch_counts(tmp_path, fold):
    """torch.onnx's Constant nodes are never parameters, whatever consumes them (here an
    `arange` folded into a Constant feeds an Einsum): the count is torch's own."""
    import torch

    net = _attention()
    path = tmp_path / "attention.onnx"
    torch.onnx.export(
        net, (torch.randn(1, 8, 16),), str(path), dynamo=False, do_constant_folding=fold
    )
    check_against_onnx(path)
    ckpt = open_checkpoint(path)
    assert ckpt.totals.params == sum(p.numel() for p in net.parameters())
    assert ckpt.totals.categories.get("other", 0) == 0


def test_a_buffer_by_name_stays_a_buffer_whatever_consumes_it(tmp_path):
    """Rotary tables looked up by position (`cos_cached[position_ids]`) are Gathered like an
    embedding, but torch registered them as buffers and their name says so."""
    import torch

    class Rotary(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(8, 8)
            angles = torch.outer(torch.arange(32.0), torch.linspace(0, 1, 8))
            self.register_buffer("cos_cached", angles.cos())

        def forward(self, x, position_ids):
            return self.proj(x) * self.cos_cached[position_ids]

    net = Rotary().eval()
    path = tmp_path / "rotary.onnx"
    args = (torch.randn(1, 5, 8), torch.arange(5).unsqueeze(0))
    torch.onnx.export(net, args, str(path), dynamo=False, do_constant_folding=False)
    ckpt = open_checkpoint(path)
    assert ckpt.tensor("cos_cached").role == "buffer"
    assert ckpt.totals.params == sum(p.numel() for p in net.parameters())


def write_paddle_layer_norm(path: Path) -> None:
    """paddle2onnx's layer_norm below opset 17: mean, variance and the division written out,
    then the Constant scale multiplied in and the Constant shift added."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(13)

    def constant(name: str, array: np.ndarray):
        return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(array))

    nodes = [
        constant("layer_norm_0.w_0", rng.uniform(0.5, 1.5, 6).astype(np.float32)),
        constant("layer_norm_0.b_0", rng.standard_normal(6).astype(np.float32)),
        constant("eps", np.array(1e-5, np.float32)),
        constant("two", np.array(2.0, np.float32)),
        helper.make_node("ReduceMean", ["x"], ["mean"], axes=[-1]),
        helper.make_node("Sub", ["x", "mean"], ["centred"]),
        helper.make_node("Pow", ["centred", "two"], ["squared"]),
        helper.make_node("ReduceMean", ["squared"], ["var"], axes=[-1]),
        helper.make_node("Add", ["var", "eps"], ["var_eps"]),
        helper.make_node("Sqrt", ["var_eps"], ["std"]),
        helper.make_node("Div", ["centred", "std"], ["normed"]),
        helper.make_node("Mul", ["normed", "layer_norm_0.w_0"], ["scaled"]),
        helper.make_node("Add", ["scaled", "layer_norm_0.b_0"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "paddle-infer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 6])],
    )
    model = helper.make_model(
        graph, producer_name="PaddlePaddle", opset_imports=[helper.make_opsetid("", 13)]
    )
    save(model, path)


def test_layer_norm_written_out_has_a_norm_scale_and_shift(tmp_path):
    path = tmp_path / "ln.onnx"
    write_paddle_layer_norm(path)
    check_against_onnx(path)
    roles = {t.name: (t.kind, t.role) for t in open_checkpoint(path).tensors}
    assert roles["layer_norm_0.w_0"] == ("weight", "norm")
    assert roles["layer_norm_0.b_0"] == ("bias", "norm")
    assert roles["eps"][1] == roles["two"][1] == "buffer"


# ── the command line ────────────────────────────────────────────────────────────────────────


def cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *argv],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def test_cli_info_and_stats_read_constant_and_subgraph_tensors(tmp_path):
    paddle = write_paddle_style(tmp_path / "inference.onnx")
    info = cli("info", str(tmp_path / "inference.onnx"), "--json")
    assert info.returncode == 0, info.stderr
    document = json.loads(info.stdout)
    running = {"batch_norm_0.w_1", "batch_norm_0.w_2"}
    assert document["total_params"] == sum(v.size for k, v in paddle.items() if k not in running)
    listed = {t["name"]: t for t in document["tensors"]}
    assert listed["conv2d_0.w_0"]["shape"] == [8, 3, 3, 3]
    done = cli("stats", str(tmp_path / "inference.onnx"), "--all", "--json")
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in json.loads(done.stdout)["tensors"]}
    for name, array in paddle.items():
        assert rows[name]["mean"] == pytest.approx(array.astype(np.float64).mean(), rel=1e-12)
    one = cli("stats", str(tmp_path / "inference.onnx"), "--tensor", "linear_0.w_0", "--json")
    assert one.returncode == 0, one.stderr
    assert json.loads(one.stdout)["max"] == float(paddle["linear_0.w_0"].max())

    write_control_flow(tmp_path / "control.onnx")
    held = {h.scope + h.name: h.array for h in onnx_tensors(tmp_path / "control.onnx")}
    inner = cli("stats", str(tmp_path / "control.onnx"), "--tensor", "choose/then_branch.w")
    assert inner.returncode == 0, inner.stderr
    inner = cli(
        "stats", str(tmp_path / "control.onnx"), "--tensor", "choose/then_branch.w", "--json"
    )
    result = json.loads(inner.stdout)
    assert result["min"] == float(held["choose/then_branchw"].min())
    assert result["std"] == pytest.approx(held["choose/then_branchw"].astype(np.float64).std())


def test_values_stored_as_protobuf_numbers_are_read_exactly(tmp_path):
    """int32_data (with float16's bit patterns and negative int8), int64_data, uint64_data,
    value_int(s) and unpacked value_floats hold numbers, not a run of bytes: statistics read them
    from the file all the same, equal to what onnx itself decodes."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    half = rng.standard_normal((3, 5)).astype(np.float16)
    arrays = {
        "half": helper.make_tensor("half", TensorProto.FLOAT16, [3, 5], half.tolist()),
        "small": helper.make_tensor("small", TensorProto.INT8, [4], [-128, -1, 0, 127]),
        "big": helper.make_tensor("big", TensorProto.INT64, [3], [-(2**62), -5, 2**63 - 1]),
        "huge": helper.make_tensor("huge", TensorProto.UINT64, [2], [0, 2**64 - 1]),
    }
    assert not arrays["half"].raw_data and arrays["half"].int32_data  # as exporters write them
    nodes = [
        helper.make_node("Constant", [], [name], value=tensor) for name, tensor in arrays.items()
    ]
    nodes += [
        helper.make_node("Constant", [], ["steps"], value_ints=[3, -7, 11]),
        helper.make_node("Constant", [], ["axis"], value_int=-1),
        helper.make_node("Constant", [], ["gain"], value_floats=[1.0, -2.5, 4.0, 1e-8]),
        helper.make_node("Identity", ["x"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes,
        "numbers",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "numbers.onnx"
    save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    check_against_onnx(path)
    ckpt = open_checkpoint(path)
    assert all(t.source is not None for t in ckpt.tensors), ckpt.warnings
    expected = {name: numpy_helper.to_array(tensor) for name, tensor in arrays.items()}
    expected |= {"steps": np.int64([3, -7, 11]), "axis": np.int64(-1)}
    expected["gain"] = np.float32([1.0, -2.5, 4.0, 1e-8])
    for name, values in expected.items():
        result = stats.tensor_stats(ckpt.tensor(name), workers=1)
        assert result.numel == values.size, name
        assert result.min == values.min() and result.max == values.max(), name
