"""Licences: ParamScope's own, and notices for every package it ships with, made from the installed
packages' metadata; shown in Help ▸ About ▸ Licences."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

from gui.about import LicencesDialog, versions
from gui.licences import shipped_distributions, third_party_notices

ROOT = Path(__file__).resolve().parent.parent
RUNTIME = ("PySide6-Essentials", "pyqtgraph", "numpy", "safetensors", "PyYAML", "tomlkit", "gguf")


def _key(name: str) -> str:
    return name.lower().replace("_", "-")


def test_the_repository_is_apache_licensed() -> None:
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0" in text


def test_notices_cover_every_runtime_requirement_with_its_licence_text() -> None:
    names = {_key(d.metadata["Name"]) for d in shipped_distributions()}
    for package in (*RUNTIME, "h5py", "shiboken6"):
        assert _key(package) in names, package
    assert "torch" not in names  # test-time only, never shipped
    text = third_party_notices()
    for package in ("numpy", "h5py", "pyqtgraph"):
        version = metadata.version(package)
        assert f"{version}:" in text
    # the texts themselves, not just names: numpy's BSD licence, HDF5's, Python's PSF licence
    assert "Redistribution and use in source and binary forms" in text
    assert "HDF5" in text
    assert "PYTHON SOFTWARE FOUNDATION LICENSE" in text


def test_notices_carry_the_lgpl_and_relinking_notes_for_qt() -> None:
    text = third_party_notices()
    assert "LGPL-3.0-only" in text
    assert "replace them with your own builds" in text
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text and "Version 3" in text


def test_about_names_a_version_for_every_package_it_lists() -> None:
    assert all(version != "not installed" for _, version in versions())


def test_licences_dialog_shows_both_texts(qtbot) -> None:
    dialog = LicencesDialog()
    qtbot.addWidget(dialog)
    assert [dialog.tabs.tabText(i) for i in range(dialog.tabs.count())] == [
        "ParamScope",
        "Third-party notices",
    ]
    assert "Apache License" in dialog.tabs.widget(0).toPlainText()
    assert "pyqtgraph" in dialog.tabs.widget(1).toPlainText()
