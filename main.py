"""ParamScope entry point: the window by default, or a command-line sub-command.

`python main.py [PATH ...]` opens the window; `python main.py
info|stats|hparams|diff|spectrum|memory|report PATH` prints to stdout (`--json` for machines;
`report` writes a file) and never imports Qt or torch.
"""

from __future__ import annotations

import sys

COMMANDS = ("info", "stats", "hparams", "diff", "spectrum", "memory", "report")


def main(argv: list[str] | None = None) -> int:
    if getattr(sys, "frozen", False):
        # a bundled app re-runs its own executable for the statistics worker processes
        import multiprocessing

        multiprocessing.freeze_support()
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in COMMANDS:
        _console_streams()
        from core.cli import main as cli_main

        return cli_main(args)
    if "--version" in args:
        _console_streams()
        from core import __version__

        print(f"ParamScope {__version__}")
        return 0
    from gui.app import main as gui_main

    return gui_main(args)


def _console_streams() -> None:
    """A windowed Windows build starts with no stdout: write to the console it was started
    from, if any, else nowhere (instead of failing on `None.write`)."""
    if sys.stdout is not None and sys.stderr is not None:
        return
    if sys.platform == "win32":
        import ctypes

        if ctypes.windll.kernel32.AttachConsole(-1):  # ATTACH_PARENT_PROCESS
            sys.stdout = open("CONOUT$", "w", encoding="utf-8")  # noqa: SIM115 — for the process
            sys.stderr = sys.stdout
            return
    import os

    sink = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 — lives as long as the process
    sys.stdout = sys.stdout or sink
    sys.stderr = sys.stderr or sink


def _exit_at_once(code: int) -> None:
    """End a one-shot run (`--screenshot`, `--self-test`) as soon as its work is done: the exit
    handlers run (worker pools shut down, temporary files go), output is flushed, and the
    interpreter's teardown of a Qt application and everything it imported — 40 ms that change
    nothing on disk — is skipped."""
    import atexit
    import os

    run_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_handlers is None:  # not CPython: the ordinary way out
        sys.exit(code)
    run_handlers()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    code = main()
    if {"--screenshot", "--self-test"} & set(sys.argv[1:]):
        _exit_at_once(code)
    sys.exit(code)
