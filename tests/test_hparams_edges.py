"""Hyperparameter files as they turn up in the wild, beyond the tidy cases: YAML values that are
not JSON (dates, binary, sets), Hydra overrides, configs kept above the weights folder, values
that are not numbers, lists with typed elements, and exports next to the user's own files."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import stat
import tomllib
from pathlib import Path

import pytest
import torch
import yaml

from core.cli import main as cli_main
from core.hparams.edit import HParamError, HyperParamSet
from core.open import open_checkpoint
from tests import hparams_files as files
from tests.checkpoints import make_model, save_hf_folder, save_lightning, save_safetensors


def _strict_json(text: str) -> object:
    def refuse(constant: str) -> object:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


# --- YAML values that JSON and TOML cannot hold ------------------------------------------------

ODD_YAML = """\
lr: 0.001
started: 2024-01-15
finished: 2024-01-15 10:30:00
blob: !!binary aGVsbG8=
tags: !!set {a, b}
ordered: !!omap [{x: 1}, {y: 2}]
7: seven
"""


@pytest.fixture
def odd_config(tmp_path: Path) -> Path:
    weights = save_safetensors(make_model(layers=2, width=16), tmp_path / "model.safetensors")
    (tmp_path / "hparams.yaml").write_text(ODD_YAML)
    return weights


def test_yaml_dates_binary_and_sets_are_read_as_plain_values(odd_config: Path) -> None:
    found = open_checkpoint(odd_config).hyperparams["hparams.yaml"]
    assert found["started"] == "2024-01-15"
    assert found["finished"] == "2024-01-15 10:30:00"
    assert found["blob"] == "hello"
    assert sorted(found["tags"]) == ["a", "b"]
    assert found["ordered"] == {"x": 1, "y": 2}
    assert found["7"] == "seven"


def test_hparams_json_and_every_export_work_with_yaml_dates(
    odd_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli_main(["hparams", str(odd_config), "--json"]) == 0
    assert _strict_json(capsys.readouterr().out)["values"]["started"] == "2024-01-15"
    for suffix, load in (
        (".yaml", yaml.safe_load),
        (".json", json.loads),
        (".toml", tomllib.loads),
    ):
        out = tmp_path / f"out{suffix}"
        assert cli_main(["hparams", str(odd_config), "--export", str(out)]) == 0, suffix
        back = load(out.read_text())
        assert back["started"] == "2024-01-15" and back["lr"] == 0.001, suffix


def test_set_a_date_like_value_stays_text(
    odd_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.toml"
    args = ["hparams", str(odd_config), "--set", "day=2024-02-01", "--export", str(out)]
    assert cli_main(args) == 0
    assert tomllib.loads(out.read_text())["day"] == "2024-02-01"


def test_toml_export_reports_an_integer_too_big_for_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = save_safetensors(make_model(layers=2, width=16), tmp_path / "model.safetensors")
    (tmp_path / "hparams.yaml").write_text(f"seed: {2**70}\nlr: 0.1\n")
    out = tmp_path / "out.toml"
    assert cli_main(["hparams", str(weights), "--export", str(out)]) == 0
    back = tomllib.loads(out.read_text())
    assert back["seed"] == str(2**70) and back["lr"] == 0.1
    assert "seed" in capsys.readouterr().err


# --- Hydra overrides ------------------------------------------------------------------------------


def test_hydra_overrides_are_merged_as_dotted_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "outputs" / "2024-01-01" / "12-00-00"
    weights = files.hydra_run(run)
    (run / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump(["optim.lr=1e-3", "+trainer.devices=2", "++seed=7", "~model.dropout"])
    )
    found = open_checkpoint(weights).hyperparams["../.hydra/overrides.yaml"]
    assert found == {"optim": {"lr": 1e-3}, "trainer": {"devices": 2}, "seed": 7}
    hset = HyperParamSet(open_checkpoint(weights).hyperparams)
    assert hset.conflict("merged", ("optim", "lr")) == {}
    out = tmp_path / "next.yaml"
    assert cli_main(["hparams", str(weights), "--set", "optim.lr=5e-4", "--export", str(out)]) == 0
    back = yaml.safe_load(out.read_text())
    assert back["optim"]["lr"] == 5e-4
    assert "optim.lr" not in back


# --- configs above the weights folder -----------------------------------------------------------


def test_ultralytics_args_yaml_above_the_weights_folder(tmp_path: Path) -> None:
    train = tmp_path / "runs" / "detect" / "train"
    (train / "weights").mkdir(parents=True)
    (train / "args.yaml").write_text("task: detect\nepochs: 100\nlr0: 0.01\nimgsz: 640\n")
    best = train / "weights" / "best.pt"
    torch.save({"epoch": 99, "model": make_model(layers=2, width=16).state_dict()}, best)
    found = open_checkpoint(best).hyperparams
    assert found["../args.yaml"] == {"task": "detect", "epochs": 100, "lr0": 0.01, "imgsz": 640}


def test_lightning_logs_beside_the_checkpoints_folder(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    for version, lr in ((0, 0.1), (1, 0.02)):
        folder = run / "lightning_logs" / f"version_{version}"
        folder.mkdir(parents=True)
        (folder / "hparams.yaml").write_text(f"lr: {lr}\nbatch_size: 8\n")
    ckpt = save_lightning(make_model(layers=2, width=16), run / "checkpoints" / "last.ckpt")
    found = open_checkpoint(ckpt).hyperparams
    assert found["../lightning_logs/version_1/hparams.yaml"] == {"lr": 0.02, "batch_size": 8}


# --- values that are not numbers ------------------------------------------------------------------


def _lightning_config(tmp_path: Path):  # noqa: ANN202 — an EditableConfig
    ckpt = files.lightning_run(tmp_path / "run")
    return HyperParamSet(open_checkpoint(ckpt).hyperparams).config(), ckpt


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", ".nan", "1e999"])
def test_a_float_must_be_a_finite_number(tmp_path: Path, text: str) -> None:
    config, _ = _lightning_config(tmp_path)
    with pytest.raises(HParamError, match="finite"):
        config.set(("lr",), text)
    with pytest.raises(HParamError, match="finite"):
        config.add(("warmup_ratio",), text)
    assert config.get(("lr",)) == 3e-4


def test_cli_refuses_nan_and_json_output_stays_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = tmp_path / "train.pt"
    state = {"model": make_model(layers=2, width=16).state_dict(), "best_metric": math.nan}
    state["args"] = {"lr": 0.1, "clip": math.inf}
    torch.save(state, ckpt)
    assert cli_main(["hparams", str(ckpt), "--set", "lr=nan"]) == 2
    assert "finite" in capsys.readouterr().err
    assert cli_main(["hparams", str(ckpt), "--json"]) == 0
    data = _strict_json(capsys.readouterr().out)
    assert data["values"]["best_metric"] == "nan"
    assert data["sources"]["checkpoint:args"]["clip"] == "inf"


# --- lists keep their element types ---------------------------------------------------------------


def test_list_elements_are_typed_like_the_list(tmp_path: Path) -> None:
    config, _ = _lightning_config(tmp_path)  # betas: [0.9, 0.95]
    with pytest.raises(HParamError, match=r"betas\[0\] must be a number; 'a' is not"):
        config.set(("betas",), "[a, b]")
    with pytest.raises(HParamError, match="list"):
        config.set(("betas",), "0.9")
    with pytest.raises(HParamError, match="finite"):
        config.set(("betas",), "[0.9, nan]")
    assert config.set(("betas",), "[1, 0.99]")[1] == [1.0, 0.99]
    assert type(config.get(("betas",))[0]) is float
    assert config.set(("betas",), "[0.9]")[1] == [0.9]


# --- exports beside the user's own files ----------------------------------------------------------


def test_export_gets_ordinary_permissions_and_keeps_an_existing_files_mode(
    tmp_path: Path,
) -> None:
    ckpt = files.lightning_run(tmp_path / "run")
    out = tmp_path / "new.yaml"
    assert cli_main(["hparams", str(ckpt), "--export", str(out)]) == 0
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~umask
    out.chmod(0o640)
    assert cli_main(["hparams", str(ckpt), "--export", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o640


def test_export_refuses_to_replace_a_config_the_checkpoint_was_read_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = save_hf_folder(make_model(layers=2, width=16), tmp_path / "model")
    config = folder / "config.json"
    before = config.read_bytes()
    assert cli_main(["hparams", str(folder), "--set", "x=1", "--export", str(config)]) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and "Traceback" not in err
    assert config.read_bytes() == before


@pytest.mark.parametrize(
    "text, why",
    [
        ("loop: &a [1, *a]\nlr: 0.1\n", "contains itself"),
        (
            "a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
            "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
            "values",
        ),
    ],
)
def test_a_yaml_alias_loop_or_bomb_beside_the_weights_is_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, why: str
) -> None:
    weights = save_safetensors(make_model(layers=2, width=16), tmp_path / "model.safetensors")
    (tmp_path / "hparams.yaml").write_text(text)
    checkpoint = open_checkpoint(weights)
    assert "hparams.yaml" not in checkpoint.hyperparams
    assert any(w.startswith("hparams.yaml:") and why in w for w in checkpoint.warnings)
    assert cli_main(["hparams", str(weights)]) == 0


def test_an_unreadable_config_is_reported_and_never_exported_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = save_hf_folder(make_model(layers=2, width=16), tmp_path / "model")
    config = folder / "config.json"
    config.write_text('{"hidden_size": 16,}')  # a trailing comma: not JSON
    before = config.read_bytes()
    assert cli_main(["hparams", str(folder)]) == 0
    assert "config.json: not valid JSON" in capsys.readouterr().err
    assert cli_main(["hparams", str(folder), "--json"]) == 0
    assert any("config.json" in w for w in json.loads(capsys.readouterr().out)["warnings"])
    assert cli_main(["hparams", str(folder), "--set", "x=1", "--export", str(config)]) == 2
    assert config.read_bytes() == before


def test_a_config_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    folder = save_hf_folder(make_model(layers=2, width=16), tmp_path / "model")
    config = folder / "config.json"
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
    assert "config.json" in open_checkpoint(folder).hyperparams


def test_export_never_replaces_the_shard_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from safetensors.torch import save_file

    folder = tmp_path / "sharded"
    folder.mkdir()
    state = {k: v.clone() for k, v in make_model(layers=2, width=16).state_dict().items()}
    names = sorted(state)
    weight_map = {}
    for i, part in enumerate((names[: len(names) // 2], names[len(names) // 2 :])):
        shard = f"model-0000{i + 1}-of-00002.safetensors"
        save_file({k: state[k] for k in part}, str(folder / shard))
        weight_map.update(dict.fromkeys(part, shard))
    index = folder / "model.safetensors.index.json"
    index.write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (folder / "config.json").write_text(json.dumps({"hidden_size": 16}))
    before = index.read_bytes()
    assert cli_main(["hparams", str(folder), "--export", str(index)]) == 2
    assert index.read_bytes() == before


def test_minus_one_means_not_set_for_epochs_and_batch(tmp_path: Path) -> None:
    weights = files.wandb_run(tmp_path)
    (tmp_path / "args.yaml").write_text("batch: 16\nepochs: 100\n")
    config = HyperParamSet(open_checkpoint(weights).hyperparams).config("args.yaml")
    assert config.set(("batch",), "-1")[1] == -1  # Ultralytics AutoBatch
    assert config.set(("epochs",), "-1")[1] == -1  # Lightning: until stopped
    with pytest.raises(HParamError):
        config.set(("batch",), "-2")


def test_epochs_are_numbers_whole_or_not(tmp_path: Path) -> None:
    config, _ = _lightning_config(tmp_path)
    with pytest.raises(HParamError, match="number"):
        config.add(("max_epochs",), "ten")
    assert config.add(("max_epochs",), "10") == 10
    assert config.set(("max_epochs",), "2.5")[1] == 2.5


def test_nan_inside_a_new_list_of_mappings_is_refused(tmp_path: Path) -> None:
    config, _ = _lightning_config(tmp_path)
    with pytest.raises(HParamError, match="finite"):
        config.add(("stages",), "[{a: .nan}]")


def test_an_ambiguous_spelling_is_refused_not_added(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights = save_safetensors(make_model(layers=2, width=16), tmp_path / "model.safetensors")
    (tmp_path / "args.yaml").write_text("train_batch_size: 64\nper_device_train_batch_size: 8\n")
    assert cli_main(["hparams", str(weights), "--set", "batch_size=4"]) == 2
    err = capsys.readouterr().err
    assert "train_batch_size" in err and "per_device_train_batch_size" in err


def test_the_same_nan_in_two_sources_is_no_conflict(tmp_path: Path) -> None:
    ckpt = tmp_path / "train.pt"
    torch.save({"model": make_model(layers=2, width=16).state_dict(), "best": math.nan}, ckpt)
    (tmp_path / "hparams.yaml").write_text("best: .nan\n")
    hset = HyperParamSet(open_checkpoint(ckpt).hyperparams)
    assert hset.conflict("merged", ("best",)) == {}


def test_generation_max_length_is_not_the_training_sequence_length(tmp_path: Path) -> None:
    folder = save_hf_folder(make_model(layers=2, width=16), tmp_path / "model")
    (folder / "generation_config.json").write_text(json.dumps({"max_length": 4096}))
    (folder / "hparams.yaml").write_text("max_seq_length: 512\n")
    hset = HyperParamSet(open_checkpoint(folder).hyperparams)
    assert hset.conflict("merged", ("max_length",)) == {}
    from core.hparams.keys import spec_for

    assert spec_for("max_length").group == "inference"


def test_toml_leaves_out_a_list_holding_null_instead_of_shortening_it() -> None:
    from core.hparams.export import to_text

    text, notes = to_text({"betas": [None, 0.999], "lr": 0.1}, "toml")
    assert tomllib.loads(text) == {"lr": 0.1}
    assert any(n.startswith("betas") for n in notes)


def test_a_hydra_group_choice_and_a_key_in_it_both_stay(tmp_path: Path) -> None:
    run = tmp_path / "outputs" / "run"
    weights = files.hydra_run(run)
    (run / ".hydra" / "overrides.yaml").write_text(
        yaml.safe_dump(["optimizer=adamw", "optimizer.lr=0.01"])
    )
    found = open_checkpoint(weights).hyperparams["../.hydra/overrides.yaml"]
    assert found == {"optimizer": "adamw", "optimizer.lr": 0.01}


def test_configs_in_more_real_layouts(tmp_path: Path) -> None:
    # Lightning under Hydra: <run>/.hydra and <run>/lightning_logs/version_0/checkpoints/
    run = tmp_path / "hydra-run"
    (run / ".hydra").mkdir(parents=True)
    (run / ".hydra" / "config.yaml").write_text("optim:\n  lr: 0.001\n")
    checkpoints = run / "lightning_logs" / "version_0" / "checkpoints"
    checkpoints.mkdir(parents=True)
    ckpt = save_lightning(make_model(layers=2, width=16), checkpoints / "last.ckpt")
    found = open_checkpoint(ckpt).hyperparams
    assert found["../../../.hydra/config.yaml"] == {"optim": {"lr": 0.001}}

    # the newest Lightning version has no hparams.yaml (stopped at once): the one before has
    run = tmp_path / "pl"
    for version, text in ((0, "lr: 0.1\n"), (1, None)):
        folder = run / "lightning_logs" / f"version_{version}"
        folder.mkdir(parents=True)
        if text:
            (folder / "hparams.yaml").write_text(text)
    ckpt = save_lightning(make_model(layers=2, width=16), run / "last.ckpt")
    assert open_checkpoint(ckpt).hyperparams["lightning_logs/version_0/hparams.yaml"] == {"lr": 0.1}

    # Meta's params.json; YOLOv5's hyp.yaml; an offline W&B run
    folder = tmp_path / "meta"
    folder.mkdir()
    weights = save_safetensors(make_model(layers=2, width=16), folder / "model.safetensors")
    (folder / "params.json").write_text(json.dumps({"dim": 16, "n_layers": 2}))
    (folder / "hyp.yaml").write_text("lr0: 0.01\nwarmup_epochs: 3.0\n")
    files_dir = folder / "wandb" / "offline-run-20240101_120000-abc" / "files"
    files_dir.mkdir(parents=True)
    (files_dir / "config.yaml").write_text("wandb_version: 1\nseed:\n  value: 3\n")
    found = open_checkpoint(weights).hyperparams
    assert found["params.json"] == {"dim": 16, "n_layers": 2}
    assert found["hyp.yaml"]["lr0"] == 0.01
    assert found["wandb wandb/offline-run-20240101_120000-abc/files/config.yaml"] == {"seed": 3}
    from core.hparams.keys import spec_for

    assert spec_for("lr0").canonical == "learning_rate"
    assert spec_for("warmup_epochs").group == "schedule"


def test_ultralytics_train_args_inside_best_pt(tmp_path: Path) -> None:
    best = tmp_path / "best.pt"
    state = {"epoch": 9, "model": make_model(layers=2, width=16).state_dict()}
    state["train_args"] = {"lr0": 0.01, "imgsz": 640}
    torch.save(state, best)
    assert open_checkpoint(best).hyperparams["checkpoint:train_args"] == {"lr0": 0.01, "imgsz": 640}


# --- the architecture check on real layouts ---------------------------------------------------


def _shaped(folder: Path, shapes: dict[str, tuple[int, ...]], config: dict) -> Path:
    import numpy as np
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    save_file(
        {k: np.zeros(s, np.float32) for k, s in shapes.items()}, str(folder / "m.safetensors")
    )
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def _marks(folder: Path) -> dict[str, str]:
    from core.hparams.archcheck import check_architecture

    return {c.what: c.status for c in check_architecture(open_checkpoint(folder))}


def test_no_false_alarms_on_t5_clip_esm_deepseek_and_adapters(tmp_path: Path) -> None:
    t5 = {"shared.weight": (100, 32)}
    for i in range(2):
        p = f"encoder.block.{i}.layer.0.SelfAttention"
        t5 |= {f"{p}.q.weight": (48, 32), f"{p}.k.weight": (48, 32), f"{p}.o.weight": (32, 48)}
    mt5 = {"d_model": 32, "d_kv": 8, "num_heads": 6, "num_layers": 2, "vocab_size": 100}
    assert _marks(_shaped(tmp_path / "mt5", t5, mt5))["heads"] == "match"

    clip = {"text_model.embeddings.token_embedding.weight": (100, 16)}
    clip |= {f"text_model.encoder.layers.{i}.mlp.fc1.weight": (64, 16) for i in range(2)}
    clip |= {f"vision_model.encoder.layers.{i}.mlp.fc1.weight": (96, 24) for i in range(4)}
    config = {
        "text_config": {"hidden_size": 16, "num_hidden_layers": 2, "vocab_size": 100},
        "vision_config": {"hidden_size": 24, "num_hidden_layers": 4},
    }
    assert "mismatch" not in _marks(_shaped(tmp_path / "clip", clip, config)).values()

    esm = {
        "esm.embeddings.word_embeddings.weight": (33, 16),
        "esm.embeddings.position_embeddings.weight": (1026, 16),
    }
    esm |= {f"esm.encoder.layer.{i}.intermediate.dense.weight": (64, 16) for i in range(2)}
    marks = _marks(_shaped(tmp_path / "esm", esm, {"vocab_size": 33, "hidden_size": 16}))
    assert marks["vocabulary"] == "match"

    mla = {"model.embed_tokens.weight": (100, 16)}
    mla |= {f"model.layers.{i}.self_attn.q_proj.weight": (4 * 24, 16) for i in range(2)}
    config = {"hidden_size": 16, "num_attention_heads": 4, "kv_lora_rank": 8, "vocab_size": 100}
    assert "heads" not in _marks(_shaped(tmp_path / "mla", mla, config))

    lora = {
        f"base_model.model.model.layers.{i}.self_attn.q_proj.lora_{ab}.weight": shape
        for i in range(2)
        for ab, shape in (("A", (4, 16)), ("B", (16, 4)))
    }
    base = {"hidden_size": 4096, "num_hidden_layers": 32, "intermediate_size": 11008}
    assert _marks(_shaped(tmp_path / "lora", lora, base)) == {}


def test_a_value_hidden_by_another_sources_value_is_marked_not_dropped() -> None:
    from core.hparams.merge import merge

    merged = merge({"a": {"model": "resnet50"}, "b": {"model": {"depth": 50}}})
    assert merged.data == {"model": "resnet50"}
    assert merged.conflicts[("model",)] == {"a": "resnet50", "b (model.depth)": 50}
    merged = merge({"a": {"model": {"depth": 50}}, "b": {"model": "resnet50"}})
    assert merged.conflicts[("model", "depth")] == {"a": 50, "b (model)": "resnet50"}


@dataclasses.dataclass
class _Accelerate:
    split_batches: bool = False


@dataclasses.dataclass
class _Arguments:
    learning_rate: float = 5e-5
    accelerator_config: _Accelerate = dataclasses.field(default_factory=_Accelerate)


def test_nested_objects_in_training_args_bin_leave_no_class_keys(tmp_path: Path) -> None:
    weights = save_safetensors(make_model(layers=2, width=16), tmp_path / "model.safetensors")
    torch.save(_Arguments(), tmp_path / "training_args.bin")
    found = open_checkpoint(weights).hyperparams["training_args.bin"]
    assert found == {"learning_rate": 5e-5, "accelerator_config": {"split_batches": False}}


def test_export_through_a_symlink_writes_the_file_it_points_to(tmp_path: Path) -> None:
    ckpt = files.lightning_run(tmp_path / "run")
    real = tmp_path / "shared" / "hparams.yaml"
    real.parent.mkdir()
    real.write_text("old: 1\n")
    link = tmp_path / "latest.yaml"
    link.symlink_to(real)
    assert cli_main(["hparams", str(ckpt), "--export", str(link)]) == 0
    assert link.is_symlink()
    assert yaml.safe_load(real.read_text())["lr"] == 3e-4


def test_gguf_rope_and_norm_keys_are_known() -> None:
    from core.hparams.keys import spec_for

    assert spec_for("llama.rope.freq_base").canonical == "rope_theta"
    assert spec_for("llama.attention.layer_norm_rms_epsilon").canonical == "norm_eps"


def test_a_list_under_a_known_scalar_key_is_not_filed_under_its_group(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.hparams.keys import group_of

    assert group_of(("config", "layers"), [{"class_name": "Dense"}]) == "other"
    assert group_of(("num_layers",), 12) == "architecture"
    weights = save_safetensors(make_model(layers=2, width=16), tmp_path / "model.safetensors")
    (tmp_path / "hparams.yaml").write_text("layers:\n- {units: 8}\n- {units: 4}\nlr: 0.1\n")
    assert cli_main(["hparams", str(weights)]) == 0
    out = capsys.readouterr().out
    assert out.index("\nother") < out.index("layers")
