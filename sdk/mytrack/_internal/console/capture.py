"""Console capture: what the process prints goes to the run as timestamped lines.

Two ways to listen, both passing every byte through unchanged:

* "fd" (``console="auto"``): file descriptors 1 and 2 are pointed (``dup2``)
  at a pipe, or at a pseudo-terminal where the original is a terminal, so
  that ``isatty()``, colours and progress bars behave exactly as before. A
  small tee process (descriptors.py, mytrack_common.tee) writes each chunk to the saved
  original descriptor at once, so a line printed just before the process
  dies still reaches the terminal, and sends back ready-made Output messages
  (`_put_lines`), so the program does no work per line. Child processes
  inherit the descriptors: their output is captured too. Used when
  ``sys.stdout``/``sys.stderr`` are the interpreter's own streams on fds 1
  and 2; otherwise (pytest capturing, Jupyter, an IDE) "auto" falls back to:
* "wrap" (``console="wrap"``): the ``write`` method of the ``sys.stdout`` and
  ``sys.stderr`` objects is replaced, on the objects themselves, by one that
  calls the original and queues a copy (wrap.py). Identity, ``isatty``,
  ``encoding``, ``fileno`` and ``flush`` are the objects' own; writes through
  ``.buffer`` and by child processes are not seen.

In "wrap" mode (and in "fd" mode when the tee process cannot run, see
descriptors.py) a flusher thread turns the queue into lines
(`lines.LineAssembler`) and hands them to the run as Output records, every
0.5 s or per 1,000 lines. Memory is
bounded: when the queue is full the writer waits (backpressure, never a
drop), and at most a few records wait in the sender's queue at once, so
100 MB of output streams through. mytrack's own threads never wait, so a
warning the sender logs can never deadlock it.

`stop` (called by ``Run._finish`` before the exit record) restores the
streams, drains what is in flight and sends the last lines, partial line
included. A forked child restores a "wrap" capture at once (its flusher does
not exist there); in "fd" mode the child keeps the descriptors, so its output
reaches the tee process, as a subprocess's does. One capture per process:
a second live run in the same process captures nothing.
"""

from __future__ import annotations

import codecs
import logging
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from mytrack._internal.console.descriptors import Redirect, fd_capture_possible
from mytrack._internal.console.wrap import STREAMS, StreamWrap, Write
from mytrack._internal.transport import encode
from mytrack_common.lines import Line, LineAssembler

if TYPE_CHECKING:
    from mytrack._internal.run.run import Run

logger = logging.getLogger("mytrack")

_INTERVAL = 0.5  # seconds between Output records
_BATCH_LINES = 1_000  # lines per Output record
_BATCH_CHARS = 1 << 20  # characters per Output record
_WAKE_CHUNKS = 2_000  # queued writes that wake the flusher early
_MAX_CHUNKS = 50_000  # queued writes past which writers wait
_MAX_FD_CHUNKS = 128  # queued reads (64 KiB each) past which the reader waits
_MAX_OUTSTANDING = 4  # Output records queued in the sender, not yet encoded
_MAX_WAIT = 5.0  # seconds a writer waits for room at most, per write
_GROUP_SECONDS = 0.01  # writes this close together are assembled as one...
_GROUP_CHARS = 1 << 16  # ...up to this size


class ConsoleCapture:
    """Captures stdout and stderr for one run; see the module docstring."""

    def __init__(self, emit: Callable[[encode.Control], None]) -> None:
        self._emit = emit
        self.mode = ""  # "fd" or "wrap" while capturing
        # (stream index, time, text or bytes): appended without a lock by any
        # thread (deque.append is atomic), popped by the flusher only.
        self._chunks: deque[tuple[int, float, str | bytes]] = deque()
        self._wake = threading.Event()
        self._room = threading.Condition()
        self._stopping = False
        self._assemblers = tuple(LineAssembler(name) for name in STREAMS)
        self._decoders = tuple(codecs.getincrementaldecoder("utf-8")("replace") for _ in STREAMS)
        self._outstanding = threading.Semaphore(_MAX_OUTSTANDING)
        self._lines: list[Line] = []
        self._redirect: Redirect | None = None
        self._wrap = StreamWrap()
        self._flusher = threading.Thread(target=self._flush_loop, name="mytrack-console", daemon=True)
        self.lines_sent = 0

    # -- lifecycle -------------------------------------------------------------------

    def start(self, mode: str, tee_server: str | None = None) -> str:
        """Starts capturing ("auto" or "wrap"); returns the way used ("" if none).

        ``tee_server``: the socket of the service's tee server (descriptors.py).
        """
        if mode == "auto" and fd_capture_possible():
            try:
                self._redirect = Redirect(self._put_bytes, self._put_lines, tee_server)
                self.mode = "fd"
            except OSError as exc:
                logger.debug("console: descriptor capture failed (%s); wrapping streams", exc)
        if not self.mode and self._wrap.install(self._make_write):
            self.mode = "wrap"
        if self.mode:
            self._flusher.start()
        return self.mode

    def stop(self, timeout: float = 5.0) -> None:
        """Restores the streams, sends every captured line (partial ones too)."""
        if not self.mode:
            return
        self._wrap.remove()
        if self._redirect is not None:
            self._redirect.stop(timeout=min(timeout, 2.0))
        self._stopping = True
        self._wake.set()
        with self._room:
            self._room.notify_all()
        self._flusher.join(timeout)
        self.mode = ""

    def write_uncaptured(self, text: str) -> None:
        """Writes a line to stderr as it was before the capture (not captured)."""
        line = text + "\n"
        stream: Any = sys.stderr
        if self._redirect is not None:
            _flush(stream)
            if self._redirect.write_original(2, line.encode("utf-8", "replace")):
                return
        if self._wrap.write_past(stream, line):
            _flush(stream)
            return
        if stream is not None:
            stream.write(line)
            _flush(stream)

    def settle(self) -> None:
        """The service answered (or never will): the tee is found now (descriptors.py)."""
        if self._redirect is not None:
            self._redirect.settle()

    def abandon_in_child(self) -> None:
        """After fork, in the child: stop feeding a flusher that does not exist here."""
        self._wrap.remove()
        self._stopping = True
        if self._redirect is not None:
            self._redirect.abandon_in_child()
        self.mode = ""

    # -- wrap mode -------------------------------------------------------------------

    def _make_write(self, index: int, original: Write) -> Write:
        append, now, chunks, full = self._chunks.append, time.time, self._chunks, self._full

        def write(text: str) -> int:
            written = original(text)  # first: a bad argument raises as before
            if isinstance(text, str):  # what a text stream takes; anything else is not ours
                append((index, now(), text))
            if len(chunks) > _WAKE_CHUNKS:
                full(_MAX_CHUNKS)
            return written

        return write

    # -- the queue -------------------------------------------------------------------

    def _put_bytes(self, index: int, data: bytes, timestamp: float) -> None:
        """From the descriptor reader: one chunk it read (and passed through)."""
        self._chunks.append((index, timestamp, data))
        if len(self._chunks) > _MAX_FD_CHUNKS // 4:
            self._full(_MAX_FD_CHUNKS, reader=True)

    def _put_lines(self, payload: bytes, count: int) -> None:
        """From the tee process: lines it assembled and encoded; sent as they are."""
        while not self._outstanding.acquire(timeout=0.5):  # bounded, like _emit_batch
            if self._stopping:
                self._emit(encode.output_payload_record(payload))
                self.lines_sent += count
                return
        self._emit(encode.output_payload_record(payload, self._outstanding.release))
        self.lines_sent += count

    def _full(self, limit: int, reader: bool = False) -> None:
        """Wakes the flusher; past ``limit`` queued writes, waits for it (backpressure).

        The descriptor reader waits (the pipe then fills and the writers
        wait in turn); mytrack's other threads never do: the sender's own
        warnings waiting for the sender could deadlock.
        """
        self._wake.set()
        if len(self._chunks) <= limit or self._stopping:
            return
        if not reader and threading.current_thread().name.startswith("mytrack-"):
            return
        # Bounded: a writer holding a lock the sender needs (a logging handler's)
        # must not wait forever; past the bound memory grows a little instead.
        deadline = time.monotonic() + _MAX_WAIT
        with self._room:
            while len(self._chunks) > limit // 2 and not self._stopping:
                self._wake.set()
                if time.monotonic() > deadline:
                    return
                self._room.wait(0.1)

    # -- the flusher ---------------------------------------------------------------------

    def _flush_loop(self) -> None:
        try:
            while True:
                self._wake.wait(_INTERVAL)
                self._wake.clear()
                stopping = self._stopping
                self._drain()
                if stopping:
                    now = time.time()
                    for assembler in self._assemblers:
                        assembler.finish(now, self._lines)
                    self._send(final=True)
                    return
                self._send(final=False)
        except Exception:  # noqa: BLE001 - capture must never take the program down
            logger.exception("mytrack console capture failed; output is no longer captured")
            # Nobody drains the queue any more: writers must neither queue nor wait.
            self._stopping = True
            self._wrap.remove()
            if self._redirect is not None:
                self._redirect.passthrough_only()
            self._chunks.clear()

    def _drain(self) -> None:
        """Feeds what is queued to the assemblers, sending full batches on the way.

        Consecutive writes to one stream within 10 ms are joined first: one
        assembler call per run of writes, not per write (print() makes two),
        at the cost of lines carrying the time of the run's last write.
        """
        popleft = self._chunks.popleft
        group: list[str | bytes] = []
        group_index, group_time, group_size = -1, 0.0, 0
        for _ in range(len(self._chunks)):
            index, timestamp, data = popleft()
            if group and (index != group_index or timestamp - group_time > _GROUP_SECONDS
                          or group_size > _GROUP_CHARS or type(data) is not type(group[0])):
                self._feed(group_index, group, group_time)
                group, group_size = [], 0
            if not group:
                group_index = index
            group.append(data)
            group_time = timestamp
            group_size += len(data)
        if group:
            self._feed(group_index, group, group_time)
        with self._room:
            self._room.notify_all()

    def _feed(self, index: int, group: list[str | bytes], timestamp: float) -> None:
        if isinstance(group[0], str):
            text = "".join(group)  # type: ignore[arg-type]
        else:
            text = self._decoders[index].decode(b"".join(group))  # type: ignore[arg-type]
        self._assemblers[index].feed(text, timestamp, self._lines)
        if len(self._lines) >= _BATCH_LINES:
            self._send(final=False)

    def _send(self, final: bool) -> None:
        """Hands complete lines to the run, in records of at most 1,000 lines."""
        lines, self._lines = self._lines, []
        start = 0
        while start < len(lines):
            end, size = start, 0
            while end < len(lines) and end - start < _BATCH_LINES and size < _BATCH_CHARS:
                size += len(lines[end][2])
                end += 1
            self._emit_batch(lines[start:end], final)
            start = end

    def _emit_batch(self, batch: list[Line], final: bool) -> None:
        # Bound what waits in the sender's queue: its bound counts entries, not bytes.
        while not final and not self._outstanding.acquire(timeout=0.5):
            if self._stopping:
                final = True
        try:
            control = encode.output_record(batch)
        except ValueError:  # text the protocol refuses (lone surrogates): replaced
            control = encode.output_record([(t, s, _clean(x)) for t, s, x in batch])
        if not final:
            build = control.build

            def built(seq: int) -> bytes:
                self._outstanding.release()
                return build(seq)

            control.build = built
        self._emit(control)
        self.lines_sent += len(batch)


def _flush(stream: Any) -> None:
    try:
        stream.flush()
    except (AttributeError, OSError, ValueError):
        pass


def _clean(text: str) -> str:
    return text.encode("utf-8", "replace").decode("utf-8")


# -- one capture per process, owned by a run --------------------------------------------


class _Held:
    """The capture's emit while its run is being created: records wait for the sender.

    `begin` starts the capture before the service is reached, so that the tee
    process starts while a cold service does (64 ranks at once: both are CPU
    that would otherwise queue one after the other).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[encode.Control] | None = []
        self._target: Callable[[encode.Control], None] | None = None

    def __call__(self, record: encode.Control) -> None:
        with self._lock:
            if self._target is None:
                if self._records is not None:
                    self._records.append(record)
                return
        self._target(record)

    def connect(self, target: Callable[[encode.Control], None]) -> None:
        with self._lock:  # in order: what was held goes before anything new
            for record in self._records or ():
                target(record)
            self._records, self._target = None, target

    def drop(self) -> None:
        with self._lock:
            self._records = None


_lock = threading.Lock()
_active: tuple[Callable[[], Any], ConsoleCapture] | None = None
_STARTING = object()  # the owner of a capture whose run is being created


def begin(mode: str | None, tee_server: str | None = None) -> ConsoleCapture | None:
    """Starts capturing for a run about to be created (`attach` hands it over).

    None when ``mode`` is "off" or another live run of this process captures.
    ``tee_server``: where the run's service (maybe still starting) serves tee
    processes; None offline.
    """
    global _active
    mode = mode or "auto"
    if mode == "off":
        return None
    with _lock:
        if _active is not None and _active[0]() is not None:
            logger.debug("console: already captured for another run; this one captures nothing")
            return None
        capture = ConsoleCapture(_Held())
        if not capture.start(mode, tee_server):
            return None
        _active = (lambda: _STARTING, capture)
        return capture


def attach(run: Run, capture: ConsoleCapture | None) -> None:
    """Gives ``run`` the capture `begin` started; what it holds goes to the run's sender."""
    global _active
    sender = run._sender
    if capture is None:
        return
    capture.settle()
    if sender is None:
        return
    with _lock:
        if _active is not None and _active[1] is capture:
            _active = (weakref.ref(run), capture)
    _held(capture).connect(sender.enqueue)


def abandon(capture: ConsoleCapture | None) -> None:
    """The run was not created: the streams are restored, what was captured is dropped."""
    global _active
    if capture is None:
        return
    with _lock:
        if _active is not None and _active[1] is capture:
            _active = None
    _held(capture).drop()
    capture.stop(timeout=2.0)


def _held(capture: ConsoleCapture) -> _Held:
    """The emit `begin` gave the capture."""
    return cast(_Held, capture._emit)


def write_uncaptured(capture: ConsoleCapture | None, text: str) -> None:
    """Writes ``text`` to the program's stderr, past the capture: mytrack's own line."""
    if capture is not None:
        capture.write_uncaptured(text)
        return
    print(text, file=sys.stderr, flush=True)


def detach(run: Run, timeout: float = 5.0) -> None:
    """Stops the capture of ``run``, if it has one, sending its last lines."""
    global _active
    with _lock:
        if _active is None or _active[0]() is not run:
            return
        capture = _active[1]
        _active = None
    capture.stop(timeout)


def _after_fork_in_child() -> None:
    global _active
    if _active is not None:
        _active[1].abandon_in_child()
        _active = None


os.register_at_fork(after_in_child=_after_fork_in_child)
