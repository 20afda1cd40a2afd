"""The sender's bounds on memory and record size (mytrack._internal.transport.sender).

Large log() calls must neither make a record larger than a gRPC message may be
(the stream would break at every resend) nor pile up unencoded in the queue
(memory several times MYTRACK_BUFFER_BYTES). Runs on the fake stub of
tests/unit/test_sender.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mytrack._internal.transport import sender as sender_mod
from mytrack_service.apply.decode import LogCall
from tests.helpers import wait_for
from tests.unit.test_sender import Connector, FakeClient, FakeService, _logged, _sender


@pytest.fixture
def home(tmp_path: Path) -> str:
    """A service home that holds no service (connect is replaced)."""
    return str(tmp_path / "no-such-home")


def _big(i: int, width: int) -> tuple[dict[str, Any], None, None, float]:
    """A call of about ``width`` * 4 bytes encoded, whatever ``i``."""
    return ({"i": i, "row": [1.5] * width}, None, None, 1000.0 + i)


def _log(sender: sender_mod.Sender, entry: Any) -> None:
    """What Run.log does with a checked call."""
    sender.queue.append(entry)
    if len(sender.queue) >= sender.max_queue_entries:
        sender.wait_for_room()
    elif sender.idle:
        sender.wake()


def test_large_calls_make_records_near_the_record_size(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Calls of ~1 KB with a 4 KB record size: every record stays within 4x of it, all calls arrive in order."""
    monkeypatch.setattr(sender_mod, "_RECORD_BYTES", 4096)
    service = FakeService()
    sender = _sender(home, monkeypatch, Connector(FakeClient(service)))
    try:
        for i in range(300):
            sender.queue.append(_big(i, 100))
        sender.wake()
        assert sender.flush(timeout=20.0)
        sizes = [len(service.payloads[seq]) for seq in service.seqs()]
        assert len(sizes) > 30, sizes
        assert max(sizes) <= 4 * 4096, sizes
        rows = [e for e in _logged(service) if isinstance(e, LogCall)]
        assert [e.data["i"] for e in rows] == list(range(300))
    finally:
        sender.close(timeout=10.0)


def test_large_calls_shrink_the_queue_while_nothing_is_acked(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a 64 KB buffer and ~1 KB calls the queue holds a handful of calls, not the configured 1,000.

    The bound follows the size of the calls the sender has encoded, so it holds
    from the first record on (a burst before it is bounded by the configured count).
    """
    service = FakeService(ack=False)
    sender = _sender(home, monkeypatch, Connector(FakeClient(service)), max_buffer_bytes=64 * 1024,
                     max_queue_entries=1000)
    _log(sender, _big(0, 200))
    wait_for(lambda: sender.stats.records_sent == 1, timeout=10.0, message="the first record")
    fit = 64 * 1024 // sender_mod._QUEUE_SHARE // sender._entry_bytes
    assert sender.max_queue_entries == max(sender_mod._MIN_QUEUE_ENTRIES, fit) < 100
    logged = 1
    peak = 0
    done = threading.Event()

    def produce() -> None:
        nonlocal logged, peak
        for i in range(1, 300):
            _log(sender, _big(i, 200))
            logged += 1
            peak = max(peak, len(sender.queue))
        done.set()

    producer = threading.Thread(target=produce, daemon=True)
    try:
        producer.start()
        assert not done.wait(0.5), "log() never waited although nothing was acknowledged"
        assert peak <= sender.max_queue_entries
        # What is held: the unacked records (the buffer and one record more) and the bounded queue.
        assert sender._unacked_bytes < 64 * 1024 + 64 * 1024
        assert logged < 200
        service.start_acking()
        assert done.wait(20.0), "log() stayed blocked after the acks came"
        assert sender.flush(timeout=20.0)
        rows = [e for e in _logged(service) if isinstance(e, LogCall)]
        assert [e.data["i"] for e in rows] == list(range(300))
    finally:
        service.start_acking()
        sender.close(timeout=10.0)


def test_threads_waiting_together_count_the_wait_once(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four threads blocked together for the same time: backpressure_seconds is at most the wall time."""
    service = FakeService()
    connector = Connector(FakeClient(service), allowed=False)
    sender = _sender(home, monkeypatch, connector, max_queue_entries=4)
    blocked = threading.Barrier(5)
    finished = threading.Event()

    def produce(index: int) -> None:
        blocked.wait()
        for i in range(6):
            _log(sender, ({"i": float(index * 100 + i)}, None, None, 1000.0))
        finished.set()

    threads = [threading.Thread(target=produce, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    started = time.monotonic()
    blocked.wait()
    try:
        wait_for(lambda: sender._waiters == 4, timeout=10.0, message="four threads waiting")
        assert not finished.wait(0.5), "a thread went on while nothing could be sent"
        connector.allowed.set()
        for thread in threads:
            thread.join(10.0)
        elapsed = time.monotonic() - started
        assert 0.5 <= sender.stats.backpressure_seconds <= elapsed
        assert sender.flush(timeout=10.0)
        assert len([e for e in _logged(service) if isinstance(e, LogCall)]) == 24
    finally:
        connector.allowed.set()
        sender.close(timeout=10.0)


def test_a_call_over_the_message_limit_is_refused_loudly(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call no message can carry is not sent (the stream would break for good) and the error names its key;
    the calls around it arrive."""
    monkeypatch.setattr(sender_mod, "_MAX_RECORD_BYTES", 50_000)
    service = FakeService()
    sender = _sender(home, monkeypatch, Connector(FakeClient(service)))
    try:
        sender.queue.append(({"small": 1.0}, None, None, 1000.0))
        assert sender.flush(timeout=10.0)
        sender.queue.append(({"huge": [1.5] * 20_000}, None, None, 1001.0))
        assert sender.flush(timeout=10.0)
        sender.queue.append(({"small": 2.0}, None, None, 1002.0))
        assert sender.flush(timeout=10.0)
        rows = [e.data for e in _logged(service) if isinstance(e, LogCall)]
        assert rows == [{"small": 1.0}, {"small": 2.0}]
        assert "huge" in sender.stats.last_error and "not recorded" in sender.stats.last_error
        assert service.seqs() == list(range(1, sender.last_seq + 1))
    finally:
        sender.close(timeout=10.0)
