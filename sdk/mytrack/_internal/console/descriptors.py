"""Descriptor-level capture of fds 1 and 2, for `console.ConsoleCapture`.

Each fd is pointed (``dup2``) at the write end of a pipe, or of a
pseudo-terminal when the original is a terminal: ``isatty()`` stays true, the
window size is copied, and output processing is off on our side (the real
terminal still does its own), so programs that check for a terminal (colours,
progress bars) and the bytes that reach the screen are unchanged.

The reading end is served by a tee process (mytrack_common.tee): it
forwards every chunk to the original stdout/stderr at once, so the program's
last words reach the terminal even when it dies right after writing them,
and sends a copy back in batches, read here by one thread. The reader thread
gets it, so that ``init()`` does not wait: from the service's tee server when
``init()`` found no service running (the descriptors are passed over its
socket; while the service starts, output waits in the pipes), else by
starting one. Where neither
works (no usable ``sys.executable``) or the tee process dies, a thread of
ours reads the pipes and forwards instead.

Stopping, in an order that loses nothing: Python's buffers are flushed, the
originals are put back on fds 1 and 2, the reader drains what is already in
the pipes (and answers that it did), and only then are our write ends closed
(closing them first could let the kernel drop unread pseudo-terminal data).
Child processes may still hold the write ends; their output is then passed
through (not captured) until they close them.
"""

from __future__ import annotations

import errno
import io
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from mytrack_common.tee import frames, launch

_READ_BYTES = 65536
_SERVER_WAIT = 60.0  # seconds the reader waits at most for a starting service's tee server

# (stream index, bytes, time.time() when read): raw output, from our own reader
Put = Callable[[int, bytes, float], None]
# (serialized Output message, its line count): lines from the tee process
PutLines = Callable[[bytes, int], None]


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
    """fds 1 and 2 redirected through the tee process; see the module docstring."""

    def __init__(self, put: Put, put_lines: PutLines, tee_server: str | None = None) -> None:
        self._put = put
        self._put_lines = put_lines
        self._saved: list[tuple[int, int]] = []  # (fd 1 or 2, dup of the original)
        self._write_ends: list[int] = []
        self._reads: dict[int, tuple[int, int]] = {}  # read end -> (stream index, original)
        self._wake_r, self._wake_w = os.pipe()  # stop request, for our own reader
        self._capturing = True
        self._restored = False  # the originals are back on fds 1 and 2
        self._drained = threading.Event()
        self._tee_server = tee_server  # the service's tee socket, if it may have one
        self._settled = threading.Event()  # the service answered, or will not
        self._teeing = False  # a tee process serves the pipes
        self._process: subprocess.Popen[bytes] | None = None  # the tee, if we started it
        self.helper_pid = 0
        self._copy_r = self._ctl_w = -1
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
        # The tee is found by the reader thread: init() goes on meanwhile
        # (with a service that is starting, it waits for the service's tee
        # server); what is written before the tee runs waits in the pipes.
        self._helper_known = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="mytrack-console-reader", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        try:
            self._start_helper()
        finally:
            self._helper_known.set()
        if self._teeing:
            self._copy_loop()
        else:
            self._loop()

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

    def _start_helper(self) -> None:
        """Gets a tee process; without one, our own thread reads (see _loop)."""
        copy_r, copy_w = os.pipe()
        ctl_r, ctl_w = os.pipe()
        (out_r, (_, out)), (err_r, (_, err)) = self._reads.items()
        fds = (out_r, err_r, out, err, copy_w, ctl_r)
        try:
            pid = self._from_server(fds) or self._spawn(fds)
        finally:
            self._close_all([copy_w, ctl_r])  # the tee's now
        if not pid:
            self._close_all([copy_r, ctl_w])
            return
        self._copy_r, self._ctl_w, self.helper_pid, self._teeing = copy_r, ctl_w, pid, True

    def settle(self) -> None:
        """The service answered (or never will): no more waiting for its tee server."""
        self._settled.set()

    def _from_server(self, fds: tuple[int, ...]) -> int | None:
        """A tee process forked by the service's tee server; None if there is none."""
        path = self._tee_server
        if not path:
            return None
        deadline = time.monotonic() + _SERVER_WAIT
        while not os.path.exists(path):  # the service is starting
            if self._settled.wait(0.02) or time.monotonic() > deadline:
                if not os.path.exists(path):
                    return None
        return launch.hand_over(path, fds)

    def _spawn(self, fds: tuple[int, ...]) -> int | None:
        """Starts a tee process of our own; its pid, or None."""
        self._process = launch.spawn(fds)
        return self._process.pid if self._process is not None else None

    def stop(self, timeout: float) -> None:
        """Puts the originals back and waits until what was in flight is captured."""
        _flush_python_streams()
        self._restore()
        self._settled.set()
        self._helper_known.wait(timeout)
        request = self._ctl_w if self._teeing else self._wake_w
        try:
            if request >= 0:
                os.write(request, b"x")
        except OSError:
            pass
        self._drained.wait(timeout)
        self._close_all(self._write_ends)
        self._write_ends = []
        if self._process is not None:
            try:  # at once when no child process holds the pipes; else it goes on alone
                self._process.wait(0.2)
            except subprocess.TimeoutExpired:
                pass

    def _restore(self) -> None:
        if self._restored:
            return
        self._restored = True
        for fd, original in self._saved:
            try:
                os.dup2(original, fd)
            except OSError:
                pass

    def write_original(self, fd: int, data: bytes) -> bool:
        """Writes to what ``fd`` (1 or 2) was before the capture; False if not captured."""
        for captured, original in self._saved:
            if captured == fd and not self._restored:
                _write_all(original, data)
                return True
        return False

    def passthrough_only(self) -> None:
        """Keeps passing output through, without capturing it any more."""
        self._capturing = False

    def abandon_in_child(self) -> None:
        """After fork, in the child: fds 1 and 2 stay (still read); our copies close."""
        self._close_all([*self._reads, *self._write_ends, self._wake_r, self._wake_w,
                         self._copy_r, self._ctl_w, *(s for _, s in self._saved)])
        self._reads, self._write_ends, self._saved = {}, [], []
        self._process, self._teeing = None, False

    # -- with the tee process ------------------------------------------------------------

    def _copy_loop(self) -> None:
        """Reads the helper's frames; if it dies before the end, our thread takes over."""
        buffer = bytearray()
        ended = False
        head = frames.FRAME.size
        try:
            while not ended:
                data = os.read(self._copy_r, 1 << 20)
                if not data:
                    break
                buffer += data
                while len(buffer) >= head and not ended:
                    kind, count, size = frames.FRAME.unpack_from(buffer)
                    if len(buffer) < head + size:
                        break
                    if kind == frames.END:
                        ended = True
                    elif kind == frames.OUTPUT and self._capturing:
                        self._deliver_lines(bytes(buffer[head: head + size]), count)
                    del buffer[: head + size]
        except OSError:
            pass
        finally:
            if not ended:  # the tee died: stop() must not write to a closed fd
                self._teeing = False
            self._close_all([self._copy_r, self._ctl_w])
            self._copy_r = self._ctl_w = -1
        if not ended and not self._restored:  # serve the pipes ourselves
            self._loop()
            return
        if not ended:
            # The helper died and stop() has begun: what was written after the
            # death is still in the pipes, and nobody else will read it.
            reads = dict(self._reads)
            for fd in list(reads):
                while fd in reads and self._pump(fd, reads):
                    pass
        self._drained.set()
        self._close_all([*self._reads, self._wake_r, self._wake_w, *(s for _, s in self._saved)])

    def _deliver_lines(self, payload: bytes, count: int) -> None:
        try:
            self._put_lines(payload, count)
        except Exception:  # noqa: BLE001 - the pass-through must go on whatever happens
            self._capturing = False

    def _deliver(self, index: int, data: bytes, timestamp: float) -> None:
        try:
            self._put(index, data, timestamp)
        except Exception:  # noqa: BLE001 - the pass-through must go on whatever happens
            self._capturing = False

    # -- without it: our own reader ---------------------------------------------------

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
            self._deliver(index, data, time.time())
        return len(data)

    @staticmethod
    def _close_all(fds: list[int]) -> None:
        for fd in fds:
            if fd < 0:
                continue
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
