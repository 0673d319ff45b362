"""A line under the summary that runs one background job at a time, with its progress and one
button (start it, or Cancel while it runs): the health check (gui/health.py) and the spectra
(gui/spectrum_line.py).

A job started later makes an earlier one stale: only the current job's signals are shown. Older
jobs are kept until they end, because their signals must outlive them.
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

from gui.workers import PROGRESS_SCALE, Job

PROGRESS_INTERVAL_S = 0.1


class JobLine(QWidget):
    """The shared mechanics; a subclass gives `start`, `_show_idle(stopped)`, `_finished` and
    `_failed` (each checking `_current()` first)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self._old_jobs: list[Job] = []
        self._progress_shown = 0.0  # when the bar last took a new value
        self.label = QLabel()
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_SCALE)
        self.progress.setMaximumWidth(160)
        self.progress.hide()
        self.button = QPushButton()
        self.button.setFlat(True)
        self.button.setCursor(Qt.CursorShape.PointingHandCursor)
        self.button.clicked.connect(self._button_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.label)
        layout.addWidget(self.progress)
        layout.addWidget(self.button)
        layout.addStretch(1)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def start(self) -> None:
        raise NotImplementedError

    def _show_idle(self, stopped: bool = False) -> None:
        raise NotImplementedError

    def _launch(self, job: Job, text: str) -> None:
        """Run `job` as the current one, saying `text` beside its progress."""
        job.signals.finished.connect(self._finished)
        job.signals.failed.connect(self._failed)
        job.signals.progress.connect(self._progress)
        self.job = job
        self._old_jobs = [j for j in self._old_jobs if not j.is_done()] + [job]
        self.label.setText(text)
        self._progress_shown = time.monotonic()
        self.progress.setValue(0)
        self.progress.show()
        self.button.setText("Cancel")
        job.start()

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()
            self.job = None
            self._show_idle(stopped=True)

    def wait(self, timeout: float = 30.0) -> None:
        """For tests and shutdown: block until every job has ended."""
        for job in self._old_jobs:
            job.wait(timeout)

    def _button_clicked(self) -> None:
        if self.job is not None:
            self.cancel()
        else:
            self.start()

    def _current(self) -> bool:
        return self.job is not None and self.sender() is self.job.signals

    def _progress(self, done: int, total: int) -> None:
        if not self._current() or total <= 0:
            return
        # QProgressBar repaints at once on each new value (~7 ms with the window around it):
        # a few times a second is enough to see it move
        now = time.monotonic()
        if now - self._progress_shown < PROGRESS_INTERVAL_S and done < total:
            return
        self._progress_shown = now
        self.progress.setValue(PROGRESS_SCALE * done // total)
