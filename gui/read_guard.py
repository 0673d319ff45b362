"""Reads of many gigabytes wait to be asked for: selecting a 127 GiB module in the tree shows
"Read 127 GiB (about 3 min)? [Read]" in the plots panel instead of starting minutes of work.

The limit is the health check's (a model that big is not checked when it opens either); the
estimate comes from the throughput measured on this machine by earlier reads.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QWidget

from core import units
from core.model import Checkpoint

# Before anything was measured: about what one core decodes and reduces (ARCHITECTURE.md).
_FIRST_GUESS = 500e6  # bytes per second


class Throughput:
    """Bytes per second of the reads finished so far (those big enough to say something)."""

    def __init__(self) -> None:
        self.nbytes = 0
        self.seconds = 0.0

    def record(self, nbytes: int, seconds: float) -> None:
        if nbytes >= 64 << 20 and seconds > 0.5:  # quick ones are mostly overhead, or cached
            self.nbytes += nbytes
            self.seconds += seconds

    def estimate(self, nbytes: int) -> float:
        rate = self.nbytes / self.seconds if self.seconds else _FIRST_GUESS
        return nbytes / rate


THROUGHPUT = Throughput()


def ask_above() -> int:
    from gui import health  # the health check records its reads here: imported late

    return health.AUTO_CHECK_BYTES  # read at call time: one rule, wherever it is set


def paths_bytes(checkpoint: Checkpoint, paths: Sequence[str], kinds: Sequence[str]) -> int:
    """Bytes of tensor data a histogram of these tensors or modules reads."""
    seen: set[str] = set()
    total = 0
    for path in paths:
        t = checkpoint.tensor(path)
        members = [t] if t is not None else _module_tensors(checkpoint, path, kinds)
        for member in members:
            if member.name not in seen and member.source is not None:
                seen.add(member.name)
                total += member.source.nbytes
    return total


def depth_bytes(checkpoint: Checkpoint, pattern: str) -> int:
    try:
        from core import stats  # noqa: PLC0415 — numpy: loaded when a read is asked for

        members = stats.depth_members(checkpoint, pattern)
    except Exception:  # noqa: BLE001 - no estimate is no reason to refuse: the read will say
        return 0
    return sum(t.source.nbytes for _, _, ts in members for t in ts if t.source is not None)


def _module_tensors(checkpoint: Checkpoint, path: str, kinds: Sequence[str]):
    try:
        from core import stats  # noqa: PLC0415 — numpy: loaded when a read is asked for

        return stats.module_tensors(checkpoint, path, kinds)
    except Exception:  # noqa: BLE001 - an unknown path: the read itself reports it
        return []


class ReadPrompt(QWidget):
    """`Read 127 GiB (about 3 min)?  [Read]` — shown in place of a plot that waits to be asked."""

    accepted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        # wraps within the panel's width; never widens the dock (and the window) for itself
        self.label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.label.setMinimumWidth(120)
        self.button = QPushButton("&Read")
        self.button.setToolTip("Read the values now (it can be cancelled)")
        self.button.clicked.connect(self.accepted)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.hide()

    def ask(self, nbytes: int) -> None:
        seconds = THROUGHPUT.estimate(nbytes)
        estimate = f"about {units.duration(seconds)}" if seconds >= 1 else "under a second"
        self.label.setText(
            f"Read {units.size(nbytes)} ({estimate})? Nothing is read until you say so."
        )
        self.label.setToolTip(
            "Selections above the size the health check reads by itself wait for a click; the "
            "time is estimated from the reads measured so far on this machine"
        )
        self.show()
