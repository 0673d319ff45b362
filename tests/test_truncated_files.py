"""A file cut short with its header intact opens the same way in every format: the header is
shown, tensors past the end are missing, the one the file ends inside is partial, and statistics
are only of the tensors that are whole (a partial one is refused, never half-computed)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from format_fixtures import truncate, write_gguf
from safetensors.numpy import save_file

from core import stats
from core.errors import CheckpointError
from core.open import open_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def _safetensors(path: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    arrays = {
        f"layers.{i}.weight": rng.standard_normal((64, 64)).astype(np.float32) for i in range(4)
    }
    save_file(arrays, str(path))
    return arrays


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("gguf") / "tiny.gguf"
    write_gguf(path)
    return path


def test_a_cut_gguf_counts_whole_partial_and_missing(gguf_file: Path, tmp_path: Path):
    whole = open_checkpoint(gguf_file)
    first = min(whole.tensors, key=lambda t: t.source.offset)
    # cut inside the first tensor's data: every other tensor lies wholly past the end
    cut = truncate(gguf_file, first.source.offset + 10, tmp_path / "cut.gguf")
    checkpoint = open_checkpoint(cut)
    n = len(whole.tensors)
    assert len(checkpoint.tensors) == n
    assert checkpoint.tensor(first.name).truncated == "partial"
    assert sum(t.truncated == "missing" for t in checkpoint.tensors) == n - 1
    (warning,) = [w for w in checkpoint.warnings if "truncated" in w]
    assert f"of {n} tensors 0 whole, 1 partial ({first.name})" in warning
    assert f"{n - 1} missing" in warning
    assert f"{n} of {n} tensors lie beyond" not in warning


def test_a_cut_safetensors_opens_like_a_cut_gguf(tmp_path: Path):
    path = tmp_path / "model.safetensors"
    arrays = _safetensors(path)
    size = path.stat().st_size
    cut = truncate(path, size - 64 * 64 * 4 - 100, tmp_path / "cut.safetensors")
    checkpoint = open_checkpoint(cut)  # refused before
    assert [t.name for t in checkpoint.tensors] == list(arrays)
    states = {t.name: t.truncated for t in checkpoint.tensors}
    assert states == {
        "layers.0.weight": "",
        "layers.1.weight": "",
        "layers.2.weight": "partial",
        "layers.3.weight": "missing",
    }
    (warning,) = [w for w in checkpoint.warnings if "truncated" in w]
    assert "of 4 tensors 2 whole, 1 partial (layers.2.weight), 1 missing (layers.3.weight)" in (
        warning
    )
    assert checkpoint.totals.params == 4 * 64 * 64  # the header's counts are whole

    # statistics of what is there: whole tensors exactly, the model without the cut ones
    result = stats.tensor_stats(checkpoint.tensor("layers.1.weight"), bins=8)
    assert result.mean == pytest.approx(float(arrays["layers.1.weight"].astype(np.float64).mean()))
    model = stats.model_stats(checkpoint, bins=8)
    assert set(model.skipped) == {"layers.2.weight", "layers.3.weight"}
    kept = np.concatenate([arrays[f"layers.{i}.weight"].ravel() for i in (0, 1)])
    assert model.mean == pytest.approx(float(kept.astype(np.float64).mean()))
    with pytest.raises(CheckpointError, match="past the end of the truncated file"):
        stats.tensor_stats(checkpoint.tensor("layers.3.weight"))
    with pytest.raises(CheckpointError, match="ends inside its data: statistics of part"):
        stats.tensor_stats(checkpoint.tensor("layers.2.weight"))
    health = stats.health(checkpoint)
    assert set(health) == {"layers.0.weight", "layers.1.weight"}


def test_a_safetensors_file_cut_inside_its_header_is_still_refused(tmp_path: Path):
    path = tmp_path / "model.safetensors"
    _safetensors(path)
    with pytest.raises(CheckpointError, match="truncated"):
        open_checkpoint(truncate(path, 40, tmp_path / "cut.safetensors"))


def test_info_json_marks_cut_tensors_and_gives_the_ggml_order(gguf_file: Path, tmp_path: Path):
    whole = open_checkpoint(gguf_file)
    last = max(whole.tensors, key=lambda t: t.source.offset)
    cut = truncate(gguf_file, last.source.offset + 10, tmp_path / "cut.gguf")
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "info", str(cut), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    tensors = {t["name"]: t for t in json.loads(run.stdout)["tensors"]}
    assert tensors[last.name]["data"] == "partial"
    assert "data" not in tensors["token_embd.weight"]
    for name, t in tensors.items():
        assert t["ggml_shape"] == list(reversed(t["shape"])), name
    assert tensors["token_embd.weight"]["shape"][0] > tensors["token_embd.weight"]["ggml_shape"][0]


def test_the_tree_tooltip_gives_the_ggml_order_and_the_cut(qtbot, gguf_file: Path, tmp_path: Path):
    from PySide6.QtCore import Qt

    from gui.layer_tree import LayerTree

    whole = open_checkpoint(gguf_file)
    last = max(whole.tensors, key=lambda t: t.source.offset)
    checkpoint = open_checkpoint(truncate(gguf_file, last.source.offset + 10, tmp_path / "c.gguf"))
    tree = LayerTree(checkpoint)
    qtbot.addWidget(tree)
    for name, words in (
        ("token_embd.weight", ["(64, 1000)", "ggml order"]),
        (last.name, ["partial", "truncated"]),
    ):
        assert tree.select_path(name)
        tip = tree.view.currentIndex().data(Qt.ItemDataRole.ToolTipRole)
        for word in words:
            assert word in tip, tip
