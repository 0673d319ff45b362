"""The window's spectra: the α column (bands, module means, sorting) and the Spectrum tab."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from safetensors.numpy import save_file

from core.analysis import spectrum
from gui.layer_tree import ALPHA, NAME, PATH_ROLE


@pytest.fixture
def model(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    tensors = {
        f"layers.{i}.fc.weight": rng.standard_normal((120, 60)).astype(np.float32) for i in range(3)
    }
    tensors["layers.0.fc.bias"] = np.zeros(120, np.float32)
    path = tmp_path / "model.safetensors"
    save_file(tensors, path)
    spectrum.clear_cache()
    return path


def _row(tree, path: str):
    model, stack = tree.proxy, [tree.proxy.index(-1, 0).parent()]
    while stack:
        parent = stack.pop()
        for row in range(model.rowCount(parent)):
            index = model.index(row, NAME, parent)
            if index.data(PATH_ROLE) == path:
                return index
            stack.append(index)
    raise AssertionError(path)


def test_spectra_fill_the_alpha_column_with_bands_and_module_means(qtbot, window, model):
    window.open_path(model)
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=30_000)
    tab = window.current_tab()
    qtbot.waitUntil(lambda: tab.spectra.results is not None, timeout=60_000)
    tree = tab.tree
    assert not tree.view.isColumnHidden(ALPHA)
    alphas = {name: r.alpha for name, r in tab.spectra.results.items()}
    assert set(alphas) == {f"layers.{i}.fc.weight" for i in range(3)}
    tree.view.expandAll()
    for name, alpha in alphas.items():
        cell = _row(tree, name).siblingAtColumn(ALPHA)
        assert cell.data() == f"{alpha:.2f}"
        assert cell.data(Qt.ItemDataRole.BackgroundRole) is not None
    assert _row(tree, "layers.0.fc.bias").siblingAtColumn(ALPHA).data() == ""
    assert "layers" in tab.spectra.label.text() or "matrices" in tab.spectra.label.text()
    mean = sum(alphas.values()) / 3
    top = _row(tree, "layers")
    assert top.siblingAtColumn(ALPHA).data() == f"{mean:.2f}"
    tree.model.sort(ALPHA, Qt.SortOrder.AscendingOrder)  # sortable without error


def test_spectrum_tab_plots_the_selected_matrix(qtbot, window, model):
    window.open_path(model)
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=30_000)
    panel = window.distribution
    panel.tabs.setCurrentWidget(panel.spectrum)
    panel.show_selection(["layers.1.fc.weight"])
    qtbot.waitUntil(lambda: panel.spectrum.result is not None, timeout=60_000)
    result = panel.spectrum.result
    assert result.name == "layers.1.fc.weight" and result.num_evals == 60
    assert "α" in panel.spectrum.description.text()
    assert len(panel.spectrum.plot.listDataItems()) >= 2  # the ESD and the fitted power law
    panel.spectrum.randomize_button.setChecked(True)
    qtbot.waitUntil(
        lambda: panel.spectrum.result is not None and panel.spectrum.result.rand_evals is not None,
        timeout=60_000,
    )
    assert "shuffled" in panel.spectrum.description.text()
    panel.show_selection(["layers.0.fc.bias"])
    qtbot.waitUntil(lambda: panel.spectrum.result is None, timeout=10_000)
    assert "weight matrix" in panel.spectrum.description.text()


def test_the_depth_tab_plots_alpha_per_block(qtbot, window, model):
    """Issue 18: "the Depth tab can plot α per block" — from the spectra computed for the file,
    a module's α the mean of its matrices'."""
    window.open_path(model)
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=30_000)
    tab = window.current_tab()
    qtbot.waitUntil(lambda: tab.spectra.results is not None, timeout=60_000)
    panel = window.distribution
    depth = panel.depth
    depth.statistic_box.setCurrentIndex(depth.statistic_box.findData("alpha"))
    panel.tabs.setCurrentWidget(depth)
    expected = [tab.spectra.results[f"layers.{i}.fc.weight"].alpha for i in range(3)]
    for selected in ("layers.1.fc.weight", "layers.1.fc"):  # a module: its matrices' mean α
        panel.show_selection([selected])
        qtbot.waitUntil(lambda: depth.series is not None and not panel.busy, timeout=30_000)
        np.testing.assert_allclose(depth.values(), expected)
        np.testing.assert_allclose(depth.curve.getData()[1], expected)


def test_spectra_start_once_the_health_check_has_ended(qtbot, window, model, monkeypatch):
    """Two background jobs at once took the GIL from the window between them: a model of
    100,000 tensors froze it for seconds. The spectra wait for the health check."""
    from gui.spectrum_line import SpectrumLine

    health_busy: list[bool] = []
    real_start = SpectrumLine.start

    def start(line: SpectrumLine) -> None:
        health_busy.append(window.current_tab().health.busy)
        real_start(line)

    monkeypatch.setattr(SpectrumLine, "start", start)
    window.open_path(model)
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=30_000)
    tab = window.current_tab()
    qtbot.waitUntil(lambda: tab.spectra.results is not None, timeout=60_000)
    assert tab.health.results is not None
    assert health_busy == [False]


def test_a_model_of_many_small_matrices_waits_to_be_asked(qtbot, window, tmp_path, monkeypatch):
    """Each matrix costs a few ms however small: a mixture of 100,000 experts' matrices took the
    CPU for minutes unasked."""
    from gui import spectrum_line

    monkeypatch.setattr(spectrum_line, "AUTO_SPECTRUM_MATRICES", 10, raising=False)
    rng = np.random.default_rng(1)
    tensors = {f"experts.{i}.w": rng.standard_normal((4, 4)).astype(np.float32) for i in range(11)}
    path = tmp_path / "experts.safetensors"
    save_file(tensors, path)
    window.open_path(path)
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=30_000)
    tab = window.current_tab()
    qtbot.waitUntil(lambda: tab.health.results is not None, timeout=30_000)
    qtbot.wait(200)
    assert tab.spectra.job is None and tab.spectra.results is None
    assert "11 weight matrices" in tab.spectra.label.text()
