"""Background jobs: a QRunnable per job, results and progress through signals, one shared pool.

A job wraps a plain function `fn(progress, cancelled) -> result` from `core/`: it calls
`progress(done, total)` now and then and checks `cancelled()` between chunks, raising
`core.errors.Cancelled` to stop. The UI thread only connects to the signals; it never waits on a job.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from core.errors import Cancelled, CheckpointError

PROGRESS_INTERVAL = 0.04  # seconds between progress reports passed to the UI thread
# Progress crosses to the UI thread as (done, PROGRESS_SCALE): byte counts of a 70B model do not
# fit the 32-bit ints a Qt signal carries, and a bar needs no more than a thousand steps.
PROGRESS_SCALE = 1000

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]
JobFn = Callable[[ProgressFn, CancelledFn], Any]

_pool: QThreadPool | None = None


def pool() -> QThreadPool:
    """The application's one pool for background work."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(max(2, QThreadPool.globalInstance().maxThreadCount()))
    return _pool


class JobSignals(QObject):
    progress = Signal(int, int)  # done of PROGRESS_SCALE, never going backwards
    finished = Signal(object)  # the result
    failed = Signal(str)  # a message for a person
    cancelled = Signal()


class Job(QRunnable):
    """Runs `fn` in the pool. Keep a reference to `signals` (or the job) while it runs."""

    def __init__(self, fn: JobFn) -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn = fn
        self.signals = JobSignals()
        self._cancel = threading.Event()
        self._reported = 0.0  # when progress was last passed on (monotonic seconds)
        self._shown = -1  # the last step passed on, so the bar never goes backwards
        self._done = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def is_done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """For tests and shutdown only: block until the job has ended."""
        return self._done.wait(timeout)

    def start(self) -> Job:
        pool().start(self)
        return self

    def run(self) -> None:  # runs in a pool thread
        try:
            result = self.fn(self._report, self._cancel.is_set)
        except Cancelled:
            self._emit(self.signals.cancelled)
        except CheckpointError as error:
            self._emit(self.signals.failed, str(error))
        except MemoryError:
            self._emit(self.signals.failed, "out of memory")
        except Exception as error:  # a bug, but the window must stay usable
            self._emit(self.signals.failed, f"unexpected error: {type(error).__name__}: {error}")
        else:
            if self._cancel.is_set():
                self._emit(self.signals.cancelled)
            else:
                self._emit(self.signals.finished, result)
        finally:
            # a job object can outlive its work (kept for its signals); what the work closed
            # over — a whole checkpoint — must not
            self.fn = _spent
            self._done.set()

    def _report(self, done: int, total: int) -> None:
        # Every report crosses to the UI thread as a queued call; a job reporting after each of
        # 100,000 tensors would bury it. A few dozen a second is all a progress bar can show.
        if self._cancel.is_set():
            return
        now = time.monotonic()
        if done < total and now - self._reported < PROGRESS_INTERVAL:
            return
        step = PROGRESS_SCALE if total <= 0 else min(PROGRESS_SCALE, PROGRESS_SCALE * done // total)
        if step <= self._shown:
            return
        self._reported = now
        self._shown = step
        self._emit(self.signals.progress, step, PROGRESS_SCALE)

    def _emit(self, signal: Any, *args: Any) -> None:
        try:
            signal.emit(*args)
        except RuntimeError:  # the receiver (and our signals object) was deleted: nobody listens
            pass


def _spent(_report: Callable[[int, int], None], _cancelled: Callable[[], bool]) -> None:
    raise RuntimeError("this job has already run")
