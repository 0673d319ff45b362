"""A folder holding several alternative files of one model (full precision and int8, safetensors
and a .bin, an fp16 copy, an ONNX export) opens the preferred one and names the others; files are
merged as shards only when an index or the `-0000N-of-0000M` naming says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoints import make_model, save_safetensors, save_sharded, torch_counts, untied_state_dict
from format_fixtures import write_onnx
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import save_file

from core.errors import CheckpointError
from core.open import open_checkpoint

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def model():
    return make_model(layers=2)


def _int8_copy(model, path: Path) -> Path:
    """What a quantisation script writes: int8 weights with a per-row scale beside each."""
    state = {}
    for name, value in untied_state_dict(model).items():
        array = value.float().numpy()
        if name.endswith(".weight") and array.ndim == 2:
            scale = np.abs(array).max(axis=1, keepdims=True) / 127 + 1e-12
            state[name] = np.round(array / scale).astype(np.int8)
            state[name.removesuffix("weight") + "weight_scale"] = scale.astype(np.float32)
        else:
            state[name] = value.numpy()
    save_numpy(state, str(path))
    return path


def _assert_opens_only(folder: Path, chosen: str, alternatives: list[str], model) -> None:
    checkpoint = open_checkpoint(folder)
    assert checkpoint.path == folder / chosen
    assert [p.relative_to(folder).as_posix() for p in checkpoint.alternatives] == alternatives
    assert checkpoint.totals.params == torch_counts(model)[0]
    assert not any("appears in both" in w for w in checkpoint.warnings)


def test_full_precision_and_int8_safetensors(tmp_path: Path, model):
    save_safetensors(model, tmp_path / "model.safetensors")
    _int8_copy(model, tmp_path / "model.int8.safetensors")
    (tmp_path / "config.json").write_text(json.dumps({"num_hidden_layers": 2}))
    _assert_opens_only(tmp_path, "model.safetensors", ["model.int8.safetensors"], model)


def test_safetensors_before_a_pytorch_bin(tmp_path: Path, model):
    save_safetensors(model, tmp_path / "model.safetensors")
    torch.save(model.state_dict(), tmp_path / "pytorch_model.bin")
    _assert_opens_only(tmp_path, "model.safetensors", ["pytorch_model.bin"], model)


def test_full_precision_before_its_fp16_copy(tmp_path: Path, model):
    half = {k: v.half() for k, v in untied_state_dict(model).items()}
    save_file(half, str(tmp_path / "model.fp16.safetensors"))
    save_safetensors(model, tmp_path / "model.safetensors")
    _assert_opens_only(tmp_path, "model.safetensors", ["model.fp16.safetensors"], model)


def test_an_fp16_copy_alone_opens_as_itself(tmp_path: Path, model):
    half = {k: v.half() for k, v in untied_state_dict(model).items()}
    save_file(half, str(tmp_path / "model.fp16.safetensors"))
    checkpoint = open_checkpoint(tmp_path)
    assert checkpoint.files == [tmp_path / "model.fp16.safetensors"]
    assert checkpoint.alternatives == []


def test_safetensors_beside_onnx_exports(tmp_path: Path, model):
    save_safetensors(model, tmp_path / "model.safetensors")
    write_onnx(tmp_path / "model.onnx", external=False)
    (tmp_path / "onnx").mkdir()
    write_onnx(tmp_path / "onnx" / "model.onnx", external=False)
    _assert_opens_only(tmp_path, "model.safetensors", ["model.onnx", "onnx/model.onnx"], model)


def test_named_shards_and_an_index_still_merge(tmp_path: Path, model):
    for index in (True, False):
        folder = save_sharded(model, tmp_path / f"sharded-{index}", index=index)
        checkpoint = open_checkpoint(folder)
        assert len(checkpoint.files) == 3 and checkpoint.alternatives == []
        assert checkpoint.totals.params == torch_counts(model)[0]


def test_unrelated_safetensors_files_are_not_merged(tmp_path: Path, model):
    save_safetensors(model, tmp_path / "encoder.safetensors")
    save_safetensors(make_model(seed=1, layers=2), tmp_path / "decoder.safetensors")
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(tmp_path)
    message = str(caught.value)
    assert "encoder.safetensors" in message and "decoder.safetensors" in message


def test_cli_names_the_alternatives(tmp_path: Path, model):
    save_safetensors(model, tmp_path / "model.safetensors")
    _int8_copy(model, tmp_path / "model.int8.safetensors")
    run = [sys.executable, str(ROOT / "main.py"), "info", str(tmp_path)]
    text = subprocess.run(run, capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert text.returncode == 0, text.stderr
    (note,) = [line for line in text.stdout.splitlines() if "model.int8.safetensors" in line]
    assert "alternative" in note
    as_json = subprocess.run(run + ["--json"], capture_output=True, text=True, timeout=60, cwd=ROOT)
    document = json.loads(as_json.stdout)
    assert document["alternatives"] == [str(tmp_path / "model.int8.safetensors")]
    assert document["path"] == str(tmp_path / "model.safetensors")
