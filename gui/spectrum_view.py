"""The Spectrum tab: one weight matrix's ESD on log–log axes with its power-law fit.

The numbers come from core/analysis/spectrum.py; the line that computes every matrix's spectrum
and α's colour bands are in gui/spectrum_line.py.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from core.analysis import spectrum
from core.model import Checkpoint


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
