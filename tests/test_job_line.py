"""The line under the summary that runs a background job: its progress bar moves a few times a
second, not on every report (each new value of a QProgressBar repaints it at once)."""

from __future__ import annotations

import threading
import time

from gui.job_line import PROGRESS_INTERVAL_S, JobLine
from gui.workers import PROGRESS_SCALE, Job


class _Line(JobLine):
    def start(self) -> None:
        self.release = threading.Event()
        self._launch(Job(lambda _progress, _cancelled: self.release.wait(10)), "working …")

    def _show_idle(self, stopped: bool = False) -> None:
        self.progress.hide()

    def _finished(self, _result: object) -> None:
        self.job = None

    def _failed(self, _message: str) -> None:
        self.job = None


def test_the_bar_takes_a_new_value_at_most_ten_times_a_second(qtbot) -> None:
    line = _Line()
    qtbot.addWidget(line)
    line.show()
    line.start()
    shown: list[int] = []
    line.progress.valueChanged.connect(shown.append)
    signals = line.job.signals
    for done in range(1, 200):  # a burst of reports, as a fast job sends them
        signals.progress.emit(done, 1000)
    assert len(shown) <= 1, shown
    time.sleep(PROGRESS_INTERVAL_S + 0.02)
    signals.progress.emit(500, 1000)
    assert shown[-1] == PROGRESS_SCALE // 2
    signals.progress.emit(1000, 1000)  # the end is always shown
    assert shown[-1] == PROGRESS_SCALE
    line.release.set()
    line.wait()
