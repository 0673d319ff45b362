"""Format detection never crashes: a reader's `match` that trips over crafted bytes means "not
mine", so a stray file neither breaks its own opening nor the opening of the folder it lies in.
A GGUF named like a split it cannot belong to says what is wrong with its name."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from format_fixtures import write_gguf

from core.errors import CheckpointError
from core.open import open_checkpoint

# field 1 as a varint (0x08) whose value never ends within 10 bytes: trips a naive varint reader
CRAFTED = b"\x08" + b"\xff" * 11 + b"\x01"


def test_the_crafted_13_byte_file_alone_is_a_clean_error(tmp_path: Path):
    path = tmp_path / "weird.bin"
    path.write_bytes(CRAFTED)
    assert len(CRAFTED) == 13
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(path)
    assert "weird.bin" in str(caught.value)
    assert "\\x" not in str(caught.value)  # never raw bytes in a message


def test_the_crafted_file_beside_a_real_model_does_not_stop_the_folder_opening(tmp_path: Path):
    folder = tmp_path / "export"
    folder.mkdir()
    write_gguf(folder / "model.gguf")
    (folder / "aaa.bin").write_bytes(CRAFTED)  # sorted first: looked at before the model
    checkpoint = open_checkpoint(folder)
    assert checkpoint.format == "gguf" and checkpoint.path == folder / "model.gguf"


def test_a_gguf_named_like_an_out_of_range_split_says_so(tmp_path: Path):
    good = tmp_path / "tiny.gguf"
    written = write_gguf(good)
    odd = tmp_path / "m-00005-of-00003.gguf"
    shutil.copy(good, odd)
    checkpoint = open_checkpoint(odd)  # a valid file: it opens, alone
    assert [t.name for t in checkpoint.tensors] == list(written["tensors"])
    assert checkpoint.files == [odd]
    (warning,) = [w for w in checkpoint.warnings if "shard" in w]
    assert "5" in warning and "3" in warning and "alone" in warning


def test_the_crafted_file_beside_a_pytorch_bin_does_not_stop_the_folder_opening(tmp_path: Path):
    import torch

    folder = tmp_path / "hf"
    folder.mkdir()
    torch.save({"w": torch.ones(3, 2)}, folder / "pytorch_model.bin")
    (folder / "aaa.bin").write_bytes(CRAFTED)
    checkpoint = open_checkpoint(folder)
    assert checkpoint.format == "pytorch" and checkpoint.totals.params == 6
