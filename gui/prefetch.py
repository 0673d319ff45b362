"""Start reading a selected tensor's numbers while the plots panel is still being made.

A selection made before the panel exists (`--screenshot`, the self-test, a click as a model
opens) waits for pyqtgraph to load — 0.15 s — before the panel asks for its histogram. Started
here first, the same request (one tensor, the panel's default bins, its whole range) runs
beside that load, and the panel's own request finds the result in core.stats' cache.
"""

from __future__ import annotations

from core.model import Checkpoint
from gui import read_guard
from gui.workers import Job

HIST_BINS = 128  # the histogram's bins until a person changes them (gui.tensor_plots)


def prefetch_histogram(checkpoint: Checkpoint, paths: list[str]) -> Job | None:
    """The job reading what the panel will first ask for these paths; None when there is
    nothing to start: not one plain tensor, values stored scaled, or a read that asks first."""
    if len(paths) != 1:
        return None
    t = checkpoint.tensor(paths[0])
    if t is None or t.source is None:
        return None
    from core import effective, stats  # noqa: PLC0415 — numpy: a tensor is being plotted

    if not stats.statistics_possible(t) or effective.scheme_for(checkpoint, t) is not None:
        return None
    if t.source.nbytes > read_guard.ask_above():
        return None  # the panel asks before a read of that size

    def run(_progress, cancelled) -> object:
        return stats.tensor_stats(t, HIST_BINS, cancelled=cancelled)

    return Job(run).start()
