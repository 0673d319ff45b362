"""The Distribution panel draws what the engine computed: selecting a tensor shows its histogram,
several overlay, the depth plot follows a name through the blocks, and newer selections win."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QAbstractScrollArea
from safetensors.torch import save_file

from core import open_checkpoint, stats
from gui.tensor_plots import DistributionPanel, short_names

BLOCKS = 4


@pytest.fixture
def model(tmp_path: Path):
    stats.clear_cache()
    generator = torch.Generator().manual_seed(0)
    tensors: dict[str, torch.Tensor] = {}
    for i in range(BLOCKS):
        prefix = f"model.layers.{i}"
        tensors[f"{prefix}.attn.q_proj.weight"] = (
            torch.randn(48, 32, generator=generator) * (0.5 + i)
        ).to(torch.bfloat16)
        tensors[f"{prefix}.mlp.down_proj.weight"] = torch.randn(32, 64, generator=generator) * (
            i + 1
        )
        tensors[f"{prefix}.mlp.down_proj.bias"] = torch.zeros(32)
    tensors["model.embed.weight"] = torch.randn(100, 32, generator=generator)
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path))
    return open_checkpoint(path), tensors


@pytest.fixture
def panel(qtbot, model):
    widget = DistributionPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.set_checkpoint(model[0])
    yield widget
    widget.cancel()
    widget.wait()


def values_of(tensor: torch.Tensor) -> np.ndarray:
    return tensor.double().numpy().ravel()


def wait_for_histogram(qtbot, panel: DistributionPanel, curves: int) -> None:
    qtbot.waitUntil(
        lambda: len(panel.histogram.curves) == curves and not panel.runners["histogram"].running,
        timeout=10_000,
    )


def test_selecting_a_tensor_draws_its_exact_histogram(qtbot, panel, model):
    _, tensors = model
    name = "model.layers.2.mlp.down_proj.weight"
    panel.show_selection([name])
    wait_for_histogram(qtbot, panel, 1)
    curve = panel.histogram.curves[0]
    values = values_of(tensors[name])
    counts, edges = np.histogram(values, 128)
    np.testing.assert_array_equal(curve.yData, counts)
    np.testing.assert_allclose(curve.xData, edges, rtol=1e-15)
    std_row = [panel.histogram.table.verticalHeaderItem(r).text() for r in range(16)].index("std")
    std_tip = panel.histogram.table.item(std_row, 0).toolTip()  # the exact value, in full
    assert float(std_tip) == pytest.approx(values.std(), rel=1e-12)
    panel.histogram.log_box.setChecked(True)  # a redraw, no new job
    np.testing.assert_allclose(panel.histogram.curves[0].yData, np.log10(counts + 1))
    bin_10 = (edges[10] + edges[11]) / 2
    assert panel.histogram.hover_text(bin_10).endswith(f" {counts[10]:,}")


def test_bins_and_range_controls_recompute(qtbot, panel, model):
    _, tensors = model
    name = "model.layers.0.attn.q_proj.weight"
    panel.show_selection([name])
    wait_for_histogram(qtbot, panel, 1)
    panel.histogram.bins_box.setValue(16)
    qtbot.waitUntil(lambda: len(panel.histogram.curves[0].yData) == 16, timeout=10_000)
    panel.histogram.range_box.setCurrentText("custom")
    panel.histogram.low_edit.setText("-0.5")
    panel.histogram.high_edit.setText("0.5")
    panel.histogram.high_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: panel.histogram.results[0].edges[0] == -0.5, timeout=10_000)
    wait_for_histogram(qtbot, panel, 1)
    values = values_of(tensors[name])
    np.testing.assert_array_equal(
        panel.histogram.curves[0].yData, np.histogram(values, 16, range=(-0.5, 0.5))[0]
    )


def test_several_tensors_overlay_with_a_legend_and_distinct_colours(qtbot, panel, model):
    _, tensors = model
    names = [f"model.layers.{i}.attn.q_proj.weight" for i in range(BLOCKS)]
    panel.show_selection(names)
    wait_for_histogram(qtbot, panel, BLOCKS)
    curves = panel.histogram.curves
    assert len(panel.histogram.legend.items) == BLOCKS
    assert len({c.opts["pen"].color().name() for c in curves}) == BLOCKS
    everything = np.concatenate([values_of(tensors[n]) for n in names])
    shared = (everything.min(), everything.max())
    for curve, name in zip(curves, names, strict=True):  # one shared range: comparable bins
        np.testing.assert_array_equal(
            curve.yData, np.histogram(values_of(tensors[name]), 128, range=shared)[0]
        )
    assert short_names(names) == [f"layers.{i}" for i in range(BLOCKS)]


def test_a_module_shows_all_its_parameters_together(qtbot, panel, model):
    _, tensors = model
    panel.show_selection(["model.layers.1.mlp"])
    wait_for_histogram(qtbot, panel, 1)
    result = panel.histogram.results[0]
    parts = [v for k, v in tensors.items() if k.startswith("model.layers.1.mlp.")]
    assert result.numel == sum(p.numel() for p in parts) and result.tensors == 2
    assert panel.histogram.curves[0].yData.sum() == result.numel

    # "all weights of block 1": the module's weights only, said in the title
    assert panel.histogram.kinds_box.isVisibleTo(panel)
    panel.histogram.kinds_box.setCurrentText("weights")
    qtbot.waitUntil(lambda: panel.histogram.results[0].tensors == 1, timeout=10_000)
    wait_for_histogram(qtbot, panel, 1)
    weights = panel.histogram.results[0]
    down = values_of(tensors["model.layers.1.mlp.down_proj.weight"])
    assert weights.numel == down.size and weights.max == down.max()
    assert "weights only" in panel.title.text()

    panel.show_selection(["model.layers.1.mlp.down_proj.weight"])  # a tensor: no such choice
    assert not panel.histogram.kinds_box.isVisibleTo(panel)


def test_depth_plot_has_one_point_per_block(qtbot, panel, model):
    _, tensors = model
    panel.tabs.setCurrentIndex(1)
    panel.show_selection(["model.layers.2.mlp.down_proj.weight"])
    assert panel.depth.pattern_edit.text() == "model.layers.*.mlp.down_proj.weight"
    qtbot.waitUntil(lambda: panel.depth.series is not None, timeout=10_000)
    x, y = panel.depth.curve.getData()
    np.testing.assert_array_equal(x, np.arange(BLOCKS))
    wanted = [
        values_of(tensors[f"model.layers.{i}.mlp.down_proj.weight"]).std() for i in range(BLOCKS)
    ]
    np.testing.assert_allclose(y, wanted, rtol=1e-12)
    panel.depth.statistic_box.setCurrentIndex(panel.depth.statistic_box.findData("max_abs"))
    _, y = panel.depth.curve.getData()
    wanted = [
        np.abs(values_of(tensors[f"model.layers.{i}.mlp.down_proj.weight"])).max()
        for i in range(BLOCKS)
    ]
    np.testing.assert_allclose(y, wanted)


def test_only_the_histogram_is_made_until_another_tab_is_shown(qtbot, panel, model):
    """Depth, heatmap and spectrum each hold a plot (40 ms of the panel's start): they are made
    when their tab is first shown, and then follow the selection made before."""
    panel.show_selection(["model.layers.2.mlp.down_proj.weight"])
    wait_for_histogram(qtbot, panel, 1)
    assert all(panel._made(name) is None for name in ("depth", "heatmap", "spectrum"))
    panel.tabs.setCurrentIndex(1)
    assert panel._made("depth") is not None and panel.tabs.currentWidget() is panel.depth
    assert panel.depth.pattern_edit.text() == "model.layers.*.mlp.down_proj.weight"
    qtbot.waitUntil(lambda: panel.depth.series is not None, timeout=10_000)
    for scroll in panel.depth.findChildren(QAbstractScrollArea):  # a dropped file opens a tab
        assert not scroll.viewport().acceptDrops()
    assert panel._made("heatmap") is None


def test_heatmap_of_a_matrix_states_its_rule(qtbot, panel, model):
    _, tensors = model
    panel.tabs.setCurrentIndex(2)
    panel.show_selection(["model.embed.weight"])
    qtbot.waitUntil(lambda: panel.heatmap.picture is not None, timeout=10_000)
    np.testing.assert_array_equal(
        panel.heatmap.image.image, np.abs(values_of(tensors["model.embed.weight"]).reshape(100, 32))
    )
    assert "every value" in panel.heatmap.description.text()
    panel.show_selection(["model.layers.0.mlp.down_proj.bias"])  # 1-D: says why there is none
    qtbot.waitUntil(
        lambda: "2 or more dimensions" in panel.heatmap.description.text(), timeout=5000
    )


def test_a_newer_selection_cancels_the_older_job(qtbot, panel, model):
    panel.show_selection(["model.embed.weight"])
    first = panel.runners["histogram"]._job  # noqa: SLF001
    panel.show_selection(["model.layers.3.attn.q_proj.weight"])
    assert first is not None and first.is_cancelled()
    wait_for_histogram(qtbot, panel, 1)
    assert panel.histogram.results[0].name == "model.layers.3.attn.q_proj.weight"


def test_export_png_and_csv(qtbot, panel, tmp_path: Path):
    panel.show_selection(["model.layers.0.mlp.down_proj.weight"])
    wait_for_histogram(qtbot, panel, 1)
    panel.export_png(tmp_path / "plot.png")
    panel.export_csv(tmp_path / "plot.csv")
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(tmp_path / "plot.csv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["name", "bin_start", "bin_end", "count"] and len(rows) == 129
    assert sum(int(r[3]) for r in rows[1:]) == 32 * 64
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]  # no temporary left


def test_failures_are_shown_calmly(qtbot, panel):
    panel.show_selection(["no.such.tensor"])
    qtbot.waitUntil(lambda: panel.message.isVisibleTo(panel), timeout=5000)
    assert "no tensor or module is called 'no.such.tensor'" in panel.message.text()


def test_depth_and_heatmap_export_their_numbers(qtbot, panel, model, tmp_path: Path):
    _, tensors = model
    panel.tabs.setCurrentIndex(1)
    panel.show_selection(["model.layers.0.attn.q_proj.weight"])
    qtbot.waitUntil(lambda: panel.depth.series is not None, timeout=10_000)
    panel.export_csv(tmp_path / "depth.csv")
    with open(tmp_path / "depth.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["block"]) for r in rows] == list(range(BLOCKS))
    wanted = values_of(tensors["model.layers.3.attn.q_proj.weight"]).std()
    assert float(rows[3]["std"]) == pytest.approx(wanted, rel=1e-12)
    panel.tabs.setCurrentIndex(2)
    qtbot.waitUntil(lambda: panel.heatmap.picture is not None, timeout=10_000)
    panel.export_csv(tmp_path / "heatmap.csv")
    with open(tmp_path / "heatmap.csv", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 1 + 48 * 32
    first = values_of(tensors["model.layers.0.attn.q_proj.weight"])[0]
    assert float(rows[1][4]) == abs(first)


def test_cancel_stops_the_running_job(qtbot, panel):
    panel.show_selection(["model.embed.weight"])
    job = panel.runners["histogram"]._job  # noqa: SLF001
    panel.cancel_button.click()
    assert job is not None and job.is_cancelled()
    assert not panel.busy and panel.progress.isHidden()
