"""Crafted headers that are valid files but hostile values: a name with a thousand dots, an element
count beyond float range, a 400-digit α, adapters that name each other, an int too long to print.
Each opens with its values shown honestly and the CLI exits 0 or 2 — never a traceback."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from format_fixtures import write_peft_adapter
from safetensors.numpy import save_file

from core import open_checkpoint
from core.info import info_json, info_text

ROOT = Path(__file__).resolve().parent.parent


def _cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def _assert_clean(run: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode in (0, 2), run.stderr


def test_a_name_with_a_thousand_dots_opens_in_every_view(tmp_path: Path) -> None:
    path = tmp_path / "deep.safetensors"
    name = ".".join(["block"] * 1000) + ".weight"
    save_file({name: np.ones((3, 2), np.float32), "head.bias": np.ones(2, np.float32)}, str(path))

    checkpoint = open_checkpoint(path)

    node, levels = checkpoint.tree, 0
    while node.children:
        node = node.children.get("block") or node.children["head"]
        levels += 1
    assert levels == 1000 and node.tensors[0].name == name
    assert checkpoint.tree.params == 8
    assert checkpoint.tree.children["block"].params == 6
    document = info_json(checkpoint)
    json.loads(json.dumps(document))  # a JSON reader takes it back
    assert document["tree"]["params"] == 8
    assert "block" in info_text(checkpoint, depth=5000)
    for command in (("info",), ("info", "--json"), ("stats", "--all")):
        run = _cli(*command, path)
        _assert_clean(run)
        assert run.returncode == 0, run.stderr


class _HugeTensor:
    """Pickles as torch's own tensor rebuild of a stride-0 view with the shape given."""

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape

    def __reduce__(self):
        storage = torch.zeros(1).storage()
        zeros = (0,) * len(self.shape)
        return torch._utils._rebuild_tensor_v2, (storage, 0, self.shape, zeros, False, {})


def _pickle_with_shape(path: Path, shape: tuple[int, ...]) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TypedStorage is deprecated
        path.write_bytes(pickle.dumps({"w": _HugeTensor(shape)}, protocol=4))
    return path


def test_an_element_count_beyond_float_range(tmp_path: Path) -> None:
    path = _pickle_with_shape(tmp_path / "huge.pkl", (2**62,) * 20)  # 2**1240 elements

    checkpoint = open_checkpoint(path)

    assert checkpoint.totals.params == 2**1240  # exact, as the file states it
    assert checkpoint.memory["int4"] == 2**1239
    assert checkpoint.memory["fp32"] == 2**1242
    assert any("more elements than any tensor can hold" in w for w in checkpoint.warnings)
    assert "~10^373" in info_text(checkpoint)
    json.dumps(info_json(checkpoint))
    _assert_clean(_cli("info", path))


def test_an_element_count_too_long_to_print(tmp_path: Path) -> None:
    path = _pickle_with_shape(tmp_path / "many_dims.pkl", (2**62,) * 1000)

    document = json.loads(_cli("info", "--json", path).stdout)

    assert document["total_params"] == "<an integer of about 10^18664, too long to show>"
    assert document["tensors"][0]["numel"] == document["total_params"]


def test_a_size_beyond_64_bits_is_refused(tmp_path: Path) -> None:
    path = _pickle_with_shape(tmp_path / "wide.pkl", (10**200, 10**200))

    run = _cli("info", path)

    assert run.returncode == 2 and "beyond 64 bits" in run.stderr


def test_a_four_hundred_digit_lora_alpha(tmp_path: Path) -> None:
    folder = tmp_path / "adapter"
    write_peft_adapter(folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    text = json.dumps(config).replace('"lora_alpha": 8', '"lora_alpha": ' + "9" * 400)
    (folder / "adapter_config.json").write_text(text)

    checkpoint = open_checkpoint(folder)

    assert "α=~10^400" in checkpoint.facts["adapter"]
    for command in (("info",), ("info", "--json"), ("hparams",)):
        run = _cli(*command, folder)
        _assert_clean(run)
        assert run.returncode == 0


def test_two_adapters_that_name_each_other_as_base(tmp_path: Path) -> None:
    for name, other in (("a", "b"), ("b", "a")):
        write_peft_adapter(tmp_path / name)
        config = json.loads((tmp_path / name / "adapter_config.json").read_text())
        config["base_model_name_or_path"] = f"../{other}"
        (tmp_path / name / "adapter_config.json").write_text(json.dumps(config))

    checkpoint = open_checkpoint(tmp_path / "a")

    # the base is opened once, as a base: its own base is not followed
    assert "% of the base model's" in checkpoint.facts["adapter params"]
    _assert_clean(_cli("info", tmp_path / "a"))


def test_an_integer_too_long_to_print(tmp_path: Path) -> None:
    path = tmp_path / "run.ckpt"
    torch.save(
        {"hyper_parameters": {"lr": 10**20000}, "epoch": -(10**5000), "state_dict": {}}, path
    )

    checkpoint = open_checkpoint(path)

    shown = checkpoint.hyperparams["checkpoint:hyper_parameters"]["lr"]
    assert shown == "<an integer of about 10^20000, too long to show>"
    for command in (("info", "--json"), ("hparams",), ("hparams", "--json"), ("info",)):
        run = _cli(*command, path)
        _assert_clean(run)
        assert run.returncode == 0, run.stderr


def test_values_too_long_for_int_or_float_typed_in_an_edit(tmp_path: Path) -> None:
    from core.cli import main as cli_main
    from core.hparams.edit import HParamError, _convert

    path = tmp_path / "run.ckpt"
    torch.save({"hyper_parameters": {"lr": 0.1}, "state_dict": {}}, path)
    digits = "9" * 5000
    # a new key's value is read as YAML would read it: past Python's digit limit, as text
    assert cli_main(["hparams", str(path), "--set", f"my_number={digits}", "--json"]) == 0
    with pytest.raises(HParamError, match="a float can hold"):
        _convert("lr", 10**400, "float")
    with pytest.raises(HParamError, match="too long to show"):
        _convert("lr", 10**5000, "float")
