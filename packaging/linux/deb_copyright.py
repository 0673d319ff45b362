"""Write the .deb's /usr/share/doc/paramscope/copyright in Debian's machine-readable format.

    python3 packaging/linux/deb_copyright.py BUNDLE_DIR INSTALL_DIR > copyright

One paragraph per part of the bundle: ParamScope itself (Apache-2.0, the text in Debian's
common-licenses); each Python distribution the bundle carries, found from the metadata the
bundle ships (`*.dist-info`, see packaging/paramscope.spec), with its licence as gui/licences.py
names it and the full text of the licence files from its wheel; Qt and PySide6 under LGPLv3 with
the relinking note; Python; and the shared libraries PyInstaller copied from the build system,
each named with the Debian package it came from. Runs with any Python 3.9+ (no third-party
imports); INSTALL_DIR is where the package puts the bundle ("usr/lib/paramscope").
"""

from __future__ import annotations

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from gui.licences import NOT_SHIPPED, NOTICES_FILE, QT_NOTE, _licence_texts, licence_of  # noqa: E402

FORMAT = "https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
QT_DISTS = {"pyside6-essentials", "pyside6", "shiboken6"}
# Classifier names gui/licences.py reports, as DEP-5 short names.
SHORT_NAMES = {
    "MIT License": "MIT",
    "Apache Software License": "Apache-2.0",
    "BSD License": "BSD-3-Clause",
}


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def body(text: str) -> str:
    """Text as the continuation lines of a field: one space in front, "." for blank lines."""
    lines = text.strip("\n").splitlines()
    return "\n".join(f" {line.rstrip()}" if line.strip() else " ." for line in lines)


# Licence texts Debian keeps in /usr/share/common-licenses: a copyright file refers to them
# instead of repeating them (lintian: copyright-file-contains-full-*-license).
COMMON_LICENCES = (
    (re.compile(r"Apache License\s+Version 2\.0, January 2004", re.I), "Apache-2.0"),
    (re.compile(r"GNU GENERAL PUBLIC LICENSE\s+Version 3, 29 June 2007", re.I), "GPL-3"),
    (re.compile(r"GNU GENERAL PUBLIC LICENSE\s+Version 2, June 1991", re.I), "GPL-2"),
    (re.compile(r"GNU LESSER GENERAL PUBLIC LICENSE\s+Version 3", re.I), "LGPL-3"),
)


def by_reference(text: str) -> str:
    """A licence text, or where it is one of Debian's common licences, the part before it and
    a pointer to Debian's copy."""
    for pattern, name in COMMON_LICENCES:
        match = pattern.search(text)
        if match:
            before = text[: match.start()].rstrip()
            where = f"/usr/share/common-licenses/{name}"
            return f"{before}\n\n[The full text of the {name} licence: see {where}.]".strip()
    return text


def short_name(dist: metadata.Distribution) -> str:
    name = licence_of(dist)
    name = SHORT_NAMES.get(name, name)
    return re.sub(r"\s+", " ", name.replace(" OR ", " or ").replace(" AND ", " and "))


def copyright_of(dist: metadata.Distribution) -> str:
    meta = dist.metadata
    who = meta.get("Author-email") or meta.get("Author") or meta.get("Maintainer-email")
    return who or f"the {meta['Name']} developers"


def dist_files(dist: metadata.Distribution, internal: Path, prefix: str) -> list[str]:
    """The bundle's paths (as Files patterns) that hold the distribution: its top-level packages
    and libraries (from RECORD) and its metadata folder."""
    tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
    patterns = []
    for top in sorted(tops):
        path = internal / top
        if path.is_dir():
            patterns.append(f"{prefix}/{top}/*")
        elif path.exists():
            patterns.append(f"{prefix}/{top}")
    return patterns


def system_libraries(internal: Path) -> list[Path]:
    """Shared libraries at the top of _internal that are files of their own (the Qt ones there
    are links into PySide6/) and not Python's: PyInstaller copied them from the build system."""
    return sorted(
        path
        for path in internal.glob("lib*.so*")
        if path.is_file() and not path.is_symlink() and not path.name.startswith("libpython")
    )


def debian_package(name: str) -> str:
    """The build system's package that holds a library, with its version, when dpkg knows."""
    try:
        found = subprocess.run(
            ["dpkg", "-S", f"*/{name}"], capture_output=True, text=True, check=False
        ).stdout
    except OSError:
        return ""
    package = found.split(":", 1)[0].strip() if found else ""
    if not package:
        return ""
    version = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
    ).stdout.strip()
    return f"{package} {version}".strip()


def python_licence(internal: Path) -> str:
    """Python's licence as the bundle's notices carry it (the bundled Python's own text)."""
    notices = internal / NOTICES_FILE
    if notices.is_file():
        match = re.search(
            r"^={10,}\nPython [0-9.]+\n={10,}\n(.*)", notices.read_text(), re.M | re.S
        )
        if match:
            return match.group(1)
    from gui.licences import python_licence as here

    return here()


def paragraphs(bundle: Path, prefix: str) -> list[str]:
    internal = bundle / "_internal"
    app = f"{prefix}/_internal"
    out = [
        f"Format: {FORMAT}\nUpstream-Name: ParamScope\n"
        "Comment: The pure-Python modules of the distributions below are compiled into the\n"
        f" archive inside /{prefix}/ParamScope; their paragraphs name their metadata\n"
        " folders. The application folder also holds the third-party notices in full:\n"
        f" /{prefix}/_internal/{NOTICES_FILE}",
        "Files: *\nCopyright: the ParamScope developers\nLicense: Apache-2.0\n"
        + body(
            'Licensed under the Apache License, Version 2.0 (the "License"); you may not use\n'
            "this software except in compliance with the License.\n\n"
            "On Debian systems, the full text of the Apache License, Version 2.0 can be found\n"
            "in the file /usr/share/common-licenses/Apache-2.0."
        ),
    ]
    dists = []
    for info in sorted(internal.glob("*.dist-info")):
        dist = metadata.PathDistribution(info)
        if _key(dist.metadata["Name"]) not in NOT_SHIPPED:
            dists.append(dist)
    for dist in dists:
        files = dist_files(dist, internal, app)
        if not files:
            continue
        name = f"{dist.metadata['Name']} {dist.version}"
        if _key(dist.metadata["Name"]) in QT_DISTS:
            licence = "LGPL-3.0-only\n" + body(
                f"{name}: {licence_of(dist)}; used here under the LGPL-3.0.\n\n{QT_NOTE}\n"
                "On Debian systems, the full texts of the GNU Lesser General Public License\n"
                "version 3 and of the GNU General Public License version 3 can be found in\n"
                "/usr/share/common-licenses/LGPL-3 and /usr/share/common-licenses/GPL-3."
            )
        else:
            texts = "\n\n".join(
                f"--- {path} ---\n\n{by_reference(text)}" for path, text in _licence_texts(dist)
            )
            licence = f"{short_name(dist)}\n" + body(
                f"{name}\n\n{texts}" if texts else f"{name}: see {NOTICES_FILE}."
            )
        out.append(
            "Files: " + "\n ".join(files) + f"\nCopyright: {copyright_of(dist)}\nLicense: {licence}"
        )
    python = [
        f"{app}/{path.relative_to(internal)}"
        for path in sorted(internal.glob("libpython3*"))
        if path.is_file()
    ]
    python += [
        f"{app}/{path.name}/*" for path in sorted(internal.glob("python3*")) if path.is_dir()
    ]
    python += [f"{app}/base_library.zip"] if (internal / "base_library.zip").exists() else []
    if python:
        out.append(
            "Files: "
            + "\n ".join(python)
            + "\nCopyright: Python Software Foundation\nLicense: PSF-2.0\n"
            + body(python_licence(internal))
        )
    libraries = system_libraries(internal)
    if libraries:
        listing = "\n".join(
            f"{path.name}: {debian_package(path.name) or 'from the build system'}"
            for path in libraries
        )
        out.append(
            "Files: "
            + "\n ".join(f"{app}/{path.name}" for path in libraries)
            + "\nCopyright: the authors of each library\nLicense: other\n"
            + body(
                "Shared libraries copied unmodified from the Debian system the bundle was\n"
                "built on, each under the licence of the Debian package it comes from (see\n"
                "/usr/share/doc/PACKAGE/copyright on a Debian system):\n\n" + listing
            )
        )
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: deb_copyright.py BUNDLE_DIR INSTALL_DIR", file=sys.stderr)
        return 2
    print("\n\n".join(paragraphs(Path(argv[0]), argv[1].strip("/"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
