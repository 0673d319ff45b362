"""Keras and HDF5: a `.keras` archive and tf.keras-style `.h5` weights written with h5py open
with the writer's datasets as tensors, named by layer and variable, with data sources that read
back h5py's values; the Keras config is a hyperparameter source; cut files are refused by name."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from format_fixtures import (
    KERAS_CONFIG,
    legacy_h5_weights,
    truncate,
    write_h5,
    write_keras,
)

from core.errors import CheckpointError
from core.model import TensorInfo
from core.open import open_checkpoint

ROOT = Path(__file__).resolve().parent.parent
# Keras 3 paths (class-based) → what ParamScope shows: the config's layer names, named vars
KERAS3_NAMES = {
    "layers/dense/vars/0": "layers.encoder.kernel",
    "layers/dense/vars/1": "layers.encoder.bias",
    "layers/batch_normalization/vars/0": "layers.bn.gamma",
    "layers/batch_normalization/vars/1": "layers.bn.beta",
    "layers/batch_normalization/vars/2": "layers.bn.moving_mean",
    "layers/batch_normalization/vars/3": "layers.bn.moving_variance",
    "layers/dense_1/vars/0": "layers.head.kernel",
    "layers/dense_1/vars/1": "layers.head.bias",
    "layers/dense_2/vars/0": "layers.proj.kernel",  # use_bias=False: one var
    "optimizer/vars/0": "optimizer.vars.0",
    "optimizer/vars/1": "optimizer.vars.1",
}


def values_at(t: TensorInfo) -> np.ndarray:
    storage = {"float32": "<f4", "int64": "<i8"}[t.dtype]
    with open(t.source.file, "rb") as f:
        f.seek(t.source.offset)
        return np.frombuffer(f.read(t.source.nbytes), storage).reshape(t.shape)


def test_keras_archive_layers_vars_and_config(tmp_path):
    path = tmp_path / "model.keras"
    weights = write_keras(path)
    ckpt = open_checkpoint(path)
    assert ckpt.format == "keras"
    assert sorted(t.name for t in ckpt.tensors) == sorted(KERAS3_NAMES.values())
    for stored, name in KERAS3_NAMES.items():
        t = ckpt.tensor(name)
        assert t.shape == weights[stored].shape, name
        np.testing.assert_array_equal(values_at(t), weights[stored])
    model = [v for k, v in weights.items() if k.startswith("layers/")]
    buffers = 16 * 2  # moving mean and variance
    assert ckpt.totals.params == sum(a.size for a in model) - buffers
    assert ckpt.totals.buffers == buffers
    assert ckpt.totals.optimizer_state == 1 + 8 * 16
    assert ckpt.tensor("layers.encoder.kernel").role == "linear"
    assert ckpt.tensor("layers.encoder.bias").kind == "bias"
    assert ckpt.tensor("layers.bn.gamma").role == "norm"
    assert ckpt.tensor("layers.bn.moving_mean").role == "buffer"
    assert ckpt.hyperparams["keras config"] == KERAS_CONFIG
    assert ckpt.facts["keras"] == "3.4.1" and ckpt.facts["model"] == "Sequential"


def test_compressed_weights_member_is_counted_without_sources(tmp_path):
    path = tmp_path / "model.keras"
    write_keras(path, compress_weights=True)
    ckpt = open_checkpoint(path)
    assert len(ckpt.tensors) == len(KERAS3_NAMES)
    assert all(t.source is None for t in ckpt.tensors)
    assert any("compressed" in w for w in ckpt.warnings)


def test_legacy_h5_weights_build_the_layer_tree(tmp_path):
    weights = legacy_h5_weights()
    path = write_h5(tmp_path / "weights.h5", weights, {"keras_version": "2.15.0"})
    ckpt = open_checkpoint(path)
    assert ckpt.format == "keras"
    assert sorted(ckpt.tree.children) == ["bn", "conv", "dense"]
    for stored, array in weights.items():
        layer, _, leaf = stored.partition("/")[2].partition("/")
        t = ckpt.tensor(f"{layer}.{leaf.removesuffix(':0')}")
        np.testing.assert_array_equal(values_at(t), array)
    assert ckpt.tensor("conv.kernel").role == "conv"
    assert ckpt.tensor("bn.moving_mean").role == "buffer"
    assert ckpt.totals.buffers == 8


def test_plain_hdf5_and_chunked_datasets(tmp_path):
    import h5py

    path = tmp_path / "plain.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("encoder/w", data=np.ones((4, 4), np.float32))
        f.create_dataset("encoder/single_chunk", data=np.arange(6.0).reshape(2, 3), chunks=(2, 3))
        f.create_dataset("encoder/gz", data=np.ones((64, 64), np.float32), compression="gzip")
        f.create_dataset("names", data=np.array([b"a", b"b"]))
    ckpt = open_checkpoint(path)
    assert ckpt.format == "hdf5"
    assert sorted(t.name for t in ckpt.tensors) == [
        "encoder.gz",
        "encoder.single_chunk",
        "encoder.w",
    ]
    np.testing.assert_array_equal(values_at(ckpt.tensor("encoder.w")), np.ones((4, 4)))
    chunk = ckpt.tensor("encoder.single_chunk")
    with open(chunk.source.file, "rb") as f:
        f.seek(chunk.source.offset)
        assert np.frombuffer(f.read(48), "<f8").tolist() == list(range(6))
    assert ckpt.tensor("encoder.gz").source is None
    assert any("compressed" in w for w in ckpt.warnings)
    assert any("non-numeric" in w for w in ckpt.warnings)


def test_truncated_and_corrupt_files_are_checkpoint_errors(tmp_path):
    path = write_h5(tmp_path / "weights.h5", legacy_h5_weights())
    for keep in (100, path.stat().st_size // 2, path.stat().st_size - 64):
        with pytest.raises(CheckpointError) as caught:
            open_checkpoint(truncate(path, keep, tmp_path / f"cut{keep}.h5"))
        assert f"cut{keep}.h5" in str(caught.value)
    archive = tmp_path / "model.keras"
    write_keras(archive)
    for keep in (200, archive.stat().st_size - 40):
        with pytest.raises(CheckpointError) as caught:
            open_checkpoint(truncate(archive, keep, tmp_path / f"cut{keep}.keras"))
        assert "truncated" in str(caught.value) or "corrupt" in str(caught.value)


def test_cli_info_on_keras(tmp_path):
    path = tmp_path / "model.keras"
    write_keras(path)
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert "keras" in run.stdout and "encoder" in run.stdout and "head" in run.stdout


def test_damaged_zip_entries_are_checkpoint_errors(tmp_path):
    """config.json's extra-field length pointing past its data (zipfile raises EOFError) and its
    compression method naming no known method (NotImplementedError): both are errors that say
    the archive is damaged, not reports of a bug."""
    archive = tmp_path / "model.keras"
    write_keras(archive)
    good = archive.read_bytes()
    with zipfile.ZipFile(archive) as zf:
        first, config = zf.infolist()[:2]
        assert config.filename == "config.json"
        extra_length = config.header_offset + 29  # the local header's extra length, high byte
        # the central directory lists metadata.json first (46 bytes + its name), then config.json
        method = zf.start_dir + 46 + len(first.filename) + 10
    for offset in (extra_length, method):
        damaged = bytearray(good)
        damaged[offset] = 0xFF
        path = tmp_path / f"damaged{offset}.keras"
        path.write_bytes(bytes(damaged))
        with pytest.raises(CheckpointError) as caught:
            open_checkpoint(path)
        message = str(caught.value)
        assert "config.json" in message, message
        assert any(w in message for w in ("cannot be read", "damaged", "truncated")), message


def test_attention_sublayers_name_their_kernels(tmp_path):
    """Keras 3 files a MultiHeadAttention's projections as query_dense/vars/0 … (EinsumDense
    layers it owns): they are kernels and biases, not anonymous vars."""
    import json

    rng = np.random.default_rng(0)
    weights = {}
    for part in ("query", "key", "value"):
        weights[f"layers/multi_head_attention/{part}_dense/vars/0"] = rng.standard_normal(
            (8, 2, 4)
        ).astype(np.float32)
        weights[f"layers/multi_head_attention/{part}_dense/vars/1"] = np.zeros((2, 4), np.float32)
    weights["layers/multi_head_attention/output_dense/vars/0"] = rng.standard_normal(
        (2, 4, 8)
    ).astype(np.float32)
    weights["layers/multi_head_attention/output_dense/vars/1"] = np.zeros(8, np.float32)
    config = {
        "class_name": "Functional",
        "config": {
            "name": "model",
            "layers": [
                {"class_name": "MultiHeadAttention", "config": {"name": "attn", "num_heads": 2}}
            ],
        },
    }
    h5 = write_h5(tmp_path / "w.h5", weights)
    path = tmp_path / "attention.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.4.1"}))
        z.writestr("config.json", json.dumps(config))
        z.write(h5, "model.weights.h5")
    ckpt = open_checkpoint(path)
    kernel = ckpt.tensor("layers.attn.query_dense.kernel")
    assert kernel is not None and kernel.kind == "weight", [t.name for t in ckpt.tensors]
    assert ckpt.tensor("layers.attn.output_dense.bias").kind == "bias"
    assert ckpt.totals.counts["other"] == 0
