"""Remote models in the window: File ▸ Open URL… and a dropped link open a model from the loopback
Hub; the tab says what was downloaded; a remote tensor's data is fetched on request, size first."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QMessageBox

from core import remote
from gui.main_window import MainWindow
from gui.open_url import OpenUrlDialog, TensorFetch, normalise
from tests.checkpoints import make_model, save_safetensors
from tests.remote_server import Hub, Repo
from tests.test_remote import COMMIT


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    server = Hub().start()
    monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
    monkeypatch.setenv("PARAMSCOPE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    folder = tmp_path / "repo"
    folder.mkdir()
    save_safetensors(make_model(), folder / "model.safetensors")
    (folder / "config.json").write_text('{"model_type": "tiny", "hidden_size": 16}')
    server.repos["org/tiny"] = Repo(folder, COMMIT)
    yield server
    server.stop()


def test_open_url_dialog_takes_a_hub_id(qtbot) -> None:
    dialog = OpenUrlDialog()
    qtbot.addWidget(dialog)
    dialog.edit.setText("not a url")
    dialog.accept()
    assert dialog.result() != dialog.DialogCode.Accepted and "not an address" in dialog.error.text()
    dialog.edit.setText(" org/tiny ")
    dialog.accept()
    assert dialog.address() == "hf://org/tiny"
    assert normalise("https://x.org/m.gguf") == "https://x.org/m.gguf"


def test_remote_tab_shows_commit_and_fetches_data_on_request(
    qtbot, window: MainWindow, hub: Hub, monkeypatch
) -> None:
    assert window.open_url_action.shortcut().toString() == "Ctrl+Shift+O"
    with qtbot.waitSignal(window.opened, timeout=20000):
        tab = window.open_path("hf://org/tiny")
    assert "remote · commit abc1234 · 0 bytes of weights downloaded" in window.tabs.tabToolTip(0)
    assert tab.checkpoint.facts["remote"].startswith("remote · commit abc1234")
    assert window.memory.plan is not None
    name = max(tab.checkpoint.tensors, key=lambda t: t.numel).name
    tab.tree.select_path(name)
    qtbot.waitUntil(lambda: tab.selection == [name], timeout=5000)
    asked: list[str] = []

    def answer(_parent, _title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", answer)
    t = tab.checkpoint.tensor(name)
    window.fetch_tensor_data()
    assert f"({t.nbytes:,} bytes)" in asked[0]  # the size, said before anything is fetched
    qtbot.waitUntil(lambda: window._fetch.job.is_done(), timeout=20000)
    qtbot.waitUntil(
        lambda: f"{t.nbytes:,} bytes of weights" in window.tabs.tabToolTip(0), timeout=5000
    )
    assert remote.missing_bytes(t.source.file, t.source.offset, t.source.nbytes) == 0


def test_cancel_stops_a_slow_fetch(qtbot, window: MainWindow, hub: Hub) -> None:
    with qtbot.waitSignal(window.opened, timeout=20000):
        tab = window.open_path("hf://org/tiny")
    hub.dribble = 0.2  # 1 KiB every 200 ms
    fetch = TensorFetch(window, tab.checkpoint, [""], lambda: None)
    assert fetch.need > 0
    job = fetch.start()
    qtbot.wait(300)
    assert not job.is_done()
    fetch.dialog.canceled.emit()  # what its Cancel button sends
    assert job.wait(5)
    assert job.is_cancelled()
    from gui.open_url import missing_of

    assert 0 < missing_of(fetch.tensors) < fetch.need  # stopped part way, nothing more fetched


def test_a_dropped_link_opens_from_its_headers(qtbot, window: MainWindow, hub: Hub) -> None:
    url = f"{hub.endpoint}/org/tiny"
    data = QMimeData()
    data.setUrls([QUrl(url)])
    event = QDropEvent(
        QPoint(10, 10),
        Qt.DropAction.CopyAction,
        data,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    with qtbot.waitSignal(window.opened, timeout=20000):
        window.dropEvent(event)
    assert window.current_tab().address == url
    assert window.current_tab().checkpoint.facts["remote"].startswith("remote · commit")
