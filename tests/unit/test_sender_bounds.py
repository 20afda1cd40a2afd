"""The sender's bounds: memory near max_buffer_bytes, records a gRPC message can carry, waits counted once.

Uses the fake service of test_sender (acks only when the test opens the gate).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from mytrack._internal.transport import sender as sender_mod
from mytrack._internal.transport.sender import Sender
from mytrack_service.apply.decode import LogCall
from tests.conftest import wait_for
from tests.unit.test_sender import Connector, FakeClient, FakeService, _logged, _sender, home  # noqa: F401


def _log(sender: Sender, data: dict[str, Any]) -> None:
    """What Run.log does with the queue: append, then wait if at the bound."""
    sender.queue.append((data, None, None, time.time()))
    if len(sender.queue) >= sender.max_queue_entries:
        sender.wait_for_room()
    elif sender.idle:
        sender.wake()


def test_full_buffer_holds_log_calls_after_two_queued(home: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Once the unacked bytes reach the bound, log() waits with at most 2 calls queued (not 20,000
    unencoded rows); acks restore the configured bound and everything arrives in order."""
    service = FakeService(ack=False)
    connector = Connector(FakeClient(service))
    sender = _sender(home, monkeypatch, connector, max_buffer_bytes=50_000, max_queue_entries=1000)
    row = "x" * 10_000
    logged: list[int] = []
    done = threading.Event()

    def produce() -> None:
        for i in range(40):
            _log(sender, {"i": i, "text": row})
            logged.append(i)
        done.set()

    try:
        for i in range(10):  # fills the buffer: nothing is acked
            _log(sender, {"i": -1 - i, "text": row})
        wait_for(lambda: sender.max_queue_entries == sender_mod._FULL_QUEUE_ENTRIES, timeout=10,
                 message="the full-buffer bound")
        threading.Thread(target=produce, daemon=True).start()
        assert not done.wait(0.3), "log() returned while the buffer was full"
        assert len(sender.queue) <= sender_mod._FULL_QUEUE_ENTRIES
        assert len(logged) <= sender_mod._FULL_QUEUE_ENTRIES
        # The unacked bytes overshoot the bound by at most the first (16-call) record.
        assert sender._unacked_bytes <= 50_000 + 16 * 10_100
        service.start_acking()
        assert done.wait(10), "log() stayed blocked after acks"
        assert sender.flush(10)
        assert sender.max_queue_entries == 1000
        calls = [e for e in _logged(service) if isinstance(e, LogCall)]
        assert [c.data["i"] for c in calls] == [-1 - i for i in range(10)] + list(range(40))
    finally:
        service.start_acking()
        sender.close(timeout=10)


def test_large_rows_make_records_a_message_can_carry(home: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """300 rows of 200 KB queued at once travel as records of a few MB (2,000 per record made 60 MB+)."""
    service = FakeService()
    connector = Connector(FakeClient(service))
    sender = _sender(home, monkeypatch, connector, max_queue_entries=100_000)
    row = "y" * 200_000
    try:
        for i in range(300):
            sender.queue.append(({"i": i, "text": row}, None, None, 1.0))
        assert sender.flush(30)
        sizes = [len(p) for p in service.payloads.values()]
        assert max(sizes) <= 4 * sender_mod._RECORD_BYTES + 250_000, max(sizes)
        calls = [e for e in _logged(service) if isinstance(e, LogCall)]
        assert [c.data["i"] for c in calls] == list(range(300))
        assert all(c.data["text"] == row for c in calls)
    finally:
        sender.close(timeout=10)


def test_concurrent_waits_are_counted_once(home: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    """Four threads blocked together for the same half second add about half a second, not two."""
    service = FakeService()
    connector = Connector(FakeClient(service), allowed=False)
    sender = _sender(home, monkeypatch, connector, max_queue_entries=4)
    for i in range(4):
        sender.queue.append(({"i": i}, None, None, 1.0))
    threads = [threading.Thread(target=sender.wait_for_room, daemon=True) for _ in range(4)]
    try:
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # the waits to measure; nothing to poll for  # noqa: ASYNC251
        connector.allowed.set()
        for thread in threads:
            thread.join(10)
        elapsed = time.monotonic() - started
        assert 0.4 <= sender.stats.backpressure_seconds <= elapsed + 0.01
    finally:
        connector.allowed.set()
        sender.close(timeout=10)
