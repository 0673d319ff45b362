"""View ▸ Theme: System, Light or Dark, remembered in the settings; plots follow.

Light and Dark are Fusion with a palette of our own (the same on every platform, and readable
with the role colours of gui/colors.py); System gives back the style and palette the platform
chose. Plots are drawn in the palette's Base and Text colours, so a theme change repaints them.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QStyleFactory

THEMES = {"system": "&System", "light": "&Light", "dark": "&Dark"}

_system: tuple[str, QPalette] | None = None  # the platform's own style name and palette
_current = "system"


def _palette(dark: bool) -> QPalette:
    roles = QPalette.ColorRole
    if dark:
        colors = {
            roles.Window: "#2b2b2e",
            roles.WindowText: "#e6e6e6",
            roles.Base: "#1f1f22",
            roles.AlternateBase: "#28282c",
            roles.ToolTipBase: "#36363a",
            roles.ToolTipText: "#f0f0f0",
            roles.PlaceholderText: "#8c8c8c",
            roles.Text: "#e6e6e6",
            roles.Button: "#35353a",
            roles.ButtonText: "#e6e6e6",
            roles.BrightText: "#ff6b6b",
            roles.Link: "#56b4e9",  # Okabe–Ito sky blue: readable on dark
            roles.LinkVisited: "#cc79a7",
            roles.Highlight: "#2f6ea5",
            roles.HighlightedText: "#ffffff",
            roles.Light: "#4a4a50",
            roles.Midlight: "#3c3c42",
            roles.Mid: "#303034",
            roles.Dark: "#18181a",
            roles.Shadow: "#000000",
        }
        disabled = "#7a7a7a"
    else:
        colors = {
            roles.Window: "#efefef",
            roles.WindowText: "#1b1b1b",
            roles.Base: "#ffffff",
            roles.AlternateBase: "#f5f5f7",
            roles.ToolTipBase: "#ffffdc",
            roles.ToolTipText: "#1b1b1b",
            roles.PlaceholderText: "#8a8a8a",
            roles.Text: "#1b1b1b",
            roles.Button: "#e8e8e8",
            roles.ButtonText: "#1b1b1b",
            roles.BrightText: "#c00000",
            roles.Link: "#0072b2",
            roles.LinkVisited: "#7e3b86",
            roles.Highlight: "#3474c4",
            roles.HighlightedText: "#ffffff",
            roles.Light: "#ffffff",
            roles.Midlight: "#e3e3e3",
            roles.Mid: "#b8b8b8",
            roles.Dark: "#9f9f9f",
            roles.Shadow: "#767676",
        }
        disabled = "#9a9a9a"
    palette = QPalette()
    for role, color in colors.items():
        palette.setColor(role, QColor(color))
    for role in (roles.Text, roles.WindowText, roles.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(disabled))
    return palette


def apply(name: str) -> str:
    """Switch the running application to a theme; returns the name applied ("system" for an
    unknown one, as from an old settings file)."""
    global _system, _current
    app = QApplication.instance()
    if not isinstance(app, QApplication):
        return "system"
    name = name if name in THEMES else "system"
    if name == "system" and _current == "system":
        return name  # nothing was changed: leave the platform's look untouched
    if _system is None:
        _system = (app.style().name(), QPalette(app.palette()))
    _current = name
    if name == "system":
        app.setStyle(QStyleFactory.create(_system[0]) or app.style())
        app.setPalette(_system[1])
    else:
        app.setStyle(QStyleFactory.create("Fusion"))
        app.setPalette(_palette(name == "dark"))
    restyle_plots(app)
    return name


def style_plot(widget: pg.PlotWidget, palette: QPalette) -> None:
    """Background, axes, labels and legends of one plot in the palette's colours."""
    text = palette.color(QPalette.ColorRole.Text)
    widget.setBackground(palette.color(QPalette.ColorRole.Base))
    for item in widget.scene().items():
        if isinstance(item, pg.AxisItem):
            item.setPen(pg.mkPen(text))
            item.setTextPen(pg.mkPen(text))  # the axis label's colour too
        elif isinstance(item, pg.LegendItem):
            item.setLabelTextColor(text)
    plot = widget.getPlotItem()
    plot.titleLabel.opts["color"] = text
    plot.titleLabel.setText(plot.titleLabel.text)


def restyle_plots(app: QApplication) -> None:
    pg.setConfigOption("background", app.palette().color(QPalette.ColorRole.Base))
    pg.setConfigOption("foreground", app.palette().color(QPalette.ColorRole.Text))
    for widget in app.allWidgets():
        if isinstance(widget, pg.PlotWidget):
            style_plot(widget, app.palette())
