"""A checkpoint with many names for one storage: `stats --all` does the storage's work once and
keeps one result for it, so memory grows by an index entry per name, not by a result (with its
histogram, and its JSON) per name."""

from __future__ import annotations

import json
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import torch

from core import stats
from core.open import open_checkpoint

NAMES = 20_000


@pytest.fixture(scope="module")
def many_names(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("names") / "views.pt"
    base = torch.tensor([-1.0, 0.0, 2.0, 3.0])  # one 16-byte storage
    torch.save({f"t{i}": base.view(4) for i in range(NAMES)}, path)
    return path


def test_many_names_of_one_storage_share_one_result(many_names: Path) -> None:
    tensors = open_checkpoint(many_names).tensors
    assert len(tensors) == NAMES
    stats.clear_cache()
    tracemalloc.start()
    try:
        results = stats.many_stats(tensors, bins=128, workers=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2_500_000  # ~60 bytes a name; a result each would be 20,000 × ~250 bytes
    assert len(results) == NAMES
    for index in (0, 1, NAMES // 2, NAMES - 1):
        r = results[index]
        assert r.name == f"t{index}" and r.shape == (4,)
        assert (r.min, r.max, r.mean, r.zeros) == (-1.0, 3.0, 1.0, 1)
        assert int(r.counts.sum()) == 4
    assert [r.name for r in results[-3:]] == [f"t{i}" for i in range(NAMES - 3, NAMES)]


_MEASURE = """
import sys
from core.cli import main
out = open(sys.argv[2], "w")
sys.stdout = out
code = main(["stats", sys.argv[1], "--all", "--json"])
out.close()
# VmHWM, not ru_maxrss: that one starts at the forking parent's size
status = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
print(code, status, file=sys.stderr)
"""


def _stats_all_peak_kib(path: Path, out: Path) -> int:
    """Peak RSS (KiB) of `stats PATH --all --json` in a fresh process, its output to `out`."""
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(path), str(out)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        check=False,
    )
    code, peak = done.stderr.split()[-2:]
    assert code == "0", done.stderr
    return int(peak)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM (Linux)")
def test_stats_all_json_writes_results_one_at_a_time(many_names: Path, tmp_path: Path) -> None:
    one = tmp_path / "one.pt"
    torch.save({"t0": torch.tensor([-1.0, 0.0, 2.0, 3.0])}, one)
    baseline = _stats_all_peak_kib(one, tmp_path / "one.json")
    out = tmp_path / "out.json"
    peak = _stats_all_peak_kib(many_names, out)
    document = json.loads(out.read_text())
    assert len(document["tensors"]) == NAMES
    assert document["tensors"][-1]["name"] == f"t{NAMES - 1}"
    assert document["tensors"][0]["histogram"]["counts"][0] == 1
    # the names themselves cost ~20 MB; every result's JSON held at once cost 150 MB more
    assert peak - baseline < 80_000, (baseline, peak)
