"""Eigenvalue spectra in the window: the Spectrum tab (one matrix's ESD on log–log axes with its
power-law fit), the line under the summary that computes every matrix's spectrum in the
background (View ▸ Compute Spectra; automatic for small models), and α's colour bands.

The numbers come from core/analysis/spectrum.py; results are cached per file there and here.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core import units
from core.analysis import spectrum
from core.model import Checkpoint
from gui.colors import ALERT
from gui.job_line import JobLine
from gui.summary import _esc, _muted
from gui.workers import Job

AUTO_SPECTRUM_ELEMENTS = 50_000_000  # models with fewer weight-matrix elements: computed on open
_computed: dict[tuple[str, int, int], dict[str, spectrum.LayerSpectrum]] = {}  # per file version


def alpha_color(alpha: float | None) -> QColor | None:
    """WeightWatcher's bands: α < 2 over-trained (red), 2–6 typical (green), > 6 under-trained
    (amber)."""
    if alpha is None or not math.isfinite(alpha):
        return None
    if alpha < spectrum.OVER_TRAINED_ALPHA:
        return QColor(220, 80, 60, 90)
    if alpha > spectrum.UNDER_TRAINED_ALPHA:
        return QColor(230, 170, 40, 90)
    return QColor(70, 170, 90, 70)


def computed_alphas(checkpoint: Checkpoint | None) -> dict[str, float | None]:
    """α of each weight matrix of the checkpoint whose spectra have been computed, by name."""
    if checkpoint is None:
        return {}
    results = _computed.get(_file_key(checkpoint)) or {}
    return {name: layer.alpha for name, layer in results.items()}


def _file_key(checkpoint: Checkpoint) -> tuple[str, int, int]:
    path = Path(checkpoint.path)
    try:
        found = path.stat()
        return (str(path.resolve()), found.st_size, found.st_mtime_ns)
    except OSError:
        return (str(path), -1, -1)


class SpectrumLine(JobLine):
    """`spectra  39 matrices · mean α 3.9 · 2 under-trained  [Compute spectra]`, with progress."""

    computed = Signal(object)  # dict: tensor name → LayerSpectrum

    def __init__(self, checkpoint: Checkpoint, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checkpoint = checkpoint
        self.matrices = spectrum.weight_matrices(checkpoint.tensors)
        self.elements = sum(t.numel for t in self.matrices)
        self.results: dict[str, spectrum.LayerSpectrum] | None = None
        self._show_idle()

    def start_if_small(self) -> None:
        cached = _computed.get(_file_key(self.checkpoint))
        if cached is not None:
            self._finished_with(cached)
        elif self.matrices and self.elements <= AUTO_SPECTRUM_ELEMENTS:
            self.start()

    def start(self) -> None:
        if self.job is not None or not self.matrices:
            return
        matrices = self.matrices

        def run(progress, cancelled) -> dict[str, spectrum.LayerSpectrum]:
            # in this thread, not the worker processes: the statistics the person asks for
            # share that pool and must not queue behind every matrix of the model
            layers = spectrum.spectra(matrices, progress=progress, cancelled=cancelled, workers=0)
            return {layer.name: layer for layer in layers}

        self._launch(Job(run), self._head() + f" computing {units.exact(len(matrices))} spectra …")

    def _finished(self, results: dict[str, spectrum.LayerSpectrum]) -> None:
        if self._current():
            self.job = None
            _computed[_file_key(self.checkpoint)] = results
            self._finished_with(results)

    def _finished_with(self, results: dict[str, spectrum.LayerSpectrum]) -> None:
        self.results = results
        self.progress.hide()
        layers = list(results.values())
        means = spectrum.summary(layers)
        text = f" {units.exact(len(layers))} matrices"
        if means["alpha"] is not None:
            text += f" · mean α {means['alpha']:.2f}"
        for warning in (spectrum.UNDER_TRAINED, spectrum.OVER_TRAINED):
            count = sum(layer.warning == warning for layer in layers)
            if count:
                text += f" · <span style='color:{ALERT}'>⚠ {count} {warning}</span>"
        self.label.setText(self._head() + text)
        self.button.setText("Compute again")
        self.computed.emit(results)

    def _failed(self, message: str) -> None:
        if self._current():
            self.job = None
            self.progress.hide()
            self.label.setText(
                self._head() + f" <span style='color:{ALERT}'>{_esc(message)}</span>"
            )
            self.button.setText("Try again")

    def _head(self) -> str:
        return f"<span style='color:{_muted()}'>spectra</span>&nbsp;"

    def _show_idle(self, stopped: bool = False) -> None:
        self.progress.hide()
        if not self.matrices:
            self.label.setText(self._head() + " no weight matrices")
            self.button.hide()
            return
        what = "stopped" if stopped else "not computed yet"
        self.label.setText(
            self._head() + f" {what} — {units.exact(len(self.matrices))} weight matrices"
        )
        self.button.setText("Compute spectra")
        self.button.setToolTip(
            "Eigenvalues of every weight matrix and their power-law fit: α between 2 and 6 is "
            "typical of well-trained layers (View ▸ Compute Spectra)"
        )


class SpectrumView(QWidget):
    """One weight matrix's ESD (eigenvalues of WᵀW) on log–log axes, the fitted power law from
    xmin, and the shuffled matrix's ESD when asked for."""

    request = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        import pyqtgraph as pg

        super().__init__(parent)
        self.result: spectrum.LayerSpectrum | None = None
        self.randomize_button = QPushButton("Compare with shuffled")
        self.randomize_button.setCheckable(True)
        self.randomize_button.setToolTip(
            "Also the spectrum of the matrix with its elements shuffled: a layer whose spectrum "
            "looks like its shuffled self has learnt little"
        )
        self.randomize_button.toggled.connect(lambda _on: self.request.emit())
        self.description = QLabel(" ")
        self.description.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(self.randomize_button)
        controls.addWidget(self.description, 1)
        from gui.theme import plot_colours

        plot_colours()
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        self.plot.setLogMode(x=True, y=True)
        self.plot.setLabel("bottom", "eigenvalue λ of WᵀW")
        self.plot.setLabel("left", "density")
        self.plot.addLegend(offset=(-10, 10))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(controls)
        layout.addWidget(self.plot_widget, 1)

    def clear(self, text: str = " ") -> None:
        self.result = None
        self.plot.clear()
        self.description.setText(text)

    def compute(self, checkpoint: Checkpoint, name: str):
        randomize = self.randomize_button.isChecked()

        def run(progress, cancelled) -> spectrum.LayerSpectrum:
            t = checkpoint.tensor(name)
            assert t is not None
            return spectrum.layer_spectrum(
                t, randomize=randomize, progress=progress, cancelled=cancelled
            )

        return run

    def show_spectrum(self, result: spectrum.LayerSpectrum) -> None:
        import pyqtgraph as pg

        self.result = result
        self.plot.clear()
        positive = result.evals[result.evals > spectrum.EVALS_THRESH]
        self._histogram(positive, "ESD", (60, 120, 200))
        if result.rand_evals is not None:
            shuffled = result.rand_evals[result.rand_evals > spectrum.EVALS_THRESH]
            self._histogram(shuffled, "shuffled", (200, 120, 60))
        if result.alpha is not None and result.xmin is not None:
            # the fitted density over the tail, scaled by the tail's share of all eigenvalues
            xs = np.geomspace(result.xmin, result.lambda_max, 50)
            share = result.num_pl_spikes / max(positive.size, 1)
            ys = share * (result.alpha - 1) / result.xmin * (xs / result.xmin) ** -result.alpha
            self.plot.plot(xs, ys, pen=pg.mkPen((220, 50, 50), width=2), name="power law fit")
            line = pg.InfiniteLine(
                math.log10(result.xmin), angle=90, pen=pg.mkPen((220, 50, 50), style=Qt.DashLine)
            )
            self.plot.addItem(line)
        parts = [
            f"{result.num_evals:,} eigenvalues · λmax {result.lambda_max:.4g}",
            "α —" if result.alpha is None else f"α {result.alpha:.3f}",
        ]
        if result.xmin is not None:
            parts.append(f"xmin {result.xmin:.4g} · D {result.D:.3f} · tail {result.num_pl_spikes}")
        parts.append(f"stable rank {result.stable_rank:.1f}")
        if result.rand_distance is not None:
            parts.append(f"distance to shuffled {result.rand_distance:.3f}")
        if result.warning:
            parts.append(f"⚠ {spectrum.WARNINGS[result.warning]}")
        if result.looks_random:
            parts.append("⚠ indistinguishable from random")
        self.description.setText(" · ".join(parts + result.notes))

    def _histogram(self, values: np.ndarray, name: str, color: tuple[int, int, int]) -> None:
        import pyqtgraph as pg

        if values.size < 2 or values[0] == values[-1]:
            return
        edges = np.geomspace(values[0], values[-1] * (1 + 1e-12), 60)
        counts, _ = np.histogram(values, edges)
        density = counts / (values.size * np.diff(edges))
        keep = density > 0
        centers = np.sqrt(edges[:-1] * edges[1:])
        self.plot.plot(
            centers[keep],
            density[keep],
            pen=pg.mkPen(color, width=2),
            symbol="o",
            symbolSize=4,
            symbolBrush=color,
            name=name,
        )

    def write_csv(self, path: Path) -> None:
        result = self.result
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["eigenvalue"] + (["shuffled"] if result and result.rand_evals is not None else [])
            )
            if result is None:
                return
            for i, value in enumerate(result.evals):
                row = [repr(float(value))]
                if result.rand_evals is not None:
                    row.append(repr(float(result.rand_evals[i])))
                writer.writerow(row)
