"""The Memory panel as a person uses it: open a model, pick precision, context and mode, read the
stacked bar and the sentence — the same numbers as `core.memory_plan`."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import memory_plan as mp
from core.open import open_checkpoint
from gui.main_window import MainWindow
from gui.memory_panel import GB, MemoryPanel
from tests.sparse_models import LLAMA3_8B, llama3_8b_shapes, write_sparse_model


@pytest.fixture
def llama8b(tmp_path: Path) -> Path:
    shapes = llama3_8b_shapes()
    return write_sparse_model(tmp_path / "llama8b", shapes, LLAMA3_8B, shards=4)


def test_panel_shows_the_plan_and_where_it_fits(qtbot, llama8b: Path) -> None:
    panel = MemoryPanel()
    qtbot.addWidget(panel)
    ckpt = open_checkpoint(llama8b)
    panel.set_checkpoint(ckpt)
    panel.weights.setCurrentText("int4")
    panel.context.setValue(8192)
    want = mp.plan(ckpt, mp.Options(context=8192, weights="int4"))
    assert panel.plan is not None and panel.plan.total_bytes == want.total_bytes
    assert panel.sentence.text() == "fits on one 8 GB GPU at 8k context with int4 weights"
    heights = [bar.opts["height"][0] for bar in panel.bars]
    assert sum(heights) == pytest.approx(want.total_bytes / GB)
    # GPU lines from 8 GB up to past the bar (the larger ones would only squash it)
    values = [line.value() for line in panel.lines]
    assert values == list(mp.GPU_SIZES_GB[: len(values)]) and values[-1] > sum(heights)

    panel.mode.setCurrentText("LoRA")
    panel.rank.setValue(8)
    assert panel.plan.training is not None
    assert panel.plan.training.trainable_params == mp.lora_params(ckpt, 8)
    assert "to train (lora)" in panel.sentence.text()

    panel.mode.setCurrentText("full fine-tune (AdamW)")
    panel.gpus.setValue(4)
    panel.zero.setCurrentIndex(3)
    t = panel.plan.training
    assert t.per_gpu_bytes < t.total_bytes
    assert sum(panel.parts().values()) == pytest.approx(t.per_gpu_bytes, rel=1e-6)
    assert len(panel.bars) == 4  # weights, activations, gradients, optimizer

    panel.set_checkpoint(None)
    assert panel.bars == [] and "Open a model" in panel.sentence.text()


def test_window_memory_dock_follows_the_current_tab(qtbot, llama8b: Path) -> None:
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.opened, timeout=20000):
        window.open_path(llama8b)
    assert window.memory.checkpoint is not None
    assert window.memory.plan is not None and window.memory.plan.kv_cache.layers == 32
    window.close_current()
    assert window.memory.checkpoint is None


def test_window_makes_the_memory_panel_when_its_tab_is_shown(qtbot, llama8b: Path) -> None:
    """Behind the hyperparameters the panel only cost every start its module and form."""
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.opened, timeout=20000):
        window.open_path(llama8b)
    assert window._memory is None
    window.memory_dock.show()
    window.memory_dock.raise_()
    qtbot.waitUntil(lambda: window._memory is not None, timeout=5000)
    assert window.memory.checkpoint is window.current_tab().checkpoint
    qtbot.waitUntil(lambda: window.memory.plan is not None, timeout=5000)
