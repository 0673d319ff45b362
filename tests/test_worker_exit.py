"""Worker processes end with the app: on SIGTERM (the window quits and shuts its pool down) and
when the app is killed outright (each worker notices its parent is gone and exits)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX signals")

APP = """
import os, sys
from gui.app import launch, parse, quit_on_signals
from core import stats
started = launch(*parse(["--new-window"]))
pool = stats._get_pool(2)
futures = [pool.submit(os.getpid) for _ in range(8)]
pids = sorted({f.result() for f in futures})
wake = quit_on_signals(started.app)
print(" ".join(map(str, pids)), flush=True)
started.app.exec()
started.close()
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def _start() -> tuple[subprocess.Popen, list[int]]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    app = subprocess.Popen(
        [sys.executable, "-c", APP], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    line = app.stdout.readline()
    pids = [int(p) for p in line.split()]
    assert pids and app.pid not in pids, line
    return app, pids


def _gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(_alive(p) for p in pids):
            return True
        time.sleep(0.1)
    return False


def test_sigterm_quits_the_window_and_stops_its_workers() -> None:
    app, pids = _start()
    try:
        app.send_signal(signal.SIGTERM)
        assert app.wait(20) == 0
        assert _gone(pids, 10), [p for p in pids if _alive(p)]
    finally:
        app.kill()
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_killed_app_leaves_no_orphan_workers() -> None:
    app, pids = _start()
    try:
        app.kill()
        app.wait(10)
        assert _gone(pids, 10), [p for p in pids if _alive(p)]
    finally:
        for pid in pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
