"""The worker-process pool: big jobs are spread over processes, results folded in as they come.

`np.bincount` holds the GIL (two threads run slower than one), so work of ≥ 48 MiB goes to worker
processes (one per core, at most 8; PARAMSCOPE_WORKERS overrides). `run_in_pool` hands each task
to the pool and each result to `collect` as soon as it is ready, so memory holds a few partial
results; cancelling drops what has not started and waits for what has (one unit each).
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from typing import Any

from core.errors import Cancelled, CheckpointError
from core.fileread import FileChanged

ProgressFn = Callable[[int, int], None]
CancelledFn = Callable[[], bool]
Collect = Callable[[int, Any], None]

_pool: futures.ProcessPoolExecutor | None = None
_pool_workers = 0
_pool_lock = threading.Lock()


def default_workers() -> int:
    """Worker processes for big jobs: PARAMSCOPE_WORKERS, else one per core (at most 8)."""
    configured = os.environ.get("PARAMSCOPE_WORKERS")
    if configured is not None and configured.strip().isdigit():
        return int(configured)
    return min(os.cpu_count() or 1, 8)


def _get_pool(workers: int) -> futures.ProcessPoolExecutor:
    global _pool, _pool_workers
    with _pool_lock:
        if _pool is None or _pool_workers != workers:
            if _pool is not None:
                _pool.shutdown(wait=True, cancel_futures=True)
            from core import isolated

            # fork only while this process has one Python thread and no Qt (the command line):
            # it costs milliseconds. In the window use forkserver/spawn, because a forked child
            # can inherit a lock that another thread held. One rule for every worker process.
            context = isolated.context()
            from core.parentwatch import watch_parent

            _pool = futures.ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=watch_parent
            )
            _pool_workers = workers
        return _pool


def shutdown_pool() -> None:
    """Stop the worker processes (at exit, or to measure memory without them)."""
    global _pool
    with _pool_lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
            _pool = None


atexit.register(shutdown_pool)


class _Tracker:
    """Progress over several passes: bytes done out of bytes planned."""

    def __init__(self, total: int, progress: ProgressFn | None) -> None:
        self.total = max(total, 0)
        self.done = 0
        self.progress = progress

    def advance(self, nbytes: int) -> None:
        self.done += nbytes
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total)


def run_in_pool(
    tasks: Sequence[tuple[Callable[..., Any], tuple[Any, ...]]],
    sizes: Sequence[int],
    workers: int,
    cancelled: CancelledFn | None,
    advance: Callable[[int], None],
    collect: Collect,
    done: set[int],
) -> None:
    """Run `fn(*args)` of each task in the worker processes; `collect(index, result)` each
    result as it arrives, `advance(sizes[index])` for its progress, and add its index to `done`
    (so a caller whose pool broke can finish the rest itself).

    A task reports bad input by returning ("error", path, what, hint, changed) — CheckpointError
    does not survive pickling — and it is raised here again."""
    pool = _get_pool(workers)
    finished: queue.SimpleQueue[futures.Future] = queue.SimpleQueue()
    pending: dict[futures.Future, int] = {}
    for index, (fn, args) in enumerate(tasks):
        future = pool.submit(fn, *args)
        pending[future] = index
        future.add_done_callback(finished.put)  # O(1) per result, even for thousands of units
    try:
        while pending:
            if cancelled is not None and cancelled():
                raise Cancelled
            try:
                future = finished.get(timeout=0.05)
            except queue.Empty:
                continue
            index = pending.pop(future)
            result = future.result()
            if isinstance(result, tuple) and result and result[0] == "error":
                _, path, what, hint, changed = result
                if changed is not None:
                    raise FileChanged(path, changed)
                raise CheckpointError(path, what, hint)
            collect(index, result)
            done.add(index)
            advance(sizes[index])
    finally:
        # Leave nothing running: drop what has not started, wait for what has (≤ one unit each).
        for future in pending:
            future.cancel()
        futures.wait(pending)


def error_tuple(error: CheckpointError) -> tuple[str, str, str, str, str | None]:
    """What a worker returns for bad input (see `run_in_pool`)."""
    changed = error.detail if isinstance(error, FileChanged) else None
    return ("error", str(error.path), error.what, error.hint, changed)
