"""Run something once a widget has painted for the first time.

The window shows a model's tree before it loads what only later views need (pyqtgraph and the
plots panel take a quarter of the start-up): `after_first_paint(tree viewport, make the plots)`.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QWidget


class _FirstPaint(QObject):
    def __init__(self, widget: QWidget, then: Callable[[], object], at_latest_ms: int) -> None:
        super().__init__(widget)
        self.then = then
        widget.installEventFilter(self)
        # a tab opened behind another paints only when shown: its work must not wait for that
        QTimer.singleShot(at_latest_ms, self, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 — Qt's name
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            # queued: the paint this event starts is drawn (and shown) first
            QTimer.singleShot(0, self._run)
        return False

    def _run(self) -> None:
        then, self.then = self.then, None
        self.deleteLater()
        if then is not None:
            then()


AT_LATEST_MS = 500


def after_first_paint(
    widget: QWidget, then: Callable[[], object], at_latest_ms: int = AT_LATEST_MS
) -> None:
    """Call `then()` from the event loop right after `widget` next paints, or after
    `at_latest_ms` if it has not painted by then (once)."""
    _FirstPaint(widget, then, at_latest_ms)
