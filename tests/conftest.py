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


def stop_window_work(win) -> None:  # noqa: ANN001 — a gui.main_window.MainWindow
    """Stop and wait for what a test's window left running: opens, health checks, spectra, the
    plots' jobs, comparisons and a report, so no job outlives its test."""
    import sys

    for job in win.loading_jobs():
        job.cancel()
        job.wait(30)
    for index in range(win.tabs.count()):
        tab = win.tabs.widget(index)
        for line in (getattr(tab, "health", None), getattr(tab, "spectra", None)):
            if line is not None:
                line.cancel()
                line.wait()
    if win._prefetch is not None:
        win._prefetch.cancel()
        win._prefetch.wait(30)
    if win._distribution is not None:  # made only if a test used the plots
        win._distribution.cancel()
        win._distribution.wait()
    if "gui.compare_tab" in sys.modules:
        sys.modules["gui.compare_tab"].cancel_all(win)
    if win.reporter.job is not None:
        win.reporter.job.wait(30)


@pytest.fixture
def window(qtbot):
    """The main window, shown, with fresh settings; its work stopped after the test."""
    from gui.main_window import MainWindow
    from gui.settings import Settings

    win = MainWindow(Settings())
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    stop_window_work(win)
