"""Shared test set-up: Qt runs offscreen and never touches the user's settings; demo paths.

The environment is set at import time, before pytest-qt or any test imports Qt, because Qt reads
QT_QPA_PLATFORM and XDG_CONFIG_HOME once, when it starts.
"""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO_DIR = ROOT / "resources" / "demo"
DEMO_CKPT = DEMO_DIR / "tiny-gpt.ckpt"
DEMO_FOLDER = DEMO_DIR / "tiny-gpt"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Anything that still falls back to the default config location lands in a throw-away folder,
# removed when the test run ends.
CONFIG_HOME = tempfile.mkdtemp(prefix="paramscope-tests-config-")
os.environ["XDG_CONFIG_HOME"] = CONFIG_HOME
atexit.register(shutil.rmtree, CONFIG_HOME, ignore_errors=True)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> Path | None:
    """Point every QSettings file at a fresh temporary folder for each test."""
    try:
        from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths
    except ImportError:  # an engine-only environment: nothing in Qt to isolate
        return None
    folder = tmp_path_factory.mktemp("settings")
    QStandardPaths.setTestModeEnabled(True)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(folder))
    QCoreApplication.setOrganizationName("ParamScope")
    QCoreApplication.setApplicationName("ParamScope")
    return folder


@pytest.fixture
def demo_ckpt() -> Path:
    """The bundled Lightning-style demo checkpoint."""
    return DEMO_CKPT


@pytest.fixture
def demo_folder() -> Path:
    """The bundled Hugging Face style demo folder (model.safetensors + config.json + …)."""
    return DEMO_FOLDER
