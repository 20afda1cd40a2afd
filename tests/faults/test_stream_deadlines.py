"""Streamed reads have deadlines: a scan stops when its client gives up or a page takes
past its budget, only a few pages are produced at once, and large scans never stall a
concurrent log()/finish() or another query.

The pacing (query/streams.py) is tested on its own with a source that counts what
it was asked for; the service-level test runs large scans of a real service while
another client logs, finishes and queries, each under a deadline.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mytrack
from mytrack_service.query import limits, streams

QUIET = mytrack.Settings(quiet=True)


def _counting(n: int, taken: list[int], delay: float = 0.0) -> Iterator[int]:
    for i in range(n):
        if delay:
            time.sleep(delay)  # a slow store, one row at a time
        taken.append(i)
        yield i


def test_a_stream_stops_at_the_next_row_once_its_client_is_gone() -> None:
    """When the client's deadline passes or it cancels (is_active() turns False), the
    producer stops at the next row instead of reading the rest of the source."""
    taken: list[int] = []
    active = [True]
    pacer = streams.Pacer(lambda: active[0], "the test scan")
    got: list[int] = []
    with pytest.raises(streams.StreamStopped):
        for item in pacer.items(_counting(1_000_000, taken)):
            got.append(item)
            if item == 10:
                active[0] = False  # the client gives up mid-page, before any page was sent
    pacer.sent()
    assert got == list(range(11)) and len(taken) <= 12


def test_a_page_over_its_budget_stops_the_stream_with_a_clear_error() -> None:
    """Producing one page may take MYTRACK_QUERY_TIMEOUT at most; the error says what to do."""
    pacer = streams.Pacer(lambda: True, "the history scan of e/p/r", timeout=0.2)
    with pytest.raises(limits.QueryLimitError, match="history scan of e/p/r.*MYTRACK_QUERY_TIMEOUT"):
        for _ in pacer.items(_counting(1_000, [], delay=0.02)):
            pass  # never a page sent: the budget runs on
    pacer.sent()


def test_time_the_client_takes_to_read_a_page_is_not_counted() -> None:
    """The budget is per page produced: a client slow to take pages is not cut off."""
    pacer = streams.Pacer(lambda: True, "the test scan", timeout=0.2)
    for _ in pacer.items(range(5)):
        pacer.sent()
        time.sleep(0.1)  # 0.5 s in all, past the 0.2 s budget: the client's time
    pacer.sent()


def test_only_a_few_pages_are_produced_at_once_and_a_sent_page_frees_its_place() -> None:
    """QUERY_THREADS producers at once; another waits for a place (busy past its budget),
    and gets it as soon as a producer hands its page to its client."""
    holders = [streams.Pacer(lambda: True, f"scan {i}") for i in range(limits.QUERY_THREADS)]
    iterators = [h.items(range(10)) for h in holders]
    for it in iterators:
        next(it)  # each holds a place while it builds a page
    waiting = streams.Pacer(lambda: True, "the late scan", timeout=0.3)
    with pytest.raises(limits.QueryLimitError, match="busy"):
        next(waiting.items(range(3)))
    holders[0].sent()  # a page goes to its client: its place is free
    late = streams.Pacer(lambda: True, "the late scan", timeout=5)
    assert list(late.items(range(3))) == [0, 1, 2]
    for h in holders:
        h.sent()


@pytest.fixture
def _no_current_run(workdir: Path) -> Iterator[None]:
    mytrack.finish()
    yield
    mytrack.finish()


@pytest.mark.usefixtures("_no_current_run")
def test_large_scans_do_not_stall_log_finish_or_another_query(project: str) -> None:
    """Four threads scan a 20,000-row run over and over; meanwhile another run's log()
    calls are acknowledged, its finish() is confirmed and a small query answers, each
    within a deadline far below the scans' total time."""
    big = mytrack.init(project=project, name="big", settings=QUIET)
    for step in range(20_000):
        big.log({f"k{i}": float(step + i) for i in range(20)})
    big.finish()
    api = mytrack.Api()
    path = big.path
    stop = threading.Event()
    scanned: list[int] = []
    failures: list[BaseException] = []

    def scan() -> None:
        try:
            while not stop.is_set():
                scanned.append(sum(1 for _ in api.run(path).scan_history()))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=scan, daemon=True) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)  # let the scans get going (not a wait for a result)
        small = mytrack.init(project=project, name="small", settings=QUIET)
        for step in range(50):
            small.log({"x": step})
            started = time.monotonic()
            assert small._sender is not None and small._sender.flush(timeout=10), \
                "log() was not acknowledged within 10 s during the scans"
            assert time.monotonic() - started < 10
        started = time.monotonic()
        small.finish()
        assert small.status().confirmed and time.monotonic() - started < 15
        started = time.monotonic()
        rows = list(api.run(small.path).scan_history())
        assert [r["x"] for r in rows] == list(range(50)) and time.monotonic() - started < 10
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=120)
    assert not failures, failures
    assert scanned and set(scanned) == {20_000}
