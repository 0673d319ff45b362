"""ParamScope's licence and the notices of what it ships with, made from package metadata.

`third_party_notices()` walks the run-time requirements of the installed `paramscope` distribution
(their closure, extras left out) and writes, for each, its version, licence and the full text of
the licence files its wheel carries; then Python's licence and the Qt/PySide6 LGPLv3 notes. The
bundle build writes it to THIRD_PARTY_NOTICES.txt (packaging/paramscope.spec) and Help ▸ About ▸
Licences shows that file, or the same text made afresh when running from source.

No Qt here: the PyInstaller spec imports this module at build time.
"""

from __future__ import annotations

import re
import sys
import sysconfig
from importlib import metadata
from pathlib import Path

NOTICES_FILE = "THIRD_PARTY_NOTICES.txt"
LICENSE_FILE = "LICENSE"
ROOT_PACKAGE = "paramscope"
# Left out of the bundle by packaging/paramscope.spec: not shipped, so no notice.
NOT_SHIPPED = {"torch", "requests", "urllib3", "certifi", "idna", "charset-normalizer", "tqdm"}
# When the project is not installed (a bare checkout), its own run-time requirements.
DIRECT = (
    "PySide6-Essentials",
    "pyqtgraph",
    "numpy",
    "safetensors",
    "PyYAML",
    "tomlkit",
    "gguf",
    "h5py",
)
LICENCE_NAME = re.compile(r"(^|/)(LICEN[CS]E|COPYING|NOTICE|AUTHORS)[^/]*$|licenses?/", re.I)

QT_NOTE = """\
Qt and PySide6 (Qt for Python) are used under the GNU Lesser General Public License version 3
(LGPL-3.0-only). The Qt libraries and the PySide6/shiboken6 modules are shipped unmodified as
separate shared libraries (in the bundle's PySide6 folder); ParamScope links to them dynamically.
You may replace them with your own builds of the same Qt and PySide6 version, built from the
source code at https://download.qt.io/official_releases/qt/ and
https://download.qt.io/official_releases/QtForPython/ ; ParamScope's own source code, needed to
relink, is available from its repository. The full texts of the LGPL-3.0 and of the GPL-3.0 it
builds on follow.
"""
# The texts the Qt note refers to, kept in the repository (from Debian's common-licenses).
GNU_TEXTS = ("LGPL-3.0.txt", "GPL-3.0.txt")
LICENCES_DIR = Path(__file__).resolve().parent.parent / "resources" / "licences"


def _name(requirement: str) -> str | None:
    """The distribution a requirement line names."""
    match = re.match(r"\s*([A-Za-z0-9_.-]+)", requirement)
    return match.group(1) if match else None


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _marker_ok(requirement: str) -> bool:
    """True when an environment marker (platform, Python version) holds here."""
    if ";" not in requirement:
        return True
    marker = requirement.split(";", 1)[1]
    if "extra" in marker:
        return False
    platform = re.search(r"platform_system\s*==\s*['\"](\w+)['\"]", marker)
    if platform:
        import platform as _platform

        return _platform.system() == platform.group(1)
    return True


def shipped_distributions() -> list[metadata.Distribution]:
    """The installed distributions ParamScope runs on: its requirements' closure."""
    try:
        roots = [r for r in metadata.requires(ROOT_PACKAGE) or [] if _marker_ok(r)]
    except metadata.PackageNotFoundError:
        roots = list(DIRECT)
    found: dict[str, metadata.Distribution] = {}
    todo = [n for n in (_name(r) for r in roots) if n]
    while todo:
        name = todo.pop()
        key = _key(name)
        if key in found or key in NOT_SHIPPED:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[key] = dist
        todo.extend(n for n in (_name(r) for r in dist.requires or [] if _marker_ok(r)) if n)
    return sorted(found.values(), key=lambda d: _key(d.metadata["Name"]))


def licence_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    classifiers = [
        c.split("::")[-1].strip()
        for c in meta.get_all("Classifier") or []
        if c.startswith("License ::")
    ]
    if classifiers:
        return ", ".join(classifiers)
    text = (meta.get("License") or "").strip()
    return text.splitlines()[0] if text else "see the licence text below"


def _licence_texts(dist: metadata.Distribution) -> list[tuple[str, str]]:
    texts = []
    for file in dist.files or []:
        if not LICENCE_NAME.search(str(file)) or str(file).endswith((".py", ".pyc")):
            continue
        try:
            text = Path(dist.locate_file(file)).read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        texts.append((str(file), text.strip()))
    return texts


def python_licence() -> str:
    for folder in (sysconfig.get_paths().get("stdlib"), sys.base_prefix):
        if folder and (Path(folder) / "LICENSE.txt").is_file():
            return (Path(folder) / "LICENSE.txt").read_text(encoding="utf-8", errors="replace")
    return "Python is distributed under the PSF License Agreement: https://docs.python.org/3/license.html"


def third_party_notices() -> str:
    rule = "=" * 78
    parts = [
        "ParamScope ships with the following third-party software. Each is used under the",
        "licence named here; the full texts follow.",
        "",
    ]
    dists = shipped_distributions()
    for dist in dists:
        parts.append(f"  {dist.metadata['Name']} {dist.version}: {licence_of(dist)}")
    parts.append(f"  Python {sys.version.split()[0]}: PSF-2.0")
    parts.append("")
    parts += [rule, "Qt and PySide6: LGPL-3.0-only", rule, QT_NOTE]
    for name in GNU_TEXTS:
        if (LICENCES_DIR / name).is_file():
            parts += [f"--- {name} ---", "", (LICENCES_DIR / name).read_text().strip(), ""]
    for dist in dists:
        name = f"{dist.metadata['Name']} {dist.version}"
        parts += [rule, f"{name}: {licence_of(dist)}", rule]
        home = dist.metadata.get("Home-page") or next(
            (u.split(",", 1)[1].strip() for u in dist.metadata.get_all("Project-URL") or []),
            "",
        )
        if home:
            parts.append(f"Home: {home}")
        for path, text in _licence_texts(dist):
            parts += ["", f"--- {path} ---", "", text]
        parts.append("")
    parts += [rule, f"Python {sys.version.split()[0]}", rule, python_licence().strip(), ""]
    return "\n".join(parts)


def bundled_file(name: str) -> Path | None:
    """A file the bundle carries beside the app, or the checkout's copy from source."""
    for folder in (getattr(sys, "_MEIPASS", None), Path(__file__).resolve().parent.parent):
        if folder and (Path(folder) / name).is_file():
            return Path(folder) / name
    return None


def licence_text() -> str:
    path = bundled_file(LICENSE_FILE)
    return path.read_text(encoding="utf-8") if path else "Apache License 2.0"


def notices_text() -> str:
    path = bundled_file(NOTICES_FILE)
    return path.read_text(encoding="utf-8") if path else third_party_notices()
