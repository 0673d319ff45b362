"""`paramscope stats` on real files: the JSON a script reads, the text a person reads, the errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from core import stats
from core.cli import main as cli_main

KEYS = {
    "name",
    "dtype",
    "shape",
    "numel",
    "nan",
    "inf",
    "zeros",
    "min",
    "max",
    "mean",
    "std",
    "abs_mean",
    "l2",
    "flags",
    "histogram",
}
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def model_file(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    stats.clear_cache()
    generator = torch.Generator().manual_seed(0)
    tensors = {
        "layers.0.mlp.weight": torch.randn(64, 32, generator=generator).to(torch.bfloat16),
        "layers.0.mlp.bias": torch.zeros(64),
        "layers.1.mlp.weight": torch.randn(64, 32, generator=generator),
    }
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path))
    return path, tensors


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli_main(["stats", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_tensor_json_has_exactly_the_documented_keys(capsys, model_file):
    path, tensors = model_file
    code, out, _ = run(
        capsys, str(path), "--tensor", "layers.1.mlp.weight", "--bins", "20", "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert set(result) == KEYS and set(result["histogram"]) == {"edges", "counts"}
    values = tensors["layers.1.mlp.weight"].double().numpy().ravel()
    assert result["shape"] == [64, 32] and result["numel"] == values.size
    assert result["std"] == pytest.approx(values.std(), rel=1e-12)
    assert result["histogram"]["counts"] == np.histogram(values, 20)[0].tolist()


def test_all_puts_every_tensor_under_tensors(capsys, model_file):
    path, tensors = model_file
    code, out, _ = run(capsys, str(path), "--all", "--json")
    assert code == 0
    document = json.loads(out)
    assert {r["name"] for r in document["tensors"]} == set(tensors)
    bias = next(r for r in document["tensors"] if r["name"] == "layers.0.mlp.bias")
    assert (
        bias["flags"] == ["dead"]
        and bias["zeros"] == 64
        and len(bias["histogram"]["counts"]) == 128
    )


def test_module_takes_its_parameters_together(capsys, model_file):
    path, tensors = model_file
    code, out, _ = run(capsys, str(path), "--module", "layers.0", "--json", "--bins", "8")
    assert code == 0
    result = json.loads(out)
    values = np.concatenate(
        [tensors[k].double().numpy().ravel() for k in tensors if "layers.0" in k]
    )
    assert result["numel"] == values.size and result["mean"] == pytest.approx(values.mean())
    assert sum(result["histogram"]["counts"]) == values.size


def test_text_output_reads_like_a_summary(capsys, model_file):
    path, _ = model_file
    code, out, _ = run(capsys, str(path), "--tensor", "layers.0.mlp.bias")
    assert code == 0
    assert "layers.0.mlp.bias  float32  64  64 values" in out
    assert "⚑ dead: every value is zero or the same" in out
    code, out, _ = run(capsys, str(path), "--all")
    assert code == 0 and out.splitlines()[0].startswith("tensor") and len(out.splitlines()) == 4


def test_bad_names_and_unreadable_data_exit_2(capsys, model_file, tmp_path: Path):
    path, _ = model_file
    code, out, err = run(capsys, str(path), "--tensor", "layers.0.mlp.weigth")
    assert code == 2 and out == ""
    assert "no tensor is called 'layers.0.mlp.weigth'" in err and "layers.0.mlp.weight" in err
    code, _, err = run(capsys, str(path), "--module", "decoder")
    assert code == 2 and "no module is called 'decoder'" in err
    cut = tmp_path / "cut.safetensors"
    data = path.read_bytes()
    header = 8 + int.from_bytes(data[:8], "little")
    cut.write_bytes(data[: header + 100])
    code, _, err = run(capsys, str(cut), "--all")
    assert code == 2 and "paramscope: cut.safetensors: no tensor data can be read" in err
    assert "its data lies past the end of the truncated file; skipped" in err
    assert "Traceback" not in err


def test_the_command_imports_neither_torch_nor_qt(model_file):
    path, _ = model_file
    code = (
        "import sys, main; rc = main.main(['stats', sys.argv[1], '--all', '--json']);"
        "bad = [m for m in ('torch', 'PySide6', 'pyqtgraph') if m in sys.modules];"
        "print(bad, file=sys.stderr); sys.exit(rc or (3 if bad else 0))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def test_unsupported_dtypes_are_skipped_with_a_reason(capsys, tmp_path: Path):
    path = tmp_path / "complex.safetensors"
    save_file({"phase": torch.randn(4, dtype=torch.complex64), "real": torch.randn(5)}, str(path))
    code, out, err = run(capsys, str(path), "--all", "--json")
    assert code == 0 and [r["name"] for r in json.loads(out)["tensors"]] == ["real"]
    assert "phase: statistics of complex64 are not supported yet; skipped" in err
    code, _, err = run(capsys, str(path), "--tensor", "phase")
    assert code == 2 and "not supported" in err
