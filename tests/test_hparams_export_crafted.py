"""Exports of hostile or unlucky data and targets: TOML written in one pass that tomllib reads back
as the same values, a link loop as target, text that is not UTF-8, and the temporary files an
export killed with `kill -9` left behind."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from core.errors import CheckpointError
from core.hparams.export import STALE_AGE, export, to_text


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return set(a) == set(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


AWKWARD = {
    "lr": 1e-05,
    "betas": [0.9, 0.999],
    "nan": float("nan"),
    "limits": [float("inf"), -float("inf"), -0.0, 1e300, 5e-324],
    "big": 2**63 - 1,
    "small": -(2**63),
    "flag": False,
    "name": 'quote " back \\ tab \t newline \n bell \x07 del \x7f ünï 中文 🙂',
    "": "empty key",
    "dotted.key": {"a b": 1, "=": 2, "[x]": {}},
    "id2label": {str(i): f"label {i}" for i in range(50)},
    "empty": {},
    "empty_list": [],
    "nested": [[1, 2], ["a", [True]], []],
    "stages": [{"lr": 0.1, "inner": {"deep": [1, {"x": "y"}]}}, {}],
    "model": {"encoder": {"layers": 2, "sub": {"width": 8}}, "after": "a table's scalar"},
    "tail": "after the tables",
}


def test_toml_export_reads_back_as_the_same_values() -> None:
    text, notes = to_text(AWKWARD, "toml")
    assert notes == []
    assert _same(tomllib.loads(text), AWKWARD)


def test_toml_export_of_a_large_label_map_and_list_reads_back() -> None:
    # what took minutes through tomlkit (timed in benchmarks/export_formats.py)
    data = {
        "id2label": {str(i): f"n{i:08d}" for i in range(21_843)},
        "values": [i * 0.5 for i in range(200_000)],
    }
    text, _ = to_text(data, "toml")
    assert tomllib.loads(text) == data


def test_export_through_a_link_that_loops(tmp_path: Path) -> None:
    target = tmp_path / "out.yaml"
    target.symlink_to(target.name)
    with pytest.raises(CheckpointError) as caught:
        export({"lr": 0.1}, target)
    assert "link loop" in str(caught.value)


@pytest.mark.parametrize("suffix", [".yaml", ".json", ".toml"])
def test_export_of_text_that_is_not_utf8(tmp_path: Path, suffix: str) -> None:
    # the inert unpickler keeps a pickle's undecodable bytes as lone surrogates
    notes = export({"run": "caf\udce9", "k\udcff": 1}, tmp_path / f"out{suffix}")
    assert "not UTF-8" in " ".join(notes)
    assert "caf\ufffd" in (tmp_path / f"out{suffix}").read_text(encoding="utf-8")


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_temporary_files_of_a_killed_export_are_removed_next_time(tmp_path: Path) -> None:
    target = tmp_path / "OUT.yaml"
    stale = tmp_path / f".OUT.yaml.{_dead_pid()}-ab3_x9zq.tmp"  # its writer was killed
    old_style = tmp_path / ".OUT.yaml.k2j4h5g6.tmp"  # an earlier version's name, hours old
    running = tmp_path / f".OUT.yaml.{os.getppid()}-abcdefgh.tmp"  # its writer still runs
    fresh_old_style = tmp_path / ".OUT.yaml.zzzzzzzz.tmp"
    others = [
        tmp_path / ".OUT.yaml.backup.tmp",
        tmp_path / f".OTHER.yaml.{_dead_pid()}-ab3_x9zq.tmp",
        tmp_path / ".OUT.yaml.1-ab3_x9zq.tmp.keep",
        tmp_path / "OUT.yaml.12345-ab3_x9zq.tmp",
    ]
    for path in (stale, old_style, running, fresh_old_style, *others):
        path.write_text("partial")
    hours_ago = time.time() - STALE_AGE - 60
    os.utime(old_style, (hours_ago, hours_ago))

    export({"lr": 0.1}, target)

    assert target.read_text() == "lr: 0.1\n"
    assert not stale.exists() and not old_style.exists()
    assert running.exists() and fresh_old_style.exists()
    assert all(path.exists() for path in others)
    left = {p.name for p in tmp_path.iterdir()}
    assert left == {target.name, running.name, fresh_old_style.name, *(p.name for p in others)}
