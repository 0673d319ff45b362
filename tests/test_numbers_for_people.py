"""Issue 16 #12: numbers read like numbers, not like Python — float32 noise hidden, no dict or
bytes reprs, one tick format per axis, no "x0.001" or "log10(count + 1)" axis labels; the exact
values stay in tooltips."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PySide6.QtWidgets import QLabel
from safetensors.torch import save_file

from core import open_checkpoint, stats, units
from gui.hparams_panel import HyperparamPanel
from gui.summary import SummaryView
from gui.tensor_plots import DistributionPanel
from tests.format_fixtures import write_onnx

ROOT = Path(__file__).resolve().parent.parent


def test_shortest_decimals_at_the_values_precision() -> None:
    noisy = float(np.float32(0.0001))
    assert repr(noisy) != "0.0001"
    assert units.float_text(noisy) == "0.0001"
    assert units.float_text(0.1) == "0.1"
    assert units.float_text(float(np.float32(1e-5))) == "1e-5"
    assert units.shortest(float(np.float16(0.1)), 16) == "0.1"
    assert units.shortest(1e-20, 32) == "1e-20"
    assert units.number(1.1e6) == "1.1e6" and units.number(-0.123456) == "-0.1235"
    assert units.human({"Constant": 44, "MatMul": 2}) == "Constant 44, MatMul 2"
    assert units.human(b"\x1c\x00ab") == "4 bytes (1c 00 61 62)"


def _dragon4(value: np.floating) -> str:
    """numpy's shortest unique decimal (Dragon4), the way units.shortest writes it."""
    if abs(float(value)) < 0.99999e-4 or abs(float(value)) >= 1e16:
        text = np.format_float_scientific(value, unique=True, trim="-")
        mantissa, _, exponent = text.partition("e")
        return f"{mantissa}e{int(exponent)}"
    return np.format_float_positional(value, unique=True, trim="-")


def test_shortest_agrees_with_numpys_dragon4_at_every_precision() -> None:
    """units.shortest is pure Python (a number on screen never loads numpy); the reference is
    numpy's Dragon4: every float16, float32 powers of two and their neighbours (where the
    spacing changes), and random float32 and float64 bit patterns."""
    rng = np.random.default_rng(16)
    halves = np.arange(1 << 16, dtype=np.uint16).view(np.float16)
    powers = np.float32(2.0) ** np.arange(-149, 128, dtype=np.float32)
    singles = np.concatenate(
        [
            powers,
            np.nextafter(powers, np.float32(np.inf)),
            np.nextafter(powers, np.float32(0)),
            rng.integers(0, 1 << 32, 50_000, dtype=np.uint64).astype(np.uint32).view(np.float32),
        ]
    )
    doubles = rng.integers(0, 1 << 63, 50_000, dtype=np.int64).view(np.float64)
    for values, bits in ((halves, 16), (singles, 32), (doubles, 64)):
        finite = values[np.isfinite(values) & (values != 0)]
        wrong = [
            (float(v), units.shortest(float(v), bits), _dragon4(v))
            for v in finite
            if units.shortest(float(v), bits) != _dragon4(v)
        ]
        assert not wrong, wrong[:5]


def test_shortest_names_what_a_precision_cannot_hold() -> None:
    assert units.shortest(1e-45, 16) == "0"  # below float16's smallest: zero, not "0e0"
    assert units.shortest(-0.0) == "-0"
    assert units.shortest(1e16, 16) == "Inf" and units.shortest(-1e39, 32) == "-Inf"


def test_formatting_numbers_never_loads_numpy() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from core import units; "
        "units.float_text(0.1); units.shortest(1e-5, 32); units.shortest(0.1, 16); "
        "print('numpy' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "False"


def test_one_tick_format_per_axis() -> None:
    assert units.tick_labels([900_000, 1_000_000, 1_100_000], 100_000) == [
        "0.9 M",
        "1.0 M",
        "1.1 M",
    ]
    assert units.tick_labels([-0.2, 0.0, 0.2], 0.2) == ["-0.2", "0", "0.2"]
    assert units.tick_labels([0.0, 2.5, 5.0], 2.5) == ["0", "2.5", "5.0"]


def _gguf_with_float32_metadata(path: Path) -> Path:
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_block_count(1)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_float32("llama.some_rate", 0.0001)
    writer.add_array("llama.some_list", [0.1, 0.2])
    writer.add_tensor("blk.0.attn_norm.weight", np.ones(8, np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def test_float32_hyperparameters_show_their_shortest_form(qtbot, tmp_path: Path) -> None:
    panel = HyperparamPanel()
    qtbot.addWidget(panel)
    panel.set_checkpoint(open_checkpoint(_gguf_with_float32_metadata(tmp_path / "m.gguf")))
    source = panel.model.index_of(("llama.some_rate",), 1)
    assert source.data() == "0.0001"
    assert repr(float(np.float32(0.0001))) in source.data(0x0003)  # the exact value in the tooltip
    assert panel.model.index_of(("llama.some_list",), 1).data() == "[0.1, 0.2]"


def test_summary_has_no_python_reprs(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    write_onnx(path, external=False)
    view = SummaryView(open_checkpoint(path))
    qtbot.addWidget(view)
    text = " ".join(label.text() for label in view.findChildren(QLabel))
    assert "Gemm 2, Relu 1" in text  # the ONNX operators, counted
    assert "{" not in text and "&#x27;" not in text


@pytest.fixture
def panel(qtbot):
    widget = DistributionPanel()
    qtbot.addWidget(widget)
    widget.resize(900, 500)
    widget.show()
    yield widget
    widget.cancel()
    widget.wait()


def test_plot_axes_read_like_numbers(qtbot, panel, tmp_path: Path) -> None:
    stats.clear_cache()
    path = tmp_path / "m.safetensors"
    values = torch.randn(20_000, generator=torch.Generator().manual_seed(0)) * 1e-3
    save_file({"w": values}, str(path))
    panel.set_checkpoint(open_checkpoint(path))
    panel.show_selection(["w"])
    qtbot.waitUntil(lambda: len(panel.histogram.curves) == 1 and not panel.busy, timeout=10_000)
    panel.histogram.log_box.setChecked(True)
    plot = panel.histogram.plot
    bottom, left = plot.getAxis("bottom"), plot.getAxis("left")
    assert "x0.001" not in bottom.labelString() and "(x" not in left.labelString()
    assert "log10" not in left.labelString() and "log scale" in left.labelString()
    # log ticks sit at round counts and say them
    ticks = [np.log10(1 + c) for c in (0, 1, 10, 100, 10_000)]
    major = left.tickValues(0.0, 4.1, 400)[0][1]
    assert major == pytest.approx(ticks[:4] + [np.log10(1 + 1000), ticks[4]])
    ticks = major[:4] + major[5:]
    assert left.tickStrings(ticks, 1.0, 1.0) == ["0", "1", "10", "100", "10 K"]
    assert bottom.tickStrings([-0.002, 0.0, 0.002], 1.0, 0.002) == ["-0.002", "0", "0.002"]


def test_the_heatmap_colour_bar_reads_like_numbers(qtbot, panel) -> None:
    axis = panel.heatmap.color_bar.axis
    assert not axis.autoSIPrefix
    assert axis.tickStrings([900_000.0, 1_000_000.0, 1_100_000.0], 1.0, 100_000.0) == [
        "0.9 M",
        "1.0 M",
        "1.1 M",
    ]
