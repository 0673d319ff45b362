"""Asking before pending hyperparameter edits would be lost (closing a tab, quitting).

Edits live only in the window until they are exported; like every editor, closing asks:
Export…, Discard or Cancel. `settle_unsaved` runs the question and the export it may lead to.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum

from PySide6.QtWidgets import QMessageBox, QWidget


class Choice(Enum):
    EXPORT = "export"
    DISCARD = "discard"
    CANCEL = "cancel"


def ask(parent: QWidget, names: Sequence[str], closing: str) -> Choice:
    """Export…, Discard or Cancel, for the edits of the checkpoints named; `closing` says what
    is about to close ("the window", "this tab")."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Unsaved hyperparameter edits")
    listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    box.setText(f"Export the hyperparameter edits of {listed} before closing {closing}?")
    box.setInformativeText(
        "Edits are kept only while the file is open; the checkpoint itself is never changed."
    )
    export = box.addButton("&Export…", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton(QMessageBox.StandardButton.Discard)
    cancel = box.addButton(QMessageBox.StandardButton.Cancel)
    box.setDefaultButton(export)
    box.setEscapeButton(cancel)
    box.exec()
    clicked = box.clickedButton()
    if clicked is export:
        return Choice.EXPORT
    if clicked is discard:
        return Choice.DISCARD
    return Choice.CANCEL


def settle_unsaved(
    parent: QWidget,
    names: Sequence[str],
    closing: str,
    export_each: Callable[[], bool],
) -> bool:
    """Whether closing may go on: no edits, Discard, or Export… that wrote every file
    (`export_each` runs the export dialogs and says whether all were written)."""
    if not names:
        return True
    choice = ask(parent, names, closing)
    if choice is Choice.DISCARD:
        return True
    if choice is Choice.EXPORT:
        return export_each()
    return False
