"""A quantised weight in the Distribution panel: a stored / effective choice that starts at the
effective values, (stored − zero point) × scale, says in the title which it shows, and draws the
exact histogram of either. The file is a real int8 + weight_scale safetensors written by torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from core import open_checkpoint, stats
from gui.tensor_plots import DistributionPanel

BINS = 128


@pytest.fixture
def quantised(tmp_path: Path):
    stats.clear_cache()
    gen = torch.Generator().manual_seed(0)
    real = torch.randn(32, 64, generator=gen)
    scale = real.abs().amax(dim=1) / 127
    stored = torch.round(real / scale[:, None]).to(torch.int8)
    tensors = {
        "fc.weight": stored,
        "fc.weight_scale": scale,
        "fc.bias": torch.randn(32, generator=gen),
        "up.qweight": torch.randint(-(2**31), 2**31 - 1, (8, 32), dtype=torch.int32),
        "up.qzeros": torch.zeros(2, 4, dtype=torch.int32),
        "up.scales": torch.rand(2, 32, generator=gen).half(),
    }
    path = tmp_path / "int8.safetensors"
    save_file(tensors, str(path))
    effective = stored.numpy().astype(np.float64) * scale.numpy().astype(np.float64)[:, None]
    return open_checkpoint(path), stored.numpy().astype(np.float64), effective


@pytest.fixture
def panel(qtbot, quantised):
    widget = DistributionPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.set_checkpoint(quantised[0])
    yield widget
    widget.cancel()
    widget.wait()


def wait_for_counts(qtbot, panel: DistributionPanel, values: np.ndarray) -> None:
    """Until the one curve drawn is numpy's histogram of `values` over [min, max]."""
    counts, edges = np.histogram(values, BINS, range=(values.min(), values.max()))

    def drawn() -> bool:
        curves = panel.histogram.curves
        return (
            not panel.runners["histogram"].running
            and len(curves) == 1
            and np.array_equal(curves[0].yData, counts)
            and np.array_equal(curves[0].xData, edges)
        )

    qtbot.waitUntil(drawn, timeout=10_000)


def dtype_cell(panel: DistributionPanel) -> str:
    return panel.histogram.table.item(0, 0).text()


def test_toggle_between_effective_and_stored_values(qtbot, panel, quantised):
    _, stored, effective = quantised
    box = panel.histogram.values_box
    panel.show_selection(["fc.weight"])
    assert box.isVisibleTo(panel) and box.isEnabled() and box.currentText() == "effective"
    wait_for_counts(qtbot, panel, effective)
    assert "effective values: int8 × float32 scale per output channel" in panel.title.text()
    assert dtype_cell(panel) == "int8 × scale"

    box.setCurrentText("stored")
    wait_for_counts(qtbot, panel, stored)
    assert panel.title.text().endswith("— stored int8 values")
    assert dtype_cell(panel) == "int8"

    box.setCurrentText("effective")
    wait_for_counts(qtbot, panel, effective)
    assert "effective values" in panel.title.text()


def test_only_scaled_weights_offer_the_choice(qtbot, panel, quantised):
    box = panel.histogram.values_box
    panel.show_selection(["fc.bias"])
    assert not box.isVisibleTo(panel)
    assert panel.title.text().replace("\u200b", "") == "<b>fc.bias</b>"
    panel.show_selection(["fc.weight", "fc.bias"])  # an overlay shows stored values
    assert not box.isVisibleTo(panel)
    panel.show_selection(["up.qweight"])  # GPTQ packing: the stored words, and why
    assert box.isVisibleTo(panel) and not box.isEnabled() and box.currentText() == "stored"
    assert "GPTQ/AWQ packing" in box.toolTip()
    assert panel.title.text().endswith("— stored int32 values")
    panel.show_selection(["fc.weight"])  # back to a scaled weight: effective again
    assert box.isEnabled() and box.currentText() == "effective"
