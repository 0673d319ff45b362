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


def _spec_calls(name: str) -> list[ast.Call]:
    tree = ast.parse((PACKAGING / "paramscope.spec").read_text(encoding="utf-8"))
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name
    ]


def _keywords(call: ast.Call) -> dict[str, ast.AST]:
    return {kw.arg: kw.value for kw in call.keywords}


def test_spec_keeps_torch_and_unused_qt_out_and_builds_one_folder() -> None:
    assignments = _spec_assignments()
    excludes = set(ast.literal_eval(assignments["EXCLUDES"]))
    assert {"torch", "nvidia", "triton", "tkinter", "PySide6.QtWebEngineCore"} <= excludes
    assert {"requests", "urllib3", "certifi", "tqdm", "setuptools"} <= excludes
    assert "ssl" not in excludes and "_ssl" not in excludes  # remote models use https
    for call in _spec_calls("EXE"):
        assert ast.literal_eval(_keywords(call)["exclude_binaries"]) is True  # one folder
    for call in _spec_calls("EXE") + _spec_calls("COLLECT"):
        assert ast.literal_eval(_keywords(call)["upx"]) is False
    (bundle,) = _spec_calls("BUNDLE")
    assert "info_plist" in _keywords(bundle)


def test_spec_builds_a_windowed_and_on_windows_a_console_executable() -> None:
    """`ParamScope info …` typed in cmd needs a console executable: on Windows the spec builds
    paramscope-cli.exe beside the windowed ParamScope.exe, both in the one COLLECT."""
    exes = {ast.literal_eval(_keywords(c)["name"]): _keywords(c) for c in _spec_calls("EXE")}
    assert set(exes) == {"ParamScope", "paramscope-cli"}
    assert ast.literal_eval(exes["ParamScope"]["console"]) is False
    assert ast.literal_eval(exes["paramscope-cli"]["console"]) is True
    tree = ast.parse((PACKAGING / "paramscope.spec").read_text(encoding="utf-8"))
    (windows_only,) = [
        node
        for node in tree.body
        if isinstance(node, ast.If)
        and "win32" in ast.unparse(node.test)
        and "paramscope-cli" in ast.unparse(node)
    ]
    assert "CONSOLE_EXES" in ast.unparse(windows_only)
    (collect,) = _spec_calls("COLLECT")
    args = [ast.unparse(arg) for arg in collect.args]
    assert args[:2] == ["exe", "*CONSOLE_EXES"]


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


def _desktop_string(value: str) -> str:
    r"""A Desktop Entry string value unescaped (\s, \n, \t, \r, \\)."""
    escapes = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), "\\" + m.group(1)), value)


def _exec_arguments(value: str) -> list[str]:
    r"""The Exec key split into arguments as the Desktop Entry Specification says: string
    unescaping first, then double-quoted arguments in which \" \` \$ \\ are escapes.
    Unquoted reserved characters (a space inside a path) are an error, as in GLib."""
    text = _desktop_string(value)
    args, pos = [], 0
    while pos < len(text):
        if text[pos] == " ":
            pos += 1
        elif text[pos] == '"':
            arg, pos = "", pos + 1
            while text[pos] != '"':
                if text[pos] == "\\":
                    assert text[pos + 1] in '"`$\\', f"bad escape in {value!r}"
                    pos += 1
                arg += text[pos]
                pos += 1
            args.append(arg)
            pos += 1
        else:
            end = text.find(" ", pos)
            end = len(text) if end < 0 else end
            word = text[pos:end]
            assert not set(word) & set("\t\n\"'\\><~|&;$*?#()`"), f"unquoted {word!r}"
            args.append(word)
            pos = end
    return args


def _install(stand_in_bundle: Path, prefix: Path, home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_DATA")}
    env.update(PREFIX=str(prefix), HOME=str(home), **extra)
    subprocess.run(
        [PACKAGING / "linux" / "install.sh", stand_in_bundle],
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def _check_desktop_files(data: Path, launcher: Path) -> None:
    entry = configparser.ConfigParser(interpolation=None, strict=True)
    entry.optionxform = str
    entry.read(data / "applications" / "paramscope.desktop", encoding="utf-8")
    assert _exec_arguments(entry["Desktop Entry"]["Exec"]) == [str(launcher), "%F"]
    assert _desktop_string(entry["Desktop Entry"]["TryExec"]) == str(launcher)
    assert (data / "mime" / "packages" / "paramscope.xml").is_file()
    for size in ICON_SIZES:
        assert (data / f"icons/hicolor/{size}x{size}/apps/paramscope.png").is_file()
    assert (data / "icons/hicolor/scalable/apps/paramscope.svg").is_file()
    if shutil.which("update-mime-database"):
        globs = (data / "mime" / "globs2").read_text()
        assert "application/x-gguf:*.gguf" in globs


def test_exec_quoting_follows_the_desktop_entry_spec() -> None:
    assert _exec_arguments('"/a b/c\\\\$d" %F') == ["/a b/c$d", "%F"]
    # What install.sh wrote before: two arguments, neither of them the launcher.
    assert _exec_arguments("/a b/paramscope %F") == ["/a", "b/paramscope", "%F"]


def test_linux_install_and_uninstall_under_a_prefix_with_a_space(
    tmp_path: Path, stand_in_bundle: Path
) -> None:
    """A prefix desktops search (it is in XDG_DATA_DIRS) gets the desktop files itself."""
    (tmp_path / "my apps").mkdir()
    prefix = tmp_path / "my apps" / "prefix"
    env = _install(stand_in_bundle, prefix, tmp_path, XDG_DATA_DIRS=f"{prefix}/share:/usr/share")
    launcher = prefix / "bin" / "paramscope"
    assert os.readlink(launcher) == "../lib/paramscope/ParamScope"
    assert subprocess.run([launcher], capture_output=True, text=True).stdout.startswith(
        "ParamScope"
    )
    _check_desktop_files(prefix / "share", launcher)

    subprocess.run([PACKAGING / "linux" / "uninstall.sh"], env=env, check=True, capture_output=True)
    assert not prefix.exists()  # every folder install.sh made, caches and all
    assert (tmp_path / "my apps").is_dir()  # the folder that was there stays


def test_a_prefix_desktops_do_not_search_puts_desktop_files_where_they_do(
    tmp_path: Path, stand_in_bundle: Path
) -> None:
    """PREFIX=/opt/paramscope: the menu entry, types and icons go to the user's data folder (as
    root: /usr/local/share), or the app never shows up in the menu."""
    prefix = tmp_path / "opt" / "paramscope"
    data_home, system_data = tmp_path / "data home", tmp_path / "usr local share"
    data_home.mkdir()
    system_data.mkdir()
    env = _install(
        stand_in_bundle,
        prefix,
        tmp_path,
        XDG_DATA_HOME=str(data_home),
        SYSTEM_DATADIR=str(system_data),  # stands in for /usr/local/share when run as root
    )
    assert not (prefix / "share").exists()
    data = system_data if os.geteuid() == 0 else data_home
    _check_desktop_files(data, prefix / "bin" / "paramscope")

    subprocess.run([PACKAGING / "linux" / "uninstall.sh"], env=env, check=True, capture_output=True)
    assert not prefix.exists()
    assert list(data.iterdir()) == []


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
        "./usr/bin/paramscope -> ../lib/paramscope/ParamScope",
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


def _release_workflow() -> dict:
    import yaml

    return yaml.safe_load((ROOT / ".github" / "workflows" / "release.yml").read_text())


def test_release_workflow_builds_and_self_tests_on_three_systems() -> None:
    workflow = _release_workflow()
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "workflow_dispatch" in triggers
    (job,) = workflow["jobs"].values()
    systems = job["strategy"]["matrix"]["os"]
    assert {s.split("-")[0] for s in systems} == {"ubuntu", "windows", "macos"}
    assert job["runs-on"] == "${{ matrix.os }}"
    steps = job["steps"]
    (python,) = [s for s in steps if s.get("uses", "").startswith("actions/setup-python")]
    assert str(python["with"]["python-version"]) == "3.11"
    installs = " ".join(s.get("run", "") for s in steps if "pip install" in s.get("run", ""))
    assert "torch" not in installs  # the bundle is built without it
    assert any("packaging/paramscope.spec" in s.get("run", "") for s in steps)

    def steps_for(system: str) -> list[dict]:
        return [s for s in steps if f"runner.os == '{system}'" in s.get("if", "")]

    for system in ("Linux", "Windows", "macOS"):
        assert any("--self-test" in s.get("run", "") for s in steps_for(system)), system
        uploads = [s for s in steps_for(system) if s.get("uses", "").startswith("actions/upload")]
        assert uploads, system
    assert any("ISCC.exe" in s.get("run", "") for s in steps_for("Windows"))
    assert any("hdiutil create" in s.get("run", "") for s in steps_for("macOS"))
    assert any("build_deb.sh" in s.get("run", "") for s in steps_for("Linux"))


def test_release_workflow_signs_only_when_the_secrets_are_there() -> None:
    job = next(iter(_release_workflow()["jobs"].values()))
    for tool, flag in (
        ("signtool", "HAS_WINDOWS_CERTIFICATE"),
        ("codesign", "HAS_MACOS_CERTIFICATE"),
        ("notarytool", "HAS_APPLE_NOTARY"),
    ):
        signing = [s for s in job["steps"] if tool in s.get("run", "").lower()]
        assert signing, tool
        for step in signing:
            assert f"env.{flag} == 'true'" in step["if"], step["name"]
        assert "secrets." in job["env"][flag]


def test_windows_installer_needs_windows_10_1809_and_puts_the_console_build_on_path() -> None:
    text = (PACKAGING / "windows" / "paramscope.iss").read_text(encoding="utf-8")
    setup = text.split("[Setup]", 1)[1].split("\n[", 1)[0]
    assert re.search(r"^MinVersion=10\.0\.17763$", setup, re.M)
    assert re.search(r"^ChangesEnvironment=yes$", setup, re.M)
    files = text.split("[Files]", 1)[1].split("\n[", 1)[0]
    assert re.search(r'Source: "paramscope\.cmd"; DestDir: "\{app\}\\bin"', files)
    assert "ExpandConstant('{app}\\bin')" in text and "RegWriteExpandStringValue" in text
    shim = (PACKAGING / "windows" / "paramscope.cmd").read_text()
    assert '"%~dp0..\\paramscope-cli.exe" %*' in shim
    assert "exit /b %ERRORLEVEL%" in shim


def test_elf_tools_read_glibc_needs_and_drop_a_foreign_runpath(tmp_path: Path) -> None:
    """A real shared library linked with a RUNPATH to a build folder: the floor is read from its
    symbol versions, the build-machine RUNPATH goes, $ORIGIN stays, and it still loads."""
    import ctypes
    import importlib.util

    if not shutil.which("cc"):
        pytest.skip("no C compiler")
    spec = importlib.util.spec_from_file_location("elf_tools", PACKAGING / "elf_tools.py")
    elf_tools = importlib.util.module_from_spec(spec)
    sys.modules["elf_tools"] = elf_tools
    spec.loader.exec_module(elf_tools)

    source = tmp_path / "probe.c"
    source.write_text('#include <stdio.h>\nint probe(void) { return puts("probe") > 0; }\n')
    foreign, mixed = tmp_path / "foreign.so", tmp_path / "mixed.so"
    for out, rpath in ((foreign, "/root/.pyenv/versions/3.11.7/lib"), (mixed, "$ORIGIN:/opt/x")):
        subprocess.run(
            [
                "cc",
                "-shared",
                "-fPIC",
                "-o",
                out,
                source,
                f"-Wl,-rpath,{rpath}",
                "-Wl,--enable-new-dtags",
            ],
            check=True,
        )
    assert elf_tools.runpaths(elf_tools.read_elf(foreign)) == ["/root/.pyenv/versions/3.11.7/lib"]
    floor = elf_tools.glibc_floor(tmp_path)
    assert floor and re.fullmatch(r"2(\.\d+)+", floor)  # puts: GLIBC_2.2.5 on x86-64
    assert "libc.so.6" in elf_tools.external_libraries(tmp_path)

    assert elf_tools.drop_foreign_runpath(foreign) is True
    assert elf_tools.drop_foreign_runpath(mixed) is True
    assert elf_tools.runpaths(elf_tools.read_elf(foreign)) == []
    assert elf_tools.runpaths(elf_tools.read_elf(mixed)) == ["$ORIGIN"]
    assert elf_tools.drop_foreign_runpath(mixed) is False  # nothing left to drop
    assert ctypes.CDLL(str(foreign)).probe() == 1
    if shutil.which("readelf"):
        dynamic = subprocess.run(["readelf", "-d", foreign], capture_output=True, text=True)
        assert "RUNPATH" not in dynamic.stdout and "NEEDED" in dynamic.stdout
