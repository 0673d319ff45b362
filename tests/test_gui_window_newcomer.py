"""Issue 16, the window as a newcomer meets it: no lost edits, a layout that holds at every size,
escaped rich text, readable tab titles and names, no stale plots, keyboard into the find results,
full-size plot exports, and exports without run state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from PySide6.QtCore import QSize, Qt, QTimer
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QTabBar
from safetensors.torch import save_file
from torch import nn

from core import open_checkpoint, stats
from gui.hparams_panel import HyperparamPanel
from gui.layer_tree import NAME, LayerTree
from gui.main_window import CheckpointTab, MainWindow
from gui.summary import SummaryView
from gui.tensor_plots import DistributionPanel
from tests.checkpoints import make_model, save_hf_folder, save_lightning, save_safetensors

# --- fixtures --------------------------------------------------------------------------------------


def wait_opened(qtbot, win: MainWindow) -> CheckpointTab:
    qtbot.waitUntil(lambda: not win.loading_jobs(), timeout=30_000)
    tab = win.current_tab()
    assert tab is not None and tab.checkpoint is not None
    return tab


class Recurrent(nn.Module):
    """An LSTM beside a transformer layer: names that differ only in their middle."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(40, 16)
        self.rnn = nn.LSTM(16, 16, num_layers=2)
        self.encoder = nn.TransformerEncoderLayer(16, 2, 32)
        self.head = nn.Linear(16, 40)


def save_recurrent(path: Path) -> Path:
    torch.manual_seed(0)
    state = {k: v.contiguous() for k, v in Recurrent().state_dict().items()}
    save_file(state, str(path))
    return path


def answer_dialog(qtbot, button_text: str, seen: list[str]) -> QTimer:
    """Click the button named `button_text` in the next modal message box (and note its text)."""

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            return
        timer.stop()
        seen.append(box.text())
        for button in box.buttons():
            if button.text().replace("&", "") == button_text:
                button.click()
                return
        raise AssertionError([b.text() for b in box.buttons()])

    timer = QTimer()
    timer.timeout.connect(click)
    timer.start(20)
    return timer


def edited_window(qtbot, window: MainWindow, tmp_path: Path) -> CheckpointTab:
    folder = save_hf_folder(make_model(), tmp_path / "tiny-model")
    window.open_path(folder)
    tab = wait_opened(qtbot, window)
    assert window.hparams.edit_value(("hidden_size",), "32")
    assert window.hparams.unsaved_edits() == [tab.checkpoint]
    return tab


# --- 1. edits are not lost without a word ------------------------------------------------------------


def test_closing_with_edits_asks_and_cancel_keeps_everything(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    tab = edited_window(qtbot, window, tmp_path)
    seen: list[str] = []
    timer = answer_dialog(qtbot, "Cancel", seen)
    assert not window.close()
    timer.stop()
    assert seen and "tiny-model" in seen[0]
    assert window.isVisible() and window.current_tab() is tab
    assert window.hparams.unsaved_edits() == [tab.checkpoint]

    timer = answer_dialog(qtbot, "Cancel", seen)
    window.close_tab(window.tabs.indexOf(tab))
    timer.stop()
    assert window.tabs.count() == 1 and len(seen) == 2

    timer = answer_dialog(qtbot, "Discard", seen)
    window.close_tab(window.tabs.indexOf(tab))
    timer.stop()
    assert window.tabs.count() == 0


def test_export_from_the_question_writes_the_edits_then_closes(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited_window(qtbot, window, tmp_path)
    out = tmp_path / "edited.yaml"
    monkeypatch.setattr(
        QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: (str(out), "YAML (*.yaml)"))
    )
    seen: list[str] = []
    timer = answer_dialog(qtbot, "Export…", seen)
    assert window.close()
    timer.stop()
    assert yaml.safe_load(out.read_text())["hidden_size"] == 32


def test_a_cancelled_export_keeps_the_window_open(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    edited_window(qtbot, window, tmp_path)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", staticmethod(lambda *a, **k: ("", "")))
    seen: list[str] = []
    timer = answer_dialog(qtbot, "Export…", seen)
    assert not window.close()
    timer.stop()
    assert window.isVisible() and window.hparams.unsaved_edits()
    window.quit_without_asking()  # pytest-qt closes the window before the fixture ends


def test_quit_without_asking_closes_at_once(qtbot, window: MainWindow, tmp_path: Path) -> None:
    """The SIGTERM path: nobody is there to answer."""
    edited_window(qtbot, window, tmp_path)
    window.quit_without_asking()
    assert window.close()


def test_no_edits_no_question(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.open_path(save_safetensors(make_model(), tmp_path / "plain.safetensors"))
    wait_opened(qtbot, window)
    assert window.close()


# --- 2. the layout holds at every size ---------------------------------------------------------------


def test_long_captions_never_widen_the_window(qtbot, window: MainWindow, tmp_path: Path) -> None:
    path = tmp_path / ("a-rather-long-checkpoint-name-" * 4 + ".safetensors")
    weights = {
        "model.encoder.layers.0.self_attention.query_key_value.weight": torch.randn(3000, 700),
        "model.encoder.layers.0.self_attention.query_key_value.bias": torch.randn(3000),
    }
    save_file(weights, str(path))
    window.open_path(path)
    tab = wait_opened(qtbot, window)
    panel = window.distribution
    panel.tabs.setCurrentWidget(panel.heatmap)
    tab.tree.select_path("model.encoder.layers.0.self_attention.query_key_value.weight")
    qtbot.waitUntil(lambda: not panel.busy and panel.heatmap.picture is not None, timeout=20_000)
    panel.heatmap.hover.setText("x" * 400)
    panel.histogram.hover.setText("y" * 400)
    window.report_error("z" * 400)
    QApplication.processEvents()
    assert window.minimumSizeHint().width() <= 1024
    assert window.minimumSizeHint().height() <= 700  # every dock (Memory too) fits 1024×700
    window.resize(1024, 700)
    QApplication.processEvents()
    assert (window.width(), window.height()) == (1024, 700)


def test_the_plot_gets_the_room_at_every_size(qtbot, window: MainWindow, tmp_path: Path) -> None:
    window.open_path(save_safetensors(make_model(), tmp_path / "m.safetensors"))
    tab = wait_opened(qtbot, window)
    window.resize(2560, 1400)
    qtbot.waitUntil(lambda: window.width() == 2560)
    window.select_largest_tensor()
    panel = window.distribution
    qtbot.waitUntil(lambda: not panel.busy and bool(panel.histogram.results), timeout=20_000)
    QApplication.processEvents()
    plot = panel.histogram.plot_widget
    assert window.dist_dock.width() >= 0.3 * window.width()
    assert plot.width() >= 0.6 * panel.width()
    window.resize(1400, 900)
    qtbot.waitUntil(lambda: window.width() == 1400)
    window.resize(2560, 1400)
    qtbot.waitUntil(lambda: window.width() == 2560)
    QApplication.processEvents()
    assert window.dist_dock.width() >= 0.3 * window.width()
    assert plot.width() >= 0.6 * panel.width()
    assert tab.tree.width() >= 0.3 * window.width()


def dock_tab_bars(window: MainWindow) -> list[tuple[str, ...]]:
    return [
        tuple(bar.tabText(i) for i in range(bar.count()))
        for bar in window.findChildren(QTabBar)
        if bar.parent() is window and bar.isVisible() and bar.count()
    ]


def test_no_stray_dock_tab_bar_over_the_status_bar(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    QApplication.processEvents()
    assert dock_tab_bars(window) == []  # the empty page hides the docks, and their tabs
    window.open_path(save_safetensors(make_model(), tmp_path / "m.safetensors"))
    wait_opened(qtbot, window)
    QApplication.processEvents()
    bars = dock_tab_bars(window)
    assert len(bars) == len(set(bars)), bars


# --- 4. rich text is escaped -------------------------------------------------------------------------


def test_a_share_below_a_tenth_of_a_percent_reads_in_the_legend(qtbot, tmp_path: Path) -> None:
    weights = {"big.weight": torch.zeros(2000, 1000), "big.bias": torch.zeros(10)}
    path = tmp_path / "shares.safetensors"
    save_file(weights, str(path))
    view = SummaryView(open_checkpoint(path))
    qtbot.addWidget(view)
    document = QTextDocument()
    document.setHtml(view.legend.text())
    assert "biases 10 <0.1%" in document.toPlainText().replace("\xa0", " ")


# --- 5. tab titles ----------------------------------------------------------------------------------


def test_tabs_are_named_after_model_folders_and_stay_readable(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    folder = save_hf_folder(make_model(), tmp_path / "org-model-7b")
    window.open_path(folder / "model.safetensors")
    wait_opened(qtbot, window)
    assert window.tabs.tabText(0) == "org-model-7b"
    assert window.tabs.tabToolTip(0) == str(folder / "model.safetensors")
    for i in range(9):
        window.open_path(
            save_safetensors(make_model(), tmp_path / f"checkpoint-epoch-{i:02d}-long.safetensors")
        )
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=30_000)
    window.resize(1024, 700)
    QApplication.processEvents()
    bar = window.tabs.tabBar()
    metrics = bar.fontMetrics()
    for index in (bar.currentIndex(), 0):
        text = window.tabs.tabText(index)
        assert bar.tabRect(index).width() >= metrics.horizontalAdvance(text), text


# --- 6. the Name column ----------------------------------------------------------------------------


def test_names_differing_in_the_middle_stay_apart(qtbot, tmp_path: Path) -> None:
    tree = LayerTree(open_checkpoint(save_recurrent(tmp_path / "rnn.safetensors")))
    qtbot.addWidget(tree)
    tree.resize(520, 600)
    tree.show()
    qtbot.waitExposed(tree)
    tree.view.expandAll()
    tree.fit_names()
    assert tree.view.textElideMode() == Qt.TextElideMode.ElideMiddle
    metrics = tree.view.fontMetrics()
    width = tree.view.columnWidth(NAME)
    assert width >= metrics.horizontalAdvance("weight_ih_l0") + 3 * tree.view.indentation()


def test_an_empty_model_has_a_readable_name_header(qtbot, tmp_path: Path) -> None:
    path = tmp_path / "empty.safetensors"
    save_file({}, str(path))
    tree = LayerTree(open_checkpoint(path))
    qtbot.addWidget(tree)
    tree.resize(600, 400)
    tree.show()
    qtbot.waitExposed(tree)
    tree.fit_names()
    header = tree.view.header()
    assert tree.view.columnWidth(NAME) >= header.fontMetrics().horizontalAdvance("Name") + 16


# --- 7. stale and blank plots -----------------------------------------------------------------------


@pytest.fixture
def plots(qtbot, tmp_path: Path):
    stats.clear_cache()
    tensors = {
        "layers.0.weight": torch.randn(64, 32),
        "layers.1.weight": torch.randn(64, 32),
        "layers.0.bias": torch.randn(64),
        "head.scale": torch.randn(64),
    }
    path = tmp_path / "plots.safetensors"
    save_file(tensors, str(path))
    panel = DistributionPanel()
    qtbot.addWidget(panel)
    panel.resize(900, 600)
    panel.show()
    panel.set_checkpoint(open_checkpoint(path))
    yield panel
    panel.cancel()
    panel.wait()


def test_an_empty_heatmap_keeps_no_colour_bar_or_axes(qtbot, plots: DistributionPanel) -> None:
    plots.tabs.setCurrentWidget(plots.heatmap)
    plots.show_selection(["layers.0.weight"])
    qtbot.waitUntil(lambda: plots.heatmap.picture is not None and not plots.busy, timeout=10_000)
    assert plots.heatmap.color_bar.isVisible()
    plots.show_selection(["layers.0.bias"])  # 1-D: no heatmap
    qtbot.waitUntil(lambda: not plots.busy, timeout=10_000)
    assert not plots.heatmap.color_bar.isVisible()
    assert not plots.heatmap.plot.getAxis("left").isVisible()
    plots.set_checkpoint(None)
    assert not plots.histogram.plot.getAxis("left").isVisible()


def test_the_depth_note_goes_when_a_plot_comes(qtbot, plots: DistributionPanel) -> None:
    plots.tabs.setCurrentWidget(plots.depth)
    plots.show_selection(["head.scale"])
    qtbot.waitUntil(lambda: not plots.busy, timeout=10_000)
    assert "no numbered block" in plots.depth.hover.text()
    plots.show_selection(["layers.0.weight"])
    qtbot.waitUntil(lambda: plots.depth.series is not None and not plots.busy, timeout=10_000)
    assert "no numbered block" not in plots.depth.hover.text()


def test_cancel_says_so_and_offers_retry(qtbot, plots: DistributionPanel) -> None:
    plots.show_selection(["layers.0.weight"])
    assert plots.busy
    plots.cancel_button.click()
    assert not plots.busy
    assert plots.message.isVisible() and "Cancelled" in plots.message.text()
    assert plots.retry_button.isVisible()
    plots.retry_button.click()
    qtbot.waitUntil(lambda: bool(plots.histogram.results) and not plots.busy, timeout=10_000)
    assert not plots.message.isVisible() and not plots.retry_button.isVisible()


# --- 13. keyboard from the find box into the results ---------------------------------------------


@pytest.mark.parametrize("key", [Qt.Key.Key_Down, Qt.Key.Key_Return])
def test_down_or_enter_in_find_moves_into_the_results(qtbot, tmp_path: Path, key) -> None:
    tree = LayerTree(open_checkpoint(save_recurrent(tmp_path / "rnn.safetensors")))
    qtbot.addWidget(tree)
    tree.show()
    qtbot.waitExposed(tree)
    tree.focus_find()
    qtbot.keyClicks(tree.find, "weight_hh")
    qtbot.keyClick(tree.find, key)
    qtbot.waitUntil(lambda: tree.view.hasFocus())
    assert tree.selected_paths() and "weight_hh" in tree.selected_paths()[0]


# --- 14. plot export ---------------------------------------------------------------------------------


def test_png_and_svg_export_at_a_chosen_size_with_the_whole_legend(
    qtbot, plots: DistributionPanel, tmp_path: Path
) -> None:
    plots.resize(420, 300)  # a sliver on screen
    plots.show_selection(["layers.0.weight", "layers.1.weight", "layers.0.bias"])
    qtbot.waitUntil(lambda: len(plots.histogram.curves) == 3 and not plots.busy, timeout=10_000)
    on_screen = plots.histogram.plot_widget.size()
    png = tmp_path / "plot.png"
    plots.export_image(png, QSize(1600, 1000))
    image = QImage(str(png))
    assert (image.width(), image.height()) == (1600, 1000)
    assert plots.histogram.plot_widget.size() == on_screen
    svg = tmp_path / "plot.svg"
    plots.export_image(svg, QSize(1600, 1000))
    text = svg.read_text()
    assert text.startswith("<?xml") or "<svg" in text[:500]
    for name in ("layers.0.weight", "layers.1.weight", "layers.0.bias"):
        assert name in text


# --- 15. columns, counts under a filter, run state -------------------------------------------------


def test_several_tensors_keep_their_stats_columns_in_sight(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    window.open_path(save_recurrent(tmp_path / "rnn.safetensors"))
    wait_opened(qtbot, window)
    window.resize(1400, 900)
    panel = window.distribution
    names = ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "rnn.weight_ih_l1"]
    panel.show_selection(names)
    qtbot.waitUntil(lambda: len(panel.histogram.curves) == 3 and not panel.busy, timeout=10_000)
    QApplication.processEvents()
    table = panel.histogram.table
    assert table.horizontalHeader().length() <= table.viewport().width()


def test_group_counts_follow_the_filter(qtbot, tmp_path: Path) -> None:
    panel = HyperparamPanel()
    qtbot.addWidget(panel)
    panel.set_checkpoint(open_checkpoint(save_hf_folder(make_model(), tmp_path / "hf")))
    full = [panel.proxy.index(row, 0).data() for row in range(panel.proxy.rowCount())]
    assert any(g.startswith("architecture (") and "(1)" not in g for g in full), full
    panel.find.setText("vocab_size")
    groups = [panel.proxy.index(row, 0).data() for row in range(panel.proxy.rowCount())]
    assert groups and all("(1 of " in g for g in groups), groups


def test_exports_leave_run_state_out_and_the_panel_shows_it(qtbot, tmp_path: Path) -> None:
    panel = HyperparamPanel()
    qtbot.addWidget(panel)
    panel.set_checkpoint(open_checkpoint(save_lightning(make_model(), tmp_path / "l.ckpt")))
    assert panel.model.index_of(("global_step",)).isValid()
    out = tmp_path / "config.yaml"
    assert panel.export_to(out)
    written = yaml.safe_load(out.read_text())
    assert written["lr"] == 3e-4 and written["batch_size"] == 32
    for key in ("epoch", "global_step", "pytorch-lightning_version"):
        assert key not in written
