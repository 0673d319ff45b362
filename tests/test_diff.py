"""Comparing two checkpoints (core.analysis.compare) on real files, against numpy in float64."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from core.analysis.compare import compare
from core.open import open_checkpoint
from tests.diff_fixtures import (
    HEADS,
    KV_HEADS,
    convert_to_gguf,
    llama_weights,
    save_hf,
    torch_pair,
)


def expected(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    d = b - a
    return {
        "max_abs": float(np.max(np.abs(d))),
        "mean_diff": float(d.mean()),
        "l2_diff": float(np.linalg.norm(d)),
        "rel": float(np.linalg.norm(d) / np.linalg.norm(a)),
        "cosine": float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b))),
        "snr_db": float(10 * np.log10((a @ a) / (d @ d))) if d.any() else None,
        "changed_share": float(np.count_nonzero(d) / d.size),
    }


def check_figures(pair: dict, want: dict[str, float]) -> None:
    for key, value in want.items():
        if value is None:
            assert pair[key] is None, key
        else:
            assert pair[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key


def by_a(result) -> dict[str, dict]:
    return {p["a"]: p for p in result.to_json()["pairs"]}


def test_torch_pair_known_changes(tmp_path: Path) -> None:
    path_a, path_b, a, b = torch_pair(tmp_path)
    result = compare(open_checkpoint(path_a), open_checkpoint(path_b), workers=0)
    doc = result.to_json()
    pairs = by_a(result)
    assert doc["only_a"] == ["head.bias"]
    assert doc["only_b"] == ["extra.weight"]
    assert pairs["enc.0.weight"]["status"] == "identical"
    assert pairs["enc.0.weight"]["snr_db"] is None
    assert pairs["enc.1.weight"]["status"] == "changed"
    assert pairs["enc.0.bias"]["status"] == "changed"
    assert pairs["emb.weight"]["status"] == "dtype"
    assert pairs["emb.weight"]["dtype_b"] == "bfloat16"
    import torch

    for name in ("enc.1.weight", "enc.0.bias", "emb.weight"):
        want = expected(a[name].double().numpy(), b[name].to(torch.float64).numpy())
        check_figures(pairs[name], want)
    assert pairs["enc.1.weight"]["rel"] == pytest.approx(0.01, rel=1e-5)
    # a module's relative change from its sums: exact, not an average of its tensors'
    modules = {m["path"]: m for m in doc["modules"]}
    enc_a = np.concatenate(
        [a[k].double().numpy().ravel() for k in sorted(a) if k.startswith("enc.")]
    )
    enc_b = np.concatenate(
        [b[k].double().numpy().ravel() for k in sorted(a) if k.startswith("enc.")]
    )
    assert modules["enc"]["rel"] == pytest.approx(expected(enc_a, enc_b)["rel"], rel=1e-9)
    assert modules["enc"]["changed"] == 2 and modules["enc"]["identical"] == 2
    assert modules["enc.0"]["changed"] == 1
    assert "only in A" in result.summary() and "only in B" in result.summary()


def test_identical_files_skip_arithmetic(tmp_path: Path) -> None:
    path_a, _, _, _ = torch_pair(tmp_path)
    copy = tmp_path / "copy.pt"
    copy.write_bytes(path_a.read_bytes())
    result = compare(open_checkpoint(path_a), open_checkpoint(copy), workers=0)
    assert all(p.status == "identical" for p in result.pairs)
    assert all(p.sums.identical_bytes for p in result.pairs)
    assert {m.rel for m in result.modules} == {0.0}
    assert result.only_a == result.only_b == []


def test_wrapper_prefixes_pair(tmp_path: Path) -> None:
    import torch

    path_a, _, a, _ = torch_pair(tmp_path)
    wrapped = {f"module._orig_mod.{k}": v for k, v in a.items()}
    torch.save(wrapped, tmp_path / "ddp.pt")
    result = compare(open_checkpoint(path_a), open_checkpoint(tmp_path / "ddp.pt"), workers=0)
    assert len(result.pairs) == len(a) and not result.only_a and not result.only_b
    assert all(p.status == "identical" for p in result.pairs)


def test_nan_is_counted_not_spread(tmp_path: Path) -> None:
    import torch

    gen = torch.Generator().manual_seed(1)
    w = torch.randn(64, 8, generator=gen)
    v = w * 1.5
    v[3, 2] = float("nan")
    w[5, 1] = float("nan")
    torch.save({"w": w}, tmp_path / "a.pt")
    torch.save({"w": v}, tmp_path / "b.pt")
    result = compare(open_checkpoint(tmp_path / "a.pt"), open_checkpoint(tmp_path / "b.pt"))
    pair = by_a(result)["w"]
    assert pair["nan_a"] == 1 and pair["nan_b"] == 1
    keep = ~(np.isnan(w.numpy()) | np.isnan(v.numpy()))
    check_figures(
        pair,
        {
            k: x
            for k, x in expected(w.numpy()[keep], v.numpy()[keep]).items()
            if k != "changed_share"
        },
    )
    assert math.isfinite(pair["rel"])
    assert any("NaN" in text for text in result.warnings)


def test_shape_change_is_reported_not_broadcast(tmp_path: Path) -> None:
    import torch

    torch.save({"w": torch.ones(4, 8)}, tmp_path / "a.pt")
    torch.save({"w": torch.ones(8, 4)}, tmp_path / "b.pt")
    result = compare(open_checkpoint(tmp_path / "a.pt"), open_checkpoint(tmp_path / "b.pt"))
    pair = by_a(result)["w"]
    assert pair["status"] == "shape" and pair["rel"] is None


def gguf_case(tmp_path: Path, qtype: str):
    weights = llama_weights()
    hf = save_hf(tmp_path / "hf", weights)
    stored = convert_to_gguf(weights, tmp_path / f"model-{qtype}.gguf", qtype)
    return weights, hf, stored, tmp_path / f"model-{qtype}.gguf"


@pytest.mark.parametrize("qtype", ["F16", "Q8_0"])
def test_gguf_conversion_error_equals_dequantised_error(tmp_path: Path, qtype: str) -> None:
    weights, hf, stored, gguf_path = gguf_case(tmp_path, qtype)
    result = compare(open_checkpoint(hf.parent), open_checkpoint(gguf_path), workers=0)
    pairs = by_a(result)
    assert not result.only_a and not result.only_b, (result.only_a, result.only_b)
    assert len(pairs) == len(weights)
    q = pairs["model.layers.1.self_attn.q_proj.weight"]
    assert q["b"] == "blk.1.attn_q.weight"
    assert "unpermute Q" in q["transform"]
    assert "unpermute K" in pairs["model.layers.0.self_attn.k_proj.weight"]["transform"]
    for hf_name, pair in pairs.items():
        value = stored[pair["b"]]
        heads = {"q_proj.weight": HEADS, "k_proj.weight": KV_HEADS}
        for leaf, n in heads.items():
            if hf_name.endswith(leaf):  # the inverse of llama.cpp's permute, written here
                value = value.reshape(n, -1, 2, value.shape[1]).swapaxes(1, 2)
                value = value.reshape(weights[hf_name].shape)
        want = expected(weights[hf_name], value)
        check_figures(pair, want)
    assert all(p["cosine"] > 0.999 for p in pairs.values())
    assert not any("rearranged" in w for w in result.warnings)


def test_gguf_without_unpermute_is_large_and_flagged(tmp_path: Path) -> None:
    _, hf, _, gguf_path = gguf_case(tmp_path, "Q8_0")
    result = compare(open_checkpoint(hf.parent), open_checkpoint(gguf_path), undo=False)
    q = by_a(result)["model.layers.0.self_attn.q_proj.weight"]
    assert q["transform"] is None
    assert q["rel"] > 1.0
    assert any(
        "model.layers.0.self_attn.q_proj.weight" in w and "rearranged" in w for w in result.warnings
    )


def test_strided_views_compare_in_their_own_order(tmp_path: Path) -> None:
    import torch

    x = torch.randn(48, 20, generator=torch.Generator().manual_seed(3))
    row = torch.randn(1, 20, generator=torch.Generator().manual_seed(4))
    torch.save({"t": x.t().contiguous(), "e": row.expand(6, 20).contiguous()}, tmp_path / "a.pt")
    torch.save({"t": x.t(), "e": row.expand(6, 20)}, tmp_path / "b.pt")  # strided views
    b = open_checkpoint(tmp_path / "b.pt")
    assert b.tensor("t").source.strides == (1, 20) and b.tensor("e").source.strides == (0, 1)
    result = compare(open_checkpoint(tmp_path / "a.pt"), b)
    assert {p.spec.a: p.status for p in result.pairs} == {"t": "identical", "e": "identical"}
    y = x.t() * 1.5
    torch.save({"t": y, "e": row.expand(6, 20)}, tmp_path / "c.pt")
    pair = by_a(compare(open_checkpoint(tmp_path / "a.pt"), open_checkpoint(tmp_path / "c.pt")))
    check_figures(pair["t"], expected(x.t().numpy(), y.numpy()))
