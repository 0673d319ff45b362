"""Worker processes end with the app, however the app ends.

A clean quit shuts the pools down (atexit). A killed app cannot: its workers would live on as
orphans, each holding its memory and open files. Every worker process runs `watch_parent()` first:
a daemon thread that exits the worker once the process that started it is gone.

The app is watched through multiprocessing's parent sentinel (a pipe whose other end only the app
holds), not through `os.getppid()`: under forkserver a worker's parent is the fork server, and the
fork server waits for its workers, which hold its keep-alive pipe, so neither would ever notice.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from multiprocessing.connection import wait

POLL_SECONDS = 0.5
_watching = 0


def watch_parent() -> None:
    """Start watching (once per process); call at the start of a worker process."""
    global _watching
    if _watching == os.getpid():
        return
    _watching = os.getpid()
    parent = multiprocessing.parent_process()
    sentinel = getattr(parent, "sentinel", None)
    threading.Thread(
        target=_watch, args=(sentinel, os.getppid()), daemon=True, name="paramscope-parent-watch"
    ).start()


def _watch(sentinel: int | None, parent_pid: int) -> None:
    if sentinel is not None:
        wait([sentinel])  # ready when the app's end of the pipe closes: the app has ended
    else:
        while os.getppid() == parent_pid:
            time.sleep(POLL_SECONDS)
    os._exit(0)  # no clean-up to run: the app that wanted the results is gone
