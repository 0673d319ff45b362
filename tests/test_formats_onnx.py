"""ONNX: models written by onnx.helper open with onnx's own initializers (names, shapes, values
read through our data sources, inline or in an external data file), the producer, opset and
metadata; cut, corrupt and escaping files are refused by name."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from format_fixtures import truncate, write_onnx

from core import stats
from core.errors import CheckpointError
from core.model import TensorInfo
from core.open import open_checkpoint
from core.readers.onnx import looks_like_onnx

ROOT = Path(__file__).resolve().parent.parent


def values_at(t: TensorInfo) -> np.ndarray:
    storage = {"float32": "<f4", "float64": "<f8"}[t.dtype]
    with open(t.source.file, "rb") as f:
        f.seek(t.source.offset)
        return np.frombuffer(f.read(t.source.nbytes), storage).reshape(t.shape)


def onnx_initializers(path: Path) -> dict[str, np.ndarray]:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))  # loads external data too: the reference, not our way
    return {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}


@pytest.mark.parametrize("external", [False, True], ids=["inline", "external"])
def test_initializers_match_onnx(tmp_path, external):
    path = tmp_path / "mlp.onnx"
    weights = write_onnx(path, external=external)
    ckpt = open_checkpoint(path)
    assert ckpt.format == "onnx"
    reference = onnx_initializers(path)
    assert [t.name for t in ckpt.tensors] == list(reference) == list(weights)
    for name, array in reference.items():
        t = ckpt.tensor(name)
        assert t.shape == array.shape and t.numel == array.size and t.dtype == "float32"
        np.testing.assert_array_equal(values_at(t), array)
    assert ckpt.totals.params == sum(a.size for a in weights.values())
    assert ckpt.totals.counts == {"weight": 16 * 8 + 4 * 16, "bias": 16 + 4, "other": 0}
    if external:
        assert len(ckpt.files) == 2 and ckpt.files[1].name == "mlp.onnx.data"
        assert all(t.source.file.name == "mlp.onnx.data" for t in ckpt.tensors)
    assert ckpt.facts["opset"] == "17" and ckpt.facts["producer"] == "paramscope-tests"
    # metadata_props are strings; a number written as text is read back as that number
    assert ckpt.hyperparams["onnx metadata_props"] == {"epochs": 3, "learning_rate": 0.001}
    assert ckpt.metadata["operators"] == {"Gemm": 2, "Relu": 1}


def test_float_data_and_varint_initializers(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    scale = helper.make_tensor("norm.weight", TensorProto.FLOAT, [3], [1.5, 2.0, -1.0])
    shape = helper.make_tensor("reshape.shape", TensorProto.INT64, [2], [1, -1])
    graph = helper.make_graph(
        [helper.make_node("Mul", ["x", "norm.weight"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
        initializer=[scale, shape],
    )
    path = tmp_path / "small.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    ckpt = open_checkpoint(path)
    np.testing.assert_array_equal(values_at(ckpt.tensor("norm.weight")), [1.5, 2.0, -1.0])
    varint = ckpt.tensor("reshape.shape")
    assert varint.shape == (2,) and varint.dtype == "int64"
    result = stats.tensor_stats(varint, workers=1)  # int64_data varints, read as such
    assert (result.min, result.max, result.numel) == (-1, 1, 2)
    assert not ckpt.warnings


def test_truncated_and_corrupt_models_are_checkpoint_errors(tmp_path):
    path = tmp_path / "mlp.onnx"
    write_onnx(path, external=False)
    size = path.stat().st_size
    for keep in (size // 2, size - 5):
        cut = truncate(path, keep, tmp_path / f"cut{keep}.onnx")
        with pytest.raises(CheckpointError, match="truncated|graph"):
            open_checkpoint(cut)
    bad = bytearray(path.read_bytes())
    bad[40:48] = b"\xff" * 8  # an endless varint inside the graph
    (tmp_path / "bad.onnx").write_bytes(bytes(bad))
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(tmp_path / "bad.onnx")
    assert "bad.onnx" in str(caught.value)


def test_external_data_truncated_missing_or_outside_the_folder(tmp_path):
    path = tmp_path / "mlp.onnx"
    write_onnx(path, external=True)
    data = tmp_path / "mlp.onnx.data"
    whole = {t.name: t.source for t in open_checkpoint(path).tensors}
    size = data.stat().st_size
    truncate(data, 100, data)
    # like a cut GGUF: the graph opens, the tensors beyond the end have no data, one warning says so
    ckpt = open_checkpoint(path)
    assert ckpt.totals.params == 212
    beyond = sorted(n for n, s in whole.items() if s.offset + s.nbytes > 100)
    assert sorted(t.name for t in ckpt.tensors if t.source is None) == beyond
    (warning,) = [w for w in ckpt.warnings if "truncated" in w]
    assert f"{len(beyond)} tensors" in warning and f"{size - 100:,} bytes short" in warning
    data.unlink()
    ckpt = open_checkpoint(path)
    assert ckpt.totals.params == 212 and all(t.source is None for t in ckpt.tensors)
    (warning,) = [w for w in ckpt.warnings if "missing" in w]  # one for the file, not per tensor
    assert "4 tensors" in warning
    escaping = tmp_path / "escape.onnx"
    escaping.write_bytes(path.read_bytes().replace(b"mlp.onnx.data", b"../etc/passwd"))
    with pytest.raises(CheckpointError, match="outside the model folder"):
        open_checkpoint(escaping)


def test_match_is_by_content():
    assert looks_like_onnx(b"\x08\x07\x12\x07pytorch")
    assert not looks_like_onnx(b"\x80\x02\x8a\nl\xfc\x9cF\xf9 j\xa8")  # a legacy torch pickle
    assert not looks_like_onnx(b"PK\x03\x04")
    assert not looks_like_onnx(b"")


def test_cli_info_on_onnx(tmp_path):
    path = tmp_path / "mlp.onnx"
    write_onnx(path, external=True)
    run = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "info", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    assert "onnx" in run.stdout and "opset 17" in run.stdout and "fc1" in run.stdout


def test_torch_export_names_for_unnamed_weights_count_as_weights(tmp_path):
    """torch.onnx names a weight it found no module name for `onnx::MatMul_<n>`: still a weight."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((8, 4)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "onnx::MatMul_7"], ["y"])],
        "export",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        initializer=[numpy_helper.from_array(w, name="onnx::MatMul_7")],
    )
    path = tmp_path / "export.onnx"
    onnx.save_model(helper.make_model(graph), str(path))
    t = open_checkpoint(path).tensor("onnx::MatMul_7")
    assert (t.kind, t.role) == ("weight", "linear")
