"""Raw values: a slice of a tensor read from the file — plain, bf16, strided PyTorch views,
compressed .npz members and GGUF blocks — equal to what the libraries that wrote the file say,
and reading only the part asked for, never the whole tensor."""

from __future__ import annotations

import json
import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from core import open_checkpoint
from core.raw_values import MAX_CELLS, default_ranges, parse_ranges, read_values


def _tensor(path: Path, name: str):
    return open_checkpoint(path).tensor(name)


def test_ranges_as_typed() -> None:
    shape = (100, 50)
    assert parse_ranges("0:10, 5:20", shape) == (range(0, 10), range(5, 20))
    assert parse_ranges("3", shape) == (range(3, 4), range(0, 32))
    assert parse_ranges("-1, ::10", shape) == (range(99, 100), range(0, 50, 10))
    assert default_ranges((64, 3, 7, 7)) == (range(1), range(1), range(7), range(7))
    for bad in ("a:b", "200", "0:10, 0:10, 0:1", "5:5"):
        with pytest.raises(ValueError):
            parse_ranges(bad, shape)
    with pytest.raises(ValueError, match="at most"):
        parse_ranges("0:1000, 0:1000", (1000, 1000))
    assert MAX_CELLS >= 10_000


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16, torch.int64])
def test_safetensors_slices_match_torch(tmp_path: Path, dtype: torch.dtype) -> None:
    values = (torch.randn(40, 30, generator=torch.Generator().manual_seed(1)) * 100).to(dtype)
    path = tmp_path / "m.safetensors"
    save_file({"w": values}, str(path))
    ranges = parse_ranges("3:17:2, 20:", (40, 30))
    got = read_values(_tensor(path, "w"), ranges).values
    expected = values[3:17:2, 20:]
    np.testing.assert_array_equal(
        got, expected.to(torch.float64 if dtype.is_floating_point else dtype).numpy()
    )


def test_strided_pytorch_views_match_torch(tmp_path: Path) -> None:
    base = torch.randn(64, 48, generator=torch.Generator().manual_seed(2))
    path = tmp_path / "views.pt"
    torch.save({"t": base.t(), "cols": base[:, 5:9]}, path)
    loaded = torch.load(path, weights_only=True)
    for name, text in (("t", "0:20, 10:40"), ("cols", "-8:, :")):
        t = _tensor(path, name)
        got = read_values(t, parse_ranges(text, t.shape)).values
        index = tuple(
            slice(*(int(x) if x else None for x in p.split(":"))) for p in text.split(", ")
        )
        np.testing.assert_array_equal(got, loaded[name][index].double().numpy())


def test_compressed_npz_member(tmp_path: Path) -> None:
    array = np.arange(200_000, dtype=np.float32).reshape(400, 500)
    path = tmp_path / "a.npz"
    np.savez_compressed(path, a=array)
    t = _tensor(path, "a")
    got = read_values(t, parse_ranges("10:12, 495:", t.shape)).values
    np.testing.assert_array_equal(got, array[10:12, 495:])


def test_gguf_blocks_are_dequantised_where_asked(tmp_path: Path) -> None:
    import gguf
    from gguf import GGMLQuantizationType as T

    rng = np.random.default_rng(0)
    values = rng.standard_normal((64, 256)).astype(np.float32)
    blocks = gguf.quants.quantize(values, T.Q8_0)
    path = tmp_path / "m.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_tensor("w", blocks, raw_shape=blocks.shape, raw_dtype=T.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    expected = gguf.quants.dequantize(blocks, T.Q8_0)
    t = _tensor(path, "w")
    got = read_values(t, parse_ranges("5:9, 30:70", t.shape)).values
    np.testing.assert_array_equal(got, expected[5:9, 30:70])


def test_a_slice_of_a_huge_tensor_reads_only_the_slice(tmp_path: Path) -> None:
    """A 16 GiB tensor in a sparse file: its first corner comes back without reading 16 GiB."""
    rows, cols = 131_072, 32_768
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [rows, cols], "data_offsets": [0, rows * cols * 4]}}
    ).encode()
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        start = f.tell()
        f.seek(start + 8 * cols * 4 + 12)
        f.write(struct.pack("<f", 2.5))  # row 8, column 3
        f.truncate(start + rows * cols * 4)
    t = _tensor(path, "w")
    tracemalloc.start()
    got = read_values(t, parse_ranges("0:32, 0:32", t.shape)).values
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert got[8, 3] == 2.5 and got.sum() == 2.5
    assert peak < 1 << 20  # a few KiB of rows, not gigabytes


def test_an_empty_tensor_has_no_values(tmp_path: Path) -> None:
    path = tmp_path / "m.safetensors"
    save_file({"e": torch.zeros(0, 5)}, str(path))
    t = _tensor(path, "e")
    assert read_values(t, default_ranges(t.shape)).values.shape == (0, 5)
