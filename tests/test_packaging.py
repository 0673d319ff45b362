"""The desktop packaging files agree with each other, and the Linux installers really install.

Every checkpoint type must be declared the same way in the Linux MIME XML and .desktop file, the
macOS Info.plist and the Windows installer, or double-clicking works on one system and not on
another. The PyInstaller spec must keep torch (and its CUDA libraries) out of the bundle.
"""

from __future__ import annotations

import ast
import configparser
import os
import plistlib
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from core import __version__

ROOT = Path(__file__).resolve().parent.parent
PACKAGING = ROOT / "packaging"
ICONS = ROOT / "resources" / "icons"
MIME_NS = {"m": "http://www.freedesktop.org/standards/shared-mime-info"}

# The one list the packaging files are checked against: MIME type → file extensions.
TYPES = {
    "application/x-safetensors": {"safetensors"},
    "application/x-pytorch": {"pt", "pth", "ckpt"},
    "application/x-gguf": {"gguf"},
    "application/x-onnx": {"onnx"},
}
ALL_EXTENSIONS = set().union(*TYPES.values())
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def _mime_types() -> dict[str, ET.Element]:
    tree = ET.parse(PACKAGING / "linux" / "paramscope-mime.xml")
    return {el.get("type"): el for el in tree.getroot().findall("m:mime-type", MIME_NS)}


def test_mime_xml_declares_every_type_with_its_globs() -> None:
    declared = _mime_types()
    assert set(declared) == set(TYPES)
    for mime, extensions in TYPES.items():
        globs = {g.get("pattern") for g in declared[mime].findall("m:glob", MIME_NS)}
        assert globs == {f"*.{ext}" for ext in extensions}, mime
        assert declared[mime].find("m:comment", MIME_NS).text
    # `.bin` is too generic to claim (see the comment in the XML).
    assert "*.bin" not in ET.tostring(
        ET.parse(PACKAGING / "linux" / "paramscope-mime.xml").getroot(), encoding="unicode"
    )


def test_gguf_is_recognised_by_its_magic_bytes() -> None:
    match = _mime_types()["application/x-gguf"].find("m:magic/m:match", MIME_NS)
    assert (match.get("type"), match.get("offset"), match.get("value")) == ("string", "0", "GGUF")


def _desktop_entry() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in .desktop files
    parser.read(PACKAGING / "linux" / "paramscope.desktop", encoding="utf-8")
    return parser["Desktop Entry"]


def test_desktop_entry_opens_every_type() -> None:
    entry = _desktop_entry()
    assert entry["Type"] == "Application"
    assert entry["Exec"] == "paramscope %F"
    assert entry["Icon"] == "paramscope"
    assert entry["Terminal"] == "false"
    assert "Development" in entry["Categories"].split(";")
    mime_types = {m for m in entry["MimeType"].split(";") if m}
    assert mime_types == set(TYPES)
    assert entry["MimeType"].endswith(";") and entry["Categories"].endswith(";")


def _info_plist() -> dict:
    with open(PACKAGING / "macos" / "Info.plist", "rb") as plist_file:
        return plistlib.load(plist_file)


def test_info_plist_declares_and_opens_every_type() -> None:
    plist = _info_plist()
    imported = {
        decl["UTTypeIdentifier"]: decl["UTTypeTagSpecification"]
        for decl in plist["UTImportedTypeDeclarations"]
    }
    by_mime = {}
    for identifier, tags in imported.items():
        (mime,) = tags["public.mime-type"]
        by_mime[mime] = (identifier, set(tags["public.filename-extension"]))
    assert set(by_mime) == set(TYPES)
    for mime, extensions in TYPES.items():
        assert by_mime[mime][1] == extensions, mime
    handled = {uti for doc in plist["CFBundleDocumentTypes"] for uti in doc["LSItemContentTypes"]}
    assert handled == set(imported)
    assert all(doc["CFBundleTypeRole"] == "Viewer" for doc in plist["CFBundleDocumentTypes"])
    assert plist["CFBundleIdentifier"]


def _iss_registry() -> list[dict[str, str]]:
    """The [Registry] entries of the Inno Setup script as dicts of their parameters."""
    text = (PACKAGING / "windows" / "paramscope.iss").read_text(encoding="utf-8")
    section = text.split("[Registry]", 1)[1].split("\n[", 1)[0]
    entries = []
    for line in section.splitlines():
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        params = {}
        for part in re.findall(r'(\w+):\s*("(?:[^"]|"")*"|[^;]+)', line):
            key, value = part
            params[key] = value.strip().strip('"')
        entries.append(params)
    return entries


def test_windows_installer_associates_every_extension_with_a_progid() -> None:
    text = (PACKAGING / "windows" / "paramscope.iss").read_text(encoding="utf-8")
    assert re.search(r"^ChangesAssociations=yes$", text, re.M)
    entries = _iss_registry()
    open_with = {}
    for entry in entries:
        match = re.fullmatch(r"Software\\Classes\\\.(\w+)\\OpenWithProgids", entry["Subkey"])
        if match:
            open_with[match.group(1)] = entry["ValueName"]
    assert set(open_with) == ALL_EXTENSIONS
    # One ProgID per type: extensions of the same type share it, different types never do.
    for extensions in TYPES.values():
        assert len({open_with[ext] for ext in extensions}) == 1
    assert len(set(open_with.values())) == len(TYPES)
    for progid in set(open_with.values()):
        keys = {e["Subkey"]: e.get("ValueData", "") for e in entries}
        assert keys[f"Software\\Classes\\{progid}\\shell\\open"] == "Open with ParamScope"
        assert "%1" in keys[f"Software\\Classes\\{progid}\\shell\\open\\command"]


def _spec_assignments() -> dict[str, ast.AST]:
    tree = ast.parse((PACKAGING / "paramscope.spec").read_text(encoding="utf-8"))
    return {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def test_spec_keeps_torch_and_unused_qt_out_and_builds_one_windowed_folder() -> None:
    assignments = _spec_assignments()
    excludes = set(ast.literal_eval(assignments["EXCLUDES"]))
    assert {"torch", "nvidia", "triton", "tkinter", "PySide6.QtWebEngineCore"} <= excludes
    calls = {
        node.func.id: {kw.arg: kw.value for kw in node.keywords}
        for node in ast.walk(ast.parse((PACKAGING / "paramscope.spec").read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    }
    assert ast.literal_eval(calls["EXE"]["console"]) is False
    assert ast.literal_eval(calls["EXE"]["exclude_binaries"]) is True  # one folder, not one file
    for step in ("EXE", "COLLECT"):
        assert ast.literal_eval(calls[step]["upx"]) is False
    assert "BUNDLE" in calls and "info_plist" in calls["BUNDLE"]


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def test_icons_exist_at_every_size() -> None:
    ET.parse(ICONS / "paramscope.svg")  # well-formed
    for size in ICON_SIZES:
        assert _png_size(ICONS / f"paramscope-{size}.png") == (size, size)
    assert (ICONS / "paramscope.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"
    assert (ICONS / "paramscope.icns").read_bytes()[:4] == b"icns"


@pytest.fixture
def stand_in_bundle(tmp_path: Path) -> Path:
    """A folder shaped like dist/ParamScope: the installers only copy it, never run it."""
    bundle = tmp_path / "bundle" / "ParamScope"
    (bundle / "_internal").mkdir(parents=True)
    launcher = bundle / "ParamScope"
    launcher.write_text("#!/bin/sh\necho ParamScope 0.0\n")
    launcher.chmod(0o755)
    return bundle


def test_linux_install_and_uninstall_under_a_prefix(tmp_path: Path, stand_in_bundle: Path) -> None:
    prefix = tmp_path / "prefix"
    env = {**os.environ, "PREFIX": str(prefix), "HOME": str(tmp_path)}
    subprocess.run(
        [PACKAGING / "linux" / "install.sh", stand_in_bundle],
        env=env,
        check=True,
        capture_output=True,
    )
    launcher = prefix / "bin" / "paramscope"
    assert subprocess.run([launcher], capture_output=True, text=True).stdout.startswith(
        "ParamScope"
    )
    desktop = (prefix / "share" / "applications" / "paramscope.desktop").read_text()
    assert f"Exec={launcher} %F" in desktop
    assert (prefix / "share" / "mime" / "packages" / "paramscope.xml").is_file()
    for size in ICON_SIZES:
        assert (prefix / f"share/icons/hicolor/{size}x{size}/apps/paramscope.png").is_file()
    assert (prefix / "share/icons/hicolor/scalable/apps/paramscope.svg").is_file()
    if shutil.which("update-mime-database"):
        globs = (prefix / "share" / "mime" / "globs2").read_text()
        assert "application/x-gguf:*.gguf" in globs

    subprocess.run([PACKAGING / "linux" / "uninstall.sh"], env=env, check=True, capture_output=True)
    left = [p for p in prefix.rglob("*") if p.is_file() and "paramscope" in p.name.lower()]
    assert not left
    assert not (prefix / "lib" / "paramscope").exists()


@pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="dpkg-deb is not installed")
def test_deb_package_installs_system_wide(tmp_path: Path, stand_in_bundle: Path) -> None:
    out = tmp_path / "out"
    subprocess.run(
        [PACKAGING / "linux" / "build_deb.sh", stand_in_bundle, out],
        check=True,
        capture_output=True,
    )
    (deb,) = out.glob("paramscope_*.deb")
    fields = subprocess.run(["dpkg-deb", "-f", deb], capture_output=True, text=True, check=True)
    assert "Package: paramscope" in fields.stdout
    listing = subprocess.run(["dpkg-deb", "-c", deb], capture_output=True, text=True, check=True)
    for path in (
        "./usr/lib/paramscope/ParamScope",
        "./usr/bin/paramscope -> /usr/lib/paramscope/ParamScope",
        "./usr/share/applications/paramscope.desktop",
        "./usr/share/mime/packages/paramscope.xml",
        "./usr/share/icons/hicolor/512x512/apps/paramscope.png",
    ):
        assert path in listing.stdout, path


def test_version_from_main_and_the_installed_console_script() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == f"ParamScope {__version__}"
    script = Path(sys.executable).parent / "paramscope"
    if script.exists():  # `make venv` installs the project, console script included
        out = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == f"ParamScope {__version__}"


def test_version_anywhere_on_the_line_and_without_a_stdout() -> None:
    """`--new-window --version` prints the version (it opened a window before); a windowed
    Windows build starts without stdout, and the command line must not fail on it."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--new-window", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == f"ParamScope {__version__}"
    code = (
        "import sys; sys.stdout = None; sys.stderr = None; sys.path.insert(0, sys.argv[1]); "
        "import main; raise SystemExit(main.main(['info', sys.argv[2]]))"
    )
    demo = ROOT / "resources" / "demo" / "tiny-gpt"
    done = subprocess.run(
        [sys.executable, "-c", code, str(ROOT), str(demo)], capture_output=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_a_test_run_leaves_no_config_folder_behind(tmp_path: Path) -> None:
    """conftest.py points XDG_CONFIG_HOME at a fresh temporary folder; the run removes it."""
    env = {k: v for k, v in os.environ.items() if k != "XDG_CONFIG_HOME"}
    env["TMPDIR"] = str(tmp_path)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            f"{Path(__file__)}::test_gguf_is_recognised_by_its_magic_bytes",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert not list(tmp_path.glob("paramscope-tests-config-*"))
