"""Which tensors the engine can read, answered without numpy and once per dtype and encoding:
the same answer as asking of each tensor, on files the format libraries write."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

from core import open_checkpoint
from core.analysis.spectrum import geometry, spectrum_possible, weight_matrices
from core.readable import readable, statistics_possible
from tests.format_fixtures import write_gguf

ROOT = Path(__file__).resolve().parent.parent


def _mixed(tmp_path: Path) -> Path:
    tensors = {
        "a.weight": torch.randn(8, 4),
        "b.weight": torch.randn(8, 4).to(torch.bfloat16),
        "c.weight": torch.randn(8, 4).to(torch.float8_e4m3fn),
        "d.ids": torch.arange(6, dtype=torch.int64),
        "e.mask": torch.ones(3, dtype=torch.bool),
        "f.weight": torch.randn(4, 4, dtype=torch.complex64),
        "g.conv.weight": torch.randn(4, 2, 3, 3),
        "h.norm.weight": torch.ones(4),
    }
    path = tmp_path / "mixed.safetensors"
    save_file(tensors, str(path))
    return path


def test_readable_agrees_with_asking_each_tensor(tmp_path: Path) -> None:
    gguf_file = tmp_path / "tiny.gguf"
    write_gguf(gguf_file)  # F32, F16, Q8_0, Q4_0 and Q4_K tensors
    for path in (_mixed(tmp_path), gguf_file):
        tensors = open_checkpoint(path).tensors
        assert readable(tensors) == [t for t in tensors if statistics_possible(t)]
        each = [t for t in tensors if t.tied_to is None and spectrum_possible(t)]
        assert weight_matrices(tensors) == each
        assert all(geometry(t) is not None for t in each)
    names = [t.name for t in readable(open_checkpoint(_mixed(tmp_path)).tensors)]
    assert "f.weight" not in names and "a.weight" in names and "c.weight" in names


def test_asking_what_is_readable_never_loads_numpy(tmp_path: Path) -> None:
    path = _mixed(tmp_path)
    code = (
        "import sys; from core import open_checkpoint; from core.readable import readable; "
        f"print(len(readable(open_checkpoint({str(path)!r}).tensors)), 'numpy' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.split() == ["7", "False"]
