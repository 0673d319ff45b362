"""GGUF: a llama-shaped file written by gguf-py opens with the writer's tensors, metadata and
block types; quantised blocks dequantise to gguf's own values; cut and corrupt files are named."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from format_fixtures import GGUF_VOCAB, truncate, write_gguf

from core import dequant
from core.dtypes import DTYPES, GGML_BLOCK_TYPES
from core.errors import CheckpointError
from core.open import open_checkpoint

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def gguf_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    path = tmp_path_factory.mktemp("gguf") / "tiny-llama.gguf"
    return path, write_gguf(path)


def _raw(path: Path, offset: int, nbytes: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(nbytes)


def test_tensors_shapes_types_and_counts_match_the_writer(gguf_file):
    path, written = gguf_file
    ckpt = open_checkpoint(path)
    assert ckpt.format == "gguf"
    assert [t.name for t in ckpt.tensors] == list(written["tensors"])
    for name, (shape, ggml_type, _) in written["tensors"].items():
        t = ckpt.tensor(name)
        assert t.shape == tuple(shape), name  # numpy order, not GGUF's reversed dims
        assert t.numel == int(np.prod(shape))
        expected = {"F32": "float32", "F16": "float16"}.get(ggml_type, ggml_type.lower())
        assert t.dtype == expected
        assert t.nbytes == written["raw"][name].nbytes
        assert t.source.encoding == ("" if ggml_type in ("F32", "F16") else ggml_type)
    assert ckpt.totals.params == sum(int(np.prod(s)) for s, _, _ in written["tensors"].values())
    assert ckpt.tensor("token_embd.weight").role == "embedding"
    assert ckpt.tensor("blk.0.ffn_down.weight").role == "linear"
    assert ckpt.tree.find("blk").repeat == 2


def test_sources_point_at_the_stored_blocks(gguf_file):
    path, written = gguf_file
    ckpt = open_checkpoint(path)
    for name, raw in written["raw"].items():
        source = ckpt.tensor(name).source
        assert _raw(path, source.offset, source.nbytes) == raw.tobytes(), name


def test_metadata_is_a_hyperparameter_source_and_the_tokenizer_is_summarised(gguf_file):
    path, written = gguf_file
    ckpt = open_checkpoint(path)
    source = ckpt.hyperparams["gguf metadata"]
    for key, value in written["metadata"].items():
        assert source[key] == value, key
    assert source["general.architecture"] == "llama"
    tokens = source["tokenizer.ggml.tokens"]
    assert isinstance(tokens, str) and f"{GGUF_VOCAB:,}" in tokens and "'tok0'" in tokens
    assert "tok999" not in tokens
    assert ckpt.facts["file type"] == "Q4_K_M"
    assert ckpt.facts["architecture"] == "llama"
    mix = ckpt.facts["quantisation"]
    assert mix.startswith("Q8_0") and "Q4_K" in mix and "Q4_0" in mix and "F16" in mix
    assert ckpt.metadata["gguf.tensors per type"] == {
        "Q8_0": 3,
        "F16": 1,
        "Q4_K": 2,
        "Q4_0": 2,
        "F32": 3,
    }


def test_dequantised_blocks_match_gguf_and_an_independent_decoder(gguf_file):
    import gguf

    path, written = gguf_file
    ckpt = open_checkpoint(path)
    # Q8_0 by hand: each 34-byte block is an fp16 scale d and 32 int8 values, value = d * q
    t = ckpt.tensor("blk.0.attn_q.weight")
    raw = np.frombuffer(_raw(path, t.source.offset, t.source.nbytes), np.uint8).reshape(-1, 34)
    by_hand = raw[:, :2].copy().view(np.float16).astype(np.float32) * raw[:, 2:].view(np.int8)
    ours = dequant.dequantize(_raw(path, t.source.offset, t.source.nbytes), "Q8_0", t.shape)
    np.testing.assert_array_equal(ours, by_hand.reshape(t.shape))
    original = written["tensors"][t.name][2]
    assert np.abs(ours - original).max() < np.abs(original).max() / 100  # 8-bit error
    # Q4_0 and Q4_K against gguf-py on the writer's own blocks, and Q4_0 near the original values
    for name, qtype in (("blk.1.attn_k.weight", "Q4_0"), ("blk.1.ffn_down.weight", "Q4_K")):
        t = ckpt.tensor(name)
        data = _raw(path, t.source.offset, t.source.nbytes)
        ours = dequant.dequantize(data, qtype, t.shape)
        theirs = gguf.quants.dequantize(written["raw"][name], gguf.GGMLQuantizationType[qtype])
        np.testing.assert_array_equal(ours, theirs.reshape(t.shape))
        assert ours.dtype == np.float32 and np.isfinite(ours).all()
    original = written["tensors"]["blk.1.attn_k.weight"][2]
    k = dequant.dequantize(
        _raw(path, ckpt.tensor("blk.1.attn_k.weight").source.offset, 64 * 64 // 32 * 18),
        "Q4_0",
        (64, 64),
    )
    assert np.abs(k - original).max() < np.abs(original).max() / 4  # 4-bit error


def test_dequantise_in_block_aligned_chunks_gives_the_same_values(gguf_file):
    path, _ = gguf_file
    t = open_checkpoint(path).tensor("blk.0.ffn_down.weight")
    data = _raw(path, t.source.offset, t.source.nbytes)
    block, size = dequant.block_geometry("Q4_K")
    whole = dequant.dequantize(data, "Q4_K", t.shape).reshape(-1)
    half = len(data) // size // 2 * size
    parts = [
        dequant.dequantize(data[:half], "Q4_K", (half // size * block,)),
        dequant.dequantize(data[half:], "Q4_K", ((len(data) - half) // size * block,)),
    ]
    np.testing.assert_array_equal(np.concatenate(parts), whole)
    with pytest.raises(ValueError):
        dequant.dequantize(data[:-1], "Q4_K", t.shape)


def test_iter_values_reads_block_aligned_chunks_from_the_file(gguf_file, tmp_path):
    path, written = gguf_file
    ckpt = open_checkpoint(path)
    for name in ("blk.0.ffn_down.weight", "output.weight", "blk.1.attn_k.weight"):
        t = ckpt.tensor(name)
        whole = dequant.dequantize(written["raw"][name], t.source.encoding, t.shape).reshape(-1)
        chunks = list(dequant.iter_values(t.source, max_bytes=1000))
        assert len(chunks) > 1
        np.testing.assert_array_equal(np.concatenate(chunks), whole)
    last = ckpt.tensor("output.weight").source
    cut = truncate(path, last.offset + 5000, tmp_path / "cut.gguf")
    moved = type(last)(cut, last.offset, last.nbytes, encoding=last.encoding)
    with pytest.raises(CheckpointError, match="truncated"):
        list(dequant.iter_values(moved, max_bytes=4096))


def test_unsupported_types_say_so():
    assert dequant.supported("Q4_K") and dequant.supported("q6_k") and dequant.supported("IQ4_XS")
    assert not dequant.supported("Q8_K")
    assert not dequant.supported("NOT_A_TYPE")
    with pytest.raises(NotImplementedError):
        dequant.dequantize(bytes(292), "Q8_K", (256,))


def test_block_type_table_matches_gguf_py():
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    for type_id, (name, block, size) in GGML_BLOCK_TYPES.items():
        assert GGMLQuantizationType(type_id).name == name
        assert GGML_QUANT_SIZES[GGMLQuantizationType(type_id)] == (block, size)
        assert DTYPES[name.lower()].nbytes(block * 3) == size * 3


def test_truncated_data_opens_the_header_and_says_what_is_missing(gguf_file, tmp_path):
    path, written = gguf_file
    whole = open_checkpoint(path)
    last = whole.tensor("output.weight").source
    cut = truncate(path, last.offset + 100, tmp_path / "cut.gguf")
    ckpt = open_checkpoint(cut)
    assert len(ckpt.tensors) == len(written["tensors"])
    assert ckpt.tensor("output.weight").source is None
    assert ckpt.tensor("output_norm.weight").source is not None
    missing = last.offset + last.nbytes - (last.offset + 100)
    (warning,) = [w for w in ckpt.warnings if "truncated" in w]
    assert "output.weight" in warning and f"{missing:,} bytes" in warning
    assert "of 11 tensors 10 whole, 1 partial (output.weight)" in warning


def test_truncated_header_is_a_checkpoint_error(gguf_file, tmp_path):
    path, _ = gguf_file
    for keep in (6, 20, 300, 9000):
        cut = truncate(path, keep, tmp_path / f"cut{keep}.gguf")
        with pytest.raises(CheckpointError, match="header|truncated|ends"):
            open_checkpoint(cut)


def test_corrupt_headers_are_checkpoint_errors(gguf_file, tmp_path):
    path, _ = gguf_file
    data = bytearray(path.read_bytes())
    cases = {
        "version": (4, struct.pack("<I", 99)),
        "tensor count": (8, struct.pack("<Q", 1 << 62)),
        "kv count": (16, struct.pack("<Q", 1 << 40)),
        "first key length": (24, struct.pack("<Q", 1 << 50)),
    }
    for what, (at, patch) in cases.items():
        bad = bytearray(data)
        bad[at : at + len(patch)] = patch
        file = tmp_path / f"bad-{what.replace(' ', '-')}.gguf"
        file.write_bytes(bytes(bad))
        with pytest.raises(CheckpointError) as caught:
            open_checkpoint(file)
        assert file.name in str(caught.value), what


def test_cli_info_shows_the_gguf_facts(gguf_file):
    path, _ = gguf_file
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert "gguf" in run.stdout and "Q4_K_M" in run.stdout and "blk ×2" in run.stdout


def test_split_model_opens_from_any_shard(tmp_path):
    import gguf

    writer = gguf.GGUFWriter(str(tmp_path / "model.gguf"), "llama", split_max_tensors=2)
    writer.add_block_count(5)
    for i in range(5):
        writer.add_tensor(f"blk.{i}.attn_q.weight", np.full((4, 32), i, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    shards = sorted(tmp_path.glob("model-*-of-00003.gguf"))
    assert len(shards) == 3
    ckpt = open_checkpoint(shards[1])
    assert [t.name for t in ckpt.tensors] == [f"blk.{i}.attn_q.weight" for i in range(5)]
    assert ckpt.files == shards and ckpt.facts["shards"] == "3 of 3"
    assert ckpt.hyperparams["gguf metadata"]["llama.block_count"] == 5
    for i in range(5):
        source = ckpt.tensor(f"blk.{i}.attn_q.weight").source
        assert np.frombuffer(_raw(source.file, source.offset, source.nbytes), "<f4")[0] == i
    shards[2].unlink()
    ckpt = open_checkpoint(shards[0])
    assert len(ckpt.tensors) == 4
    assert any("1 of 3 shards are missing" in w for w in ckpt.warnings)


def test_stats_of_a_truncated_file_say_what_they_leave_out(gguf_file, tmp_path, capsys):
    from core import stats
    from core.cli import main as cli_main

    path, _ = gguf_file
    last = open_checkpoint(path).tensor("output.weight").source
    cut = truncate(path, last.offset + 100, tmp_path / "cut.gguf")
    whole = stats.model_stats(open_checkpoint(cut), bins=8)
    assert whole.skipped == ("output.weight",)

    assert cli_main(["stats", str(cut), "--module", ""]) == 0
    err = capsys.readouterr().err
    assert "1 tensors under 'the model' cannot be read and are not included: output.weight" in err
    assert cli_main(["stats", str(cut), "--tensor", "output.weight"]) == 2
    err = capsys.readouterr().err
    assert "cut.gguf" in err and "output.weight" in err and "truncated" in err
