"""Python's cycle collector and big checkpoints.

A checkpoint of 100,000 tensors is about a million Python objects that live as long as its tab.
Left to itself, the cycle collector walks all of them again in every full collection — half a
second to a second with the GIL held, during which the window cannot paint. So objects made by
an open are frozen (`gc.freeze`): kept out of collections until a tab closes, when they are
given back once (`release`). No collection runs while an open is still making them.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_building = 0  # opens under way (they may overlap, in different worker threads)


@contextmanager
def building() -> Iterator[None]:
    """Around work that makes many long-lived objects: no collection meanwhile, then freeze."""
    global _building
    with _lock:
        _building += 1
        gc.disable()
    try:
        yield
    finally:
        with _lock:
            _building -= 1
            if _building == 0:
                gc.freeze()
                gc.enable()


def release() -> None:
    """After a tab closed: collect what it held (one pause, at a moment the person chose), then
    freeze what is still alive so the next collections skip it."""
    with _lock:
        if _building:
            return  # an open is making objects: its end freezes; collect at the next close
        gc.unfreeze()
        gc.collect()
        gc.freeze()
