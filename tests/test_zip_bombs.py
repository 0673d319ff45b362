"""Zip members that lie about their size, and archives re-packed with every zip method.

A member's compressed data is made to inflate to its true contents followed by many MiB of zeros,
while the archive declares (size and CRC) only the true contents: Python's zipfile inflates all
of it before trimming. ParamScope must stop at the declared size and say which member lies.
"""

from __future__ import annotations

import json
import tracemalloc
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import CheckpointError
from core.open import open_checkpoint
from core.readers import keras as keras_reader
from core.readers.zipmember import MemberStream, read_member
from tests.checkpoints import make_model, save_hf_folder
from tests.format_fixtures import write_keras

BALLOON = 48 << 20  # what a forged member inflates to beyond its declared size
PEAK = 8 << 20  # Python allocations allowed while reading such a member
METHODS = (zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def _central_entries(data: bytes, start: int) -> dict[str, int]:
    """Offsets of the central directory entries, by member name."""
    found, at = {}, start
    while data[at : at + 4] == b"PK\x01\x02":
        n, m, k = (int.from_bytes(data[at + i : at + i + 2], "little") for i in (28, 30, 32))
        found[data[at + 46 : at + 46 + n].decode()] = at
        at += 46 + n + m + k
    return found


def repack(source: Path, out: Path, method: int, forge: str | None = None) -> Path:
    """`source`'s members re-packed with `method`; the member named `forge` (a suffix) is made to
    inflate to BALLOON more bytes than the size and CRC it declares."""
    with zipfile.ZipFile(source) as zf:
        members = [(info.filename, zf.read(info)) for info in zf.infolist()]
    forged = None
    with zipfile.ZipFile(out, "w") as zf:
        for name, payload in members:
            if forge is not None and name.endswith(forge):
                forged = (name, len(payload), zlib.crc32(payload))
                payload = payload + bytes(BALLOON)
            zf.writestr(name, payload, compress_type=method)
    if forged is None:
        return out
    name, size, crc = forged
    data = bytearray(out.read_bytes())
    with zipfile.ZipFile(out) as zf:
        local, start = zf.getinfo(name).header_offset, zf.start_dir
    central = _central_entries(bytes(data), start)[name]
    data[local + 14 : local + 18] = crc.to_bytes(4, "little")
    data[local + 22 : local + 26] = size.to_bytes(4, "little")
    data[central + 16 : central + 20] = crc.to_bytes(4, "little")
    data[central + 24 : central + 28] = size.to_bytes(4, "little")
    out.write_bytes(bytes(data))
    return out


def _peak(action) -> tuple[object, int]:
    """What `action()` returns (or raises) and the peak of Python allocations meanwhile."""
    tracemalloc.start()
    try:
        try:
            result: object = action()
        except CheckpointError as error:
            result = error
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _torch_file(tmp_path: Path) -> Path:
    path = tmp_path / "model.pt"
    torch.save(make_model(layers=1).state_dict(), path)
    return path


@pytest.mark.parametrize("method", METHODS)
def test_a_pt_whose_data_pkl_lies_about_its_size_is_refused_without_inflating_it(
    tmp_path: Path, method: int
) -> None:
    bomb = repack(_torch_file(tmp_path), tmp_path / "bomb.pt", method, forge="data.pkl")
    assert bomb.stat().st_size < 200_000
    error, peak = _peak(lambda: open_checkpoint(bomb))
    assert isinstance(error, CheckpointError), error
    assert "bomb.pt" in str(error) and "data.pkl" in str(error)
    assert "past its declared size" in str(error)
    assert peak < PEAK


@pytest.mark.parametrize("method", METHODS)
def test_a_pt_repacked_with_any_zip_method_still_opens(tmp_path: Path, method: int) -> None:
    source = _torch_file(tmp_path)
    expected = {t.name: t.shape for t in open_checkpoint(source).tensors}
    packed = repack(source, tmp_path / "packed.pt", method)
    opened = open_checkpoint(packed)
    assert {t.name: t.shape for t in opened.tensors} == expected
    assert any("compressed" in w for w in opened.warnings) or all(
        t.source is None for t in opened.tensors
    )


def test_training_args_bin_beside_a_safetensors_model_cannot_balloon_its_opening(
    tmp_path: Path,
) -> None:
    folder = save_hf_folder(make_model(layers=1), tmp_path / "model")
    args = tmp_path / "args.bin"
    torch.save({"learning_rate": 5e-5, "num_train_epochs": 3}, args)
    repack(args, folder / "training_args.bin", zipfile.ZIP_BZIP2, forge="data.pkl")
    checkpoint, peak = _peak(lambda: open_checkpoint(folder))
    assert not isinstance(checkpoint, CheckpointError), checkpoint
    assert peak < PEAK
    assert "training_args.bin" not in checkpoint.hyperparams
    notes = [w for w in checkpoint.warnings if "training_args.bin" in w]
    assert notes and "past its declared size" in notes[0]


@pytest.mark.parametrize("method", METHODS)
def test_an_npz_member_that_inflates_without_end_costs_nothing_to_open(
    tmp_path: Path, method: int
) -> None:
    source = tmp_path / "arrays.npz"
    np.savez(source, weight=np.arange(12, dtype=np.float32).reshape(3, 4))
    bomb = repack(source, tmp_path / "bomb.npz", method, forge="weight.npy")
    checkpoint, peak = _peak(lambda: open_checkpoint(bomb))
    assert peak < PEAK
    if not isinstance(checkpoint, CheckpointError):
        (t,) = checkpoint.tensors
        assert t.shape == (3, 4)


def test_a_keras_archive_whose_config_lies_about_its_size_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "model.keras"
    write_keras(source)
    bomb = repack(source, tmp_path / "bomb.keras", zipfile.ZIP_BZIP2, forge="config.json")
    error, peak = _peak(lambda: keras_reader.read_here(bomb))
    assert isinstance(error, CheckpointError), error
    assert "bomb.keras" in str(error) and "config.json" in str(error)
    assert peak < PEAK


@pytest.mark.parametrize("method", METHODS)
def test_a_keras_archive_repacked_with_any_method_keeps_its_weights(
    tmp_path: Path, method: int
) -> None:
    source = tmp_path / "model.keras"
    weights = write_keras(source)
    packed = repack(source, tmp_path / "packed.keras", method)
    result = keras_reader.read_here(packed)
    assert len(result.tensors) == len(weights)
    assert result.hyperparams["keras config"] == json.loads(
        zipfile.ZipFile(source).read("config.json")
    )


def test_a_zip_method_outside_the_four_is_refused_by_name(tmp_path: Path) -> None:
    source = tmp_path / "arrays.npz"
    np.savez(source, weight=np.ones(4, np.float32))
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as zf:
        local, start = zf.getinfo("weight.npy").header_offset, zf.start_dir
    central = _central_entries(bytes(data), start)["weight.npy"]
    for at in (local + 8, central + 10):
        data[at : at + 2] = (9).to_bytes(2, "little")  # deflate64
    source.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="deflate64"):
        open_checkpoint(source)


@pytest.mark.parametrize("method", (zipfile.ZIP_STORED, *METHODS))
def test_member_stream_reads_seeks_and_checks_every_method(tmp_path: Path, method: int) -> None:
    payload = np.random.default_rng(0).integers(0, 7, 300_000, dtype=np.uint8).tobytes()
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("x.bin", payload, compress_type=method)
    info = zipfile.ZipFile(path).getinfo("x.bin")
    assert read_member(path, info) == payload
    with MemberStream(path, info) as stream:
        stream.seek(200_000)
        assert stream.read(10) == payload[200_000:200_010]
        stream.seek(5)
        assert stream.read(7) == payload[5:12]
        stream.seek(-3, 2)
        assert stream.read() == payload[-3:]
