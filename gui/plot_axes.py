"""Plot axes that label numbers the way the rest of the window does: one format along an axis
(never `1.1e+06` beside `900000`), no pyqtgraph SI-prefix scaling (`value (x0.001)`), and a
logarithmic count axis whose ticks sit at round counts and say them (`1`, `10`, `1 K`), not
`log10(count + 1)`."""

from __future__ import annotations

import math

import pyqtgraph as pg

from core import units


class NumberAxis(pg.AxisItem):
    """An AxisItem with units.tick_labels; `log_counts` for values plotted as log10(count + 1)."""

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self.log_counts = False

    def set_log_counts(self, on: bool) -> None:
        self.log_counts = on
        self.picture = None  # pyqtgraph redraws the ticks from scratch
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float):  # noqa: N802, N803 - Qt's names
        if not self.log_counts:
            return super().tickValues(minVal, maxVal, size)
        top = 10 ** max(maxVal, 0.0)
        major = [0.0] + [math.log10(1 + 10**k) for k in range(int(math.log10(max(top, 1))) + 1)]
        minor = [
            math.log10(1 + m * 10**k)
            for k in range(int(math.log10(max(top, 1))) + 1)
            for m in (2, 5)
        ]
        inside = [v for v in major if minVal <= v <= maxVal]
        return [(1.0, inside), (0.5, [v for v in minor if minVal <= v <= maxVal])]

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - Qt's name
        if self.log_counts:
            counts = [round(10**v - 1) for v in values]
            return [str(c) if c < 1000 else units.count(c).replace(".0 ", " ") for c in counts]
        return units.tick_labels([v * scale for v in values], spacing * scale)


def number_axes() -> dict[str, NumberAxis]:
    return {"left": NumberAxis("left"), "bottom": NumberAxis("bottom")}


def plain_numbers(axis: pg.AxisItem) -> None:
    """The same labels on an axis pyqtgraph made itself (a ColorBarItem's)."""
    axis.enableAutoSIPrefix(False)
    axis.tickStrings = lambda values, scale, spacing: units.tick_labels(  # type: ignore[method-assign]
        [v * scale for v in values], spacing * scale
    )
