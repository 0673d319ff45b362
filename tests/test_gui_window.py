"""The window as a person uses it: open by menu, drop, argv and a second launch; errors stay calm."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QFileOpenEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QFileDialog
from safetensors.numpy import save_file

from core import units
from core.model import CATEGORIES
from gui.app import file_open_filter, launch, main, parse
from gui.layer_tree import PARAMS, SORT_ROLE
from gui.main_window import CheckpointTab, MainWindow
from gui.settings import Settings
from gui.single_instance import InstanceServer, hand_over
from gui.workers import pool
from tests.checkpoints import make_model, save_hf_folder, save_safetensors, torch_counts

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def checkpoint_file(tmp_path: Path) -> Path:
    return save_safetensors(make_model(), tmp_path / "tiny.safetensors")


def wait_opened(qtbot, win: MainWindow, count: int) -> list[CheckpointTab]:
    qtbot.waitUntil(lambda: not win.loading_jobs(), timeout=30_000)
    tabs = [win.tabs.widget(i) for i in range(win.tabs.count())]
    assert len(tabs) == count, [t.path for t in tabs]
    assert all(t.checkpoint is not None for t in tabs)
    return tabs


def many_tensors(path: Path, count: int = 40_000) -> Path:
    """A file with enough tensors that opening it takes a moment (about half a second)."""
    arrays = {f"m.{i // 100}.l{i % 100}.weight": np.zeros(2, np.float16) for i in range(count)}
    save_file(arrays, str(path))
    return path


def drag_enter(mime: QMimeData) -> QDragEnterEvent:
    return QDragEnterEvent(
        QPoint(50, 50),  # Qt's drag-enter event takes an integer point; the drop a QPointF
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )


def drag_events(paths: list[Path]) -> tuple[QMimeData, QDragEnterEvent]:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime, drag_enter(mime)


def drop(win: MainWindow, mime: QMimeData) -> QDropEvent:
    event = QDropEvent(
        QPointF(50, 50),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(win, event)
    return event


def test_empty_state_invites_a_drop(window: MainWindow) -> None:
    assert window.stack.currentWidget() is window.empty
    assert window.empty.demo_button.isEnabled()
    assert window.windowTitle() == "ParamScope"
    assert not window.dist_dock.isVisible()  # the page is the whole window until a file opens


def test_cancel_in_the_status_bar_stops_a_slow_open(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    path = many_tensors(tmp_path / "slow.safetensors")
    tab = window.open_path(path)
    assert window.dist_dock.isVisible()
    qtbot.waitUntil(window.cancel_button.isVisible, timeout=5_000)  # slow enough to show
    assert window.progress.isVisible() and "slow.safetensors" in window.progress_label.text()
    job = tab.job
    qtbot.mouseClick(window.cancel_button, Qt.MouseButton.LeftButton)
    assert window.tabs.count() == 0
    assert job.wait(60)
    qtbot.waitUntil(lambda: not window.loading_jobs(), timeout=5_000)
    assert not window.cancel_button.isVisible()


def test_open_file_menu_shows_counts_torch_agrees_with(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch
) -> None:
    model = make_model()
    path = save_safetensors(model, tmp_path / "tiny.safetensors")
    monkeypatch.setattr(
        QFileDialog, "getOpenFileNames", staticmethod(lambda *a, **k: ([str(path)], ""))
    )
    window.open_action.trigger()
    (tab,) = wait_opened(qtbot, window, 1)
    assert window.windowTitle() == "ParamScope — tiny.safetensors"
    assert window.stack.currentWidget() is window.tabs
    params, buffers = torch_counts(model)
    assert tab.checkpoint.totals.params == params and tab.checkpoint.totals.buffers == buffers
    proxy = tab.tree.proxy
    shown = sum(proxy.index(r, PARAMS).data(SORT_ROLE) for r in range(proxy.rowCount()))
    assert shown == params
    assert f"{params:,} parameters" in tab.summary.headline.toolTip()
    assert "weights" in tab.summary.legend.text() and "Adam training" in tab.summary.memory.text()
    assert {c for c, _ in tab.summary.bar.parts} <= set(CATEGORIES)
    assert window.statusBar().currentMessage().startswith("Opened tiny.safetensors in ")
    assert "1 file" in window.statusBar().currentMessage()


def test_drop_files_and_folders_refuses_others(
    qtbot, window: MainWindow, tmp_path: Path, checkpoint_file: Path
) -> None:
    folder = save_hf_folder(make_model(seed=1), tmp_path / "hf-model")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a checkpoint")

    mime, enter = drag_events([checkpoint_file, folder, notes])
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    assert window.overlay.isVisible() and window.overlay.ok
    assert (
        "Open 2 checkpoints" in window.overlay.text
        and "skipped, not checkpoints: notes.txt" in window.overlay.text
    )
    drop(window, mime)
    assert not window.overlay.isVisible()
    tabs = wait_opened(qtbot, window, 2)
    assert {t.path.name for t in tabs} == {"tiny.safetensors", "hf-model"}
    assert window.banner.isVisible() and "notes.txt" in window.banner.label.text()

    mime, enter = drag_events([notes])
    QApplication.sendEvent(window, enter)
    assert window.overlay.isVisible() and not window.overlay.ok
    assert "notes.txt" in window.overlay.text
    event = drop(window, mime)
    assert not event.isAccepted()
    assert window.tabs.count() == 2


def test_a_web_link_dragged_in_offers_to_open_its_headers(window: MainWindow) -> None:
    """Issue 19: an https link opens from its headers (tests/test_remote_gui.py drops one on a
    loopback Hub); here only the offer is checked, so nothing reaches the network."""
    mime = QMimeData()
    mime.setUrls([QUrl("https://huggingface.co/gpt2/resolve/main/model.safetensors")])
    QApplication.sendEvent(window, drag_enter(mime))
    assert window.overlay.isVisible() and window.overlay.ok
    assert "headers only" in window.overlay.text and "huggingface.co" in window.overlay.text


def test_a_link_of_another_scheme_dropped_is_refused_with_a_reason(window: MainWindow) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl("ftp://example.org/model.safetensors")])
    QApplication.sendEvent(window, drag_enter(mime))
    assert window.overlay.isVisible() and not window.overlay.ok
    assert "https links" in window.overlay.text and "example.org" in window.overlay.text
    assert not drop(window, mime).isAccepted()
    assert window.tabs.count() == 0


def test_quit_has_ctrl_q_on_every_platform(window: MainWindow) -> None:
    assert QKeySequence("Ctrl+Q") in window.quit_action.shortcuts()


def test_corrupt_file_gives_a_message_and_the_window_stays_usable(
    qtbot, window: MainWindow, tmp_path: Path, checkpoint_file: Path
) -> None:
    window.open_path(checkpoint_file)
    wait_opened(qtbot, window, 1)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(checkpoint_file.read_bytes()[:200])  # the header is cut short
    with qtbot.waitSignal(window.failed, timeout=30_000) as failed:
        window.open_path(broken)
    assert failed.args[0] == str(broken)
    assert "broken.safetensors" in failed.args[1]
    assert window.banner.isVisible() and "broken.safetensors" in window.banner.label.text()
    assert "broken.safetensors" in window.statusBar().currentMessage()
    assert window.tabs.count() == 1  # the good tab stays; the failed one is gone
    other = save_safetensors(make_model(seed=2), tmp_path / "other.safetensors")
    window.open_path(other)
    wait_opened(qtbot, window, 2)


def test_closing_a_tab_while_loading_leaves_no_thread(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    path = tmp_path / "many.safetensors"
    save_file(
        {f"m.{i // 100}.l{i % 100}.weight": np.zeros(2, np.float16) for i in range(40_000)},
        str(path),
    )
    tab = window.open_path(path)
    job = tab.job
    assert tab.is_loading and job is not None
    window.close_current()
    assert window.tabs.count() == 0
    assert job.wait(60)
    qtbot.waitUntil(lambda: pool().activeThreadCount() == 0, timeout=10_000)
    qtbot.wait(50)  # any late signal has been delivered by now
    assert window.tabs.count() == 0 and not window.loading_jobs()
    assert window.stack.currentWidget() is window.empty


def test_recent_files_are_remembered(qtbot, tmp_path: Path, checkpoint_file: Path) -> None:
    first = MainWindow(Settings())
    qtbot.addWidget(first)
    second_file = save_safetensors(make_model(seed=3), tmp_path / "second.safetensors")
    first.open_path(checkpoint_file)
    wait_opened(qtbot, first, 1)
    first.open_path(second_file)
    wait_opened(qtbot, first, 2)
    first.close()

    again = MainWindow(Settings())
    qtbot.addWidget(again)
    assert again.settings.recent()[:2] == [str(second_file), str(checkpoint_file)]
    assert again.empty.recent.count() == 2
    again._fill_recent_menu()
    labels = [a.text() for a in again.recent_menu.actions()]
    assert "&1 second.safetensors" in labels
    again.recent_menu.actions()[1].trigger()
    (tab,) = wait_opened(qtbot, again, 1)
    assert tab.path == checkpoint_file

    fresh = MainWindow(Settings(fresh=True))
    qtbot.addWidget(fresh)
    assert fresh.settings.recent() == [] and not fresh.empty.recent.isVisible()


def test_reopening_shows_the_existing_tab(qtbot, window: MainWindow, checkpoint_file) -> None:
    window.open_path(checkpoint_file)
    wait_opened(qtbot, window, 1)
    assert window.open_path(checkpoint_file) is window.current_tab()
    assert window.tabs.count() == 1


def test_selection_reaches_the_panels(
    qtbot, window: MainWindow, checkpoint_file: Path, tmp_path: Path
) -> None:
    folder = save_hf_folder(make_model(seed=5), tmp_path / "hf")
    window.open_path(checkpoint_file)
    (first,) = wait_opened(qtbot, window, 1)
    assert first.tree.select_path("layers.0.linear1.weight")
    assert first.selection == ["layers.0.linear1.weight"]
    if window.distribution is not None:
        assert window.distribution.checkpoint is first.checkpoint
        assert window.distribution.paths == ["layers.0.linear1.weight"]
    if window.hparams is not None:
        assert window.hparams.hset is not None

    window.open_path(folder)
    _, second = wait_opened(qtbot, window, 2)
    assert window.current_tab() is second and window.windowTitle() == "ParamScope — hf"
    if window.distribution is not None:
        assert window.distribution.checkpoint is second.checkpoint
    if window.hparams is not None:
        assert window.hparams.hset is not None  # config.json beside the weights
    window.tabs.setCurrentWidget(first)  # back: the panels show the first file's selection
    if window.distribution is not None:
        assert window.distribution.checkpoint is first.checkpoint
        assert window.distribution.paths == ["layers.0.linear1.weight"]
        window.distribution.wait()
    window.close_current()
    assert window.current_tab() is second


def test_file_open_event_opens_the_file(qtbot, window: MainWindow, checkpoint_file) -> None:
    app = QApplication.instance()
    opener = file_open_filter(window.open_path)
    app.installEventFilter(opener)
    try:
        event = QFileOpenEvent(str(checkpoint_file))
        assert event.type() == QEvent.Type.FileOpen
        QApplication.sendEvent(app, event)
    finally:
        app.removeEventFilter(opener)
    (tab,) = wait_opened(qtbot, window, 1)
    assert tab.path == checkpoint_file


def test_second_launch_hands_files_to_the_running_window(
    qtbot, window: MainWindow, checkpoint_file: Path, tmp_path: Path
) -> None:
    name = f"paramscope-test-{tmp_path.name}"
    assert not hand_over([str(checkpoint_file)], name)  # nobody listens yet
    server = InstanceServer(name)
    assert server.listen()
    server.received.connect(window.open_paths)
    try:
        with qtbot.waitSignal(server.received, timeout=10_000) as received:
            assert hand_over([str(checkpoint_file)], name)
        assert received.args == [[str(checkpoint_file)]]
        wait_opened(qtbot, window, 1)
    finally:
        server.close()


def test_argv_paths_open_as_tabs(qtbot, tmp_path: Path, checkpoint_file: Path) -> None:
    folder = save_hf_folder(make_model(seed=4), tmp_path / "hf")
    started = launch(*parse(["--new-window", str(checkpoint_file), str(folder)]))
    try:
        win = started.window
        assert win.isVisible()
        wait_opened(qtbot, win, 2)
        assert [win.tabs.tabText(i) for i in range(2)] == ["tiny.safetensors", "hf"]
        # FileOpen comes from macOS only; elsewhere a filter on the application would cost a
        # Python call for every event of every widget
        assert (started.opener is not None) == (sys.platform == "darwin")
    finally:
        started.close()


def test_screenshot_writes_a_png(tmp_path: Path, checkpoint_file: Path) -> None:
    out = tmp_path / "shot.png"
    assert main(["--screenshot", str(out), str(checkpoint_file)]) == 0
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert (image.width(), image.height()) == (1400, 900)


def test_screenshot_fails_on_a_bad_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    assert main(["--screenshot", str(tmp_path / "bad.png"), str(bad)]) != 0


def test_self_test_exits_zero() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--self-test"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert "self-test passed" in result.stdout and "hparams" in result.stdout


def test_window_does_not_import_torch() -> None:
    code = (
        "import sys; from gui import app, main_window, about;"
        "about.versions(); assert 'torch' not in sys.modules, 'torch imported'"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_about_names_the_versions() -> None:
    from gui.about import about_text

    text = about_text()
    for name in ("ParamScope", "Qt", "PySide6", "pyqtgraph", "safetensors"):
        assert name in text


def test_layout_is_remembered_unless_fresh(qtbot) -> None:
    first = MainWindow(Settings())
    qtbot.addWidget(first)
    first.resize(700, 500)  # within the offscreen screen (800×600)
    first.show()
    qtbot.waitExposed(first)
    size = (first.width(), first.height())
    assert size != (1400, 900)
    first.close()

    remembered = MainWindow(Settings())
    qtbot.addWidget(remembered)
    assert (remembered.width(), remembered.height()) == size
    fresh = MainWindow(Settings(fresh=True))
    qtbot.addWidget(fresh)
    assert (fresh.width(), fresh.height()) == (1400, 900)


def test_find_and_copy_from_the_edit_menu(qtbot, window: MainWindow, checkpoint_file) -> None:
    window.open_path(checkpoint_file)
    (tab,) = wait_opened(qtbot, window, 1)
    window.activateWindow()
    window.find_action.trigger()
    qtbot.waitUntil(tab.tree.find.hasFocus, timeout=5_000)
    qtbot.keyClicks(tab.tree.find, "*norm1.w*")
    qtbot.waitUntil(lambda: tab.tree.matches.text() == "3 matches", timeout=5_000)
    assert tab.tree.select_path("layers.2.norm1.weight")
    window.copy_action.trigger()
    copied = QApplication.clipboard().text()
    assert copied.startswith("layers.2.norm1.weight\tnorm\t16\tfloat32")
    window.collapse_action.trigger()
    window.expand_action.trigger()
    assert tab.tree.view.isExpanded(tab.tree.proxy.index(0, 0))


def test_close_others_keeps_one_tab(qtbot, window: MainWindow, tmp_path: Path) -> None:
    paths = [save_safetensors(make_model(seed=s), tmp_path / f"m{s}.safetensors") for s in range(3)]
    for path in paths:
        window.open_path(path)
        wait_opened(qtbot, window, paths.index(path) + 1)
    keep = window.tabs.widget(1)
    window.close_others(keep)
    assert window.tabs.count() == 1 and window.current_tab() is keep


def test_the_summary_says_each_fact_once(qtbot, tmp_path: Path) -> None:
    from format_fixtures import write_gguf, write_onnx

    from core.open import open_checkpoint
    from gui.summary import SummaryView

    write_onnx(tmp_path / "m.onnx", external=False)
    write_gguf(tmp_path / "m.gguf")
    for name, facts, restated in (
        ("m.onnx", ("opset", "IR", "producer"), ("ir_version", "producer_name", "opset_import")),
        ("m.gguf", ("architecture",), ("general.architecture",)),
    ):
        view = SummaryView(open_checkpoint(tmp_path / name))
        qtbot.addWidget(view)
        text = view.details.text()
        assert all(f">{fact}<" in text for fact in facts), text
        assert not any(f">{key}<" in text for key in restated), text


def test_an_adapter_measures_itself_against_a_base_opened_beside_it(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch
) -> None:
    from format_fixtures import write_peft_adapter
    from test_formats_adapters import llama_like_base

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    base_params = llama_like_base(tmp_path / "llama-base")
    write_peft_adapter(tmp_path / "adapter")
    window.open_path(tmp_path / "adapter")
    (adapter,) = wait_opened(qtbot, window, 1)
    assert "%" not in adapter.summary.details.text()

    window.open_path(tmp_path / "llama-base")
    wait_opened(qtbot, window, 2)
    share = units.percent(adapter.checkpoint.totals.params, base_params)
    assert f"{share} % of the base model" in adapter.summary.details.text()


def test_a_job_reporting_every_tensor_sends_few_progress_signals(qtbot) -> None:
    """A health check of 100,000 tensors reports after each one; passing every report to the
    UI thread queued 100,000 signals there and froze it for seconds."""
    from gui.workers import Job

    def work(report, cancelled) -> int:  # noqa: ANN001
        for done in range(1, 100_001):
            report(done, 100_000)
        return 1

    job = Job(work)
    received: list[tuple[int, int]] = []
    job.signals.progress.connect(lambda done, total: received.append((done, total)))
    with qtbot.waitSignal(job.signals.finished, timeout=30_000):
        job.start()
    qtbot.wait(50)
    assert received[-1][0] == received[-1][1]  # the end is always reported
    assert len(received) < 200, len(received)


def test_progress_past_two_gib_never_overflows_nor_goes_backwards(qtbot) -> None:
    """Byte counts of a 70B model overflowed the signal's 32-bit ints (thousands of
    OverflowError lines) and a bar went 69 → 99 → 98 → 96 %."""
    from gui.workers import Job

    gib = 1 << 30
    reports = [(69 * gib, 100 * gib), (99 * gib, 100 * gib), (98 * gib, 100 * gib)]
    reports += [(96 * gib, 100 * gib), (140 * gib, 140 * gib)]

    def work(report, cancelled) -> int:  # noqa: ANN001
        for done, total in reports:
            report(done, total)
            time.sleep(0.05)  # past the reporting interval: each one is passed on
        return 1

    job = Job(work)
    received: list[float] = []
    job.signals.progress.connect(lambda done, total: received.append(done / total))
    with qtbot.waitSignal(job.signals.finished, timeout=30_000):
        job.start()
    qtbot.wait(50)
    assert received == sorted(received) and received[0] == 0.69 and received[-1] == 1.0


def test_the_ui_thread_waits_little_for_python_workers(window: MainWindow) -> None:
    """At Python's default 5 ms switch interval each call Qt makes into Python waits up to 5 ms
    while a worker runs: a repaint of the tree during an open froze the window for 0.6 s."""
    assert sys.getswitchinterval() <= 0.001


def test_a_big_checkpoint_is_kept_out_of_garbage_collections_until_its_tab_closes(
    qtbot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Full collections walked every object of every open checkpoint — a second-long freeze
    of the window each time with 100,000 tensors open. Frozen while open, they must still go
    when the tab closes."""
    import gc

    from core.model import Checkpoint
    from gui import heap

    released: list[int] = []
    release = heap.release
    monkeypatch.setattr(heap, "release", lambda: (release(), released.append(1)))
    path = many_tensors(tmp_path / "many.safetensors", 20_000)
    gc.collect()
    before = gc.get_freeze_count()
    window.open_path(path)
    wait_opened(qtbot, window, 1)
    qtbot.waitUntil(lambda: not window.health_checks(), timeout=60_000)
    assert gc.get_freeze_count() - before > 20_000  # the checkpoint's objects: frozen
    assert gc.isenabled()
    window.close_tab(0)
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.waitUntil(lambda: bool(released), timeout=10_000)
    gc.unfreeze()
    gc.collect()
    assert not [o for o in gc.get_objects() if type(o) is Checkpoint and o.path == path]


def test_ctrl_w_closes_a_tab_on_every_platform(window: MainWindow) -> None:
    assert QKeySequence("Ctrl+W") in window.close_action.shortcuts()


def test_the_same_file_by_another_path_opens_once(
    qtbot, window: MainWindow, tmp_path: Path, checkpoint_file: Path
) -> None:
    (tmp_path / "sub").mkdir()
    link = tmp_path / "link.safetensors"
    link.symlink_to(checkpoint_file)
    window.open_path(checkpoint_file)
    wait_opened(qtbot, window, 1)
    window.open_path(tmp_path / "sub" / ".." / checkpoint_file.name)
    window.open_path(link)
    assert window.tabs.count() == 1


def test_recent_files_keep_the_order_they_were_opened_in_and_drop_failures(
    qtbot, window: MainWindow, tmp_path: Path
) -> None:
    big = many_tensors(tmp_path / "big.safetensors", 40_000)  # ends last though asked first
    small = save_safetensors(make_model(), tmp_path / "small.safetensors")
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    window.open_paths([big, small])
    wait_opened(qtbot, window, 2)
    with qtbot.waitSignal(window.failed, timeout=30_000):
        window.open_path(broken)
    assert window.settings.recent()[:2] == [str(small), str(big)]
    assert str(broken) not in window.settings.recent()


def test_the_status_line_speaks_of_the_tab_in_front(
    qtbot, window: MainWindow, checkpoint_file: Path, tmp_path: Path
) -> None:
    """It said "Opened <the file opened last>" whichever tab was in front."""
    folder = save_hf_folder(make_model(seed=6), tmp_path / "other-model")
    window.open_paths([checkpoint_file, folder])
    first, second = wait_opened(qtbot, window, 2)
    window.tabs.setCurrentWidget(first)
    assert "Opened tiny.safetensors" in window.statusBar().currentMessage()
    window.tabs.setCurrentWidget(second)
    assert "Opened other-model" in window.statusBar().currentMessage()
