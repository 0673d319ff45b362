"""TorchScript archives (`torch.jit.save`): recognised as such, read inertly, parameters told from
buffers by the archive's own class declarations, and the archive's code readable as text."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from core import stats
from core.cli import main as cli_main
from core.open import open_checkpoint
from core.torchscript import code_files, read_code
from tests.torchscript_fixtures import (
    frozen_constants,
    save_frozen,
    save_quantized,
    save_scripted,
    save_traced,
)

SAVERS = {"scripted": save_scripted, "traced": save_traced}


@pytest.fixture(params=sorted(SAVERS))
def archive(request, tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    path = tmp_path / f"{request.param}.pt"
    return path, SAVERS[request.param](path)


def test_recognised_as_torchscript_without_a_false_alarm(archive):
    path, _ = archive
    checkpoint = open_checkpoint(path)
    assert checkpoint.format == "torchscript"
    assert not [w for w in checkpoint.warnings if "run code" in w or "blocked" in w]


def test_parameters_and_buffers_are_the_modules_own(archive):
    path, net = archive
    checkpoint = open_checkpoint(path)
    params = dict(net.named_parameters())
    buffers = dict(net.named_buffers())
    shown_params = {t.name: t for t in checkpoint.tensors if t.is_parameter}
    shown_buffers = {t.name: t for t in checkpoint.tensors if t.is_buffer}
    assert set(shown_params) == set(params)  # mask_token is a parameter despite its name
    assert set(shown_buffers) == set(buffers)  # anchors is a buffer despite its name
    for name, tensor in {**params, **buffers}.items():
        shown = shown_params.get(name) or shown_buffers[name]
        assert shown.shape == tuple(tensor.shape)
        assert shown.dtype == str(tensor.dtype).removeprefix("torch.")
    assert checkpoint.totals.params == sum(p.numel() for p in params.values())
    assert checkpoint.totals.buffers == sum(b.numel() for b in buffers.values())


def test_empty_tensor_attributes_are_no_rows(tmp_path: Path):
    path = tmp_path / "scripted.pt"
    save_scripted(path)
    checkpoint = open_checkpoint(path)
    names = {t.name for t in checkpoint.tensors}
    assert "_state" not in names and "_context" not in names
    assert "_state" not in checkpoint.tree.children
    assert "_state" in checkpoint.facts.get("empty tensor attributes", "")


def test_values_match_the_tensors(archive):
    path, net = archive
    stats.clear_cache()
    checkpoint = open_checkpoint(path)
    expected = {**dict(net.named_parameters()), **dict(net.named_buffers())}
    for name, tensor in expected.items():
        values = tensor.detach().double().numpy().ravel()
        result = stats.tensor_stats(checkpoint.tensor(name))
        assert result.numel == values.size
        assert result.min == pytest.approx(values.min())
        assert result.max == pytest.approx(values.max())
        assert result.mean == pytest.approx(values.mean(), rel=1e-9, abs=1e-12)


def test_frozen_module_shows_its_folded_constants(tmp_path: Path):
    path = tmp_path / "frozen.pt"
    frozen = save_frozen(path)
    checkpoint = open_checkpoint(path)
    assert checkpoint.format == "torchscript"
    assert not [w for w in checkpoint.warnings if "run code" in w or "blocked" in w]
    constants = frozen_constants(frozen)
    shown = [t for t in checkpoint.tensors if t.name.startswith("CONSTANTS.")]
    assert sorted(t.shape for t in shown) == sorted(tuple(c.shape) for c in constants)
    assert checkpoint.totals.params + checkpoint.totals.buffers == sum(c.numel() for c in constants)
    assert "frozen" in checkpoint.facts
    stats.clear_cache()
    expected = sorted(float(c.double().sum()) for c in constants)
    got = sorted(stats.tensor_stats(t).mean * t.numel for t in shown)
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


def test_code_is_listed_and_read_as_text(tmp_path: Path):
    path = tmp_path / "scripted.pt"
    save_scripted(path)
    files = code_files(path)
    names = [f.name for f in files]
    assert "__torch__/torch/nn/modules/batchnorm.py" in names
    assert not any(n.endswith(".debug_pkl") for n in names)
    text = read_code(path, "__torch__/torch/nn/modules/batchnorm.py")
    assert '__buffers__ = ["running_mean", "running_var", "num_batches_tracked", ]' in text
    assert read_code(path, "__torch__/torch/nn/modules/batchnorm.py", limit=20).endswith("…")


def test_plain_pytorch_has_no_code(tmp_path: Path):
    path = tmp_path / "state.pt"
    torch.save({"w": torch.ones(2)}, path)
    assert code_files(path) == []
    assert open_checkpoint(path).format == "pytorch"


def test_cli_info_and_stats(archive, capsys):
    path, net = archive
    assert cli_main(["info", str(path), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["format"] == "torchscript"
    assert info["total_params"] == sum(p.numel() for p in net.parameters())
    assert info["total_buffers"] == sum(b.numel() for b in net.buffers())
    stats.clear_cache()
    assert cli_main(["stats", str(path), "--tensor", "blocks.1.conv.weight", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    values = net.blocks[1].conv.weight.detach().double().numpy().ravel()
    assert result["shape"] == [4, 4, 3, 3]
    assert result["std"] == pytest.approx(values.std(), rel=1e-9)


def test_code_that_is_no_python_still_opens(tmp_path: Path):
    """Declarations are read as text: a class file that Python cannot parse is no crash."""
    path = tmp_path / "scripted.pt"
    save_scripted(path)
    broken = tmp_path / "broken.pt"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("torchscript_fixtures.py"):
                data = data.replace(b"def forward", b"def forward((")
            target.writestr(info, data)
    checkpoint = open_checkpoint(broken)
    assert checkpoint.format == "torchscript"
    buffers = {t.name for t in checkpoint.tensors if t.is_buffer}
    assert "blocks.0.anchors" in buffers and "blocks.0.bn.running_var" in buffers
    assert np.isfinite(checkpoint.totals.params)


def test_quantised_weights_are_their_stored_integers_without_an_alarm(tmp_path: Path):
    path = tmp_path / "quantised.pt"
    weights = save_quantized(path)
    checkpoint = open_checkpoint(path)
    assert not [w for w in checkpoint.warnings if "run code" in w or "blocked" in w]
    stats.clear_cache()
    for expected in weights:
        shown = [t for t in checkpoint.tensors if t.shape == tuple(expected.shape)]
        assert len(shown) == 1 and shown[0].dtype == "int8"
        values = expected.double().numpy().ravel()
        result = stats.tensor_stats(shown[0])
        assert (result.min, result.max) == (values.min(), values.max())
        assert result.mean == pytest.approx(values.mean(), rel=1e-12)


class _WithTable(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(3, 3)
        self.table = torch.arange(6.0)  # a plain tensor attribute: not in the state dict

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x) + self.table[:3]


def test_a_tensor_attribute_is_other_state_not_a_parameter(tmp_path: Path):
    path = tmp_path / "table.pt"
    module = _WithTable()
    torch.jit.script(module).save(str(path))
    checkpoint = open_checkpoint(path)
    table = checkpoint.tensor("table")
    assert table is not None and table.shape == (6,)
    assert not table.is_parameter and not table.is_buffer and table.section == "training"
    assert checkpoint.totals.params == sum(p.numel() for p in module.parameters())
    assert checkpoint.totals.training_state == 6
