"""Broken, truncated, empty and wrong files give one clear CheckpointError, never a crash."""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest
import torch
from checkpoints import make_model, save_safetensors, save_sharded

from core import CheckpointError, open_checkpoint


def _expect_error(path: Path, *words: str) -> str:
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(path)
    message = str(caught.value)
    assert path.name in message
    for word in words:
        assert word in message, message
    return message


def _safetensors_with_header(tmp_path: Path, header: dict, data: bytes = b"") -> Path:
    raw = json.dumps(header).encode()
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return path


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"")
    _expect_error(path, "empty")


def test_missing_path(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.pt", "no such file")


def test_folder_without_checkpoint(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    _expect_error(tmp_path, "no checkpoint")


def test_wrong_format_with_checkpoint_extension(tmp_path: Path) -> None:
    for name, content in (
        ("model.safetensors", b"hello world, not a model"),
        ("weights.pt", b"\x89PNG\r\n\x1a\n" + bytes(100)),
        ("model.ckpt", b'{"json": true}'),
    ):
        path = tmp_path / name
        path.write_bytes(content)
        _expect_error(path, "not a checkpoint")


def test_header_length_larger_than_file(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 1234) + b"{" + b" " * 891)
    _expect_error(path, "1,234", "900", "truncated")


def test_invalid_json_header(tmp_path: Path) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", 10) + b"{not json}")
    _expect_error(path, "JSON")


def test_offsets_out_of_bounds(tmp_path: Path) -> None:
    # the file ends inside w's data: the header opens, w is partial (issue 16 item 11)
    header = {"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}
    ckpt = open_checkpoint(_safetensors_with_header(tmp_path, header, bytes(8)))
    assert ckpt.tensor("w").truncated == "partial" and ckpt.tensor("w").source is None
    assert any("truncated" in w and "1 partial (w)" in w for w in ckpt.warnings)


def test_overlapping_offsets(tmp_path: Path) -> None:
    header = {
        "a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},
        "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]},
    }
    _expect_error(_safetensors_with_header(tmp_path, header, bytes(24)), "overlap")


def test_unknown_dtype(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}
    _expect_error(_safetensors_with_header(tmp_path, header, bytes(16)), "unknown dtype", "F128")


def test_shape_disagrees_with_offsets(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}}
    _expect_error(_safetensors_with_header(tmp_path, header, bytes(16)), "needs 12 bytes")


def test_hostile_shape_does_not_allocate(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 16]}}
    _expect_error(_safetensors_with_header(tmp_path, header, bytes(16)), "'w'")


def test_index_naming_a_shard_outside_the_folder(tmp_path: Path) -> None:
    folder = save_sharded(make_model(), tmp_path / "m")
    index = folder / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    data["weight_map"]["embed.weight"] = "../../etc/passwd"
    index.write_text(json.dumps(data))
    _expect_error(index, "outside")


def test_truncated_safetensors_at_many_offsets(tmp_path: Path) -> None:
    good = save_safetensors(make_model(), tmp_path / "good.safetensors").read_bytes()
    header_end = 8 + int.from_bytes(good[:8], "little")
    path = tmp_path / "cut.safetensors"
    for size in sorted({0, 1, 7, 8, 9, 20, 100, len(good) // 3, len(good) // 2, len(good) - 1}):
        path.write_bytes(good[:size])
        if size < header_end:  # the header itself is cut: nothing to show
            with pytest.raises(CheckpointError):
                open_checkpoint(path)
        else:  # the header is whole: it opens, and says what is missing
            ckpt = open_checkpoint(path)
            assert any(w.startswith("the file is truncated") for w in ckpt.warnings), size


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_truncated_pytorch_at_many_offsets(tmp_path: Path, zipped: bool) -> None:
    source = tmp_path / "good.pt"
    torch.save(make_model(layers=1).state_dict(), source, _use_new_zipfile_serialization=zipped)
    good = source.read_bytes()
    path = tmp_path / "cut.pt"
    step = max(1, len(good) // 40)
    for size in [*range(1, len(good), step), len(good) - 1]:
        path.write_bytes(good[:size])
        with pytest.raises(CheckpointError) as caught:
            open_checkpoint(path)
        assert "cut.pt" in str(caught.value)


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_corrupted_pytorch_bytes(tmp_path: Path, zipped: bool) -> None:
    """Flipping bytes in the metadata gives an error or a readable file, never anything else."""
    source = tmp_path / "good.pt"
    torch.save(make_model(layers=1).state_dict(), source, _use_new_zipfile_serialization=zipped)
    good = bytearray(source.read_bytes())
    path = tmp_path / "bad.pt"
    for position in range(0, min(len(good), 4000), 37):
        broken = bytearray(good)
        broken[position] ^= 0xFF
        path.write_bytes(bytes(broken))
        try:
            open_checkpoint(path)
        except CheckpointError as error:
            assert "bad.pt" in str(error)


def test_corrupt_zip(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"PK\x03\x04" + bytes(200))
    _expect_error(path, "zip")


def test_truncated_pickle(tmp_path: Path) -> None:
    source = tmp_path / "g.pt"
    torch.save({"a": torch.ones(3)}, source, _use_new_zipfile_serialization=False)
    path = tmp_path / "model.pt"
    path.write_bytes(source.read_bytes()[:40])
    _expect_error(path, "truncated")


def test_a_deeply_nested_pickle_opens_as_empty_or_fails_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "deep.pt"
    # PROTO 2, then 100,000 MARKs and LISTs: lists nested 100,000 deep
    path.write_bytes(b"\x80\x02" + b"(" * 100_000 + b"l" * 100_000 + b".")
    try:
        ckpt = open_checkpoint(path)
    except CheckpointError as error:
        assert "deep.pt" in str(error)
    else:
        assert ckpt.tensors == [] and "no tensors" in " ".join(ckpt.warnings)


def test_a_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = tmp_path / "model.safetensors"
    os.mkfifo(pipe)
    _expect_error(pipe, "not a regular file")


def test_unreadable_file(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        # root reads any file; this one fails on read with EIO instead
        path = Path("/proc/self/mem")
    else:
        path = save_safetensors(make_model(), tmp_path / "model.safetensors")
        path.chmod(0)
    _expect_error(path, "cannot read")


@pytest.mark.parametrize(
    "opcodes",
    [
        b"}r\xf0\xff\xff\xff.",  # EMPTY_DICT, LONG_BINPUT to memo slot 4,294,967,280
        b"\x96\x00\x00\x00\x00\x10\x00\x00\x00.",  # BYTEARRAY8 claiming 64 GiB
        b"\x8e\x00\x00\x00\x00\x10\x00\x00\x00.",  # BINBYTES8 claiming 64 GiB
    ],
    ids=["memo-index", "bytearray8", "binbytes8"],
)
def test_pickle_lengths_cannot_make_it_allocate(tmp_path: Path, opcodes: bytes) -> None:
    path = tmp_path / "bomb.pt"
    path.write_bytes(b"\x80\x04" + opcodes)
    try:
        ckpt = open_checkpoint(path)
    except CheckpointError as error:
        assert "bomb.pt" in str(error)
    else:
        assert ckpt.tensors == []


def test_opening_a_big_pickle_stops_inside_the_read_when_cancelled(tmp_path: Path) -> None:
    """Unpickling 100,000 tensors takes seconds: Cancel must not wait for it to end."""
    import torch

    from core.errors import Cancelled

    path = tmp_path / "many.pt"
    torch.save({f"m.{i // 100}.l{i % 100}.weight": torch.zeros(2) for i in range(3000)}, path)
    calls: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        calls.append((done, total))
        if len(calls) == 3:
            raise Cancelled

    with pytest.raises(Cancelled):
        open_checkpoint(path, progress=progress)
    assert calls[-1] == (0, 3)  # stopped while reading, not at the next stage


@pytest.mark.parametrize("claim", [10**9, 2**62])
def test_an_absurd_header_length_is_called_truncated(tmp_path: Path, claim: int) -> None:
    path = tmp_path / "model.safetensors"
    path.write_bytes(struct.pack("<Q", claim) + b'{"w": {"dtype": "F32"')
    _expect_error(path, "truncated")
