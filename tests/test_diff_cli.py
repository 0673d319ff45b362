"""`main.py diff A B`: the JSON document, text output, and errors that name the side."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.diff_fixtures import torch_pair

PAIR_KEYS = [
    "a", "b", "status", "transform", "shape_a", "shape_b", "dtype_a", "dtype_b", "numel",
    "max_abs", "mean_diff", "l2_diff", "rel", "cosine", "snr_db", "changed_share", "nan_a",
    "nan_b",
]  # fmt: skip


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "diff", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_json_document(tmp_path: Path) -> None:
    path_a, path_b, _, _ = torch_pair(tmp_path)
    done = run(str(path_a), str(path_b), "--json", "--workers", "0")
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert list(doc) == [
        "a", "b", "pairs", "only_a", "only_b", "modules", "config_changes", "warnings",
    ]  # fmt: skip
    assert all(list(p) == PAIR_KEYS for p in doc["pairs"])
    assert {p["status"] for p in doc["pairs"]} == {"identical", "changed", "dtype"}
    assert doc["only_a"] == ["head.bias"] and doc["only_b"] == ["extra.weight"]
    assert all(list(m) == ["path", "rel", "cosine", "l2_diff", "changed", "identical"]
               for m in doc["modules"])  # fmt: skip
    only_enc = json.loads(run(str(path_a), str(path_b), "--json", "--module", "enc").stdout)
    assert {p["a"] for p in only_enc["pairs"]} == {"enc.0.weight", "enc.0.bias", "enc.1.weight",
                                                   "enc.1.bias"}  # fmt: skip


def test_text_lists_largest_change_first(tmp_path: Path) -> None:
    path_a, path_b, _, _ = torch_pair(tmp_path)
    done = run(str(path_a), str(path_b), "--top", "2")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "6 tensors paired · 3 identical · 3 changed (largest: enc.0" in lines[2]
    table = lines[lines.index(next(x for x in lines if x.strip().startswith("rel change"))) + 1 :]
    assert table[0].endswith("enc.0.bias")
    assert "… and 1 more" in done.stdout


def test_truncated_side_is_named_and_other_untouched(tmp_path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    save_file({"w": np.ones((256, 256), np.float32)}, str(tmp_path / "a.safetensors"))
    data = (tmp_path / "a.safetensors").read_bytes()
    (tmp_path / "b.safetensors").write_bytes(data[: len(data) - 1000])
    before = hashlib.sha256(data).hexdigest()
    done = run(str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors"))
    assert done.returncode == 2
    assert "side B" in done.stderr and "b.safetensors" in done.stderr
    assert "Traceback" not in done.stderr
    assert hashlib.sha256((tmp_path / "a.safetensors").read_bytes()).hexdigest() == before
    done = run(str(tmp_path / "b.safetensors"), str(tmp_path / "a.safetensors"))
    assert done.returncode == 2 and "side A" in done.stderr


def test_missing_side_and_bad_map(tmp_path: Path) -> None:
    path_a, _, _, _ = torch_pair(tmp_path)
    done = run(str(path_a), str(tmp_path / "nope.pt"))
    assert done.returncode == 2 and "side B" in done.stderr
    done = run(str(path_a), str(path_a), "--map", str(tmp_path / "nomap.txt"))
    assert done.returncode == 2 and "nomap.txt" in done.stderr
