"""The real-file corpus harness (benchmarks/corpus.py) on files made here, without the network:
it finds model files by content, agrees with ParamScope where both are right, and reports each
kind of disagreement when ParamScope's answer is altered."""

from __future__ import annotations

import copy
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent


def load_corpus():
    spec = importlib.util.spec_from_file_location("corpus", ROOT / "benchmarks" / "corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["corpus"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


corpus = load_corpus()


@pytest.fixture
def state_dict_file(tmp_path: Path) -> Path:
    """A small convolutional network's state dict, saved as a user saves one."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3),
        torch.nn.BatchNorm2d(8),
        torch.nn.Flatten(),
        torch.nn.LazyLinear(4),
    )
    net(torch.randn(1, 3, 6, 6))
    path = tmp_path / "net.pt"
    torch.save(net.state_dict(), path)
    return path


def model_file(path: Path, fmt: str) -> object:
    return corpus.ModelFile(corpus.Package("made-here", "0"), path, path.name, fmt)


def test_finds_model_files_by_content_not_by_name(tmp_path: Path, state_dict_file: Path) -> None:
    (tmp_path / "weights.bin").write_bytes(state_dict_file.read_bytes())  # a zip, not by suffix
    np.save(tmp_path / "array.dat", np.arange(6, dtype=np.float32))
    (tmp_path / "notes.txt").write_text("no model here")
    found = {f.label: f.format for f in corpus.find_models(corpus.Package("p", "0"), tmp_path)}
    # the .pt and the .bin hold the same bytes: one of them is checked
    assert sorted(found.values()) == ["npy", "pytorch"]
    assert "array.dat.npy" in found


def test_a_state_dict_matches_the_reference(state_dict_file: Path) -> None:
    result = corpus.check(model_file(state_dict_file, "pytorch"))
    assert result.problems == []
    assert result.tensors == "9/9"
    assert result.stats == "9"  # every tensor's min/max/mean/std compared with numpy


def test_each_kind_of_disagreement_is_reported(state_dict_file: Path) -> None:
    ref = corpus.ref_pytorch(state_dict_file)
    info = corpus.paramscope("info", str(state_dict_file), "--json").out
    stats = corpus.paramscope("stats", str(state_dict_file), "--all", "--json").out
    listed = {t["name"] for t in info["tensors"]}
    assert corpus.compare_tensors(ref, info) == []
    assert corpus.compare_totals(ref, info) == []
    assert corpus.compare_stats(ref, stats, listed) == ([], 9)

    wrong = copy.deepcopy(info)
    by_name = {t["name"]: t for t in wrong["tensors"]}
    by_name["0.weight"]["shape"] = [8, 3, 9]
    by_name["1.bias"]["dtype"] = "float16"
    by_name["1.running_var"]["role"] = "norm"  # a buffer shown as a parameter
    wrong["tensors"].remove(by_name["3.bias"])
    problems = " | ".join(corpus.compare_tensors(ref, wrong))
    assert "missing 1 tensors: 3.bias" in problems
    assert "shape differs in 1: 0.weight [8, 3, 9] vs [8, 3, 3, 3]" in problems
    assert "dtype differs in 1: 1.bias float16 vs float32" in problems
    assert "1 buffers (8) counted as parameters: 1.running_var" in problems

    wrong = copy.deepcopy(info)
    wrong["total_params"] += 1
    wrong["counts"]["other"] = wrong["total_params"] // 2
    problems = " | ".join(corpus.compare_totals(ref, wrong))
    assert "total parameters" in problems
    assert "'other' holds 50% of parameters" in problems

    wrong = copy.deepcopy(stats)
    wrong["tensors"][0]["mean"] += 1e-3
    problems, _ = corpus.compare_stats(ref, wrong, listed)
    assert problems and problems[0].startswith("stats differ in 1: 0.weight mean")


def test_keras_names_drop_a_repeated_layer_name() -> None:
    assert corpus.keras_name("lstm_1", "lstm_1/kernel:0") == "lstm_1.kernel"
    assert corpus.keras_name("bn_1", "bn_1_1/gamma:0") == "bn_1.bn_1_1.gamma"


class Hparams:
    """A class a training script pickles beside its weights (as Lightning pickles OmegaConf)."""

    def __init__(self, lr: float) -> None:
        self.lr = lr


def test_a_checkpoint_naming_a_foreign_class_is_read_weights_only_with_stand_ins(
    tmp_path: Path,
) -> None:
    path = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": {"w": torch.ones(2, 3)}, "hparams": Hparams(0.1)}, path)
    ref = corpus.ref_pytorch(path)
    assert ref.asks_code  # torch's weights-only loader refuses it: a warning saying so is right
    assert [(t.name, t.shape) for t in ref] == [("state_dict.w", (2, 3))]
    assert not corpus.is_false_alarm("this file asks to run code", asks_code=True)
    assert corpus.is_false_alarm("this file asks to run code", asks_code=False)


def test_keras3_storage_paths_are_named_from_the_config() -> None:
    config = {
        "class_name": "Sequential",
        "config": {
            "layers": [
                {"class_name": "InputLayer", "config": {"name": "input"}},
                {
                    "class_name": "Functional",
                    "config": {
                        "name": "backbone",
                        "layers": [
                            {"class_name": "Conv2D", "config": {"name": "stem"}},
                            {"class_name": "BatchNormalization", "config": {"name": "bn_a"}},
                            {
                                "class_name": "BatchNormalization",
                                "config": {"name": "bn_b", "scale": False},
                            },
                        ],
                    },
                },
                {"class_name": "Dense", "config": {"name": "head"}},
            ]
        },
    }
    layers = corpus.keras3_layers(config)
    assert layers["layers/functional/layers/batch_normalization_1"][0] == (
        "layers/backbone/layers/bn_b"
    )
    assert layers["layers/dense"][0] == "layers/head"
    bn_b = layers["layers/functional/layers/batch_normalization_1"][1]
    # no gamma when scale=False; the moving statistics are buffers
    assert corpus.keras3_var_names(bn_b) == (["beta", "moving_mean", "moving_variance"], 1)
    assert corpus.keras_snake("SeparableConv2D") == "separable_conv2d"


def test_a_quantised_gguf_is_compared_after_dequantising(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((8, 64)).astype(np.float32)
    path = tmp_path / "q.gguf"
    writer = gguf.GGUFWriter(str(path), "llama")
    kind = gguf.GGMLQuantizationType.Q8_0
    blocks = gguf.quants.quantize(weight, kind)
    writer.add_tensor("w", blocks, raw_shape=blocks.shape, raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    (ref,) = corpus.ref_gguf(path)
    assert (ref.shape, ref.dtype) == ((8, 64), "q8_0")
    assert np.abs(ref.values() - weight).max() < 0.02  # the blocks' numbers, not their bytes
