"""Eigenvalue spectra and WeightWatcher's metrics, against matrices whose spectra are known.

Every fixture is a real file written as a user's would be (safetensors, torch Conv2d, GGUF);
eigenvalues are checked against numpy's SVD of the same values, the power-law fit against a
plain implementation of its definition written here.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from core import dequant
from core.analysis import spectrum
from core.errors import Cancelled, CheckpointError
from core.open import open_checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _fresh_cache():
    spectrum.clear_cache()
    yield
    spectrum.clear_cache()


def _svd_evals(w: np.ndarray) -> np.ndarray:
    return np.sort(np.linalg.svd(w.astype(np.float64), compute_uv=False) ** 2)


def _tensor(path: Path, name: str):
    t = open_checkpoint(path).tensor(name)
    assert t is not None
    return t


def _with_singular_values(rows: int, cols: int, sv: np.ndarray, seed: int = 0) -> np.ndarray:
    """U·diag(sv)·Vᵀ with U, V orthonormal from QR of Gaussian matrices."""
    rng = np.random.default_rng(seed)
    k = sv.size
    u, _ = np.linalg.qr(rng.standard_normal((rows, k)))
    v, _ = np.linalg.qr(rng.standard_normal((cols, k)))
    return (u * sv) @ v.T


def reference_fit(evals: np.ndarray) -> tuple[float, float, float]:
    """The fit by its definition, one candidate at a time in plain Python: for each xmin,
    α = 1 + n / Σ ln(λ/xmin) and D = max |(1 − (λ/xmin)^(1−α)) − i/n| over the tail."""
    data = sorted(float(x) for x in evals if x > 1e-5)
    best = (math.inf, 0.0, 0.0)
    for i, xmin in enumerate(data[:-1]):
        tail = data[i:]
        n = len(tail)
        alpha = 1 + n / sum(math.log(x / xmin) for x in tail)
        if alpha <= 1:
            continue
        d = max(abs(1 - (x / xmin) ** (1 - alpha) - j / n) for j, x in enumerate(tail))
        if d < best[0]:
            best = (d, alpha, xmin)
    return best[1], best[2], best[0]


def test_gaussian_matrix_gives_svd_eigenvalues_and_marchenko_pastur_edges(tmp_path: Path):
    rows, cols = 3000, 600
    w = np.random.default_rng(1).standard_normal((rows, cols)).astype(np.float32)
    save_file({"fc.weight": w}, tmp_path / "m.safetensors")
    result = spectrum.layer_spectrum(_tensor(tmp_path / "m.safetensors", "fc.weight"))
    expected = _svd_evals(w)
    assert result.num_evals == cols
    np.testing.assert_allclose(result.evals, expected, rtol=1e-9, atol=1e-9 * expected[-1])
    # Marchenko–Pastur: the bulk of WᵀW lies in [(√rows − √cols)², (√rows + √cols)²] for σ = 1
    lo, hi = (math.sqrt(rows) - math.sqrt(cols)) ** 2, (math.sqrt(rows) + math.sqrt(cols)) ** 2
    assert result.evals[0] == pytest.approx(lo, rel=0.05)
    assert result.lambda_max == pytest.approx(hi, rel=0.05)
    assert result.stable_rank == pytest.approx(expected.sum() / expected[-1], rel=1e-12)
    assert result.log_norm == pytest.approx(math.log10(float((w.astype(float) ** 2).sum())))
    assert result.rank == cols


@pytest.mark.parametrize("shape", [(400, 120), (90, 700)], ids=["tall", "wide"])
def test_chosen_singular_values_come_back_through_small_blocks(tmp_path: Path, monkeypatch, shape):
    sv = np.geomspace(10.0, 0.1, 80)
    w = _with_singular_values(*shape, sv)
    save_file({"w": w}, tmp_path / "m.safetensors")
    # blocks of a few rows and groups of a few blocks: every path of the chunked Gram is taken
    monkeypatch.setattr(spectrum, "BLOCK_BYTES", 8 * 700 * 7)
    monkeypatch.setattr(spectrum, "GROUP_BYTES", 8 * 700 * 21)
    result = spectrum.layer_spectrum(_tensor(tmp_path / "m.safetensors", "w"))
    assert result.num_evals == min(shape)
    np.testing.assert_allclose(result.evals[-80:], np.sort(sv**2), rtol=1e-9)
    assert np.all(np.abs(result.evals[:-80]) < 1e-12)
    assert result.rank == 80  # the zero eigenvalues are not counted
    assert result.lambda_max == pytest.approx(100.0, rel=1e-12)


def test_bf16_weight_is_decoded(tmp_path: Path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as save_torch

    w = torch.randn(64, 48, generator=torch.Generator().manual_seed(3)).to(torch.bfloat16)
    save_torch({"w": w}, tmp_path / "m.safetensors")
    result = spectrum.layer_spectrum(_tensor(tmp_path / "m.safetensors", "w"))
    np.testing.assert_allclose(result.evals, _svd_evals(w.float().numpy()), rtol=1e-9, atol=1e-9)


def test_heavy_tailed_spectrum_fits_its_exponent_and_matches_the_reference_fit(tmp_path: Path):
    # eigenvalues drawn from a Pareto law p(λ) ∝ λ^(−3) for λ ≥ 1: the fit's α should be ≈ 3
    rng = np.random.default_rng(7)
    evals = (1 - rng.random(600)) ** (-1 / (3 - 1))
    w = _with_singular_values(900, 600, np.sqrt(evals), seed=2)
    save_file({"w": w}, tmp_path / "m.safetensors")
    result = spectrum.layer_spectrum(_tensor(tmp_path / "m.safetensors", "w"))
    np.testing.assert_allclose(result.evals, np.sort(evals), rtol=1e-8)
    alpha, xmin, d = reference_fit(result.evals)
    assert result.alpha == pytest.approx(alpha, rel=1e-9)
    assert result.xmin == pytest.approx(xmin, rel=1e-12)
    distance = result.D
    assert distance == pytest.approx(d, rel=1e-9)
    assert result.alpha == pytest.approx(3.0, abs=0.35)
    assert result.num_pl_spikes == int(np.count_nonzero(result.evals >= result.xmin))
    assert result.alpha_weighted == pytest.approx(alpha * math.log10(evals.max()), rel=1e-9)
    assert result.warning == ""


def test_warnings_follow_weightwatchers_thresholds():
    rng = np.random.default_rng(0)
    steep = np.sort((1 - rng.random(500)) ** (-1 / (9 - 1)))  # α ≈ 9
    assert spectrum.metrics("w", (500, 500), steep, 500).warning == "under-trained"
    flat = np.sort((1 - rng.random(500)) ** (-1 / (1.5 - 1)))  # α ≈ 1.5
    assert spectrum.metrics("w", (500, 500), flat, 500).warning == "over-trained"


def test_conv_kernel_is_pooled_kernel_position_matrices(tmp_path: Path):
    torch = pytest.importorskip("torch")
    from safetensors.torch import save_file as save_torch

    torch.manual_seed(0)
    conv = torch.nn.Conv2d(16, 32, 3)
    save_torch({"conv.weight": conv.weight.detach().contiguous()}, tmp_path / "c.safetensors")
    t = _tensor(tmp_path / "c.safetensors", "conv.weight")
    result = spectrum.layer_spectrum(t)
    w = conv.weight.detach().double().numpy()
    # WeightWatcher: one out×in matrix per kernel position, pooled, after W × √½
    expected = np.sort(
        np.concatenate([_svd_evals(w[:, :, i, j]) for i in range(3) for j in range(3)]) * 0.5
    )
    assert result.num_evals == 9 * 16
    np.testing.assert_allclose(result.evals, expected, rtol=1e-9, atol=1e-12)


def test_quantised_gguf_weight_is_dequantised(tmp_path: Path):
    gguf = pytest.importorskip("gguf")
    rng = np.random.default_rng(5)
    values = rng.standard_normal((96, 256)).astype(np.float32)
    writer = gguf.GGUFWriter(str(tmp_path / "q.gguf"), "llama")
    blocks = gguf.quants.quantize(values, gguf.GGMLQuantizationType.Q8_0)
    writer.add_tensor(
        "blk.0.ffn_up.weight",
        blocks,
        raw_shape=blocks.shape,
        raw_dtype=gguf.GGMLQuantizationType.Q8_0,
    )
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    t = _tensor(tmp_path / "q.gguf", "blk.0.ffn_up.weight")
    assert t.source.encoding == "Q8_0"
    with open(t.source.file, "rb") as f:
        f.seek(t.source.offset)
        dequantised = dequant.dequantize(f.read(t.source.nbytes), "Q8_0", t.shape)
    assert not np.array_equal(dequantised, values)  # the quantised values, not the originals
    result = spectrum.layer_spectrum(t)
    np.testing.assert_allclose(result.evals, _svd_evals(dequantised), rtol=1e-9, atol=1e-9)
    assert "Q8_0 blocks dequantised" in result.notes


def test_a_cancelled_spectrum_stops_between_blocks(tmp_path: Path, monkeypatch):
    w = np.random.default_rng(0).standard_normal((500, 40))
    save_file({"w": w}, tmp_path / "m.safetensors")
    monkeypatch.setattr(spectrum, "BLOCK_BYTES", 8 * 40 * 10)
    seen: list[int] = []

    def progress(done: int, total: int) -> None:
        seen.append(done)

    with pytest.raises(Cancelled):
        spectrum.layer_spectrum(
            _tensor(tmp_path / "m.safetensors", "w"),
            progress=progress,
            cancelled=lambda: len(seen) >= 3,
        )
    assert len(seen) == 3  # three blocks of 10 rows read, then it stopped
    assert not spectrum._results  # nothing half-done was cached


def test_shuffled_gaussian_looks_random_and_a_structured_matrix_does_not(tmp_path: Path):
    rng = np.random.default_rng(4)
    noise = rng.standard_normal((800, 200))
    structured = _with_singular_values(800, 200, np.geomspace(100, 1, 200), seed=9)
    save_file({"noise": noise, "structured": structured}, tmp_path / "m.safetensors")
    ckpt = open_checkpoint(tmp_path / "m.safetensors")
    report = spectrum.checkpoint_spectra(ckpt, randomize=True, workers=0)
    by_name = {layer.name: layer for layer in report.layers}
    assert by_name["noise"].looks_random and not by_name["structured"].looks_random
    assert by_name["structured"].rand_distance > 5 * by_name["noise"].rand_distance
    # the shuffled matrix keeps every element: the Frobenius norm is the same
    for layer in report.layers:
        assert layer.rand_evals.sum() == pytest.approx(layer.evals.sum(), rel=1e-9)
    assert any("indistinguishable from random" in w for w in report.warnings)


def test_a_big_matrix_is_shuffled_within_blocks_and_says_so(tmp_path: Path, monkeypatch):
    w = np.random.default_rng(0).standard_normal((300, 50))
    save_file({"w": w}, tmp_path / "m.safetensors")
    monkeypatch.setattr(spectrum, "SHUFFLE_BYTES", 1000)
    monkeypatch.setattr(spectrum, "BLOCK_BYTES", 8 * 50 * 30)
    result = spectrum.layer_spectrum(_tensor(tmp_path / "m.safetensors", "w"), randomize=True)
    assert any("shuffled within blocks of 30 rows" in note for note in result.notes)
    assert result.rand_evals.sum() == pytest.approx(result.evals.sum(), rel=1e-9)


def test_pooled_workers_give_the_same_numbers(tmp_path: Path, monkeypatch):
    rng = np.random.default_rng(2)
    tensors = {f"layer{i}.weight": rng.standard_normal((120, 60 + i)) for i in range(4)}
    save_file(tensors, tmp_path / "m.safetensors")
    ckpt = open_checkpoint(tmp_path / "m.safetensors")
    monkeypatch.setattr(spectrum, "POOL_MIN_ELEMENTS", 1)
    pooled = spectrum.checkpoint_spectra(ckpt, workers=2)
    spectrum.clear_cache()
    alone = spectrum.checkpoint_spectra(ckpt, workers=0)
    assert [layer.name for layer in pooled.layers] == sorted(tensors)
    for a, b in zip(pooled.layers, alone.layers, strict=True):
        np.testing.assert_array_equal(a.evals, b.evals)
        assert a.alpha == b.alpha


def test_not_a_matrix_is_a_clear_error(tmp_path: Path):
    save_file({"norm.weight": np.ones(8, np.float32)}, tmp_path / "m.safetensors")
    ckpt = open_checkpoint(tmp_path / "m.safetensors")
    with pytest.raises(CheckpointError, match="needs a weight matrix"):
        spectrum.checkpoint_spectra(ckpt, ["norm.weight"])


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "spectrum", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_json_has_every_layer_field_and_a_summary(tmp_path: Path):
    rng = np.random.default_rng(3)
    save_file(
        {
            "enc.0.fc.weight": rng.standard_normal((64, 32)).astype(np.float32),
            "enc.0.fc.bias": rng.standard_normal(64).astype(np.float32),
            "enc.1.fc.weight": rng.standard_normal((32, 64)).astype(np.float32),
        },
        tmp_path / "m.safetensors",
    )
    done = _cli(str(tmp_path / "m.safetensors"), "--json", "--workers", "0")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) >= {"path", "layers", "summary", "warnings"}
    assert [layer["name"] for layer in document["layers"]] == ["enc.0.fc.weight", "enc.1.fc.weight"]
    for layer in document["layers"]:
        assert set(spectrum.JSON_FIELDS) <= set(layer)
        assert layer["num_evals"] == 32
    alphas = [layer["alpha"] for layer in document["layers"]]
    assert document["summary"]["alpha"] == pytest.approx(sum(alphas) / 2)
    table = _cli(str(tmp_path / "m.safetensors"), "--workers", "0")
    assert table.returncode == 0 and "enc.1.fc.weight" in table.stdout and "means:" in table.stdout


def test_cli_errors_exit_2(tmp_path: Path):
    save_file({"w": np.ones((4, 4), np.float32)}, tmp_path / "m.safetensors")
    done = _cli(str(tmp_path / "m.safetensors"), "--tensor", "nope")
    assert done.returncode == 2 and "no tensor is called 'nope'" in done.stderr
    (tmp_path / "bad.safetensors").write_bytes(b"\x00" * 5)
    done = _cli(str(tmp_path / "bad.safetensors"))
    assert done.returncode == 2 and "Traceback" not in done.stderr


def test_a_matrix_with_nan_is_skipped_not_fatal(tmp_path: Path):
    rng = np.random.default_rng(0)
    bad = rng.standard_normal((20, 10))
    bad[2, 3] = np.nan
    save_file({"bad": bad, "good": rng.standard_normal((20, 10))}, tmp_path / "m.safetensors")
    report = spectrum.checkpoint_spectra(open_checkpoint(tmp_path / "m.safetensors"), workers=0)
    assert [layer.name for layer in report.layers] == ["good"]
    assert report.skipped == [("bad", "the matrix holds NaN or Inf values")]
