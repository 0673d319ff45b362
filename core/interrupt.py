"""Stopping long work deep inside a reader when its caller cancels, without passing a callback
through every reader's signature: `open_checkpoint` installs a check for the calling thread, and
loops that can run for seconds (unpickling 100,000 tensors) call `poll()` now and then."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

_local = threading.local()


@contextmanager
def checking(check: Callable[[], None] | None) -> Iterator[None]:
    """Within the block, `poll()` calls `check`, which raises `Cancelled` to stop the work."""
    previous = getattr(_local, "check", None)
    _local.check = check
    try:
        yield
    finally:
        _local.check = previous


def poll() -> None:
    check = getattr(_local, "check", None)
    if check is not None:
        check()
