"""Exit handling, installed once: finish every open run at interpreter exit.

The exit code comes from what ended the interpreter: an uncaught exception
(through sys.excepthook) gives 1 (a KeyboardInterrupt: killed), ``sys.exit(n)``
gives n. A hard crash (SIGKILL, out of memory) runs none of this; the service
detects it.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from types import TracebackType
from typing import Any, NoReturn, Protocol


class _Finishable(Protocol):
    def _finish_at_exit(self, exit_code: int, state: str) -> None: ...


_lock = threading.Lock()
_runs: list[_Finishable] = []
_installed = False
_exit_code = 0
_exit_state = ""
_keyboard_interrupt = False  # the interpreter is ending on an unhandled Ctrl-C


def register(run: _Finishable) -> None:
    global _installed
    with _lock:
        _runs.append(run)
        if not _installed:
            _install()
            _installed = True


def unregister(run: _Finishable) -> None:
    with _lock:
        if run in _runs:
            _runs.remove(run)


def _install() -> None:
    previous_hook = sys.excepthook
    previous_exit = sys.exit

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        global _exit_code, _exit_state, _keyboard_interrupt
        _keyboard_interrupt = issubclass(kind, KeyboardInterrupt)
        if _exit_state == "killed" or _keyboard_interrupt:
            _exit_code, _exit_state = 255, "killed"
        else:
            _exit_code, _exit_state = 1, "failed"
        previous_hook(kind, value, tb)

    def exit(code: Any = None) -> NoReturn:  # noqa: A001 - mirrors sys.exit
        global _exit_code
        if _exit_state == "killed":
            pass  # a signal handler's sys.exit(): the run was killed
        elif code is None or isinstance(code, int):
            _exit_code = code or 0
        else:
            _exit_code = 1  # sys.exit("message") exits with 1
        previous_exit(code)

    sys.excepthook = excepthook
    sys.exit = exit
    atexit.register(_at_exit)


def _die_of_sigint() -> None:
    """Ends the process by SIGINT after an unhandled KeyboardInterrupt.

    CPython does that itself (so that a shell sees the Ctrl-C), but forgets it
    when any thread runs exec() on a string during shutdown (namedtuple and
    dataclass creation do), which finishing runs at exit makes likely. This
    hook is registered at import, so it runs after the exit hooks registered
    later; it flushes the standard streams first.
    """
    if not _keyboard_interrupt:
        return
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError, AttributeError):
            pass
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGINT)


atexit.register(_die_of_sigint)


def note_exit(exit_code: int, state: str) -> None:
    """Records how the process is ending (a signal arrived, a stop was asked)."""
    global _exit_code, _exit_state
    _exit_code, _exit_state = exit_code, state


def finish_all(exit_code: int | None = None, state: str | None = None) -> None:
    """Finishes every open run, newest first (at exit, or before a fatal signal)."""
    with _lock:
        runs = list(reversed(_runs))
    for run in runs:
        run._finish_at_exit(
            _exit_code if exit_code is None else exit_code,
            _exit_state if state is None else state,
        )


def _at_exit() -> None:
    finish_all()
