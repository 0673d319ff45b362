"""Before Qt starts on X11: the system libraries its xcb platform plugin loads.

When one is missing, Qt aborts with "Could not load the Qt platform plugin xcb … reinstalling the
application may fix this problem", which points at the wrong remedy. This check names the missing
libraries and the Debian/Ubuntu packages that hold them, so the user can install them in one line.
"""

from __future__ import annotations

import ctypes
import os
import sys

# soname → the Debian/Ubuntu package holding it (what Qt 6's xcb plugin and its GL integration
# link against, beyond what every desktop has)
XCB_LIBRARIES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-image.so.0": "libxcb-image0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
}


def uses_xcb(environ: dict[str, str] | os._Environ = os.environ) -> bool:
    """True when Qt will pick the xcb plugin: Linux, an X display, no other platform asked for."""
    if not sys.platform.startswith("linux"):
        return False
    platform = environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return platform.split(":")[0] == "xcb"
    return bool(environ.get("DISPLAY")) and not environ.get("WAYLAND_DISPLAY")


def missing_libraries(libraries: dict[str, str] = XCB_LIBRARIES) -> dict[str, str]:
    missing = {}
    for soname, package in libraries.items():
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing[soname] = package
    return missing


def xcb_problem(libraries: dict[str, str] = XCB_LIBRARIES) -> str | None:
    """A message naming what to install, or None when nothing is missing."""
    missing = missing_libraries(libraries)
    if not missing:
        return None
    packages = " ".join(dict.fromkeys(missing.values()))
    return (
        "ParamScope: Qt's X11 (xcb) platform plugin needs system libraries that are missing: "
        f"{', '.join(missing)}.\nInstall them with:  sudo apt install {packages}\n"
        "(or run with QT_QPA_PLATFORM=offscreen for the command line and tests)"
    )
