"""`paramscope report`: one self-contained HTML or Markdown file about a checkpoint.

The checkpoints are real files written with torch; the numbers the report holds are checked
against what `info --json` says and against torch's own values; the HTML is parsed, searched for
anything it could load, and rendered in a real headless Chromium when one is installed.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

import main
from tests.checkpoints import make_model, save_lightning, untied_state_dict

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<script>alert(1)</script>"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def hostile_folder(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A Hugging Face style folder whose tensor name and config values are HTML."""
    folder = tmp_path / "model"
    folder.mkdir()
    state = untied_state_dict(make_model())
    state[HOSTILE] = torch.zeros(3, 3)
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = {
        "model_type": "<img src=https://example.com/x.png onerror=alert(2)>",
        "hidden_size": 16,
        "num_hidden_layers": 3,
        "learning_rate": 1e-4,
        "_name_or_path": "https://example.com/evil",
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder, state


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.style: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        self._in_style = False

    def handle_data(self, data):
        (self.style if self._in_style else self.text).append(data)


def parse(text: str) -> _Collector:
    parser = _Collector()
    parser.feed(text)
    parser.close()
    return parser


def write_html(capsys, path: Path, out: Path, *extra: str) -> str:
    code, stdout, err = run(capsys, "report", str(path), "-o", str(out), *extra)
    assert code == 0, err
    assert f"written {out}" in stdout
    return out.read_text(encoding="utf-8")


def test_the_html_loads_nothing_and_escapes_the_file_s_strings(capsys, hostile_folder, tmp_path):
    folder, _ = hostile_folder
    text = write_html(capsys, folder, tmp_path / "report.html")
    page = parse(text)
    tags = [tag for tag, _ in page.tags]
    assert "html" in tags and "table" in tags and "svg" in tags
    # nothing that runs or fetches: no scripts, stylesheets, images, frames, objects
    for forbidden in ("script", "link", "img", "iframe", "object", "embed", "base", "audio"):
        assert forbidden not in tags, forbidden
    for tag, attrs in page.tags:
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name)  # no event handlers
            if name in ("src", "href", "xlink:href", "srcset", "action", "poster", "data"):
                assert not (value or "").startswith(("http:", "https:", "//")), (tag, name, value)
    style = "".join(page.style)
    assert "url(" not in style and "@import" not in style
    assert "http://" not in text.split("<main>")[0]  # the head loads nothing either
    # the hostile strings are shown as text, escaped, never as markup
    assert HOSTILE not in text
    assert html.escape(HOSTILE) in text
    assert HOSTILE in "".join(page.text)
    assert "<img src=https" not in text
    assert "https://example.com/evil" in "".join(page.text)  # a value from the file, as text


def test_the_html_holds_the_numbers_info_gives(capsys, hostile_folder, tmp_path):
    folder, state = hostile_folder
    code, out, _ = run(capsys, "info", str(folder), "--json")
    assert code == 0
    info = json.loads(out)
    text = write_html(capsys, folder, tmp_path / "report.html", "--top", "3")
    shown = html.unescape(" ".join(parse(text).text))
    for number in (info["total_params"], info["total_buffers"], info["file_bytes"]):
        assert f"{number:,}" in shown, number
    for category, n in info["categories"].items():
        assert category in shown and f"{n:,}" in shown, category
    for dtype, n in info["dtypes"].items():
        assert dtype in shown and f"{n:,}" in shown, dtype
    for n in info["memory"].values():
        assert f"{n:,}" in shown
    for child in info["tree"]["children"]:
        assert child["name"] in shown
    # the largest tensors, with torch's own extremes as the exact values in the tooltips
    largest = sorted(state.items(), key=lambda kv: (-kv[1].numel(), kv[0]))[:3]
    for name, tensor in largest:
        assert name in shown
        assert f'title="{float(tensor.min())!r}"' in text
        assert f'title="{float(tensor.max())!r}"' in text
    # the health check found the all-zero tensor, named once as text
    assert "dead" in shown and HOSTILE in shown
    # hyperparameters with their sources
    assert "learning_rate" in shown and "0.0001" in shown and "config.json" in shown


def test_markdown_has_tables_sparklines_and_escaped_names(capsys, hostile_folder, tmp_path):
    folder, _ = hostile_folder
    out = tmp_path / "report.md"
    code, _, err = run(capsys, "report", str(folder), "-o", str(out), "--depth", "2")
    assert code == 0, err
    text = out.read_text(encoding="utf-8")
    assert "## Modules (to depth 2)" in text and "| Layer | Role |" in text
    assert "| \u00a0\u00a0" in text  # a nested module keeps its indentation
    assert HOSTILE not in text and r"\<script\>alert(1)\</script\>" in text
    assert any(ch in text for ch in "▁▂▃▄▅▆▇█")  # the histograms as sparklines
    assert "learning\\_rate" in text and "config.json" in text


def test_lightning_checkpoint_report_names_hyperparameter_sources(capsys, tmp_path):
    path = save_lightning(make_model(), tmp_path / "run.ckpt")
    text = write_html(capsys, path, tmp_path / "run.html", "--no-health")
    shown = " ".join(parse(text).text)
    assert "batch_size" in shown and "checkpoint:hyper_parameters" in shown
    assert "Health not checked." in shown
    assert "optimizer" in shown.lower()  # the Adam state is counted apart from the parameters


def test_bad_requests_exit_2_with_one_line(capsys, hostile_folder, tmp_path):
    folder, _ = hostile_folder
    code, _, err = run(capsys, "report", str(folder), "-o", str(tmp_path / "report.pdf"))
    assert code == 2 and "report.pdf: unknown report format" in err and "Traceback" not in err
    code, _, err = run(capsys, "report", str(tmp_path / "missing"), "-o", str(tmp_path / "r.md"))
    assert code == 2 and "missing" in err
    assert not (tmp_path / "r.md").exists()


def test_the_report_replaces_a_file_atomically(capsys, hostile_folder, tmp_path):
    folder, _ = hostile_folder
    out = tmp_path / "report.html"
    out.write_text("old")
    write_html(capsys, folder, out)
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".report.html.")] == []


def test_the_command_imports_neither_torch_nor_qt(hostile_folder, tmp_path):
    folder, _ = hostile_folder
    code = (
        "import sys, main; rc = main.main(['report', sys.argv[1], '-o', sys.argv[2]]);"
        "bad = [m for m in ('torch', 'PySide6', 'pyqtgraph', 'matplotlib') if m in sys.modules];"
        "print(bad, file=sys.stderr); sys.exit(rc or (3 if bad else 0))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(folder), str(tmp_path / "r.html")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium")
def test_chromium_renders_the_report(capsys, hostile_folder, tmp_path):
    from PySide6.QtGui import QImage

    folder, _ = hostile_folder
    report = tmp_path / "report.html"
    write_html(capsys, folder, report)
    shot = tmp_path / "report.png"
    profile = tempfile.mkdtemp(prefix="paramscope-chromium-")
    try:
        subprocess.run(
            [
                str(CHROMIUM),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                f"--user-data-dir={profile}",
                f"--screenshot={shot}",
                "--window-size=1280,1600",
                report.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            env={**os.environ, "HOME": profile},
        )
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert shot.exists() and shot.stat().st_size > 10_000
    image = QImage(str(shot))
    assert (image.width(), image.height()) == (1280, 1600)
    # not blank: text and the histograms' bars leave many dark and blue pixels on the white
    inked = sum(
        1
        for y in range(0, image.height(), 4)
        for x in range(0, image.width(), 4)
        if image.pixelColor(x, y).lightness() < 200
    )
    assert inked > 2000, inked


def test_a_truncated_file_s_unreadable_tensors_are_named_with_why(capsys, tmp_path):
    path = tmp_path / "cut.safetensors"
    torch.manual_seed(0)
    save_file(
        {"a.weight": torch.randn(100, 100), "b.weight": torch.randn(300, 300), "c": torch.ones(9)},
        str(path),
    )
    with path.open("r+b") as stream:  # cut inside b.weight; c lies past the end
        stream.truncate(path.stat().st_size - 1000)
    text = write_html(capsys, path, tmp_path / "cut.html")
    shown = "".join(parse(text).text)
    assert "1 of 3 tensors checked" in shown
    assert "b.weight: not read — the truncated file ends inside its data" in shown
    assert "c: not read — its data lies past the end of the truncated file" in shown
    assert "a.weight" in shown and "Largest tensors (1)" in shown
