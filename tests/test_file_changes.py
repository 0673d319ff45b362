"""Files that change while ParamScope reads them: training rewrites `last.ckpt` and
`model.safetensors` over and over while people look at them.

A file cut short under a memory map kills the process with SIGBUS, so these run in a subprocess
that changes the file at a chosen moment (from a hook in the parser or the first progress call)
and must end with a clean one-line error. A file that is merely touched or rewritten while its
statistics are read stops that job with "the file changed while it was read".
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from core import CheckpointError, open_checkpoint, stats
from core.fileread import FileChanged
from tests.format_fixtures import write_gguf

ROOT = Path(__file__).resolve().parent.parent
CHANGED = "the file changed while it was read"


@pytest.fixture(autouse=True)
def fresh_cache():
    stats.clear_cache()
    yield
    stats.clear_cache()


def run_script(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", script, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_clean_error(run: subprocess.CompletedProcess, path: Path) -> None:
    assert run.returncode != -signal.SIGBUS, "the process died of SIGBUS"
    assert run.returncode == 3, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    assert path.name in run.stdout and CHANGED in run.stdout, run.stdout


# --- SIGBUS: a mapped read of a file cut short ---------------------------------------------------

GGUF_CUT_WHILE_PARSED = """
import os, sys
from pathlib import Path
from core.errors import CheckpointError
from core.readers import gguf as reader

path = Path(sys.argv[1])
skip = reader._Cursor.skip_strings

def cut_then_skip(self, count, what):
    # the writer truncates the file while the parser walks the token list
    os.truncate(path, 4096)
    return skip(self, count, what)

reader._Cursor.skip_strings = cut_then_skip
try:
    reader.GGUFReader().read(path)
except CheckpointError as error:
    print(error)
    sys.exit(3)
print("read without noticing")
"""


def test_gguf_truncated_while_its_header_is_parsed_gives_an_error_not_sigbus(tmp_path: Path):
    path = tmp_path / "model.gguf"
    write_gguf(path)
    assert path.stat().st_size > 3 * 4096  # the token list runs well past the cut
    run = run_script(GGUF_CUT_WHILE_PARSED, str(path))
    assert_clean_error(run, path)


STATS_CUT_ON_FIRST_PROGRESS = """
import os, sys
from core import open_checkpoint, stats
from core.errors import CheckpointError

path, keep, index = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
checkpoint = open_checkpoint(path)
cut = []

def progress(done, total):
    if not cut:  # the writer truncates the file after the first chunk
        cut.append(done)
        os.truncate(path, keep)

try:
    stats.many_stats(checkpoint.tensors[index:], progress=progress, workers=1, chunk_bytes=1 << 16)
except CheckpointError as error:
    print(error)
    sys.exit(3)
print("finished without noticing")
"""


def test_fortran_npy_truncated_during_stats_gives_an_error_not_sigbus(tmp_path: Path):
    path = tmp_path / "weights.npy"
    values = np.random.default_rng(0).standard_normal((512, 512)).astype(np.float32)
    np.save(path, np.asfortranarray(values))
    (tensor,) = open_checkpoint(path).tensors
    assert tensor.source is not None and tensor.source.strides is not None  # the strided path
    run = run_script(STATS_CUT_ON_FIRST_PROGRESS, str(path), "4096", "0")
    assert_clean_error(run, path)


def test_transposed_pt_tensor_cut_off_during_stats_gives_an_error(tmp_path: Path):
    """The second tensor's data is cut off after the first one's statistics began: was
    `ValueError: buffer is smaller than requested size`."""
    path = tmp_path / "transposed.pt"
    generator = torch.Generator().manual_seed(0)
    torch.save(
        {
            "a.weight": torch.randn(256, 128, generator=generator).t(),
            "b.weight": torch.randn(256, 128, generator=generator).t(),
        },
        path,
    )
    tensors = open_checkpoint(path).tensors
    assert all(t.source is not None and t.source.strides is not None for t in tensors)
    second = max(tensors, key=lambda t: t.source.offset)
    first = min(tensors, key=lambda t: t.source.offset)
    assert first.name == tensors[0].name  # read in this order, so the cut lands mid-run
    run = run_script(STATS_CUT_ON_FIRST_PROGRESS, str(path), str(second.source.offset + 100), "0")
    assert_clean_error(run, path)


# --- a file touched or rewritten while its statistics are read -----------------------------------


def write_model(path: Path, seed: int = 0, tensors: int = 4) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    written = {
        f"layers.{i}.weight": torch.randn(96, 64, generator=generator) for i in range(tensors)
    }
    save_file(written, str(path))
    return written


def change_on_first_call(path: Path, change) -> tuple[list[int], callable]:
    calls: list[int] = []

    def progress(done: int, total: int) -> None:
        if not calls:
            change(path)
        calls.append(done)

    return calls, progress


def touch(path: Path) -> None:
    status = path.stat()
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns + 2_000_000_000))


def rewrite_in_place(path: Path) -> None:
    """Same size, new values, as a trainer that saves over the old file does."""
    data = bytearray(path.read_bytes())
    data[-4096:] = bytes(4096)
    with open(path, "r+b") as f:
        f.write(data)
    touch(path)  # a coarse clock could leave the mtime as it was


@pytest.mark.parametrize("change", [touch, rewrite_in_place], ids=["touch", "rewrite"])
@pytest.mark.parametrize("bins", [128, 0], ids=["histograms", "health"])
def test_stats_all_stops_with_a_clear_error_when_the_file_changes(tmp_path, change, bins):
    """`stats --all` (many_stats) raised KeyError when a touch changed the file's mtime."""
    path = tmp_path / "model.safetensors"
    write_model(path)
    checkpoint = open_checkpoint(path)
    calls, progress = change_on_first_call(path, change)
    with pytest.raises(CheckpointError) as caught:
        stats.many_stats(checkpoint.tensors, bins, progress, workers=1, chunk_bytes=4096)
    assert isinstance(caught.value, FileChanged)
    assert caught.value.path == path
    assert CHANGED in str(caught.value) and path.name in str(caught.value)
    assert calls  # it stopped after it began, between chunks


def test_module_and_depth_stats_stop_with_a_clear_error_when_the_file_changes(tmp_path):
    path = tmp_path / "model.safetensors"
    write_model(path)
    checkpoint = open_checkpoint(path)
    for run in (
        lambda progress: stats.model_stats(checkpoint, progress=progress, workers=1),
        lambda progress: stats.depth_series(
            checkpoint, "layers.*.weight", progress, workers=1, chunk_bytes=4096
        ),
    ):
        stats.clear_cache()
        _, progress = change_on_first_call(path, touch)
        with pytest.raises(FileChanged, match=CHANGED):
            run(progress)


def test_stats_after_the_change_read_the_new_file(tmp_path):
    """The job that saw the change stops; the next one, on the reopened file, is right."""
    path = tmp_path / "model.safetensors"
    write_model(path, seed=0)
    checkpoint = open_checkpoint(path)

    def rewrite(p: Path) -> None:
        write_model(p, seed=1)
        touch(p)

    _, progress = change_on_first_call(path, rewrite)
    with pytest.raises(FileChanged):
        stats.many_stats(checkpoint.tensors, 16, progress, workers=1, chunk_bytes=4096)
    fresh = write_model(tmp_path / "again.safetensors", seed=1)
    results = stats.many_stats(open_checkpoint(path).tensors, 16, workers=1)
    for result in results:
        values = fresh[result.name].numpy().astype(np.float64)
        assert result.mean == pytest.approx(values.mean(), rel=1e-12, abs=1e-15)


def test_worker_processes_report_the_change_too(tmp_path, monkeypatch):
    """With worker processes each unit checks the file itself; whatever finished before the
    change is right, and no KeyError or traceback escapes."""
    monkeypatch.setattr(stats, "POOL_MIN_BYTES", 0)
    monkeypatch.setattr(stats, "UNIT_BYTES", 4096)
    path = tmp_path / "model.safetensors"
    written = write_model(path, tensors=8)
    checkpoint = open_checkpoint(path)
    _, progress = change_on_first_call(path, touch)
    try:
        results = stats.many_stats(checkpoint.tensors, 16, progress, workers=2, chunk_bytes=4096)
    except FileChanged as error:
        assert CHANGED in str(error)
    else:  # every unit was done before the touch: the numbers are the old file's, all right
        for result in results:
            values = written[result.name].numpy().astype(np.float64)
            assert result.mean == pytest.approx(values.mean(), rel=1e-12, abs=1e-15)
    finally:
        stats.shutdown_pool()


# --- heatmaps read strided views without a map, and notice a change too --------------------------


def test_heatmaps_of_strided_views_read_in_small_pieces_match_numpy(tmp_path: Path):
    generator = torch.Generator().manual_seed(3)
    conv = torch.randn(6, 5, 3, 4, generator=generator)
    base = torch.randn(40, 33, generator=generator)
    views = {"permuted": conv.permute(1, 0, 3, 2), "columns": base[:, ::3], "transposed": base.t()}
    path = tmp_path / "views.pt"
    torch.save(views, path)
    checkpoint = open_checkpoint(path)
    for name, view in views.items():
        t = checkpoint.tensor(name)
        assert t.source.strides is not None
        picture = stats.heatmap(t, max_rows=1000, max_cols=1000, rule="mean", chunk_bytes=24)
        expected = view.reshape(view.shape[0], -1).numpy().astype(np.float64)
        np.testing.assert_array_equal(picture.values, expected)


def test_heatmap_stops_with_a_clear_error_when_the_file_changes(tmp_path: Path):
    path = tmp_path / "model.safetensors"
    write_model(path)
    checkpoint = open_checkpoint(path)
    _, progress = change_on_first_call(path, touch)
    with pytest.raises(FileChanged, match=CHANGED):
        stats.heatmap(checkpoint.tensors[0], 8, 8, progress=progress, chunk_bytes=1024)
