"""Streamed reads (ScanHistory, ReadFile, ReadBlob) under deadlines, a few at a time.

A stream is produced piece by piece (a page of rows, a chunk of a file) in the
gRPC thread that serves it. Three bounds keep one stream from holding a worker
or stalling anyone else:

* the client's deadline and cancellation, checked between items (``alive``: gRPC's
  ``context.is_active()``): a client that gave up (its deadline passed, it
  cancelled, it died) stops the work at the next row, not when the store runs
  out of rows (a key filter that matches nothing in a million rows sends no
  page for a long time);
* a time budget for producing one piece (``MYTRACK_QUERY_TIMEOUT``, as for other
  queries): a piece that takes longer stops the stream with an error that says
  so. Waiting for a slow client to take a piece is not counted: it holds no
  lock and no CPU, and gRPC's own deadline bounds it;
* a gate: at most `limits.QUERY_THREADS` pieces are produced at once across all
  streams, so many large scans share the CPU with ingestion the way queries do
  (limits.py) instead of taking one share of the GIL each.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from mytrack_service.query import limits

T = TypeVar("T")

_GATE = threading.BoundedSemaphore(limits.QUERY_THREADS)


class StreamStopped(Exception):
    """The client is gone (deadline passed, cancelled): the stream ends quietly."""


class Pacer:
    """Hands out a stream's items under the bounds above; `sent` ends a piece.

    Args:
        alive: whether the client still wants the stream.
        what: the stream, for messages ("the history scan of e/p/r").
        timeout: the budget of one piece in seconds (default `limits.query_timeout()`).
    """

    def __init__(self, alive: Callable[[], bool], what: str, timeout: float | None = None) -> None:
        self._alive = alive
        self._what = what
        self._timeout = limits.query_timeout() if timeout is None else timeout
        self._deadline: limits.Deadline | None = None  # of the piece being produced
        self._held = False

    def items(self, source: Iterable[T]) -> Iterator[T]:
        """``source``'s items; StreamStopped or QueryLimitError when a bound is reached."""
        iterator = iter(source)
        while True:
            self._begin()
            try:
                item = next(iterator)
            except StopIteration:
                self.sent()
                return
            self._check()
            yield item

    def sent(self) -> None:
        """A piece is ready for the client: the gate is let go while the client takes it."""
        self._deadline = None
        if self._held:
            self._held = False
            _GATE.release()

    def _begin(self) -> None:
        if self._deadline is None:
            self._deadline = limits.Deadline(self._timeout, f"{self._what} (one page)")
        if not self._held:
            if not _GATE.acquire(timeout=max(0.0, self._deadline.at - time.monotonic())):
                raise limits.QueryLimitError(
                    f"{self._what}: the service is busy with other reads; retry"
                )
            self._held = True
        self._check()

    def _check(self) -> None:
        if not self._alive():
            raise StreamStopped
        assert self._deadline is not None
        self._deadline.check()
