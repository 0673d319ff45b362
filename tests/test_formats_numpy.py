"""NumPy: .npy and .npz files written by numpy open with numpy's shapes and counts, their data
sources read back numpy's values, and pickled, truncated or corrupt files are refused by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from format_fixtures import npz_arrays, truncate, write_npy

from core.errors import CheckpointError
from core.model import TensorInfo
from core.open import open_checkpoint

ROOT = Path(__file__).resolve().parent.parent


def values_at(t: TensorInfo) -> np.ndarray:
    """The tensor's values read through its DataSource alone, as statistics read them."""
    storage = np.dtype(
        {"float16": "<f2", "float32": "<f4", "float64": "<f8", "int64": "<i8"}[t.dtype]
    )
    with open(t.source.file, "rb") as f:
        f.seek(t.source.offset)
        flat = np.frombuffer(f.read(t.source.nbytes), storage)
    if t.source.strides is None:
        return flat.reshape(t.shape)
    itemsize = storage.itemsize
    return np.lib.stride_tricks.as_strided(
        flat, t.shape, tuple(s * itemsize for s in t.source.strides)
    )


@pytest.mark.parametrize("order", ["C", "F"])
def test_npy_opens_with_numpys_shape_and_values(tmp_path, order):
    array = np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 7)
    if order == "C":
        array = np.ascontiguousarray(array)
    path = write_npy(tmp_path / "weights.npy", array)
    ckpt = open_checkpoint(path)
    assert ckpt.format == "numpy"
    (t,) = ckpt.tensors
    assert (t.name, t.shape, t.dtype, t.numel, t.nbytes) == (
        "weights",
        (2, 3, 4),
        "float32",
        24,
        96,
    )
    np.testing.assert_array_equal(values_at(t), array)
    assert ckpt.totals.params == 24


def test_npz_stored_members_are_located(tmp_path):
    arrays = npz_arrays()
    path = tmp_path / "model.npz"
    np.savez(path, **arrays)
    ckpt = open_checkpoint(path)
    assert sorted(t.name for t in ckpt.tensors) == sorted(arrays)
    for name, array in arrays.items():
        t = ckpt.tensor(name)
        assert t.shape == array.shape and t.numel == array.size, name
        np.testing.assert_array_equal(values_at(t), array)
    assert ckpt.tree.find("encoder.layers").repeat == 2
    assert ckpt.tensor("encoder.layers.0.bias").kind == "bias"
    assert ckpt.tensor("steps").role == "buffer"  # integers are not weights


@pytest.mark.parametrize("chunk_bytes", [48, 1 << 20], ids=["tiny-chunks", "one-chunk"])
def test_npz_compressed_members_stream_exact_statistics(tmp_path, chunk_bytes):
    from core import stats

    rng = np.random.default_rng(7)
    arrays = {
        **npz_arrays(),
        "big": rng.standard_normal((300, 211)).astype(np.float32),
        "fortran": np.asfortranarray(rng.standard_normal((40, 30))),
        "int8": rng.integers(-128, 127, 5000).astype(np.int8),
        "mask": rng.random(999) > 0.5,
        "odd": np.array([np.nan, np.inf, -0.0, 0.0, 2.5], np.float32),
    }
    path = tmp_path / "model.npz"
    np.savez_compressed(path, **arrays)
    ckpt = open_checkpoint(path)
    assert sum(t.numel for t in ckpt.tensors) == sum(a.size for a in arrays.values())
    assert ckpt.facts["compressed"] == str(len(arrays)) and not ckpt.warnings
    stats.clear_cache()
    for name, array in arrays.items():
        result = stats.tensor_stats(ckpt.tensor(name), bins=17, chunk_bytes=chunk_bytes)
        values = array.astype(np.float64).ravel()
        finite = values[np.isfinite(values)]
        assert result.numel == array.size and result.nan == np.isnan(values).sum(), name
        assert result.min == finite.min() and result.max == finite.max(), name
        np.testing.assert_allclose(result.mean, finite.mean(), rtol=1e-12)
        np.testing.assert_allclose(result.std, finite.std(), rtol=1e-12, atol=1e-300)
        counts, _ = np.histogram(finite, 17, range=(finite.min(), finite.max()))
        np.testing.assert_array_equal(result.counts, counts)
        assert list(result.percentiles.values()) == list(
            np.percentile(finite, list(stats.PERCENTILES))
        ), name


def test_a_damaged_compressed_member_is_an_error_not_a_crash(tmp_path):
    from core import stats

    path = tmp_path / "model.npz"
    np.savez_compressed(path, w=np.random.default_rng(1).standard_normal(20_000))
    ckpt = open_checkpoint(path)
    source = ckpt.tensor("w").source
    data = bytearray(path.read_bytes())
    middle = source.offset + source.nbytes // 2
    data[middle : middle + 64] = bytes(64)  # zeros in the middle of the deflate stream
    path.write_bytes(bytes(data))
    stats.clear_cache()
    with pytest.raises(CheckpointError, match="model.npz"):
        stats.tensor_stats(open_checkpoint(path).tensor("w"), chunk_bytes=4096)


def test_pickled_arrays_are_refused(tmp_path):
    objects = np.array([{"a": 1}, None], dtype=object)
    path = tmp_path / "objects.npy"
    np.save(path, objects, allow_pickle=True)
    with pytest.raises(CheckpointError, match="pickled"):
        open_checkpoint(path)
    mixed = tmp_path / "mixed.npz"
    np.savez(mixed, good=np.ones(3, np.float32), bad=objects)
    ckpt = open_checkpoint(mixed)
    assert [t.name for t in ckpt.tensors] == ["good"]
    assert any("pickled" in w for w in ckpt.warnings)


def test_truncated_and_corrupt_files_are_checkpoint_errors(tmp_path):
    path = write_npy(tmp_path / "w.npy", np.ones((100, 10), np.float32))
    for keep in (8, 40, 2000):
        with pytest.raises(CheckpointError, match="truncated|header"):
            open_checkpoint(truncate(path, keep, tmp_path / f"cut{keep}.npy"))
    bad = bytearray(path.read_bytes())
    bad[10:20] = b"!!garbage!"
    (tmp_path / "bad.npy").write_bytes(bytes(bad))
    with pytest.raises(CheckpointError, match="header"):
        open_checkpoint(tmp_path / "bad.npy")
    npz = tmp_path / "m.npz"
    np.savez(npz, **npz_arrays())
    cut = truncate(npz, npz.stat().st_size - 30, tmp_path / "cut.npz")
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(cut)
    assert "cut.npz" in str(caught.value) and "zip" in str(caught.value)


def test_cli_info_on_npz(tmp_path):
    path = tmp_path / "model.npz"
    np.savez(path, **npz_arrays())
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert "numpy" in run.stdout and "layers ×2" in run.stdout
