"""A folder holding one model file of any format opens as that file (people drop the folder an
export landed in); a folder holding several unrelated model files says which ones to choose from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from format_fixtures import write_gguf, write_onnx

from core.errors import CheckpointError
from core.open import open_checkpoint


def test_a_folder_with_an_onnx_model_and_its_external_data_opens_the_model(tmp_path: Path):
    folder = tmp_path / "export"
    folder.mkdir()
    arrays = write_onnx(folder / "model.onnx", external=True)
    (folder / "README.md").write_text("exported with torch.onnx")

    checkpoint = open_checkpoint(folder)

    assert checkpoint.format == "onnx"
    assert checkpoint.path == folder / "model.onnx"
    assert {t.name for t in checkpoint.tensors} == set(arrays)


def test_a_folder_with_one_gguf_opens_it(tmp_path: Path):
    folder = tmp_path / "quantised"
    folder.mkdir()
    write_gguf(folder / "tiny-q4.gguf")

    assert open_checkpoint(folder).format == "gguf"


def test_a_folder_with_several_model_files_names_them(tmp_path: Path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    write_gguf(folder / "a.gguf")
    np.save(folder / "b.npy", np.zeros(3, np.float32))

    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(folder)
    message = str(caught.value)
    assert "a.gguf" in message and "b.npy" in message and "mixed" in message


def test_a_folder_of_only_side_files_still_holds_no_checkpoint(tmp_path: Path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "notes.txt").write_text("hello")

    with pytest.raises(CheckpointError, match="no checkpoint"):
        open_checkpoint(tmp_path)
