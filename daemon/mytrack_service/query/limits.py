"""Limits on read queries, so that no query can stall ingestion.

Queries (`Api.runs` through gRPC's ListRuns, the UI's runs table) are
CPU-bound Python: run in the threads that acknowledge writes, a few heavy ones
take the GIL and the ack latency of every client with them. So they run apart,
in one small pool of their own (`QueryPool`: a few threads, a bounded queue),
each with a deadline it checks while it works (`Deadline`), and their input is
bounded in size (filter length, depth and node count, regex pattern length)
before any work is done. A query over a limit gets a clear error, never a
frozen service.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

T = TypeVar("T")

MAX_FILTER_BYTES = 64 * 1024  # the JSON text of one filter
MAX_FILTER_DEPTH = 32  # nested $and/$or/$not levels
MAX_FILTER_NODES = 2_000  # keys, operands and list items, all together
MAX_PATTERN_CHARS = 1_000  # one $regex / ~ pattern
MAX_RUNS_RETURNED = 100_000  # runs in one ListRuns answer (the UI pages by 1,000)
# How long one query may work; MYTRACK_QUERY_TIMEOUT overrides it (seconds).
DEFAULT_TIMEOUT = 10.0
QUERY_THREADS = 2  # of the 2+ cores a service has, queries get at most this many
QUERY_QUEUE = 64  # queries waiting for a thread; more are refused as busy


class QueryLimitError(Exception):
    """A query over a size or time limit (the message says which, for the user)."""


def query_timeout() -> float:
    try:
        value = float(os.environ.get("MYTRACK_QUERY_TIMEOUT") or DEFAULT_TIMEOUT)
    except ValueError:
        return DEFAULT_TIMEOUT
    return value if value > 0 else DEFAULT_TIMEOUT


class Deadline:
    """When a query must be done; `check` raises once it is past."""

    def __init__(self, seconds: float, what: str = "the query") -> None:
        self.seconds = seconds
        self.what = what
        self.at = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise QueryLimitError(
                f"{self.what} took longer than {self.seconds:g} s and was stopped; "
                "narrow it (a project, a simpler filter) or raise MYTRACK_QUERY_TIMEOUT"
            )


class QueryPool:
    """A few threads for queries, apart from those that receive and acknowledge writes."""

    def __init__(self, threads: int = QUERY_THREADS, queue: int = QUERY_QUEUE) -> None:
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="mytrack-query")
        self._slots = threading.BoundedSemaphore(threads + queue)

    def run(self, fn: Callable[[Deadline], T], what: str, timeout: float | None = None) -> T:
        """``fn(deadline)`` on a query thread; its result, or QueryLimitError.

        ``fn`` checks the deadline as it works, so a query over it ends soon after
        (the caller stops waiting at once either way).
        """
        seconds = query_timeout() if timeout is None else timeout
        future = self._submit(fn, Deadline(seconds, what))
        try:
            # A little past the deadline: the query's own check reports it first.
            return future.result(timeout=seconds + 1.0)
        except FutureTimeout:
            future.cancel()
            raise QueryLimitError(
                f"{what} took longer than {seconds:g} s; narrow it or raise MYTRACK_QUERY_TIMEOUT"
            ) from None

    def start(self, fn: Callable[[Deadline], object], what: str) -> bool:
        """Starts ``fn(deadline)`` on a query thread without waiting for it: work
        done ahead of a request. False (nothing started) when the pool is full."""
        try:
            self._submit(fn, Deadline(query_timeout(), what))
        except QueryLimitError:
            return False
        return True

    def _submit(self, fn: Callable[[Deadline], T], deadline: Deadline) -> Future[T]:
        """``fn(deadline)`` on a query thread, holding a slot until it is done; QueryLimitError
        when every slot is taken or the pool is stopping."""
        if not self._slots.acquire(blocking=False):
            raise QueryLimitError(f"the service is answering {QUERY_QUEUE} queries already; retry")
        try:
            future = self._executor.submit(fn, deadline)
        except RuntimeError:  # shutting down
            self._slots.release()
            raise QueryLimitError("the service is stopping") from None
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


# One pool per service process: the gRPC handlers and the web UI share it, so
# together they never take more than QUERY_THREADS threads of query work.
POOL = QueryPool()
