"""Issue 16 #9: a selection above the health check's automatic size asks in the panel, with the
size and an estimated time, before it reads anything; [Read] starts it."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from core import open_checkpoint, stats, units
from gui import health as health_module
from gui.tensor_plots import DistributionPanel


@pytest.fixture
def checkpoint(tmp_path: Path):
    stats.clear_cache()
    generator = torch.Generator().manual_seed(0)
    tensors = {f"blocks.{i}.weight": torch.randn(64, 64, generator=generator) for i in range(3)}
    tensors["tiny.weight"] = torch.randn(4, generator=generator)
    path = tmp_path / "m.safetensors"
    save_file(tensors, str(path))
    return open_checkpoint(path)


@pytest.fixture
def panel(qtbot, checkpoint):
    widget = DistributionPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.show()
    widget.set_checkpoint(checkpoint)
    yield widget
    widget.cancel()
    widget.wait()


def test_a_big_read_asks_first_and_reads_when_told(qtbot, panel, monkeypatch) -> None:
    monkeypatch.setattr(health_module, "AUTO_CHECK_BYTES", 1000)
    panel.show_selection(["blocks"])
    assert not panel.busy and not panel.histogram.curves
    assert panel.read_prompt.isVisible()
    question = panel.read_prompt.label.text()
    assert f"Read {units.size(3 * 64 * 64 * 4)} (under a second)?" in question
    panel.read_prompt.button.click()
    qtbot.waitUntil(lambda: len(panel.histogram.curves) == 1 and not panel.busy, timeout=10_000)
    assert not panel.read_prompt.isVisible()
    # a small tensor is read at once
    panel.show_selection(["tiny.weight"])
    assert not panel.read_prompt.isVisible()
    qtbot.waitUntil(lambda: not panel.busy, timeout=10_000)


def test_durations_read_like_people_say_them() -> None:
    assert units.duration(0.4) == "less than a second"
    assert units.duration(12) == "12 s"
    assert units.duration(170) == "3 min"
    assert units.duration(2 * 3600 + 600) == "2 h 10 min"


def test_the_estimate_follows_measured_throughput(qtbot) -> None:
    from gui.read_guard import ReadPrompt, Throughput

    measured = Throughput()
    measured.record(1 << 30, 2.0)  # 0.5 GiB/s on this machine
    assert measured.estimate(127 << 30) == pytest.approx(254.0)
    prompt = ReadPrompt()
    qtbot.addWidget(prompt)
    prompt.ask(127 << 30)
    assert prompt.label.text().startswith("Read 127.0 GiB (about ")
