"""Reading through a C library in a child process, so that a crash or a hang is an error message.

The HDF5 library segfaults on some deliberately damaged files (a corrupt attribute) and loops
forever on others (a corrupt B-tree node); no Python code can catch either, and ParamScope's rule
is that bad input gets a clear error, never a crash. `run(path, fn, *args)` calls `fn(*args)` in a
worker process and returns its result: a worker that dies becomes "the HDF5 library crashed", one
that does not answer within `timeout` seconds is stopped and becomes an error too.

One worker is kept between calls (so a folder of .h5 files does not pay a process start each), and
it exits by itself after `IDLE_EXIT` seconds without work. Start method: as for the statistics
workers, fork only while this process has one thread and no Qt (the command line), otherwise
forkserver (the server preloads numpy/h5py once) or spawn; never fork a process that runs Qt.
Bundled apps re-run their own executable for spawn/forkserver, which `main.py`'s
`multiprocessing.freeze_support()` handles.
"""

from __future__ import annotations

import atexit
import multiprocessing
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from core.errors import CheckpointError

READ_TIMEOUT = 60.0  # seconds a header read may take before it counts as a hang
IDLE_EXIT = 300.0  # an idle worker exits after this long
# what a forkserver imports once, so each worker forked from it starts with them loaded
# (the server is shared by every forkserver context in the process: one list for all)
PRELOAD = ["numpy", "core.stats", "core.readers.keras", "h5py"]


def context() -> Any:
    """The multiprocessing context for worker processes (see the module docstring)."""
    methods = multiprocessing.get_all_start_methods()
    single_threaded = threading.active_count() == 1 and "PySide6.QtCore" not in sys.modules
    if "fork" in methods and single_threaded:
        return multiprocessing.get_context("fork")
    method = "forkserver" if "forkserver" in methods else "spawn"
    chosen = multiprocessing.get_context(method)
    if method == "forkserver":
        chosen.set_forkserver_preload(PRELOAD)
    return chosen


class _Worker:
    """One child process answering (fn, args) requests on a pipe."""

    def __init__(self) -> None:
        ctx = context()
        self.conn, child_end = ctx.Pipe()
        self.process = ctx.Process(
            target=_serve, args=(child_end,), daemon=True, name="paramscope-reader"
        )
        self.process.start()
        child_end.close()
        self.used = False

    def stop(self) -> None:
        self.conn.close()
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(2)
        if self.process.is_alive():
            self.process.kill()
        self.process.join(2)


_idle: list[_Worker] = []
_idle_lock = threading.Lock()


def _take() -> _Worker:
    with _idle_lock:
        while _idle:
            worker = _idle.pop()
            if worker.process.is_alive():
                return worker
            worker.stop()
    return _Worker()


def _give_back(worker: _Worker) -> None:
    with _idle_lock:
        if not _idle:
            _idle.append(worker)
            return
    worker.stop()  # another thread's worker is already waiting: one idle process is enough


def shutdown() -> None:
    """Stop the idle worker (at exit)."""
    with _idle_lock:
        workers = list(_idle)
        _idle.clear()
    for worker in workers:
        worker.stop()


atexit.register(shutdown)


def run(
    path: str | Path,
    fn: Callable[..., Any],
    *args: Any,
    library: str = "HDF5",
    timeout: float | None = None,
) -> Any:
    """`fn(*args)` in a worker process: its result, or its CheckpointError raised here.

    `fn` must be a module-level function and its arguments and result must pickle. A worker that
    dies raises CheckpointError(path, "the <library> library crashed …"); one still busy after
    `timeout` seconds (default READ_TIMEOUT) is stopped and raises CheckpointError too.
    """
    limit = READ_TIMEOUT if timeout is None else timeout
    for attempt in range(2):
        worker = _take()
        reused = worker.used
        try:
            worker.conn.send((fn, args))
            if not worker.conn.poll(limit):
                worker.stop()
                raise CheckpointError(
                    path,
                    f"reading the file did not finish within {limit:g} s",
                    f"the {library} library may be stuck on a corrupt file",
                )
            reply = worker.conn.recv()
        except (EOFError, OSError):  # the worker is gone: crashed, killed, or it had gone idle
            worker.process.join(2)
            exited_idle = reused and worker.process.exitcode == 0
            worker.stop()
            if exited_idle and attempt == 0:
                continue  # it left (idle) just before our request came: ask a new one
            raise CheckpointError(
                path,
                f"the {library} library crashed while reading the file",
                "it is corrupt or hostile",
            ) from None
        worker.used = True
        _give_back(worker)
        return _unpack(reply)
    raise AssertionError("unreachable: the second attempt always returns or raises")


def _unpack(reply: tuple) -> Any:
    kind = reply[0]
    if kind == "ok":
        return reply[1]
    if kind == "checkpoint-error":
        raise CheckpointError(Path(reply[1]), reply[2], reply[3])
    raise reply[1]  # any other exception: core.open turns it into a message


def _serve(conn: Connection) -> None:
    """The worker's loop: answer requests until the pipe closes or nothing comes for a while."""
    # Ctrl-C in a terminal reaches the whole process group; only the parent should answer it
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    from core.parentwatch import watch_parent

    watch_parent()  # a worker stuck in a C library still ends with the app
    while conn.poll(IDLE_EXIT):
        try:
            fn, args = conn.recv()
        except EOFError:
            return
        try:
            reply: tuple = ("ok", fn(*args))
        except CheckpointError as error:  # its __init__ takes parts: send those, not the object
            reply = ("checkpoint-error", str(error.path), error.what, error.hint)
        except Exception as error:  # noqa: BLE001 — handed to the caller, who decides
            reply = ("raise", error)
        try:
            conn.send(reply)
        except Exception as error:  # noqa: BLE001 — the result or exception did not pickle
            conn.send(("raise", RuntimeError(f"{type(error).__name__}: {error}")))
