"""The line under the summary that computes every weight matrix's spectrum in the background
(View ▸ Compute Spectra; automatic for small models), and α's colour bands for the tree.

The numbers come from core/analysis/spectrum.py (with numpy), imported once the line has work to
do, not with the window: the tree paints before the statistics engine loads. Results are cached
per file version here.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from core import units
from core.model import Checkpoint, TensorInfo
from gui.colors import ALERT
from gui.job_line import JobLine
from gui.summary import _esc, _muted
from gui.workers import Job

if TYPE_CHECKING:
    from core.analysis.spectrum import LayerSpectrum

AUTO_SPECTRUM_ELEMENTS = 50_000_000  # models with fewer weight-matrix elements: computed on open
# ... and no more matrices than this: each costs a few ms however small (a mixture of 100,000
# experts' matrices would take the CPU for minutes unasked)
AUTO_SPECTRUM_MATRICES = 5_000
_computed: dict[tuple[str, int, int], dict[str, LayerSpectrum]] = {}  # per file version


def alpha_color(alpha: float | None) -> QColor | None:
    """WeightWatcher's bands: α < 2 over-trained (red), 2–6 typical (green), > 6 under-trained
    (amber)."""
    if alpha is None or not math.isfinite(alpha):
        return None
    from core.analysis import spectrum  # noqa: PLC0415 — an α exists: it is loaded already

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
        self._matrices: list[TensorInfo] | None = None
        self.results: dict[str, LayerSpectrum] | None = None
        self.label.setText(self._head())  # the rest once the matrices are known (`prepare`)
        self.button.hide()

    @property
    def matrices(self) -> list[TensorInfo]:
        if self._matrices is None:
            from core.analysis import spectrum  # noqa: PLC0415 — see the top

            self._matrices = spectrum.weight_matrices(self.checkpoint.tensors)
            self.button.show()
            self._show_idle()
        return self._matrices

    @property
    def elements(self) -> int:
        return sum(t.numel for t in self.matrices)

    def prepare(self) -> None:
        """Find the weight matrices and say how many (after the tree has painted)."""
        _ = self.matrices

    def start_if_small(self) -> None:
        cached = _computed.get(_file_key(self.checkpoint))
        if cached is not None:
            self._finished_with(cached)
        elif (
            self.matrices
            and len(self.matrices) <= AUTO_SPECTRUM_MATRICES
            and self.elements <= AUTO_SPECTRUM_ELEMENTS
        ):
            self.start()

    def start(self) -> None:
        if self.job is not None or not self.matrices:
            return
        matrices = self.matrices
        from core.analysis import spectrum  # noqa: PLC0415 — see the top

        def run(progress, cancelled) -> dict[str, LayerSpectrum]:
            # in this thread, not the worker processes: the statistics the person asks for
            # share that pool and must not queue behind every matrix of the model
            layers = spectrum.spectra(matrices, progress=progress, cancelled=cancelled, workers=0)
            return {layer.name: layer for layer in layers}

        self._launch(Job(run), self._head() + f" computing {units.exact(len(matrices))} spectra …")

    def _finished(self, results: dict[str, LayerSpectrum]) -> None:
        if self._current():
            self.job = None
            _computed[_file_key(self.checkpoint)] = results
            self._finished_with(results)

    def _finished_with(self, results: dict[str, LayerSpectrum]) -> None:
        self.results = results
        self.progress.hide()
        from core.analysis import spectrum  # noqa: PLC0415 — loaded with the results

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
