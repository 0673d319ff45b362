"""Hyperparameters, as a person meets them: open a real training output, find how it was trained
(inside the checkpoint and beside it), see conflicts and whether the config fits the weights,
edit with validation, export and read back. The checkpoint is never touched."""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from pathlib import Path

import pytest
import yaml

from core.cli import main as cli_main
from core.hparams import discover as discover_module
from core.hparams import yaml_safe
from core.hparams.archcheck import check_architecture, related_keys
from core.hparams.discover import discover
from core.hparams.edit import MISSING, HParamError, HyperParamSet
from core.hparams.export import beside_path, export, save_beside, to_text
from core.hparams.keys import spec_for
from core.open import open_checkpoint
from tests import hparams_files as files


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- discovery -----------------------------------------------------------------------------------


def test_lightning_run_finds_hyper_parameters_inside_and_hparams_yaml_above(tmp_path: Path) -> None:
    ckpt = files.lightning_run(tmp_path / "run")
    found = open_checkpoint(ckpt).hyperparams
    inside = found["checkpoint:hyper_parameters"]
    assert inside["model"] == {"layers": 3, "hidden_dim": 16, "dropout": 0.1}
    assert inside["lr"] == 3e-4 and isinstance(inside["batch_size"], int)
    assert found["checkpoint"]["global_step"] == 500
    beside = found["../hparams.yaml"]
    assert beside["lr"] == 1e-3 and beside["notes"] is None and beside["betas"] == [0.9, 0.95]


def test_lightning_logs_beside_a_copied_checkpoint(tmp_path: Path) -> None:
    ckpt = files.lightning_run(tmp_path / "run")
    copy = tmp_path / "run" / "best.ckpt"
    copy.write_bytes(ckpt.read_bytes())
    found = open_checkpoint(copy).hyperparams
    assert found["lightning_logs/version_0/hparams.yaml"]["lr"] == 1e-3


def test_training_dict_args_namespace_becomes_a_source(tmp_path: Path) -> None:
    found = open_checkpoint(files.namespace_dict(tmp_path / "train.pt")).hyperparams
    assert found["checkpoint:args"] == {
        "lr": 0.01,
        "batch_size": 16,
        "epochs": 20,
        "amp": True,
        "name": "run-1",
    }
    assert found["checkpoint"] == {"epoch": 7, "step": 1234}


def test_omegaconf_config_is_read_as_plain_data(tmp_path: Path) -> None:
    pytest.importorskip("omegaconf")
    found = open_checkpoint(files.omegaconf_ckpt(tmp_path / "omega.ckpt")).hyperparams
    cfg = found["checkpoint:hyper_parameters"]["cfg"]
    assert cfg == {
        "optim": {"lr": 2e-4, "name": "adamw"},
        "data": {"batch_size": 64},
        "trainer": {"max_epochs": 10},
    }


def test_hf_trainer_folder_sources_with_training_args_fields(tmp_path: Path) -> None:
    folder = files.hf_trainer_folder(tmp_path / "model")
    found = open_checkpoint(folder).hyperparams
    assert list(found) == [
        "config.json",
        "generation_config.json",
        "trainer_state.json",
        "training_args.bin",
    ]
    args = found["training_args.bin"]
    assert args["learning_rate"] == 5e-5
    assert args["per_device_train_batch_size"] == 8
    assert args["eval_strategy"] == "steps"  # the enum member shows its value
    assert args["bf16"] is True and args["report_to"] == ["wandb"] and args["hub_token"] is None
    assert "__class__" not in args
    assert found["generation_config.json"]["temperature"] == 0.7
    hset = HyperParamSet(found)
    assert [row["loss"] for row in hset.log_history] == [2.5, 1.9, 1.6]


def test_hydra_run_config_and_overrides(tmp_path: Path) -> None:
    weights = files.hydra_run(tmp_path / "outputs" / "2024-01-01" / "12-00-00")
    found = open_checkpoint(weights).hyperparams
    assert found["../.hydra/config.yaml"]["optim"] == {"lr": 1e-3, "wd": 0.05}
    assert found["../.hydra/overrides.yaml"] == {
        "optim": {"lr": 1e-3},
        "trainer": {"devices": 2},
        "seed": 7,
    }


def test_wandb_config_is_unwrapped(tmp_path: Path) -> None:
    weights = files.wandb_run(tmp_path / "run")
    found = open_checkpoint(weights).hyperparams
    name = "wandb wandb/run-20240101_120000-abc123/files/config.yaml"
    assert found[name] == {"learning_rate": 0.0006, "batch_size": 24, "optimizer": "lion"}


def test_args_yaml_and_exponent_floats(tmp_path: Path) -> None:
    weights = files.wandb_run(tmp_path)
    (tmp_path / "args.yaml").write_text("lr0: 3e-4\nimgsz: 640\nepochs: 100\namp: true\n")
    found = open_checkpoint(weights).hyperparams
    assert found["args.yaml"] == {"lr0": 3e-4, "imgsz": 640, "epochs": 100, "amp": True}


def test_yaml_object_tags_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    weights = files.wandb_run(tmp_path)
    (tmp_path / "hparams.yaml").write_text(
        f"lr: 0.1\ncallback: !!python/object/apply:os.system ['touch {marker}']\n"
    )
    found = open_checkpoint(weights).hyperparams
    assert found["hparams.yaml"]["lr"] == 0.1
    assert found["hparams.yaml"]["callback"] == {
        "__class__": "os.system",
        "args": [f"touch {marker}"],
    }
    assert not marker.exists()


def test_lightning_yaml_python_tags_read_as_data() -> None:
    text = (
        "act: !!python/name:torch.nn.GELU ''\n"
        "betas: !!python/tuple [0.9, 0.95]\n"
        "args: !!python/object:argparse.Namespace {lr: 0.1}\n"
    )
    assert yaml_safe.load(text) == {
        "act": "torch.nn.GELU",
        "betas": [0.9, 0.95],
        "args": {"__class__": "argparse.Namespace", "lr": 0.1},
    }


def test_broken_and_oversized_configs_are_skipped_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    weights = files.wandb_run(tmp_path)
    (tmp_path / "config.json").write_text('{"hidden_size": ')
    (tmp_path / "generation_config.json").write_text(json.dumps({"temperature": 1.0}))
    monkeypatch.setattr(discover_module, "MAX_CONFIG_BYTES", 10)
    warnings: list[str] = []
    found = discover(weights, [weights], {}, warnings)
    assert "config.json" not in found and "generation_config.json" not in found
    assert any("too big" in w for w in warnings)
    monkeypatch.setattr(discover_module, "MAX_CONFIG_BYTES", 16 << 20)
    warnings.clear()
    found = discover(weights, [weights], {}, warnings)
    assert "generation_config.json" in found
    assert any(w.startswith("config.json: not valid JSON") for w in warnings)


def test_known_keys_under_their_spellings() -> None:
    for spelling in ("lr", "learning_rate", "optim.lr"):
        assert spec_for(spelling).canonical == "learning_rate"
    for spelling in ("bs", "batch_size", "per_device_train_batch_size"):
        assert spec_for(spelling).canonical == "batch_size"
        assert spec_for(spelling).group == "data"
    for spelling in ("epochs", "max_epochs", "num_train_epochs"):
        assert spec_for(spelling).canonical == "epochs"
    assert spec_for(("llama.block_count",)).canonical == "num_layers"
    assert spec_for("n_embd").group == "architecture"
    assert spec_for("top_p").group == "inference"
    assert spec_for("learning_rate").explanation
    assert spec_for("no_such_thing") is None


# --- merging and conflicts ---------------------------------------------------------------------


def test_merged_view_keeps_provenance_and_marks_conflicts(tmp_path: Path) -> None:
    ckpt = files.lightning_run(tmp_path / "run")
    hset = HyperParamSet(open_checkpoint(ckpt).hyperparams)
    merged = hset.config("merged").current
    assert merged["lr"] == 3e-4  # inside the checkpoint comes first
    assert hset.source_of("merged", ("lr",)) == "checkpoint:hyper_parameters"
    assert hset.conflict("merged", ("lr",)) == {
        "checkpoint:hyper_parameters": 3e-4,
        "../hparams.yaml": 1e-3,
    }
    assert hset.conflict("merged", ("batch_size",)) == {}  # same in both: no conflict
    assert hset.source_of("merged", ("global_step",)) == "checkpoint"


def test_conflicts_across_spellings(tmp_path: Path) -> None:
    folder = files.hf_trainer_folder(tmp_path / "model")
    hset = HyperParamSet(open_checkpoint(folder).hyperparams)
    # trainer_state says epoch 3.0 / 8 per batch; TrainingArguments says 3.0 epochs and 8: agreed
    assert hset.conflict("merged", ("num_train_epochs",)) == {}
    conflict = hset.conflict("merged", ("hidden_dropout_prob",))
    assert conflict == {}
    assert "log_history" not in hset.config().current


# --- the architecture check ----------------------------------------------------------------------


def test_architecture_check_matches_a_consistent_config(tmp_path: Path) -> None:
    ckpt = open_checkpoint(files.hf_trainer_folder(tmp_path / "model"))
    checks = {c.what: c for c in check_architecture(ckpt)}
    assert {w: c.status for w, c in checks.items()} == {
        "vocabulary": "match",
        "hidden size": "match",
        "layers": "match",
        "heads": "unknown",
        "feed-forward width": "match",
        "tied embeddings": "match",
    }
    assert checks["layers"].tensor_value == 3 and checks["layers"].mark == "✓"


def test_architecture_check_flags_a_config_with_the_wrong_depth(tmp_path: Path) -> None:
    ckpt = open_checkpoint(files.hf_trainer_folder(tmp_path / "model", layers_in_config=6))
    layers = next(c for c in check_architecture(ckpt) if c.what == "layers")
    assert layers.status == "mismatch" and layers.mark == "✗"
    assert layers.config_value == 6 and layers.tensor_value == 3
    assert "3 numbered blocks" in layers.reason


def test_architecture_check_on_a_lightning_checkpoint(tmp_path: Path) -> None:
    ckpt = open_checkpoint(files.lightning_run(tmp_path / "run"))
    checks = {c.what: (c.status, c.key) for c in check_architecture(ckpt)}
    assert checks == {
        "hidden size": ("match", "checkpoint:hyper_parameters: model.hidden_dim"),
        "layers": ("match", "checkpoint:hyper_parameters: model.layers"),
    }


def test_related_keys_for_a_selected_matrix(tmp_path: Path) -> None:
    ckpt = open_checkpoint(files.hf_trainer_folder(tmp_path / "model"))
    assert related_keys(ckpt, ["embed.weight"]) >= {"vocab_size", "hidden_size"}
    assert related_keys(ckpt, ["layers"]) >= {"num_layers"}
    ffn = next(t.name for t in ckpt.tensors if t.name.endswith("linear1.weight"))
    assert "intermediate_size" in related_keys(ckpt, [ffn])


# --- editing -------------------------------------------------------------------------------------


def _lightning_set(tmp_path: Path) -> HyperParamSet:
    return HyperParamSet(open_checkpoint(files.lightning_run(tmp_path / "run")).hyperparams)


def test_typed_edits_are_validated(tmp_path: Path) -> None:
    config = _lightning_set(tmp_path).config()
    assert config.set(("lr",), "1e-4") == (3e-4, 1e-4)
    assert config.set(("batch_size",), "64")[1] == 64
    assert type(config.get(("batch_size",))) is int
    with pytest.raises(HParamError, match="lr must be a number; 'abc' is not"):
        config.set(("lr",), "abc")
    with pytest.raises(HParamError, match="above 0"):
        config.set(("batch_size",), "-8")
    with pytest.raises(HParamError, match="whole number"):
        config.set(("batch_size",), "3.5")
    with pytest.raises(HParamError, match="cannot be above 1"):
        config.set(("model", "dropout"), 1.5)
    assert config.set(("betas",), "[0.9, 0.99]")[1] == [0.9, 0.99]
    assert config.set(("betas",), "0.8, 0.9")[1] == [0.8, 0.9]
    with pytest.raises(HParamError, match="list"):
        config.set(("betas",), "[0.9, 0.95")
    assert config.get(("lr",)) == 1e-4  # refused values were never stored


def test_add_remove_reset_and_diff(tmp_path: Path) -> None:
    config = _lightning_set(tmp_path).config()
    config.set(("optimizer",), "sgd")
    assert config.add(("momentum",), "0.9") == 0.9
    assert config.add(("model", "heads"), "4") == 4
    config.remove(("notes",))
    with pytest.raises(HParamError, match="already exists"):
        config.add(("lr",), "1")
    kinds = {(".".join(c.path), c.kind) for c in config.diff()}
    assert kinds == {
        ("optimizer", "changed"),
        ("momentum", "added"),
        ("model.heads", "added"),
        ("notes", "removed"),
    }
    assert config.is_edited(("model",)) and not config.is_edited(("lr",))
    config.reset(("optimizer",))
    assert config.get(("optimizer",)) == "adamw"
    config.reset()
    assert config.diff() == []


def test_undo_redo_through_put(tmp_path: Path) -> None:
    config = _lightning_set(tmp_path).config()
    old, new = config.set(("lr",), "5e-4")
    config.put(("lr",), old)  # undo
    assert config.get(("lr",)) == 3e-4 and config.diff() == []
    config.put(("lr",), new)  # redo
    added = config.add(("seed",), "42")
    config.put(("seed",), MISSING)  # undo an add
    assert config.get(("seed",)) is MISSING
    config.put(("seed",), added)
    assert config.get(("seed",)) == 42


# --- export --------------------------------------------------------------------------------------

TYPED = {
    "lr": 3e-4,
    "batch_size": 32,
    "bf16": True,
    "optimizer": "adamw",
    "betas": [0.9, 0.95],
    "epochs_text": "10",
    "model": {"layers": 3, "dropout": 0.0, "sizes": [1, 2, 3]},
    "notes": None,
}


def _read_back(path: Path) -> dict:
    if path.suffix == ".toml":
        return tomllib.loads(path.read_text())
    if path.suffix == ".json":
        return json.loads(path.read_text())
    return yaml_safe.load(path.read_text())


def _same_types(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same_types(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".toml"])
def test_export_round_trips_with_types(tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"out{suffix}"
    notes = export(TYPED, target)
    back = _read_back(target)
    if suffix == ".toml":
        assert notes == ["notes: null has no TOML form; left out"]
        assert "# notes = null" in target.read_text()
        expected = {k: v for k, v in TYPED.items() if v is not None}
    else:
        assert notes == []
        expected = TYPED
    assert _same_types(back, expected)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temp file left


def test_edited_lightning_hparams_round_trip_and_checkpoint_unchanged(tmp_path: Path) -> None:
    ckpt_path = files.lightning_run(tmp_path / "run")
    before = _digest(ckpt_path)
    ckpt = open_checkpoint(ckpt_path)
    config = HyperParamSet(ckpt.hyperparams).config("checkpoint:hyper_parameters")
    config.set(("lr",), "2e-4")
    config.add(("seed",), "7")
    target, notes = save_beside(ckpt_path, config.current, ckpt.files)
    assert target == ckpt_path.with_name("epoch=4-step=500.ckpt.hparams.yaml")
    assert notes == []
    back = yaml.safe_load(target.read_text())
    assert _same_types(back, config.current) and back["lr"] == 2e-4 and back["seed"] == 7
    with pytest.raises(Exception, match="files this checkpoint was read from"):
        export(config.current, ckpt_path.with_suffix(".ckpt"), "yaml", protect=ckpt.files)
    assert _digest(ckpt_path) == before


def test_beside_a_model_folder(tmp_path: Path) -> None:
    folder = files.hf_trainer_folder(tmp_path / "tiny")
    assert beside_path(folder) == folder / "tiny.hparams.yaml"


def test_interrupted_export_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "hparams.yaml"
    target.write_text("lr: 0.1\n")

    def power_cut(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(KeyboardInterrupt):
        export(TYPED, target)
    assert target.read_text() == "lr: 0.1\n"  # the old file, whole
    assert [p.name for p in tmp_path.iterdir()] == ["hparams.yaml"]
    fresh = tmp_path / "new.json"
    with pytest.raises(KeyboardInterrupt):
        export(TYPED, fresh)
    assert not fresh.exists() and len(list(tmp_path.iterdir())) == 1


def test_json_reports_what_strict_json_cannot_hold() -> None:
    _, notes = to_text({"loss": float("nan")}, "json")
    assert notes and "NaN" in notes[0]


# --- the command line ----------------------------------------------------------------------------


def test_cli_prints_groups_conflicts_and_the_architecture_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = files.hf_trainer_folder(tmp_path / "model", layers_in_config=6)
    assert cli_main(["hparams", str(folder)]) == 0
    out = capsys.readouterr().out
    assert "optimisation" in out and "learning_rate" in out and "(training_args.bin)" in out
    assert "✗ layers: 6" in out
    assert "log history: 3 entries" in out


def test_cli_set_and_export(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = files.lightning_run(tmp_path / "run")
    before = _digest(ckpt)
    out = tmp_path / "next.toml"
    args = ["hparams", str(ckpt), "--source", "checkpoint:hyper_parameters"]
    code = cli_main([*args, "--set", "lr=1e-4", "--set", "model.layers=6", "--export", str(out)])
    assert code == 0
    back = tomllib.loads(out.read_text())
    assert back["lr"] == 1e-4 and back["model"]["layers"] == 6 and "notes" not in back
    assert "notes: null has no TOML form" in capsys.readouterr().err
    assert _digest(ckpt) == before


def test_cli_refuses_a_type_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = files.lightning_run(tmp_path / "run")
    assert cli_main(["hparams", str(ckpt), "--set", "batch_size=lots"]) == 2
    assert "batch_size must be a whole number; 'lots' is not" in capsys.readouterr().err


def test_cli_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = files.lightning_run(tmp_path / "run")
    assert cli_main(["hparams", str(ckpt), "--json", "--set", "seed=3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["values"]["seed"] == 3
    assert data["edits"] == [{"key": "seed", "kind": "added", "old": None, "new": 3}]
    assert data["conflicts"]["lr"]["../hparams.yaml"] == 1e-3
    assert data["origin"]["model.layers"] == "checkpoint:hyper_parameters"


def test_yaml_round_trip_keeps_strings_that_look_like_numbers() -> None:
    data = {"tag": "3e-4", "answer": "yes", "none": "null", "lr": 3e-4, "tiny": 1e-30}
    text, notes = to_text(data, "yaml")
    assert notes == [] and _same_types(yaml_safe.load(text), data)


def test_toml_reports_nulls_inside_lists() -> None:
    text, notes = to_text({"stages": [{"lr": 0.1}, {"lr": None}]}, "toml")
    assert tomllib.loads(text) == {"stages": [{"lr": 0.1}, {}]}
    assert notes == ["stages.[1].lr: null has no TOML form; left out"]


def test_cli_names_the_sources_when_one_is_unknown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = files.lightning_run(tmp_path / "run")
    assert cli_main(["hparams", str(ckpt), "--source", "nope.yaml"]) == 2
    err = capsys.readouterr().err
    assert "no source named 'nope.yaml'" in err and "checkpoint:hyper_parameters" in err


def test_architecture_check_reads_heads_from_attention_projections(tmp_path: Path) -> None:
    ckpt = open_checkpoint(files.llama_folder(tmp_path / "llama"))
    checks = {c.what: c for c in check_architecture(ckpt)}
    assert {w: c.status for w, c in checks.items()} == {
        "vocabulary": "match",
        "hidden size": "match",
        "layers": "match",
        "heads": "match",
        "key/value heads": "match",
        "feed-forward width": "match",
        "tied embeddings": "match",
    }
    assert checks["heads"].reason.endswith("32 rows = 4 heads × 8")
    assert checks["key/value heads"].key == "config.json: num_key_value_heads"
    assert checks["tied embeddings"].reason == "lm_head.weight has its own weights"


def test_architecture_check_flags_wrong_key_value_heads(tmp_path: Path) -> None:
    ckpt = open_checkpoint(files.llama_folder(tmp_path / "llama", kv_heads_in_config=4))
    kv = next(c for c in check_architecture(ckpt) if c.what == "key/value heads")
    assert (kv.status, kv.config_value, kv.tensor_value) == ("mismatch", 4, 2)


def test_related_keys_follow_what_a_tensor_is(tmp_path: Path) -> None:
    ckpt = open_checkpoint(files.llama_folder(tmp_path / "llama"))
    assert related_keys(ckpt, ["model.layers.0.self_attn.k_proj.weight"]) == {
        "hidden_size",
        "num_heads",
        "num_kv_heads",
    }
    assert related_keys(ckpt, ["model.layers.0.mlp.up_proj.weight"]) == {
        "hidden_size",
        "intermediate_size",
    }
    assert related_keys(ckpt, ["lm_head.weight"]) == {"hidden_size", "vocab_size"}
    assert "num_layers" in related_keys(ckpt, ["model.layers"])


def test_hparams_command_needs_neither_torch_nor_qt(tmp_path: Path) -> None:
    import subprocess
    import sys

    folder = files.hf_trainer_folder(tmp_path / "model")
    code = (
        "import sys, io, contextlib\n"
        "from core.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        f"    assert main(['hparams', {str(folder)!r}, '--export', {str(tmp_path / 'o.toml')!r}]) == 0\n"
        "print(sorted(m for m in ('torch', 'PySide6') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"


def test_no_conflict_between_values_of_different_kinds() -> None:
    hset = HyperParamSet(
        {
            "config.json": {"num_hidden_layers": 12},
            "hparams.yaml": {"encoder": {"layers": [64, 128]}, "n_layer": 12},
        }
    )
    assert hset.merged.conflicts == {}
    hset = HyperParamSet({"a": {"n_layer": 6}, "b": {"num_hidden_layers": 12}})
    assert hset.conflict("merged", ("n_layer",)) == {"a (n_layer)": 6, "b (num_hidden_layers)": 12}


def test_architecture_check_on_gpt2_layout_has_no_false_alarms(tmp_path: Path) -> None:
    ckpt = open_checkpoint(files.gpt2_folder(tmp_path / "gpt2"))
    checks = {c.what: c.status for c in check_architecture(ckpt)}
    assert checks == {
        "vocabulary": "match",
        "hidden size": "match",
        "layers": "match",
        "heads": "unknown",  # a fused q/k/v weight does not say how it splits
    }


def test_safetensors_metadata_text_keeps_its_numbers_and_its_strings(tmp_path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    path = tmp_path / "m.safetensors"
    metadata = {
        "learning_rate": "0.0003",
        "epochs": "12",
        "fp16": "true",
        "commit": "123e4",  # a JSON number, but not written as Python would: stays text
        "version": "1.0.2",
        "config": '{"layers": 2}',
    }
    save_file({"w": np.zeros((2, 2), np.float32)}, str(path), metadata=metadata)
    source = open_checkpoint(path).hyperparams["safetensors:__metadata__"]
    assert source == {
        "learning_rate": 0.0003,
        "epochs": 12,
        "fp16": True,
        "commit": "123e4",
        "version": "1.0.2",
        "config": {"layers": 2},
    }
    assert type(source["epochs"]) is int and type(source["learning_rate"]) is float


def test_cli_set_under_another_spelling_edits_the_existing_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt = files.lightning_run(tmp_path / "run")  # its hyper_parameters say `lr`
    args = ["hparams", str(ckpt), "--json", "--source", "checkpoint:hyper_parameters"]
    assert cli_main([*args, "--set", "learning_rate=2e-4"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["values"]["lr"] == 2e-4 and "learning_rate" not in data["values"]
    assert [e["key"] for e in data["edits"]] == ["lr"]
    # a key that is no known spelling of an existing one is still added as asked
    assert cli_main([*args, "--set", "label_smoothing=0.1"]) == 0
    assert json.loads(capsys.readouterr().out)["values"]["label_smoothing"] == 0.1
