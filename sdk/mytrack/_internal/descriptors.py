"""Descriptor-level capture of fds 1 and 2, for `console.ConsoleCapture`.

Each fd is pointed (``dup2``) at the write end of a pipe, or of a
pseudo-terminal when the original is a terminal: ``isatty()`` stays true, the
window size is copied, and output processing is off on our side (the real
terminal still does its own), so programs that check for a terminal (colours,
progress bars) and the bytes that reach the screen are unchanged. One reader
thread writes every chunk to the saved original fd first, then hands a copy
to the capture.

Stopping, in an order that loses nothing: Python's buffers are flushed, the
originals are put back on fds 1 and 2, the reader drains what is already in
the pipes, and only then are our write ends closed (closing them first could
let the kernel drop unread pseudo-terminal data). Child processes may still
hold the write ends; the reader then keeps passing their output through (not
capturing it) until they close them.
"""

from __future__ import annotations

import errno
import io
import os
import select
import sys
import threading
from collections.abc import Callable
from typing import Any

_READ_BYTES = 65536


def fd_capture_possible() -> bool:
    """Whether fds 1 and 2 are the interpreter's own stdout and stderr, usable here."""
    if os.name != "posix":
        return False
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream: Any = getattr(sys, name, None)
        original: Any = getattr(sys, f"__{name}__", None)
        if stream is None or stream is not original:
            return False  # replaced: pytest capturing, Jupyter, an IDE console
        try:
            if stream.fileno() != fd:
                return False
            os.fstat(fd)
        except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
            return False
    return True


class Redirect:
    """fds 1 and 2 redirected through a reader thread; see the module docstring."""

    def __init__(self, put: Callable[[int, bytes], None]) -> None:
        self._put = put
        self._saved: list[tuple[int, int]] = []  # (fd 1 or 2, dup of the original)
        self._write_ends: list[int] = []
        self._reads: dict[int, tuple[int, int]] = {}  # read end -> (stream index, original)
        self._wake_r, self._wake_w = os.pipe()
        self._capturing = True
        self._restored = False  # the originals are back on fds 1 and 2
        self._drained = threading.Event()
        try:
            for index, fd in enumerate((1, 2)):
                self._prepare(index, fd)
        except OSError:
            self._close_all([*self._reads, *self._write_ends, self._wake_r, self._wake_w,
                             *(s for _, s in self._saved)])
            raise
        _flush_python_streams()
        for (fd, _), write_end in zip(self._saved, self._write_ends, strict=True):
            os.dup2(write_end, fd)  # inheritable: child processes write here too
        self._thread = threading.Thread(target=self._loop, name="mytrack-console-reader", daemon=True)
        self._thread.start()

    def _prepare(self, index: int, fd: int) -> None:
        original = os.dup(fd)
        self._saved.append((fd, original))
        if os.isatty(fd):
            read_end, write_end = os.openpty()
            _like_terminal(write_end, fd)
        else:
            read_end, write_end = os.pipe()
        self._write_ends.append(write_end)
        os.set_blocking(read_end, False)
        self._reads[read_end] = (index, original)

    def stop(self, timeout: float) -> None:
        """Puts the originals back and waits until what was in flight is captured."""
        _flush_python_streams()
        self._restore()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        self._drained.wait(timeout)
        self._close_all(self._write_ends)
        self._write_ends = []

    def _restore(self) -> None:
        if self._restored:
            return
        self._restored = True
        for fd, original in self._saved:
            try:
                os.dup2(original, fd)
            except OSError:
                pass

    def passthrough_only(self) -> None:
        """Keeps passing output through, without capturing it any more."""
        self._capturing = False

    def abandon_in_child(self) -> None:
        """After fork, in the child: fds 1 and 2 stay (the parent reads them); ours close."""
        self._close_all([*self._reads, *self._write_ends, self._wake_r, self._wake_w,
                         *(s for _, s in self._saved)])
        self._reads, self._write_ends, self._saved = {}, [], []

    def _loop(self) -> None:
        reads = dict(self._reads)
        try:
            poller = select.poll()
            for fd in (*reads, self._wake_r):
                poller.register(fd, select.POLLIN)
            while reads:
                ready = {fd for fd, _ in poller.poll()}
                if self._wake_r in ready:
                    os.read(self._wake_r, 64)
                    for fd in list(reads):
                        while self._pump(fd, reads):
                            pass
                    self._capturing = False
                    self._drained.set()
                for fd in ready & set(reads):
                    self._pump(fd, reads)
                for fd in ready - set(reads) - {self._wake_r}:
                    poller.unregister(fd)  # at its end: poll would report it forever
        finally:
            self._restore()  # if the reader failed: nobody would read the pipes
            self._drained.set()
            self._close_all([*self._reads, self._wake_r, self._wake_w,
                             *(s for _, s in self._saved)])

    def _pump(self, fd: int, reads: dict[int, tuple[int, int]]) -> int:
        """Reads one chunk, passes it through and captures it; returns its size (0: none)."""
        index, original = reads[fd]
        try:
            data = os.read(fd, _READ_BYTES)
        except BlockingIOError:
            return 0
        except OSError as exc:  # EIO: a pseudo-terminal whose every writer closed
            if exc.errno != errno.EIO:
                raise
            data = b""
        if not data:
            del reads[fd]
            return 0
        _write_all(original, data)
        if self._capturing:
            try:
                self._put(index, data)
            except Exception:  # noqa: BLE001 - the pass-through must go on whatever happens
                self._capturing = False
        return len(data)

    @staticmethod
    def _close_all(fds: list[int]) -> None:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def _like_terminal(pty_fd: int, terminal_fd: int) -> None:
    """Gives the pseudo-terminal the real one's settings and size, without output processing."""
    import fcntl
    import termios

    try:
        attrs = termios.tcgetattr(terminal_fd)
    except termios.error:
        attrs = termios.tcgetattr(pty_fd)
    attrs[1] &= ~termios.OPOST  # the real terminal turns \n into \r\n, not us
    termios.tcsetattr(pty_fd, termios.TCSANOW, attrs)
    try:
        size = fcntl.ioctl(terminal_fd, termios.TIOCGWINSZ, b"\0" * 8)
        fcntl.ioctl(pty_fd, termios.TIOCSWINSZ, size)
    except OSError:
        pass


def _write_all(fd: int, data: bytes) -> None:
    """Writes everything to the original fd; a broken one (closed pipe) is skipped."""
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except BlockingIOError:  # the original is non-blocking: wait until writable
            select.select([], [fd], [], 1.0)
            continue
        except OSError:
            return
        view = view[written:]


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass
