"""Recurrent, depthwise and Keras-named weights are weights and biases, not "other": torch's
LSTM/GRU/RNN (`weight_ih_l0`, `bias_hh_l0_reverse`, `weight_hr_l0`), Keras `kernel`,
`recurrent_kernel`, `depthwise_kernel`, `pointwise_kernel`, `embeddings`. Fixtures are real files:
torch modules saved with torch.save and safetensors, Keras weights in tf.keras's .h5 layout written
with h5py. Counts are checked against torch's `named_parameters()`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from format_fixtures import write_h5
from safetensors.torch import save_file
from torch import nn

from core.open import open_checkpoint

RECURRENT = {
    "lstm": lambda: nn.LSTM(8, 16, num_layers=2, bidirectional=True, proj_size=4),
    "gru": lambda: nn.GRU(8, 16, num_layers=2, bidirectional=True),
    "rnn": lambda: nn.RNN(8, 16, bias=True),
    "lstm_cell": lambda: nn.LSTMCell(8, 16),
}


class Tagger(nn.Module):
    """A real model shape: embedding → bidirectional LSTM → linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 8)
        self.rnn = nn.LSTM(8, 16, bidirectional=True, batch_first=True)
        self.head = nn.Linear(32, 5)


def saved(module: nn.Module, tmp_path, suffix: str):
    path = tmp_path / f"model{suffix}"
    if suffix == ".pt":
        torch.save(module.state_dict(), path)
    else:
        save_file({k: v.contiguous() for k, v in module.state_dict().items()}, str(path))
    return open_checkpoint(path)


@pytest.mark.parametrize("suffix", [".pt", ".safetensors"])
@pytest.mark.parametrize("kind", list(RECURRENT))
def test_recurrent_weights_and_biases(tmp_path, kind, suffix):
    torch.manual_seed(0)
    module = RECURRENT[kind]()
    ckpt = saved(module, tmp_path, suffix)
    params = dict(module.named_parameters())
    assert ckpt.totals.params == sum(p.numel() for p in params.values())
    assert ckpt.totals.counts["other"] == 0, [(t.name, t.kind) for t in ckpt.tensors]
    for name, p in params.items():
        t = ckpt.tensor(name)
        assert t.kind == ("bias" if name.startswith("bias") else "weight"), name
        assert t.role == "recurrent", (name, t.role)
        assert t.numel == p.numel()
    assert ckpt.totals.counts["weight"] == sum(
        p.numel() for n, p in params.items() if n.startswith("weight")
    )


def test_same_roles_in_pytorch_and_safetensors(tmp_path):
    torch.manual_seed(0)
    model = Tagger()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    by_pt = saved(model, tmp_path / "a", ".pt")
    by_st = saved(model, tmp_path / "b", ".safetensors")
    roles = [(t.name, t.kind, t.role) for t in by_pt.tensors]
    assert sorted(roles) == sorted((t.name, t.kind, t.role) for t in by_st.tensors)
    assert by_pt.totals.categories.get("other", 0) == 0
    assert by_pt.tensor("rnn.weight_hh_l0_reverse").role == "recurrent"
    assert by_pt.tensor("embed.weight").role == "embedding"
    # the tree's module rows say what they hold
    assert by_pt.tree.find("rnn").role == "recurrent"
    assert by_pt.tree.find("rnn").other == 0


def test_keras_h5_depthwise_separable_recurrent_and_embedding(tmp_path):
    """tf.keras `save_weights(.h5)` layout: <layer>/<layer>/<var>:0, an LSTM's under its cell."""
    rng = np.random.default_rng(0)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    weights = {
        "embedding/embedding/embeddings:0": f32(50, 8),
        "separable_conv2d/separable_conv2d/depthwise_kernel:0": f32(3, 3, 8, 1),
        "separable_conv2d/separable_conv2d/pointwise_kernel:0": f32(1, 1, 8, 16),
        "separable_conv2d/separable_conv2d/bias:0": f32(16),
        "depthwise_conv2d/depthwise_conv2d/depthwise_kernel:0": f32(3, 3, 16, 2),
        "depthwise_conv2d/depthwise_conv2d/bias:0": f32(32),
        "batch_normalization/batch_normalization/gamma:0": f32(32),
        "batch_normalization/batch_normalization/beta:0": f32(32),
        "batch_normalization/batch_normalization/moving_mean:0": f32(32),
        "batch_normalization/batch_normalization/moving_variance:0": f32(32),
        "lstm/lstm/lstm_cell/kernel:0": f32(32, 64),
        "lstm/lstm/lstm_cell/recurrent_kernel:0": f32(16, 64),
        "lstm/lstm/lstm_cell/bias:0": f32(64),
        "gru/gru/gru_cell/kernel:0": f32(16, 24),
        "gru/gru/gru_cell/recurrent_kernel:0": f32(8, 24),
        "gru/gru/gru_cell/bias:0": f32(2, 24),  # reset_after: input and recurrent biases
        "dense/dense/kernel:0": f32(8, 5),
        "dense/dense/bias:0": f32(5),
    }
    path = write_h5(
        tmp_path / "model.h5",
        weights,
        {"layer_names": [n.split("/")[0].encode() for n in weights], "keras_version": "2.15.0"},
    )
    ckpt = open_checkpoint(path)
    expected = {
        "embedding.embeddings": ("weight", "embedding"),
        "separable_conv2d.depthwise_kernel": ("weight", "conv"),
        "separable_conv2d.pointwise_kernel": ("weight", "conv"),
        "separable_conv2d.bias": ("bias", "conv"),
        "depthwise_conv2d.depthwise_kernel": ("weight", "conv"),
        "depthwise_conv2d.bias": ("bias", "conv"),
        "batch_normalization.gamma": ("weight", "norm"),
        "batch_normalization.beta": ("bias", "norm"),
        "batch_normalization.moving_mean": ("other", "buffer"),
        "lstm.lstm_cell.kernel": ("weight", "recurrent"),
        "lstm.lstm_cell.recurrent_kernel": ("weight", "recurrent"),
        "lstm.lstm_cell.bias": ("bias", "recurrent"),
        "gru.gru_cell.recurrent_kernel": ("weight", "recurrent"),
        "gru.gru_cell.bias": ("bias", "recurrent"),
        "dense.kernel": ("weight", "linear"),
        "dense.bias": ("bias", "linear"),
    }
    for name, (kind, role) in expected.items():
        t = ckpt.tensor(name)
        assert t is not None, [t.name for t in ckpt.tensors]
        assert (t.kind, t.role) == (kind, role), name
    stored = sum(v.size for v in weights.values())
    assert ckpt.totals.params + ckpt.totals.buffers == stored
    assert ckpt.totals.buffers == 64
    assert ckpt.totals.counts["other"] == 0
    assert ckpt.totals.categories.get("other", 0) == 0


def test_keras_and_torch_lstm_get_the_same_role(tmp_path):
    """The same layer saved by two frameworks: every weight is 'recurrent' in both."""
    torch.manual_seed(0)
    lstm = nn.LSTM(4, 6)
    torch_file = saved(lstm, tmp_path, ".safetensors")
    w_ih, w_hh = lstm.weight_ih_l0.detach().numpy(), lstm.weight_hh_l0.detach().numpy()
    bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach().numpy()
    keras_file = open_checkpoint(
        write_h5(
            tmp_path / "lstm.h5",
            {
                "lstm/lstm/lstm_cell/kernel:0": w_ih.T.copy(),
                "lstm/lstm/lstm_cell/recurrent_kernel:0": w_hh.T.copy(),
                "lstm/lstm/lstm_cell/bias:0": bias,
            },
            {"layer_names": [b"lstm"], "keras_version": "2.15.0"},
        )
    )
    assert {t.role for t in torch_file.tensors} == {t.role for t in keras_file.tensors}
    assert {t.role for t in keras_file.tensors} == {"recurrent"}


def test_tensorflow_variable_reads_are_named_by_their_variable(tmp_path):
    """tf2onnx keeps TensorFlow's names for the reads of variables (`…/kernel/Read/ReadVariableOp`,
    TF1 `…/kernel/read:0`): the variable's name says what the initializer is."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    arrays = {
        "sequential/conv2d/kernel/Read/ReadVariableOp:0": rng.standard_normal((4, 1, 3, 3)),
        "sequential/conv2d/bias/Read/ReadVariableOp:0": rng.standard_normal(4),
        "sequential/bn/moving_mean/read:0": np.zeros(4),
        "sequential/bn/gamma/read:0": np.ones(4),
        "sequential/dense/kernel/read:0": rng.standard_normal((36, 10)),
        "sequential/dense/bias/read:0": rng.standard_normal(10),
    }
    inits = [numpy_helper.from_array(v.astype(np.float32), k) for k, v in arrays.items()]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "tf",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        initializer=inits,
    )
    path = tmp_path / "tf.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    ckpt = open_checkpoint(path)
    by_name = {t.name: (t.kind, t.role) for t in ckpt.tensors}
    assert by_name == {
        "sequential/conv2d/kernel/Read/ReadVariableOp:0": ("weight", "conv"),
        "sequential/conv2d/bias/Read/ReadVariableOp:0": ("bias", "conv"),
        "sequential/bn/moving_mean/read:0": ("other", "buffer"),
        "sequential/bn/gamma/read:0": ("weight", "norm"),
        "sequential/dense/kernel/read:0": ("weight", "linear"),
        "sequential/dense/bias/read:0": ("bias", "linear"),
    }
    assert ckpt.totals.params == sum(v.size for k, v in arrays.items() if "moving" not in k)


def test_keras3_recurrent_cells_name_their_kernels(tmp_path):
    """Keras 3 files an LSTM's (GRU's, SimpleRNN's, a Bidirectional's) variables under its cell:
    `layers/lstm/cell/vars/0..2` are kernel, recurrent_kernel and bias."""
    import json
    import zipfile

    rng = np.random.default_rng(0)

    def f32(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    weights = {
        "layers/lstm/cell/vars/0": f32(8, 64),
        "layers/lstm/cell/vars/1": f32(16, 64),
        "layers/lstm/cell/vars/2": f32(64),
        "layers/bidirectional/forward_layer/cell/vars/0": f32(16, 24),
        "layers/bidirectional/forward_layer/cell/vars/1": f32(8, 24),
        "layers/bidirectional/forward_layer/cell/vars/2": f32(2, 24),
        "layers/bidirectional/backward_layer/cell/vars/0": f32(16, 24),
        "layers/bidirectional/backward_layer/cell/vars/1": f32(8, 24),
        "layers/bidirectional/backward_layer/cell/vars/2": f32(2, 24),
    }
    layers = [
        {"class_name": "LSTM", "config": {"name": "encoder", "units": 16}},
        {"class_name": "Bidirectional", "config": {"name": "bi", "layer": {"class_name": "GRU"}}},
    ]
    config = {"class_name": "Sequential", "config": {"name": "seq", "layers": layers}}
    h5 = write_h5(tmp_path / "w.h5", weights)
    path = tmp_path / "rnn.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.4.1"}))
        z.writestr("config.json", json.dumps(config))
        z.write(h5, "model.weights.h5")
    ckpt = open_checkpoint(path)
    names = {t.name: (t.kind, t.role) for t in ckpt.tensors}
    assert names["layers.encoder.cell.kernel"] == ("weight", "recurrent"), names
    assert names["layers.encoder.cell.recurrent_kernel"] == ("weight", "recurrent")
    assert names["layers.encoder.cell.bias"] == ("bias", "recurrent")
    assert names["layers.bi.backward_layer.cell.bias"] == ("bias", "recurrent")
    assert ckpt.totals.counts["other"] == 0


def test_flat_numpy_names_of_a_recurrent_model(tmp_path):
    """g2p-en ships its GRU seq2seq as a NumPy archive with flat names (`enc_w_ih`, `fc_w`,
    `enc_emb`): all of it was "other"."""
    rng = np.random.default_rng(0)
    arrays = {
        "enc_emb": rng.standard_normal((29, 256)),
        "enc_w_ih": rng.standard_normal((768, 256)),
        "enc_w_hh": rng.standard_normal((768, 256)),
        "enc_b_ih": rng.standard_normal(768),
        "enc_b_hh": rng.standard_normal(768),
        "fc_w": rng.standard_normal((74, 256)),
        "fc_b": rng.standard_normal(74),
    }
    path = tmp_path / "checkpoint20.npz"
    np.savez(path, **{k: v.astype(np.float32) for k, v in arrays.items()})
    ckpt = open_checkpoint(path)
    roles = {t.name: (t.kind, t.role) for t in ckpt.tensors}
    assert roles["enc_w_ih"] == roles["enc_w_hh"] == ("weight", "recurrent")
    assert roles["enc_b_ih"] == roles["enc_b_hh"] == ("bias", "recurrent")
    assert roles["fc_w"] == ("weight", "linear") and roles["fc_b"] == ("bias", "linear")
    assert roles["enc_emb"] == ("weight", "embedding")
    assert ckpt.totals.params == sum(v.size for v in arrays.values())


@pytest.mark.parametrize("stem", ["word2vec.syn0", "doc2vec_old_sep.syn1neg", "model.wv.vectors"])
def test_gensim_word_vectors_saved_as_npy_are_embedding_tables(tmp_path, stem):
    """gensim saves its vector tables as lone .npy files named `<model>.syn0`, `.syn1neg`,
    `.wv.vectors`: a [vocab, dim] table that was 100 % "other"."""
    path = tmp_path / f"{stem}.npy"
    np.save(path, np.random.default_rng(1).standard_normal((50, 8)).astype(np.float32))
    (t,) = open_checkpoint(path).tensors
    assert (t.kind, t.role) == ("weight", "embedding")
