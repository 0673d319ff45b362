"""Start the window: QApplication, command-line flags, single instance, files from outside.

    paramscope [PATH ...]            open each path as a tab (hands them to a running window)
    --fresh                          ignore the saved window layout and recent files
    --new-window                     always start a new window
    --screenshot OUT.png PATH ...    open, wait until loaded and painted, save a 1400×900 grab
    --self-test                      offscreen smoke test on the bundled demo (see gui.selftest)

Files from the command line, from the OS (macOS FileOpen events), from a second launch and from
drops all go through `MainWindow.open_path`.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ORGANIZATION = "ParamScope"
APPLICATION = "ParamScope"
SCREENSHOT_SIZE = (1400, 900)
PNG_QUALITY = 80
LOAD_TIMEOUT_S = 120.0


def parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="paramscope", description="Look inside checkpoints.")
    parser.add_argument("paths", nargs="*", help="checkpoint files or model folders")
    parser.add_argument("--fresh", action="store_true", help="ignore saved settings")
    parser.add_argument("--new-window", action="store_true", help="do not reuse a running window")
    parser.add_argument("--screenshot", metavar="OUT.png", help="save a grab of the window, exit")
    parser.add_argument("--self-test", action="store_true", help="offscreen smoke test, exit")
    parser.add_argument("--version", action="store_true", help="print the version, exit")
    parser.epilog = (
        "Command line: paramscope info|stats|hparams|report PATH … (each has its own --help)"
    )
    return parser.parse_known_args(argv)


UI_SWITCH_INTERVAL = 0.001  # seconds a thread may hold the GIL while the UI thread waits


def faster_feature_check() -> None:
    """PySide6 asks of every module imported after it whether it uses PySide6 (for its
    `__feature__` switches) by `inspect.getsource` of the whole module: ~0.2 ms each, 50 ms over
    the ~300 modules numpy and pyqtgraph bring. The same question asked of the file's bytes
    costs a tenth. Anything unexpected (no such hook, no source file) keeps PySide's own."""
    feature = sys.modules.get("shibokensupport.feature")
    original = getattr(feature, "_mod_uses_pyside", None)
    if original is None or getattr(original, "reads_bytes", False):
        return

    def mod_uses_pyside(module: Any) -> bool:
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return original(module)
        try:
            with open(path, "rb") as source:
                return b"PySide6" in source.read()
        except OSError:
            return original(module)

    mod_uses_pyside.reads_bytes = True  # type: ignore[attr-defined]
    feature._mod_uses_pyside = mod_uses_pyside


def make_app(qt_args: list[str]):
    """The QApplication (created once), named, with the icon; high-DPI pass-through scaling."""
    from PySide6.QtCore import QCoreApplication, Qt

    faster_feature_check()
    from PySide6.QtGui import QGuiApplication, QIcon
    from PySide6.QtWidgets import QApplication

    from gui import resources_dir

    app = QApplication.instance()
    if app is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough
        )
        app = QApplication([sys.argv[0] if sys.argv else "paramscope", *qt_args])
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QGuiApplication.setDesktopFileName("paramscope")
    icon = QIcon()
    icons = resources_dir() / "icons"
    for png in sorted(icons.glob("paramscope-*.png")):
        icon.addFile(str(png))
    if not icon.isNull():
        app.setWindowIcon(icon)
    # Every call Qt makes into Python (a model's data(), a slot) must take the GIL; while a
    # worker thread runs Python, each take waits up to the switch interval. Painting a tree makes
    # hundreds of such calls, so at the default 5 ms one repaint could freeze the window for a
    # second. 1 ms keeps it smooth and costs the workers little.
    sys.setswitchinterval(min(sys.getswitchinterval(), UI_SWITCH_INTERVAL))
    return app


def file_open_filter(open_path: Callable[[str], object]):
    """An event filter for the application: macOS sends double-clicked files as FileOpen events."""
    from PySide6.QtCore import QEvent, QObject

    class FileOpenFilter(QObject):
        def eventFilter(self, watched, event) -> bool:  # noqa: N802 — Qt's name
            if event.type() == QEvent.Type.FileOpen:
                path = event.file() or event.url().toLocalFile()
                if path:
                    open_path(path)
                    return True
            return False

    return FileOpenFilter()


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    """Run the event loop until `predicate()` holds; False on timeout.

    The loop runs for real (no sleeps between polls): the predicate is looked at after every
    batch of events, and at least every POLL_MS, so it is seen within milliseconds of holding."""
    from PySide6.QtCore import QEventLoop, QTimer

    if predicate():
        return True
    deadline = time.monotonic() + timeout
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(POLL_MS)

    def check() -> None:
        if predicate() or time.monotonic() > deadline:
            loop.quit()

    poll.timeout.connect(check)
    poll.start()
    loop.exec()
    poll.stop()
    return predicate()


POLL_MS = 5


def flush_events() -> None:
    """Let the window take in everything already posted: layouts, zero-delay timers, repaints.

    A few passes: handling a layout request can post another, and a zero-delay timer fires on
    the pass after it was started."""
    from PySide6.QtCore import QCoreApplication, QEventLoop

    for _ in range(3):
        QCoreApplication.sendPostedEvents()
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents)


def busy(window) -> bool:
    """Whether an open, a health check or a plot is still running in the window."""
    panel = window.distribution
    plotting = panel is not None and bool(getattr(panel, "busy", False))
    return bool(window.loading_jobs() or window.health_checks() or plotting)


def settle(window, timeout: float = LOAD_TIMEOUT_S) -> bool:
    """Wait until every open and health check has ended and the plots have drawn, then until
    the window has laid out what they changed: on events, not on fixed sleeps."""
    done = wait_until(lambda: not busy(window), timeout)
    flush_events()
    return done


def screenshot(window, out: str, paths: list[str]) -> int:
    failures: list[str] = []
    window.failed.connect(lambda _path, message: failures.append(message))
    from PySide6.QtCore import Qt

    # laid out and "visible" to every widget, but never put on a screen; and nothing paints
    # while the jobs run (a window off screen still paints into its backing store, the tree and
    # every plot again after each change): grab() below renders the window once
    window.setAttribute(Qt.WidgetAttribute.WA_DontShowOnScreen, True)
    no_paint = _paint_blocker()
    window.installEventFilter(no_paint)
    # a grab of the model as opened: spectra would take a core for seconds and are not in it
    window.auto_spectra = False
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    window.open_paths(paths)
    opened = wait_until(lambda: not window.loading_jobs(), LOAD_TIMEOUT_S)
    tab = window.current_tab()
    if opened and tab is not None:
        if tab.checkpoint is not None:
            tab.start_checks()  # now, not after a paint: in worker processes beside the plots
        window.select_largest_tensor()  # plotted while the health check runs
    if not (opened and settle(window)):
        window.removeEventFilter(no_paint)
        print("screenshot: timed out while opening", file=sys.stderr)
        return 1
    window.resize(*SCREENSHOT_SIZE)
    flush_events()
    window.removeEventFilter(no_paint)
    image = window.grab()  # renders the window now, plots included; no wait for a screen paint
    out_path = Path(out).expanduser()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # zlib's faster levels: 15 ms less than Qt's default here, and no bigger for a window
    if not image.save(str(out_path), "PNG", PNG_QUALITY):
        print(f"screenshot: could not write {out_path}", file=sys.stderr)
        return 1
    for message in failures:
        print(message, file=sys.stderr)
    print(f"saved {out_path} ({image.width()}×{image.height()})")
    return 1 if failures or not paths else 0


def _paint_blocker():  # -> QObject, made once Qt is loaded
    from PySide6.QtCore import QEvent, QObject

    class PaintBlocker(QObject):
        """Swallows a window's requests to paint what changed (each widget's paint starts
        from one of them)."""

        def eventFilter(self, watched, event) -> bool:  # noqa: N802 — Qt's name
            return event.type() == QEvent.Type.UpdateRequest

    return PaintBlocker()


@dataclass
class Launch:
    """A started window with what it listens on; `close()` undoes what `launch` set up."""

    app: Any
    window: Any
    opener: Any  # the FileOpen filter (macOS), or None
    server: Any = None

    def close(self) -> None:
        if self.opener is not None:
            self.app.removeEventFilter(self.opener)
        if self.server is not None:
            self.server.close()
        self.window.quit_without_asking()  # the event loop has ended: it was asked already
        self.window.close()
        self.window.deleteLater()


def launch(args: argparse.Namespace, qt_args: list[str]) -> Launch | None:
    """Make the app and window and open `args.paths`; None when a running window took them."""
    if args.self_test:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = make_app(qt_args)
    if args.screenshot and _bytes_on_disk(args.paths) >= WARM_WORKERS_BYTES:
        warm_workers()  # its health check will want them

    from gui.main_window import MainWindow
    from gui.settings import Settings
    from gui.single_instance import InstanceServer, UnsafeSocket, hand_over

    smoke = bool(args.screenshot or args.self_test)
    server = None
    if not (smoke or args.new_window):
        try:
            if hand_over(args.paths):
                return None
            server = InstanceServer()
            if not server.listen():
                server = None  # another window races us; run on our own
        except UnsafeSocket as error:
            # never hand paths to a socket someone else could listen on: run on our own
            print(f"ParamScope: single-instance socket not used: {error}", file=sys.stderr)
            server = None

    window = MainWindow(Settings(fresh=args.fresh or smoke, persist=not smoke))
    opener = None
    if sys.platform == "darwin":  # only macOS sends FileOpen; elsewhere the filter would only
        # cost a Python call for every event of the application
        opener = file_open_filter(window.open_path)
        app.installEventFilter(opener)
    if server is not None:
        server.received.connect(lambda paths: (window.open_paths(paths), window.bring_to_front()))
    if not smoke:
        window.show()
        window.open_paths(args.paths)
    return Launch(app, window, opener, server)


# the size from which a health check reads in worker processes (core.stats.POOL_MIN_BYTES);
# below it the server would only take a core from the window's start-up
WARM_WORKERS_BYTES = 48 << 20


def _bytes_on_disk(paths: list[str]) -> int:
    """What the files (and the files directly in the folders) given take on disk: a hint of
    how much a health check will read, known before anything is opened."""
    total = 0
    for path in map(Path, paths):
        try:
            if path.is_dir():
                total += sum(f.stat().st_size for f in path.iterdir() if f.is_file())
            else:
                total += path.stat().st_size
        except OSError:
            continue  # the open will say what is wrong with it
    return total


def warm_workers() -> threading.Thread | None:
    """Start the statistics workers' process server now, so that it loads numpy beside the
    window's own start-up (on another core) instead of after the first big model has opened.

    For `--screenshot` only: there the health check follows at once (0.4 s sooner, measured);
    a window launched for a person paints its tree later when the server competes for the CPU
    (1 s later on a loaded machine), and a big model's health check starts the server anyway.
    Only where the window would use one (forkserver: Linux) and there is a core to spare; the
    server exits with the window. The thread that starts it is returned (None: not started)."""
    import multiprocessing

    if (os.cpu_count() or 1) < 2 or "forkserver" not in multiprocessing.get_all_start_methods():
        return None
    from core import isolated

    if isolated.context().get_start_method() != "forkserver":  # Qt is loaded: never fork
        return None
    from multiprocessing import forkserver

    # in a thread: starting two processes (the server and its resource tracker) from a big
    # process takes the window's thread 15 ms; the pool waits for the server when it needs it
    starting = threading.Thread(target=forkserver.ensure_running, name="warm workers")
    starting.daemon = True
    starting.start()
    return starting


def quit_on_signals(app: Any) -> Any:
    """SIGTERM and SIGINT end the event loop as Quit does, so the worker pools shut down at exit
    (a terminated window left its worker processes running). Python runs a signal handler only
    when the interpreter gets control, so a timer wakes it from Qt's loop now and then; the
    timer is returned so the caller keeps it alive."""
    import signal

    from PySide6.QtCore import QTimer

    def handler(_signum: int, _frame: Any) -> None:
        # quit closes the windows; nobody is there to answer a question about pending edits
        for widget in app.topLevelWidgets():
            if hasattr(widget, "quit_without_asking"):
                widget.quit_without_asking()
        # queued: a signal that lands before exec() starts must still end the loop it starts
        QTimer.singleShot(0, app.quit)

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, handler)
    timer = QTimer(app)
    timer.timeout.connect(lambda: None)
    timer.start(200)
    return timer


def main(argv: list[str]) -> int:
    args, qt_args = parse(argv)
    from gui.platform_check import uses_xcb, xcb_problem

    problem = xcb_problem() if uses_xcb() and not args.self_test else None
    if problem:
        print(problem, file=sys.stderr)
        return 1  # Qt would abort with a message that points at the wrong remedy
    started = launch(args, qt_args)
    if started is None:
        return 0  # the running window opened the files
    _wake = quit_on_signals(started.app)
    try:
        if args.self_test:
            from gui.selftest import run_self_test

            return run_self_test(started.window)
        if args.screenshot:
            return screenshot(started.window, args.screenshot, args.paths)
        return started.app.exec()
    finally:
        started.close()
