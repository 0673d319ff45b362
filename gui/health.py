"""The health check of a whole checkpoint: one pass over every value (`core.stats.health`) in a
worker, shown as a line under the summary with its own progress and Cancel, and as the layer
tree's Zeros and Health columns.

Small models are checked as soon as they open; a big one waits for the person to ask (View ▸ Check
health, or the line's button), because reading 100 GiB is not something to start unasked.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Signal
from PySide6.QtWidgets import QWidget

from core import units
from core.flags import FLAGS
from core.model import Checkpoint
from core.readable import readable
from gui import heap, read_guard
from gui.colors import ALERT
from gui.job_line import JobLine
from gui.summary import _esc, _muted
from gui.workers import Job

if TYPE_CHECKING:
    from core.health_report import HealthReport
    from core.stats import TensorStats

# The statistics engine (core.stats, with numpy) is imported when a check starts or a result is
# shown, not with the window: the tree paints before it has loaded.

AUTO_CHECK_BYTES = 1 << 30  # models up to 1 GiB of tensor data are checked when they open


class HealthLine(JobLine):
    """`health  301 tensors checked · 2 dead · 1 outliers  [Check again]`, with progress."""

    checked = Signal(object)  # a HealthReport
    # a finding was clicked: (what it is, the tensor names) — the tree shows only those
    findingClicked = Signal(str, list)

    def __init__(self, checkpoint: Checkpoint, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checkpoint = checkpoint
        self.due = False  # a check is to start once the tree has painted
        self.results: dict[str, TensorStats] | None = None
        self.readable = readable(checkpoint.tensors)
        self.data_bytes = sum(t.source.nbytes for t in self.readable)  # readable: all have one
        self.label.linkActivated.connect(self._link)
        self.report: HealthReport | None = None
        self._started = 0.0
        self.progress.setFormat("%p%")
        self._show_idle()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt's name
        super().changeEvent(event)
        # a theme switched: the muted and link colours are written into the text, write it again
        if event.type() == QEvent.Type.PaletteChange and self.job is None:
            if self.report is not None:
                self._show_results(self.report)
            else:
                self._show_idle()

    @property
    def small(self) -> bool:
        """Whether the check starts unasked (`start_if_small`)."""
        return bool(self.readable) and self.data_bytes <= AUTO_CHECK_BYTES

    @property
    def busy(self) -> bool:
        return self.due or super().busy

    def schedule(self) -> None:
        """Say that `start_if_small` will follow (after the tree's first paint): the check
        counts as running from now, so nobody takes the model for checked before it starts."""
        self.due = self.small

    def start_if_small(self) -> None:
        self.due = False
        if self.small:
            self.start()

    def cancel(self) -> None:
        self.due = False
        super().cancel()

    def start(self) -> None:
        self.due = False
        if self.job is not None or not self.readable:
            return
        checkpoint = self.checkpoint

        def run(progress, cancelled) -> HealthReport:
            from core.health_report import health_report  # noqa: PLC0415 — see the top
            from core.stats import health  # noqa: PLC0415

            with heap.building():  # a result per tensor: 100,000 more long-lived objects
                return health_report(checkpoint, health(checkpoint, progress, cancelled))

        self._started = time.perf_counter()
        self.button.setToolTip("Stop the health check")
        self._launch(
            Job(run), self._muted_label() + f" checking {units.exact(len(self.readable))} tensors …"
        )

    # --- job signals --------------------------------------------------------------------------

    def _finished(self, report: HealthReport) -> None:
        if not self._current():
            return
        self.job = None
        read_guard.THROUGHPUT.record(self.data_bytes, time.perf_counter() - self._started)
        self.results = report.results
        self.report = report
        self._show_results(report)
        self.checked.emit(report)

    def _failed(self, message: str) -> None:
        if not self._current():
            return
        self.job = None
        self.progress.hide()
        self.label.setText(
            self._muted_label() + f" <span style='color:{ALERT}'>could not be checked: "
            f"{_esc(message)}</span>"
        )
        self.button.setText("Try again")

    # --- texts --------------------------------------------------------------------------------

    def _muted_label(self) -> str:
        return f"<span style='color:{_muted()}'>health</span>&nbsp;"

    def _link(self, link: str) -> None:
        report = self.report
        if report is None or not link.startswith("flag:"):
            return
        from core.health_report import finding_text  # noqa: PLC0415 — loaded with the report

        flag = link.removeprefix("flag:")
        if flag == "*":
            names = sorted({n for names in report.flagged.values() for n in names})
            self.findingClicked.emit("flagged tensors", self._in_file_order(names))
            return
        names = report.flagged.get(flag) or report.elsewhere.get(flag) or []
        self.findingClicked.emit(finding_text(flag, len(names)), self._in_file_order(names))

    def _in_file_order(self, names: list[str]) -> list[str]:
        wanted = set(names)
        return [t.name for t in self.checkpoint.tensors if t.name in wanted]

    def _show_idle(self, stopped: bool = False) -> None:
        self.progress.hide()
        if not self.readable:
            self.label.setText(self._muted_label() + " no tensor values this engine can read")
            self.button.hide()
            return
        what = "check stopped" if stopped else "not checked yet"
        self.label.setText(
            self._muted_label() + f" {what} — reads {units.size(self.data_bytes)} of tensor data"
        )
        self.button.setText("Check health")
        self.button.setToolTip(
            "Read every value once: NaN/Inf, dead (all zero or constant), extreme outliers and "
            "mostly-zero tensors (View ▸ Check health)"
        )

    def _show_results(self, report: HealthReport) -> None:
        from core.health_report import finding_text  # noqa: PLC0415 — loaded with the report

        self.progress.hide()
        # the model's own tensors first: heavy-tailed Adam moments are normal, not a finding
        flagged, elsewhere = report.flagged, report.elsewhere
        zeros, values, results = report.zeros, report.values, report.results
        share = f" · zeros {zeros / values:.2%}" if values else ""
        head = f" {units.exact(len(results))} tensors checked"
        if flagged:
            # each finding a link: a click shows only those tensors in the tree
            found = " · ".join(
                _link(flag, finding_text(flag, len(n))) for flag, n in flagged.items()
            )
            text = f"{head}{share} · <span style='color:{ALERT}'>⚠ {found}</span>"
            if len(flagged) > 1:
                text += " · " + _link("*", "show all flagged")
        else:
            text = f"{head}{share} · ✓ no NaN/Inf, dead, outlier or mostly-zero weights"
        if elsewhere:
            found = ", ".join(
                _link(flag, finding_text(flag, len(n)), _muted()) for flag, n in elsewhere.items()
            )
            text += f" <span style='color:{_muted()}'>(optimizer and other state: {found})</span>"
        self.label.setText(self._muted_label() + text)
        lines = []
        for flag, names in [*flagged.items(), *elsewhere.items()]:
            shown = ", ".join(names[:6]) + (" …" if len(names) > 6 else "")
            lines.append(f"{finding_text(flag, len(names))} — {FLAGS[flag]}\n    {shown}")
        if flagged or elsewhere:
            lines.append("Click a finding to show only those tensors; F8 goes to the next one")
        lines.append(f"{units.exact(zeros)} of {units.exact(values)} values are exactly zero")
        self.label.setToolTip("\n".join(lines))
        self.button.setText("Check again")
        self.button.setToolTip("Read every value again (after the file changed)")


def _link(flag: str, text: str, color: str = ALERT) -> str:
    # the finding's own colour, underlined: a link that still reads as a warning
    return f"<a href='flag:{_esc(flag)}' style='color:{color}'>{_esc(text)}</a>"
