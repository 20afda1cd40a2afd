"""SIGINT/SIGTERM in the training process: the run ends as killed, data flushed.

Installed once, from the main thread, at the first ``init()``. Each handler
chains to what was installed before it:

* a handler of the user's: we note that the process is being killed and call
  it; it decides (a graceful-preemption handler may let training go on, and
  the run then ends as killed when the process exits);
* Python's default SIGINT handler: it raises KeyboardInterrupt, which ends the
  run as killed through the ``with`` block or the exit hook;
* the default SIGTERM action (terminate, which skips atexit): we finish every
  run as killed first, then let the signal terminate the process;
* SIG_IGN: the signal is ignored, as before.
"""

from __future__ import annotations

import _thread
import os
import signal
import threading
from types import FrameType
from typing import Any

from mytrack._internal.lifecycle import exithooks

_installed = False
_previous: dict[int, Any] = {}
_stop_pending = False
_saved_mask: list[Any] = []  # the signal mask fork() restores afterwards


def install() -> None:
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            _previous[signum] = signal.getsignal(signum)
            signal.signal(signum, _handle)
        except (ValueError, OSError):  # not settable here (embedded interpreters)
            continue
    _installed = True
    os.register_at_fork(before=_block, after_in_parent=_unblock, after_in_child=_child)


_SIGNALS = {signal.SIGINT, signal.SIGTERM}


def _block() -> None:
    """Before fork(): hold SIGINT/SIGTERM in the forking thread (any thread).

    CPython drops a signal that reaches a child before its after-fork reset;
    with our Python-level SIGTERM handler inherited, a worker terminated while
    starting would live on (and multiprocessing's Pool.terminate() hang).
    Blocked, such a signal waits for `_child` to put the child's handlers back.
    """
    _saved_mask[:] = [signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)]


def _unblock() -> None:
    if _saved_mask:
        signal.pthread_sigmask(signal.SIG_SETMASK, _saved_mask.pop())


def _child() -> None:
    """In the child: the handlers it would have had without mytrack, then the signals."""
    for signum, previous in _previous.items():
        if signal.getsignal(signum) is _handle:  # the forking thread is the child's main thread
            signal.signal(signum, previous if previous is not None else signal.SIG_DFL)
    _unblock()


def request_stop() -> None:
    """Interrupts the main thread with KeyboardInterrupt, as Ctrl-C would.

    Used when the run is stopped from the CLI or UI. A real SIGINT (handled
    by `_handle`, whatever SIGINT's previous disposition) also wakes a main
    thread blocked in a C call such as sleep(); without our handler installed
    (init() ran outside the main thread) the interrupt waits for bytecode.
    """
    global _stop_pending
    exithooks.note_exit(255, "killed")
    if _installed and signal.getsignal(signal.SIGINT) is _handle:
        _stop_pending = True
        os.kill(os.getpid(), signal.SIGINT)
    else:
        _thread.interrupt_main()


def _handle(signum: int, frame: FrameType | None) -> None:
    global _stop_pending
    if signum == signal.SIGINT and _stop_pending:
        _stop_pending = False
        raise KeyboardInterrupt
    previous = _previous.get(signum, signal.SIG_DFL)
    if previous is signal.SIG_IGN:
        return
    exithooks.note_exit(128 + signum, "killed")
    if callable(previous):
        previous(signum, frame)
        return
    # SIG_DFL (or None: set outside Python): the process dies without atexit.
    exithooks.finish_all(128 + signum, "killed")
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)
