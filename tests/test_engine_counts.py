"""A person opens a checkpoint saved any of the usual ways and sees the counts torch itself gives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from checkpoints import (
    make_model,
    save_hf_folder,
    save_lightning,
    save_safetensors,
    save_sharded,
    save_training_dict,
    torch_counts,
)
from safetensors.torch import save_file

from core import CheckpointError, open_checkpoint
from core.cli import main as cli_main


def _expect(model: torch.nn.Module) -> tuple[int, int]:
    return torch_counts(model)


@pytest.fixture
def model():
    return make_model()


def test_safetensors_single_file(tmp_path: Path, model) -> None:
    path = save_safetensors(model, tmp_path / "model.safetensors", {"format": "pt", "note": "hi"})
    ckpt = open_checkpoint(path)
    params, buffers = _expect(model)
    assert ckpt.format == "safetensors"
    assert (ckpt.totals.params, ckpt.totals.buffers) == (params, buffers)
    assert ckpt.metadata["note"] == "hi"
    assert ckpt.tensor("position_ids").role == "buffer"
    assert ckpt.tensor("stem.1.running_mean").role == "buffer"
    assert ckpt.tensor("stem.1.weight").role == "norm"
    assert ckpt.tensor("norm.weight").role == "norm"
    assert ckpt.tensor("embed.weight").role == "embedding"
    assert ckpt.tensor("stem.0.weight").role == "conv"
    assert ckpt.tensor("layers.0.linear1.weight").role == "linear"
    assert ckpt.tensor("layers.0.self_attn.in_proj_bias").kind == "bias"


def test_kind_counts_match_parameter_names(tmp_path: Path, model) -> None:
    ckpt = open_checkpoint(save_safetensors(model, tmp_path / "m.safetensors"))
    by_kind = {"weight": 0, "bias": 0, "other": 0}
    for name, p in model.named_parameters():
        leaf = name.rsplit(".", 1)[-1]
        kind = "weight" if leaf.endswith("weight") else "bias" if leaf.endswith("bias") else "other"
        by_kind[kind] += p.numel()
    assert ckpt.totals.counts == by_kind
    assert sum(ckpt.totals.counts.values()) == ckpt.totals.params


def test_sharded_with_index_and_folder_forms(tmp_path: Path, model) -> None:
    params, buffers = _expect(model)
    folder = save_sharded(model, tmp_path / "sharded")
    for target in (folder, folder / "model.safetensors.index.json"):
        ckpt = open_checkpoint(target)
        assert len(ckpt.files) == 3
        assert (ckpt.totals.params, ckpt.totals.buffers) == (params, buffers)
        assert not ckpt.warnings
    no_index = save_sharded(model, tmp_path / "noindex", index=False)
    ckpt = open_checkpoint(no_index)
    assert (ckpt.totals.params, ckpt.totals.buffers) == (params, buffers)


def test_hugging_face_folder_reads_config(tmp_path: Path, model) -> None:
    ckpt = open_checkpoint(save_hf_folder(model, tmp_path / "hf"))
    assert ckpt.totals.params == _expect(model)[0]
    assert ckpt.hyperparams["config.json"]["num_hidden_layers"] == 3


@pytest.mark.parametrize("zipped", [True, False], ids=["zip", "legacy"])
def test_pytorch_state_dict_counts_tied_weights_once(tmp_path: Path, model, zipped: bool) -> None:
    path = tmp_path / "model.pt"
    torch.save(model.state_dict(), path, _use_new_zipfile_serialization=zipped)
    ckpt = open_checkpoint(path)
    params, buffers = _expect(model)
    assert ckpt.format == "pytorch"
    assert (ckpt.totals.params, ckpt.totals.buffers) == (params, buffers)
    head = ckpt.tensor("head.weight")
    assert head.tied_to == "embed.weight"
    assert ckpt.totals.tied == 1


def test_zip_with_any_top_folder_name(tmp_path: Path, model) -> None:
    path = tmp_path / "renamed.bin"
    torch.save(model.state_dict(), path)
    # torch names the folder after the file; a renamed file keeps the old name inside
    ckpt = open_checkpoint(path)
    assert ckpt.facts["archive folder"] == "renamed"
    assert ckpt.totals.params == _expect(model)[0]


def test_training_dict_separates_optimizer_state(tmp_path: Path, model) -> None:
    ckpt = open_checkpoint(save_training_dict(model, tmp_path / "train.pt"))
    params, buffers = _expect(model)
    assert (ckpt.totals.params, ckpt.totals.buffers) == (params, buffers)
    exp_avg = [t for t in ckpt.tensors if t.name.endswith("exp_avg")]
    assert exp_avg and all(t.section == "optimizer" for t in exp_avg)
    saved = torch.load(tmp_path / "train.pt", weights_only=True)["optimizer_state_dict"]["state"]
    assert ckpt.totals.optimizer_state == sum(t.numel() for s in saved.values() for t in s.values())
    assert ckpt.tensor("model_state_dict.layers.2.norm1.weight").section == "model"
    assert ckpt.hyperparams["checkpoint"]["epoch"] == 7


def test_lightning_checkpoint(tmp_path: Path, model) -> None:
    ckpt = open_checkpoint(save_lightning(model, tmp_path / "epoch=4.ckpt"))
    assert ckpt.totals.params == _expect(model)[0]
    assert ckpt.hyperparams["checkpoint:hyper_parameters"] == {
        "lr": 3e-4,
        "batch_size": 32,
        "model": {"layers": 3},
    }
    assert ckpt.facts["epoch"] == "4"
    assert ckpt.facts["global_step"] == "500"
    assert ckpt.facts["pytorch-lightning_version"] == "2.4.0"
    assert ckpt.tree.find("state_dict.model.layers").repeat == 3


def test_ema_copy_is_not_counted_twice(tmp_path: Path, model) -> None:
    path = tmp_path / "ema.pt"
    torch.save({"model": model.state_dict(), "ema": model.state_dict(), "epoch": 1}, path)
    ckpt = open_checkpoint(path)
    assert ckpt.totals.params == _expect(model)[0]
    assert ckpt.tensor("ema.norm.weight").section == "copy"


def test_whole_module_pickle_opens_without_running_it(tmp_path: Path, model) -> None:
    path = tmp_path / "whole.pt"
    torch.save(model, path)
    ckpt = open_checkpoint(path)
    assert (ckpt.totals.params, ckpt.totals.buffers) == _expect(model)
    assert ckpt.tensor("layers.1.self_attn.out_proj.weight") is not None


def test_tensors_saved_on_cuda(tmp_path: Path, model, monkeypatch) -> None:
    # No GPU here: tag the storages as torch does for CUDA tensors when it saves them.
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    path = tmp_path / "cuda.pt"
    torch.save(model.state_dict(), path)
    monkeypatch.undo()
    ckpt = open_checkpoint(path)
    assert ckpt.totals.params == _expect(model)[0]
    assert ckpt.tensor("norm.weight").device == "cuda:0"
    assert "cuda:0" in ckpt.metadata["saved on"]


def test_data_sources_point_at_the_tensor_bytes(tmp_path: Path) -> None:
    """Every source, views and bf16 included, reads back the values torch.load gives."""
    base = torch.arange(60, dtype=torch.float32).reshape(6, 10)
    state = {
        "plain": torch.randn(4, 5),
        "transposed": base.t(),
        "slice": base[2:5, 1:7],
        "bf16": torch.randn(3, 7).to(torch.bfloat16),
        "int": torch.arange(5),
        "scalar": torch.tensor(3.5),
    }
    for zipped in (True, False):
        path = tmp_path / f"views{zipped}.pt"
        torch.save(state, path, _use_new_zipfile_serialization=zipped)
        loaded = torch.load(path, weights_only=True, mmap=zipped)
        ckpt = open_checkpoint(path)
        for name, tensor in loaded.items():
            info = ckpt.tensor(name)
            assert info.shape == tuple(tensor.shape) and info.numel == tensor.numel()
            raw = np.fromfile(
                info.source.file,
                dtype=np.uint8,
                count=info.source.nbytes,
                offset=info.source.offset,
            )
            itemsize = tensor.element_size()
            strides = info.source.strides or tensor.contiguous().stride()
            view = np.lib.stride_tricks.as_strided(
                raw.view(f"u{itemsize}") if itemsize > 1 else raw,
                shape=tensor.shape,
                strides=[s * itemsize for s in strides],
            )
            expected = tensor.contiguous().view(getattr(torch, f"uint{8 * itemsize}")).numpy()
            assert np.array_equal(view, expected), name


def test_info_json_has_the_documented_keys(tmp_path: Path, model, capsys) -> None:
    path = save_lightning(model, tmp_path / "l.ckpt")
    assert cli_main(["info", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in (
        "path",
        "format",
        "files",
        "total_params",
        "total_buffers",
        "total_bytes",
        "counts",
        "roles",
        "memory",
        "tensors",
        "tree",
        "hyperparameters",
        "metadata",
        "warnings",
    ):
        assert key in data
    assert data["format"] == "pytorch"
    assert sum(data["counts"].values()) == data["total_params"] == _expect(model)[0]
    assert data["memory"]["fp32"] == 4 * data["total_params"]
    assert data["memory"]["adam_training"] == 16 * data["total_params"]
    assert data["tree"]["params"] == data["total_params"]
    assert set(data["tensors"][0]) >= {"name", "shape", "dtype", "numel", "kind", "role"}
    assert set(data["tree"]) >= {
        "name",
        "path",
        "weight",
        "bias",
        "other",
        "buffer",
        "params",
        "children",
    }


def test_info_text_shows_the_tree(tmp_path: Path, model, capsys) -> None:
    path = save_safetensors(model, tmp_path / "m.safetensors")
    assert cli_main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "parameters" in out and "Weights" in out
    assert "layers ×3" in out


def test_info_error_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    assert cli_main(["info", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "broken.safetensors" in err and "truncated" in err and "Traceback" not in err


def test_sharded_pytorch_bins_with_index(tmp_path: Path, model) -> None:
    folder = tmp_path / "hf-bin"
    folder.mkdir()
    state = model.state_dict()
    names = list(state)
    weight_map = {}
    for i in range(2):
        filename = f"pytorch_model-{i + 1:05d}-of-00002.bin"
        torch.save({n: state[n] for n in names[i::2]}, folder / filename)
        weight_map.update({n: filename for n in names[i::2]})
    (folder / "pytorch_model.bin.index.json").write_text(json.dumps({"weight_map": weight_map}))
    torch.save({"not": "the model"}, folder / "training_args.bin")
    ckpt = open_checkpoint(folder)
    assert len(ckpt.files) == 2
    same_shard = weight_map["head.weight"] == weight_map["embed.weight"]
    # a tie is only visible inside one file: torch.save keeps one storage for both there
    untied = 0 if same_shard else model.embed.weight.numel()
    assert ckpt.totals.params == _expect(model)[0] + untied


def test_folder_of_separate_checkpoints_asks_to_pick_one(tmp_path: Path, model) -> None:
    for epoch in (1, 2):
        torch.save(model.state_dict(), tmp_path / f"epoch={epoch}.ckpt")
    with pytest.raises(CheckpointError) as caught:
        open_checkpoint(tmp_path)
    assert "open one of them" in str(caught.value)


def test_loose_metric_tensors_are_training_state(tmp_path: Path, model) -> None:
    path = tmp_path / "run.pt"
    callbacks = {"ModelCheckpoint": {"best_model_score": torch.tensor(0.25)}}
    torch.save(
        {"model": model.state_dict(), "best_acc": torch.tensor(0.9), "callbacks": callbacks}, path
    )
    ckpt = open_checkpoint(path)
    assert ckpt.totals.params == _expect(model)[0]
    assert ckpt.tensor("best_acc").section == "training"
    assert ckpt.tensor("callbacks.ModelCheckpoint.best_model_score").section == "training"
    assert ckpt.totals.training_state == 2


def test_legacy_file_whose_pickle_is_larger_than_the_first_read(tmp_path: Path) -> None:
    path = tmp_path / "many.pt"
    state = {f"blocks.{i}.scale": torch.full((2,), float(i)) for i in range(40_000)}
    torch.save(state, path, _use_new_zipfile_serialization=False)
    ckpt = open_checkpoint(path)
    assert len(ckpt.tensors) == 40_000
    assert ckpt.totals.params == 80_000
    last = ckpt.tensor("blocks.39999.scale")
    raw = np.fromfile(last.source.file, np.float32, count=2, offset=last.source.offset)
    assert raw.tolist() == [39999.0, 39999.0]


def test_info_table_rows_add_up_with_tensors_beside_modules(tmp_path: Path, capsys) -> None:
    """Tensors outside any module (np.savez's arr_0, a top-level `scale`) get rows of their own."""
    from safetensors.torch import save_file

    state = {
        "scale": torch.ones(5),
        "encoder.weight": torch.zeros(4, 3),
        "encoder.proj_bias": torch.zeros(4),
        "encoder.block.weight": torch.zeros(2, 2),
    }
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    assert cli_main(["info", str(path)]) == 0
    rows = {line.split()[0]: line.split() for line in capsys.readouterr().out.splitlines() if line}
    assert rows["scale"][1:3] == ["norm", "5"]  # a top-level tensor: its own row
    assert rows["weight"][2] == "12" and rows["proj_bias"][3] == "4"  # beside a child module
    assert rows["encoder"][6] == "20"  # the module's own row still sums them all


def test_gpt2_causal_mask_named_bias_is_a_buffer(tmp_path: Path) -> None:
    from safetensors.torch import save_file

    state = {
        "h.0.attn.bias": torch.tril(torch.ones(1, 1, 16, 16)),  # GPT-2's mask, saved as "bias"
        "h.0.attn.c_attn.weight": torch.zeros(8, 24),
        "h.0.attn.c_attn.bias": torch.zeros(24),
    }
    path = tmp_path / "gpt2.safetensors"
    save_file(state, str(path))
    ckpt = open_checkpoint(path)
    assert ckpt.tensor("h.0.attn.bias").role == "buffer"
    assert ckpt.totals.params == 8 * 24 + 24 and ckpt.totals.buffers == 256


def test_t5_relative_attention_bias_is_an_embedding(tmp_path: Path) -> None:
    """T5 keeps its relative positions in an nn.Embedding(buckets, heads) named
    `relative_attention_bias`: a table looked up, not a linear layer."""
    attention = torch.nn.Module()
    attention.q = torch.nn.Linear(16, 16, bias=False)
    attention.relative_attention_bias = torch.nn.Embedding(32, 4)
    state = {
        f"encoder.block.0.layer.0.SelfAttention.{k}": v for k, v in attention.state_dict().items()
    }
    path = tmp_path / "t5.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    ckpt = open_checkpoint(path)
    table = ckpt.tensor("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight")
    assert table is not None and table.role == "embedding"
    assert ckpt.tensor("encoder.block.0.layer.0.SelfAttention.q.weight").role == "linear"
