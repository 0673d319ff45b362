"""Help ▸ About: what ParamScope is, the versions of what it runs on, and its licences.

Versions come from package metadata (importlib.metadata), so nothing heavy, torch above all, is
imported just to name its version; where a bundle lacks a package's metadata, the module's own
`__version__` answers for the packages the app has loaded anyway.
"""

from __future__ import annotations

import sys
from importlib import metadata

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QMessageBox,
    QPlainTextEdit,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import __version__
from gui.licences import licence_text, notices_text

PACKAGES = ("pyqtgraph", "numpy", "safetensors", "gguf", "h5py", "torch")
OPTIONAL = {"torch"}  # say nothing when it is absent


def package_version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        pass
    module = sys.modules.get(package)
    if module is None and package not in OPTIONAL:
        try:
            module = __import__(package)
        except ImportError:
            return None
    return getattr(module, "__version__", None) if module is not None else None


def versions() -> list[tuple[str, str]]:
    rows = [
        ("ParamScope", __version__),
        ("Qt", qVersion()),
        ("PySide6", PySide6.__version__),
    ]
    for package in PACKAGES:
        version = package_version(package)
        if version:
            rows.append((package, version))
        elif package not in OPTIONAL:
            rows.append((package, "not installed"))
    return rows


def about_text() -> str:
    table = "".join(
        f"<tr><td>{name}</td><td>&nbsp;{version}</td></tr>" for name, version in versions()
    )
    return (
        f"<h3>ParamScope {__version__}</h3>"
        "<p>Look inside neural-network checkpoints: layers with weight and bias counts, "
        "tensor distributions and training hyperparameters. Files are only read, never run "
        "or changed.</p>"
        f"<table>{table}</table>"
        "<p>Licensed under the Apache License 2.0; Qt and PySide6 under the LGPLv3. "
        "<b>Licences…</b> lists every component and its licence.</p>"
    )


class LicencesDialog(QDialog):
    """ParamScope's own licence and the third-party notices, read-only and copyable."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Licences")
        self.resize(760, 600)
        self.tabs = QTabWidget(self)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for title, text in (
            ("ParamScope", licence_text()),
            ("Third-party notices", notices_text()),
        ):
            view = QPlainTextEdit(text, self)
            view.setReadOnly(True)
            view.setFont(fixed)
            view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            self.tabs.addTab(view, title)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        layout.addWidget(buttons)


def show_licences(parent: QWidget | None) -> None:
    LicencesDialog(parent).exec()


def show_about(parent: QWidget | None) -> None:
    box = QMessageBox(parent)
    box.setWindowTitle("About ParamScope")
    box.setText(about_text())
    if parent is not None and not parent.windowIcon().isNull():
        box.setIconPixmap(parent.windowIcon().pixmap(64, 64))
    licences = box.addButton("Licences…", QMessageBox.ButtonRole.ActionRole)
    box.addButton(QMessageBox.StandardButton.Close)
    box.exec()
    if box.clickedButton() is licences:
        show_licences(parent)
