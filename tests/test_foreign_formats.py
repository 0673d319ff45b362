"""Files of formats ParamScope does not read are named for what they are, with the list of what
it opens, and never with their raw bytes. Each stand-in carries its format's documented header:
a FlatBuffer with the TFL3 identifier at offset 4, a LevelDB table footer, Core ML's and
TensorFlow's protobufs, OpenVINO's and NCNN's descriptions beside their raw weights, …"""

from __future__ import annotations

import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from checkpoints import make_model, save_safetensors

from core.errors import CheckpointError
from core.open import open_checkpoint

# LevelDB's table magic number, stored little-endian in the last 8 bytes of every table
LEVELDB_MAGIC = (0xDB4775248B80FB57).to_bytes(8, "little")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    """One protobuf field: a varint (wire type 0) or a length-delimited run (wire type 2)."""
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _leveldb_table(path: Path) -> Path:
    """A LevelDB table as TensorFlow's checkpoint index is one: blocks, then the 48-byte footer
    (metaindex and index block handles, zero padding, the magic)."""
    blocks = b"\x00" * 64
    footer = (_varint(0) + _varint(8) + _varint(8) + _varint(16)).ljust(40, b"\x00")
    path.write_bytes(blocks + footer + LEVELDB_MAGIC)
    return path


def _tflite(path: Path) -> Path:
    # FlatBuffer: u32 offset of the root table, then the 4-byte file identifier
    root = struct.pack("<I", 16)
    path.write_bytes(root + b"TFL3" + b"\x00" * 8 + struct.pack("<I", 3) + b"\x00" * 40)
    return path


def _coreml(path: Path) -> Path:
    # Model: specificationVersion = 1 (varint), description = 2 (ModelDescription)
    description = _field(1, _field(1, b"input") + _field(3, _field(5, b"")))
    path.write_bytes(_field(1, 4) + _field(2, description) + _field(200, b"\x0a\x00"))
    return path


def _saved_model(folder: Path) -> Path:
    folder.mkdir()
    # SavedModel: saved_model_schema_version = 1, meta_graphs = 2 (MetaGraphDef with a tag)
    meta_graph = _field(1, _field(4, b"serve"))
    (folder / "saved_model.pb").write_bytes(_field(1, 1) + _field(2, meta_graph))
    (folder / "variables").mkdir()
    _leveldb_table(folder / "variables" / "variables.index")
    (folder / "variables" / "variables.data-00000-of-00001").write_bytes(bytes(256))
    return folder


def _msgpack_flax(path: Path) -> Path:
    # {"params": {"Dense_0": {"kernel": <ext>}}} as flax.serialization writes (hand-encoded)
    def fixstr(text: str) -> bytes:
        return bytes([0xA0 | len(text)]) + text.encode()

    array = b"\xc7\x10\x01" + bytes(16)  # ext8: 16 bytes of an ndarray payload, type 1
    body = b"\x81" + fixstr("params") + b"\x81" + fixstr("Dense_0")
    path.write_bytes(body + b"\x81" + fixstr("kernel") + array)
    return path


def _expect(path: Path, *words: str) -> str:
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(path)
    message = str(caught.value)
    assert path.name in message
    for word in words:
        assert word in message, message
    assert "ParamScope opens safetensors" in message, message
    assert "\\x" not in message and "b'" not in message, message
    assert "not an ONNX" not in message and "bug in ParamScope" not in message, message
    return message


def test_tflite_is_named_by_its_identifier_whatever_its_name(tmp_path: Path):
    message = _expect(_tflite(tmp_path / "weights.bin"), "this is a TensorFlow Lite model")
    assert "looks like" not in message


def test_tensorflow_savedmodel_folder_and_its_graph(tmp_path: Path):
    folder = _saved_model(tmp_path / "exported")
    _expect(folder, "this is a TensorFlow SavedModel")
    _expect(folder / "saved_model.pb", "TensorFlow SavedModel")


def test_tensorflow_checkpoint_index_and_data(tmp_path: Path):
    index = _leveldb_table(tmp_path / "model.ckpt.index")
    _expect(index, "this is a TensorFlow checkpoint index")
    data = tmp_path / "model.ckpt.data-00000-of-00001"
    data.write_bytes(np.arange(64, dtype=np.float32).tobytes())
    _expect(data, "looks like the data of a TensorFlow checkpoint", "model.ckpt.index")


def test_coreml_model_and_package(tmp_path: Path):
    _expect(_coreml(tmp_path / "Classifier.mlmodel"), "Core ML model")
    package = tmp_path / "Classifier.mlpackage"
    (package / "Data" / "com.apple.CoreML").mkdir(parents=True)
    _coreml(package / "Data" / "com.apple.CoreML" / "model.mlmodel")
    manifest = {
        "fileFormatVersion": "1.0.0",
        "itemInfoEntries": {"A1": {"path": "com.apple.CoreML/model.mlmodel"}},
        "rootModelIdentifier": "A1",
    }
    (package / "Manifest.json").write_text(json.dumps(manifest))
    _expect(package, "this is a Core ML package")


def test_flax_msgpack(tmp_path: Path):
    _expect(_msgpack_flax(tmp_path / "flax_model.msgpack"), "this is a Flax checkpoint")


def test_openvino_description_and_weights(tmp_path: Path):
    xml = tmp_path / "model.xml"
    xml.write_text(
        '<?xml version="1.0"?>\n<net name="torch_jit" version="11">\n<layers/>\n</net>\n'
    )
    (tmp_path / "model.bin").write_bytes(np.ones(32, np.float32).tobytes())
    _expect(xml, "this is an OpenVINO IR model", "model.bin")
    _expect(tmp_path / "model.bin", "looks like the weights of an OpenVINO model", "model.xml")


def test_paddle_parameters_and_program(tmp_path: Path):
    # paddle.save pickles a dict of numpy arrays (protocol 4)
    params = {"linear_0.w_0": np.ones((4, 2), np.float32), "linear_0.b_0": np.zeros(2, np.float32)}
    pdparams = tmp_path / "inference.pdparams"
    pdparams.write_bytes(pickle.dumps(params, protocol=4))
    try:
        checkpoint = open_checkpoint(pdparams)  # read as a pickle of arrays: fine too
    except CheckpointError as error:
        message = str(error)
        assert "PaddlePaddle parameter file" in message and "\\x" not in message, message
    else:  # never "0 parameters" with no word about why
        assert checkpoint.totals.params == 10
    # ProgramDesc: blocks = 1 (BlockDesc: idx = 1, parent_idx = 2), version = 4
    program = _field(1, _field(1, 0) + _field(2, 0)) + _field(4, _field(1, 0))
    (tmp_path / "inference.pdmodel").write_bytes(program)
    _expect(tmp_path / "inference.pdmodel", "looks like a PaddlePaddle program")


def test_tensorrt_engine(tmp_path: Path):
    engine = tmp_path / "model.engine"
    engine.write_bytes(b"ftrt" + struct.pack("<I", 239) + bytes(120))
    _expect(engine, "this is a TensorRT engine")


def test_caffe_model_and_description(tmp_path: Path):
    # NetParameter: name = 1, layer = 100 (LayerParameter: name = 1, type = 2)
    layer = _field(1, b"conv1") + _field(2, b"Convolution")
    (tmp_path / "lenet.caffemodel").write_bytes(_field(1, b"LeNet") + _field(100, layer))
    _expect(tmp_path / "lenet.caffemodel", "looks like a Caffe model")
    (tmp_path / "deploy.prototxt").write_text('name: "LeNet"\nlayer {\n  name: "data"\n}\n')
    _expect(tmp_path / "deploy.prototxt", "looks like a Caffe network description")


def test_ncnn_description_and_weights(tmp_path: Path):
    (tmp_path / "squeezenet.param").write_text("7767517\n2 2\nInput data 0 1 data 0=227\n")
    (tmp_path / "squeezenet.bin").write_bytes(np.ones(16, np.float32).tobytes())
    _expect(tmp_path / "squeezenet.param", "this is an NCNN model description", "squeezenet.bin")
    _expect(tmp_path / "squeezenet.bin", "looks like the weights of an NCNN model")


def test_a_folder_of_foreign_files_names_them(tmp_path: Path):
    _tflite(tmp_path / "model.tflite")
    (tmp_path / "labels.txt").write_text("cat\ndog\n")
    _expect(tmp_path, "model.tflite (a TensorFlow Lite model)")


def test_unknown_bytes_are_described_not_quoted(tmp_path: Path):
    path = tmp_path / "model.pt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    message = _expect(path, "not a checkpoint", "binary data")
    assert "PNG" not in message


def test_real_checkpoints_are_not_mistaken_for_foreign_files(tmp_path: Path):
    # a safetensors model whose name and first tensor names could tempt a guess
    path = save_safetensors(make_model(layers=1), tmp_path / "model.engine")
    assert open_checkpoint(path).format == "safetensors"
