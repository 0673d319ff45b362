"""Statistics equal numpy's float64 answers for every dtype, layout, size and oddity of the data.

Each test writes a real checkpoint with torch/safetensors, opens it with `open_checkpoint`, and
compares ParamScope's numbers with numpy over the same values (torch → float64 → numpy).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from core import Cancelled, CheckpointError, open_checkpoint, stats
from core.model import TensorInfo

FLOATS = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
FP8 = [torch.float8_e4m3fn, torch.float8_e5m2]
INTS = [torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64]
UINTS = [torch.uint16, torch.uint32, torch.uint64]
ALL = FLOATS + FP8 + INTS + UINTS + [torch.bool]
PERCENTS = list(stats.PERCENTILES)


@pytest.fixture(autouse=True)
def fresh_cache():
    stats.clear_cache()
    yield
    stats.clear_cache()


def sample(dtype: torch.dtype, shape: tuple[int, ...] = (61, 83), seed: int = 0) -> torch.Tensor:
    """Realistic values for the type, with NaN, ±Inf and zeros where the type has them."""
    generator = torch.Generator().manual_seed(seed)
    if dtype == torch.bool:
        return torch.rand(shape, generator=generator) > 0.3
    if dtype.is_floating_point:
        x = torch.randn(shape, generator=generator, dtype=torch.float64) * 3 + 0.5
        flat = x.view(-1)
        n = flat.numel()
        flat[7 % n] = float("nan")
        flat[n // 3] = float("inf")
        flat[2 * n // 3] = float("-inf")
        flat[n // 2 : n // 2 + 5] = 0.0
        return x.to(dtype)
    info = torch.iinfo(dtype) if dtype not in UINTS else None
    high = 1000 if info is None else min(info.max, 1000)
    low = 0 if info is None or info.min == 0 else max(info.min, -1000)
    return torch.randint(low, high, shape, generator=generator, dtype=torch.int64).to(dtype)


def expected(tensor: torch.Tensor) -> np.ndarray:
    return tensor.to(torch.float64).numpy().reshape(-1)


def assert_matches(result: stats.TensorStats, values: np.ndarray, bins: int) -> None:
    finite = values[np.isfinite(values)]
    assert result.numel == values.size
    assert result.nan == np.isnan(values).sum()
    assert result.inf == np.isinf(values).sum()
    assert result.zeros == (finite == 0).sum()
    assert result.finite == finite.size
    if finite.size == 0:
        assert result.min is None and result.std is None and len(result.counts) == 0
        return
    assert result.min == finite.min() and result.max == finite.max()
    np.testing.assert_allclose(result.mean, finite.mean(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(result.std, finite.std(), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(result.abs_mean, np.abs(finite).mean(), rtol=1e-12)
    np.testing.assert_allclose(result.l2, np.linalg.norm(finite), rtol=1e-12)
    counts, edges = np.histogram(finite, bins, range=(finite.min(), finite.max()))
    np.testing.assert_array_equal(result.counts, counts)
    np.testing.assert_allclose(result.edges, edges, rtol=1e-15)
    assert result.counts.sum() == finite.size
    if result.percentiles is not None:  # exact: the same order statistics, numpy's lerp
        np.testing.assert_array_equal(
            list(result.percentiles.values()), np.percentile(finite, PERCENTS)
        )


def open_one(path: Path, tensors: dict[str, torch.Tensor]):
    save_file(tensors, str(path))
    return open_checkpoint(path)


@pytest.mark.parametrize("dtype", ALL, ids=str)
def test_every_dtype_matches_numpy_across_chunk_boundaries(tmp_path: Path, dtype: torch.dtype):
    tensor = sample(dtype)
    checkpoint = open_one(tmp_path / "m.safetensors", {"layer.weight": tensor})
    t = checkpoint.tensor("layer.weight")
    # 40-byte chunks: every element type straddles or aligns differently, thousands of chunks
    result = stats.tensor_stats(t, bins=37, chunk_bytes=40, workers=0)
    assert_matches(result, expected(tensor), 37)
    assert result.dtype == t.dtype and result.shape == (61, 83)
    # exact: from the bit-pattern counts (≤ 16 bits) or by radix select over the order keys
    assert result.percentiles is not None


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32], ids=str)
def test_worker_processes_give_the_same_answer(
    tmp_path: Path, dtype: torch.dtype, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(stats, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(stats, "UNIT_BYTES", 4096)  # split each tensor over many units
    tensors = {f"layers.{i}.weight": sample(dtype, (97, 101), seed=i) for i in range(4)}
    checkpoint = open_one(tmp_path / "m.safetensors", tensors)
    results = stats.many_stats(checkpoint.tensors, bins=50, workers=2, chunk_bytes=1000)
    for result in results:
        assert_matches(result, expected(tensors[result.name]), 50)
    whole = stats.model_stats(checkpoint, bins=50, workers=2)
    assert_matches(whole, np.concatenate([expected(t) for t in tensors.values()]), 50)
    assert whole.percentiles is not None  # for float32 too: radix-select passes in the workers


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float8_e5m2], ids=str)
def test_empty_scalar_constant_zero_and_all_nan_tensors(tmp_path: Path, dtype: torch.dtype):
    tensors = {
        "empty": torch.zeros(0, 5, dtype=dtype),
        "scalar": torch.tensor(2.5, dtype=dtype),
        "constant": torch.full((40, 3), -1.5, dtype=dtype),
        "zeros": torch.zeros(100, dtype=dtype),
        "all_nan": torch.full((17,), float("nan")).to(dtype),
    }
    checkpoint = open_one(tmp_path / "m.safetensors", tensors)
    for name, tensor in tensors.items():
        result = stats.tensor_stats(checkpoint.tensor(name), bins=10, chunk_bytes=16)
        assert_matches(result, expected(tensor), 10)
    assert stats.tensor_stats(checkpoint.tensor("zeros"), bins=10).flags == ["dead"]
    assert stats.tensor_stats(checkpoint.tensor("constant"), bins=10).flags == ["dead"]
    assert stats.tensor_stats(checkpoint.tensor("all_nan"), bins=10).flags == ["nan"]
    assert stats.tensor_stats(checkpoint.tensor("scalar"), bins=10).flags == []
    empty = stats.tensor_stats(checkpoint.tensor("empty"), bins=10)
    assert empty.numel == 0 and empty.mean is None and empty.to_json()["histogram"]["counts"] == []


def test_health_flags_say_what_is_wrong(tmp_path: Path):
    generator = torch.Generator().manual_seed(3)
    spiky = torch.randn(10_000, generator=generator)
    spiky[123] = 500.0
    sparse = torch.randn(1000, generator=generator)
    sparse[:700] = 0
    broken = torch.randn(100, generator=generator)
    broken[5] = float("inf")
    checkpoint = open_one(
        tmp_path / "m.safetensors", {"spiky": spiky, "sparse": sparse, "broken": broken}
    )
    flags = {t.name: stats.tensor_stats(t).flags for t in checkpoint.tensors}
    assert flags == {"spiky": ["outliers"], "sparse": ["sparse"], "broken": ["inf"]}
    for flag in ("nan", "inf", "dead", "outliers", "sparse"):
        assert stats.FLAGS[flag]  # every flag has a meaning for its tooltip


def test_non_contiguous_pytorch_views_read_as_torch_sees_them(tmp_path: Path):
    generator = torch.Generator().manual_seed(5)
    base = torch.randn(64, 48, generator=generator)
    conv = torch.randn(8, 6, 3, 3, generator=generator).to(torch.bfloat16)
    views = {
        "transposed": base.t(),
        "column_slice": base[:, 5:20],
        "every_other_row": base[::2],
        "conv_permuted": conv.permute(1, 0, 3, 2),
        "expanded": torch.randn(1, 7, generator=generator).expand(30, 7),
    }
    path = tmp_path / "views.pt"
    torch.save(views, path)
    checkpoint = open_checkpoint(path)
    strided = [t for t in checkpoint.tensors if t.source is not None and t.source.strides]
    assert {t.name for t in strided} >= {"transposed", "column_slice", "conv_permuted"}
    for name, view in views.items():
        t = checkpoint.tensor(name)
        assert t is not None and t.source is not None, name
        result = stats.tensor_stats(t, bins=20, chunk_bytes=64)
        assert_matches(result, expected(view.contiguous()), 20)


def test_module_statistics_merge_mixed_dtypes_over_one_global_range(tmp_path: Path):
    tensors = {
        "encoder.layers.0.attn.weight": sample(torch.bfloat16, (30, 30), 1),
        "encoder.layers.0.attn.bias": sample(torch.bfloat16, (30,), 2),
        "encoder.layers.0.mlp.weight": (sample(torch.float32, (40, 30), 3) * 4),
        "encoder.layers.1.mlp.weight": sample(torch.float16, (40, 30), 4),
        "decoder.weight": sample(torch.float32, (10, 10), 5),
    }
    checkpoint = open_one(tmp_path / "m.safetensors", tensors)
    block = stats.module_stats(checkpoint, "encoder.layers.0", bins=64, chunk_bytes=100)
    values = np.concatenate([expected(v) for k, v in tensors.items() if ".layers.0." in k])
    assert_matches(block, values, 64)
    assert block.tensors == 3 and block.percentiles is None  # float32 member: no exact table
    weights = stats.module_stats(checkpoint, "encoder", kinds=("weight",), bins=16)
    assert_matches(
        weights,
        np.concatenate(
            [
                expected(v)
                for k, v in tensors.items()
                if k.startswith("encoder.") and k.endswith("weight")
            ]
        ),
        16,
    )
    counted_only = stats.module_stats(checkpoint, "encoder.layers.1", bins=8)
    assert counted_only.percentiles is not None
    whole = stats.model_stats(checkpoint, bins=32)
    assert_matches(whole, np.concatenate([expected(v) for v in tensors.values()]), 32)


def test_histogram_over_a_chosen_range_counts_what_lies_outside(tmp_path: Path):
    for dtype in (torch.bfloat16, torch.float64):
        tensor = sample(dtype, (500,), 9)
        checkpoint = open_one(tmp_path / f"m{dtype}.safetensors", {"w": tensor})
        result = stats.tensor_stats(checkpoint.tensor("w"), bins=10, value_range=(-1.0, 2.0))
        finite = expected(tensor)[np.isfinite(expected(tensor))]
        counts, _ = np.histogram(finite, 10, range=(-1.0, 2.0))
        np.testing.assert_array_equal(result.counts, counts)
        assert result.outside == finite.size - counts.sum()


def test_cancelling_stops_between_chunks_and_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    tensors = {f"layers.{i}.weight": sample(torch.bfloat16, (256, 256), i) for i in range(8)}
    checkpoint = open_one(tmp_path / "m.safetensors", tensors)
    seen: list[int] = []

    def stop_after_three() -> bool:
        seen.append(1)
        return len(seen) > 3

    with pytest.raises(Cancelled):
        stats.many_stats(
            checkpoint.tensors, cancelled=stop_after_three, chunk_bytes=4096, workers=0
        )
    assert len(seen) == 4  # it stopped at the first check after being asked
    # with worker processes: nothing queued or running once Cancelled is raised
    monkeypatch.setattr(stats, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(stats, "UNIT_BYTES", 8192)
    progress: list[tuple[int, int]] = []
    with pytest.raises(Cancelled):
        stats.many_stats(
            checkpoint.tensors,
            progress=lambda d, t: progress.append((d, t)),
            cancelled=lambda: len(progress) > 2,
            workers=2,
        )
    pool = stats._pool
    assert pool is not None and not pool._pending_work_items  # noqa: SLF001
    # and the next request still works
    result = stats.tensor_stats(checkpoint.tensor("layers.0.weight"), workers=2)
    assert_matches(result, expected(tensors["layers.0.weight"]), 128)


def test_progress_reports_bytes_up_to_the_total(tmp_path: Path):
    tensor = sample(torch.float32, (300, 300))
    checkpoint = open_one(tmp_path / "m.safetensors", {"w": tensor})
    reports: list[tuple[int, int]] = []
    stats.tensor_stats(
        checkpoint.tensor("w"), progress=lambda d, t: reports.append((d, t)), chunk_bytes=50_000
    )
    assert len(reports) > 4
    # float32: moments, histogram, and two radix-select passes for the exact percentiles
    assert reports[-1][0] == reports[-1][1] == 4 * tensor.numel() * 4
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)


def test_results_are_cached_until_the_file_changes(tmp_path: Path):
    path = tmp_path / "m.safetensors"
    checkpoint = open_one(path, {"w": torch.ones(1000, 100)})
    t = checkpoint.tensor("w")
    first = stats.tensor_stats(t)
    start = time.perf_counter()
    again = stats.tensor_stats(t)
    assert again is first and time.perf_counter() - start < 0.01
    save_file({"w": torch.full((1000, 100), 2.0)}, str(path))  # same layout, new numbers
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert stats.tensor_stats(t).mean == 2.0


def test_unreadable_data_is_a_checkpoint_error(tmp_path: Path):
    lost = TensorInfo("lost.weight", (3,), "float32", 3, 12, source=None)
    with pytest.raises(CheckpointError, match="cannot be read"):
        stats.tensor_stats(lost)
    path = tmp_path / "m.safetensors"
    checkpoint = open_one(path, {"w": torch.ones(1000)})
    with open(path, "r+b") as handle:  # cut the file short after opening it
        handle.truncate(path.stat().st_size - 100)
    with pytest.raises(CheckpointError, match="truncated"):
        stats.tensor_stats(checkpoint.tensor("w"))


def test_depth_series_follows_a_tensor_through_the_blocks(tmp_path: Path):
    tensors = {}
    for i in range(6):
        tensors[f"model.layers.{i}.mlp.down_proj.weight"] = sample(torch.bfloat16, (20, 30), i) * (
            i + 1
        )
        tensors[f"model.layers.{i}.mlp.down_proj.bias"] = sample(torch.bfloat16, (20,), 10 + i)
    tensors["model.norm.weight"] = torch.ones(20)
    checkpoint = open_one(tmp_path / "m.safetensors", tensors)
    pattern = stats.depth_pattern("model.layers.3.mlp.down_proj.weight")
    assert pattern == "model.layers.*.mlp.down_proj.weight"
    series = stats.depth_series(checkpoint, pattern)
    assert series.blocks == list(range(6))
    for statistic in stats.DEPTH_STATISTICS:
        wanted = []
        for i in range(6):
            v = expected(tensors[f"model.layers.{i}.mlp.down_proj.weight"])
            f = v[np.isfinite(v)]
            wanted.append(
                {
                    "std": f.std(),
                    "abs_mean": np.abs(f).mean(),
                    "l2": np.linalg.norm(f),
                    "max_abs": np.abs(f).max(),
                    "zero_share": (v == 0).mean(),
                    "mean": f.mean(),
                }[statistic]
            )
        np.testing.assert_allclose(series.values(statistic), wanted, rtol=1e-12)
    modules = stats.depth_series(checkpoint, "model.layers.*.mlp")
    assert modules.names[2] == "model.layers.2.mlp" and modules.stats[2].tensors == 2


def test_heatmap_reduces_tiles_by_the_stated_rule(tmp_path: Path):
    generator = torch.Generator().manual_seed(8)
    matrix = torch.randn(100, 70, generator=generator)
    conv = torch.randn(16, 3, 5, 5, generator=generator).to(torch.bfloat16)
    path = tmp_path / "m.pt"
    torch.save({"matrix": matrix, "transposed": matrix.t(), "conv": conv}, path)
    checkpoint = open_checkpoint(path)
    picture = stats.heatmap(checkpoint.tensor("matrix"), max_rows=30, max_cols=20, chunk_bytes=256)
    x = matrix.double().numpy()
    assert (picture.row_step, picture.col_step) == (4, 4) and picture.values.shape == (25, 18)
    want = np.abs(x[:4, :4]).max()
    assert picture.values[0, 0] == want
    assert picture.values[-1, -1] == np.abs(x[96:, 68:]).max()  # the ragged last tile
    assert "largest |x|" in picture.description
    mean = stats.heatmap(checkpoint.tensor("transposed"), 30, 20, rule="mean")
    np.testing.assert_allclose(mean.values[0, 0], x.T[:3, :5].mean(), rtol=1e-12)
    full = stats.heatmap(checkpoint.tensor("conv"), rule="mean")
    np.testing.assert_array_equal(full.values, conv.double().reshape(16, 75).numpy())
    assert stats.matrix_shape(checkpoint.tensor("conv")) == (16, 75)


def test_depth_pattern_picks_the_number_that_repeats_most(tmp_path: Path):
    tensors = {
        f"layers.{i}.experts.{e}.w1": torch.full((2,), float(i)) for i in range(5) for e in range(2)
    }
    checkpoint = open_one(tmp_path / "m.safetensors", tensors)
    assert stats.depth_pattern("layers.3.experts.1.w1", checkpoint) == "layers.*.experts.1.w1"
    assert stats.depth_pattern("layers.3.experts.1.w1") == "layers.*.experts.1.w1"
    assert stats.depth_pattern("embed.weight") is None


def test_health_reads_every_tensor_once_and_flags_it(tmp_path: Path):
    tensors = {"ok": torch.randn(100), "dead": torch.zeros(50), "broken": torch.ones(10) / 0}
    checkpoint = open_one(tmp_path / "m.safetensors", tensors)
    reports: list[tuple[int, int]] = []
    found = stats.health(checkpoint, progress=lambda d, t: reports.append((d, t)))
    assert {name: r.flags for name, r in found.items()} == {
        "ok": [],
        "dead": ["dead"],
        "broken": ["inf"],
    }
    assert reports[-1] == (160 * 4, 160 * 4)  # float32 read once: no histogram pass
    assert len(found["ok"].counts) == 0


def test_many_tensors_over_one_shared_range_for_overlays(tmp_path: Path):
    tensors = {"a": sample(torch.bfloat16, (40, 40), 1), "b": sample(torch.float32, (50, 20), 2)}
    checkpoint = open_one(tmp_path / "m.safetensors", tensors)
    moments_only = stats.many_stats(checkpoint.tensors, 0)
    assert all(len(r.counts) == 0 and r.std is not None for r in moments_only)
    results = stats.many_stats(checkpoint.tensors, 16, value_range=(-2.0, 3.0))
    for result in results:
        values = expected(tensors[result.name])
        finite = values[np.isfinite(values)]
        counts, edges = np.histogram(finite, 16, range=(-2.0, 3.0))
        np.testing.assert_array_equal(result.counts, counts)
        np.testing.assert_allclose(result.edges, edges)
        assert result.outside == finite.size - counts.sum()


@pytest.mark.parametrize(
    "values",
    [[2**63 - 1] * 3, [-(2**63)] * 2, [2**63 - 1, 2**63 - 2], [2**62, 2**62 + 1]],
)
def test_histograms_of_int64_extremes(tmp_path: Path, values: list[int]):
    """silero-vad's ONNX files hold int64 9223372036854775807 constants: widening the empty
    range by ±0.5 was lost at that magnitude and np.histogram raised (a traceback in stats)."""
    path = tmp_path / "extremes.safetensors"
    save_file({"big": torch.tensor(values, dtype=torch.int64)}, str(path))
    (t,) = open_checkpoint(path).tensors
    result = stats.tensor_stats(t, workers=1)
    # exactly, as numpy gives an int64 array's extremes: 2**63 - 1, not float64's 2**63
    assert result.min == min(values) and result.max == max(values)
    assert isinstance(result.min, int) and result.to_json()["max"] == max(values)
    assert int(result.counts.sum()) == len(values)


def test_a_file_cut_after_it_was_opened_is_named_truncated_by_every_pass(tmp_path: Path):
    """Cut short after the open, a health pass and a single tensor's statistics both say the
    file is truncated (never statistics of what is not there)."""
    path = tmp_path / "cut.safetensors"
    save_file({f"t{i}": torch.randn(256) for i in range(4)}, str(path))
    checkpoint = open_checkpoint(path)
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 600)
    last = checkpoint.tensors[-1]
    with pytest.raises(CheckpointError, match="file is truncated|should end at byte"):
        stats.health(checkpoint, workers=1)
    stats.clear_cache()
    with pytest.raises(CheckpointError, match="should end at byte"):
        stats.tensor_stats(last, workers=1)
