"""The colours of ParamScope, defined once: one per tensor category, and a series for overlays.

Taken from the Okabe–Ito palette, which people with any common colour-vision deficiency can tell
apart. The category colours are mid-tones chosen to read on both light and dark window palettes;
`category_color(..., dark=True)` lifts them a little for dark backgrounds. Every view (summary bar,
tree % bars, histograms) takes its colours from here so a category looks the same everywhere.
"""

from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# Okabe & Ito (2008), "Color Universal Design".
OKABE_ITO: dict[str, str] = {
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish purple": "#CC79A7",
    "grey": "#8C8C8C",  # Okabe–Ito's black, softened so it reads on dark backgrounds too
}

# core.model.CATEGORIES → colour
CATEGORY_COLORS: dict[str, str] = {
    "weights": OKABE_ITO["blue"],
    "biases": OKABE_ITO["orange"],
    "norm scales": OKABE_ITO["bluish green"],
    "embeddings": OKABE_ITO["reddish purple"],
    "other": OKABE_ITO["grey"],
    "quantisation": OKABE_ITO["yellow"],
    "buffers": OKABE_ITO["vermillion"],
}

# Distinct colours for overlaid curves, in order of use (yellow last: weakest on light paper).
SERIES: tuple[str, ...] = (
    OKABE_ITO["blue"],
    OKABE_ITO["orange"],
    OKABE_ITO["bluish green"],
    OKABE_ITO["vermillion"],
    OKABE_ITO["reddish purple"],
    OKABE_ITO["sky blue"],
    OKABE_ITO["grey"],
    OKABE_ITO["yellow"],
)

# Health flags and errors.
ALERT = OKABE_ITO["vermillion"]


def is_dark() -> bool:
    """True when the application's window background is dark."""
    app = QApplication.instance()
    if app is None:
        return False
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def _adapt(hex_color: str, dark: bool | None) -> QColor:
    color = QColor(hex_color)
    if dark is None:
        dark = is_dark()
    return color.lighter(135) if dark else color


def category_color(category: str, dark: bool | None = None) -> QColor:
    """The colour of a category from core.model.CATEGORIES (grey for anything unknown)."""
    return _adapt(CATEGORY_COLORS.get(category, CATEGORY_COLORS["other"]), dark)


def series_color(index: int, dark: bool | None = None) -> QColor:
    """The colour of the index-th overlaid curve; cycles after len(SERIES)."""
    return _adapt(SERIES[index % len(SERIES)], dark)
