"""What a tee does: forward each chunk at once, assemble lines, send them back in frames."""

from __future__ import annotations

import codecs
import os
import select
import time

from mytrack_common.lines import Line, LineAssembler
from mytrack_common.tee import frames

_READ_BYTES = 65536
_INTERVAL = 0.5  # seconds between frames of lines
_BATCH_LINES = 1_000  # lines per frame
_BATCH_CHARS = 1 << 20  # characters per frame


class Tee:
    """Serves the pipes of one program's fds 1 and 2 until every writer closed them.

    ``out_r``/``err_r`` are the read ends of the pipes (or pseudo-terminals)
    behind the program's fds 1 and 2, ``orig_out``/``orig_err`` where the
    output goes (the terminal or file they were), ``copy_w`` the pipe the
    lines go back on, ``ctl_r`` where the program asks for a drain (or closes,
    when it is gone).
    """

    def __init__(self, out_r: int, err_r: int, orig_out: int, orig_err: int, copy_w: int,
                 ctl_r: int) -> None:
        self._reads = {out_r: (0, orig_out), err_r: (1, orig_err)}  # read end -> (stream, original)
        self._copy_w = copy_w
        self._ctl_r = ctl_r
        self._assemblers = (LineAssembler("stdout"), LineAssembler("stderr"))
        self._decoders = [codecs.getincrementaldecoder("utf-8")("replace") for _ in range(2)]
        self._found: list[Line] = []
        self._copying = True  # False once the program asked for its last lines, or is gone
        self._sent_at = time.monotonic()
        self._poller = select.poll()

    def run(self) -> None:
        """Forwards and captures until every writer of both pipes has closed them."""
        for fd in self._reads:
            os.set_blocking(fd, False)
        for fd in (*self._reads, self._ctl_r):
            self._poller.register(fd, select.POLLIN)
        while self._reads:
            wait = None
            if self._found:
                wait = max(0, int((self._sent_at + _INTERVAL - time.monotonic()) * 1000))
            for fd, _ in self._poller.poll(wait):
                if fd == self._ctl_r:
                    self._drain()
                elif fd in self._reads:
                    self._pump(fd)
            if self._found and (len(self._found) >= _BATCH_LINES
                                or time.monotonic() - self._sent_at >= _INTERVAL):
                self._send()

    def _drain(self) -> None:
        """The program stops capturing: what was written so far, partial lines, then END.

        From then on the tee only forwards (child processes may still write).
        An empty read means the program is gone without asking: nothing more
        is sent.
        """
        request = os.read(self._ctl_r, 64)
        self._poller.unregister(self._ctl_r)
        if request and self._copying:
            for fd in list(self._reads):
                while self._pump(fd):
                    pass
            now = time.time()
            for assembler in self._assemblers:
                assembler.finish(now, self._found)
            self._send()
            if self._copying:
                _write_all(self._copy_w, frames.frame(frames.END, 0))
        self._copying = False
        self._found = []
        os.close(self._copy_w)

    def _pump(self, fd: int) -> int:
        """Reads one chunk, forwards it and assembles its lines; its size (0: none)."""
        index, original = self._reads[fd]
        try:
            data = os.read(fd, _READ_BYTES)
        except BlockingIOError:
            return 0
        except OSError:  # EIO: a pseudo-terminal whose writers all closed
            data = b""
        if not data:
            del self._reads[fd]
            self._poller.unregister(fd)
            return 0
        _write_all(original, data)
        if self._copying:
            text = self._decoders[index].decode(data)
            self._assemblers[index].feed(text, time.time(), self._found)
        return len(data)

    def _send(self) -> None:
        """Sends the lines found so far, in frames of at most 1,000 lines."""
        self._sent_at = time.monotonic()
        found = self._found
        start = 0
        while start < len(found) and self._copying:
            end, size = start, 0
            while end < len(found) and end - start < _BATCH_LINES and size < _BATCH_CHARS:
                size += len(found[end][2])
                end += 1
            payload = frames.encode_lines(found[start:end])
            if not _write_all(self._copy_w, frames.frame(frames.OUTPUT, end - start, payload)):
                self._copying = False  # the training process is gone: only forward
            start = end
        self._found = []


def _write_all(fd: int, data: bytes) -> bool:
    """Writes everything to ``fd``, waiting while it is full; False if it is broken."""
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view):]
        except BlockingIOError:  # a non-blocking original (the program set it so)
            select.select([], [fd], [], 1.0)
        except OSError:
            return False
    return True
