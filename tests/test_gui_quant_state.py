"""The window shows quantisation metadata as the CLI does: its own column in the layer tree, its
own segment and legend entry in the summary, never inside parameters, buffers or state."""

from __future__ import annotations

from test_gui_layer_tree import cell, rows
from test_roles_quant import LAYERS, qweight_file

from core import open_checkpoint
from gui.layer_tree import BUFFERS, PARAMS, QUANT, STATE, LayerTree
from gui.summary import SummaryView


def test_layer_tree_and_summary_count_scales_apart(qtbot, tmp_path) -> None:
    path = tmp_path / "model.safetensors"
    state = qweight_file(path)
    ckpt = open_checkpoint(path)
    tree = LayerTree(ckpt)
    qtbot.addWidget(tree)
    assert not tree.view.isColumnHidden(QUANT)
    top = rows(tree.proxy)
    scales = sum(v.numel() for k, v in state.items() if k.endswith(".scale"))
    assert sum(cell(i, QUANT) for i in top.values()) == scales
    assert sum(cell(i, PARAMS) for i in top.values()) == ckpt.totals.params
    assert sum(cell(i, BUFFERS) or 0 for i in top.values()) == 0
    fc1 = rows(tree.proxy, rows(tree.proxy)["encoder"])["fc1"]
    tensors = rows(tree.proxy, fc1)
    scale = tensors["scale"]
    assert (cell(scale, QUANT), cell(scale, PARAMS), cell(scale, STATE)) == (
        LAYERS["encoder.fc1"][0],
        0,
        0,
    )
    assert scale.siblingAtColumn(1).data() == "quant"

    summary = SummaryView(ckpt)
    qtbot.addWidget(summary)
    assert "quantisation" in summary.legend.text()
    assert ("quantisation", scales) in summary.bar.parts
    assert "scale/zero-point elements" in summary.headline.text()


def test_the_column_stays_hidden_without_quantisation(qtbot, tmp_path) -> None:
    import torch
    from safetensors.torch import save_file

    save_file({"fc.weight": torch.ones(4, 4)}, str(tmp_path / "f.safetensors"))
    tree = LayerTree(open_checkpoint(tmp_path / "f.safetensors"))
    qtbot.addWidget(tree)
    assert tree.view.isColumnHidden(QUANT)
