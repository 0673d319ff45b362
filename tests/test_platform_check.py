"""Before Qt starts on X11, missing xcb libraries are named with the packages that hold them
(Qt's own message says "reinstalling the application may fix this problem")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gui.platform_check import XCB_LIBRARIES, uses_xcb, xcb_problem

ROOT = Path(__file__).resolve().parent.parent


def test_the_list_names_every_library_the_readme_says_to_install() -> None:
    readme = (ROOT / "README.md").read_text()
    for package in XCB_LIBRARIES.values():
        assert package in readme, package


def test_a_missing_library_is_named_with_its_package() -> None:
    message = xcb_problem({"libxcb-icccm.so.99": "libxcb-icccm4", "libc.so.6": "libc6"})
    assert message is not None
    assert "libxcb-icccm.so.99" in message and "sudo apt install libxcb-icccm4" in message
    assert "libc6" not in message  # present libraries are not listed


def test_only_an_x11_start_is_checked() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("xcb is Linux only")
    assert uses_xcb({"DISPLAY": ":0"})
    assert not uses_xcb({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"})
    assert not uses_xcb({"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-0"})
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="xcb is Linux only")
def test_the_app_exits_with_the_apt_line_instead_of_qts_abort(tmp_path: Path) -> None:
    """An empty library path cannot hide system libraries, so ask for a soname nobody has."""
    code = (
        "import sys; from gui import platform_check as p, app;"
        "p.XCB_LIBRARIES['libparamscope-missing.so.1'] = 'paramscope-missing';"
        "sys.exit(app.main(['--new-window']))"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=":99")
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert "sudo apt install" in result.stderr and "paramscope-missing" in result.stderr
