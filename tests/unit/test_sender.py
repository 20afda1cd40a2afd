"""Unit tests for the SDK sender thread (mytrack._internal.transport.sender) without a service.

The service side is replaced by an in-process fake of the gRPC stub: it
records what arrives on the stream and acks it only when the test opens its
gate. `connect` is replaced so that no real service is ever started. The
sender's behaviour against the real service is covered by the integration
and e2e suites.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from mytrack._internal.transport import sender as sender_mod
from mytrack._internal.transport.client import RecordStream
from mytrack._internal.transport.encode import config_record
from mytrack._internal.transport.sender import Sender, _batches
from mytrack._internal.transport.service_types import RunKey
from mytrack.errors import CommError
from mytrack_proto import mytrack_pb2 as pb
from mytrack_service.apply.decode import ConfigChange, LogCall, LogColumns, decode
from tests.helpers import wait_for

# -- _batches -------------------------------------------------------------------------------


def _records(sizes: list[int], first_seq: int = 1) -> list[tuple[int, bytes]]:
    return [(first_seq + i, bytes([65 + i % 26]) * size) for i, size in enumerate(sizes)]


def _shape(batches: list[tuple[int, list[bytes]]]) -> list[tuple[int, list[int]]]:
    return [(first, [len(p) for p in payloads]) for first, payloads in batches]


@pytest.mark.parametrize(
    ("sizes", "expected"),
    [
        ([], []),
        ([3], [(7, [3])]),
        ([4, 4, 4], [(7, [4, 4]), (9, [4])]),
        ([5, 5], [(7, [5, 5])]),                       # exactly the limit fits
        ([5, 6], [(7, [5]), (8, [6])]),                # one byte over splits
        ([25], [(7, [25])]),                           # oversize record alone
        ([1, 25, 1], [(7, [1]), (8, [25]), (9, [1])]),
        ([10, 10, 0, 10], [(7, [10]), (8, [10, 0]), (10, [10])]),
    ],
)
def test_batches_split_at_byte_limit(
    monkeypatch: pytest.MonkeyPatch, sizes: list[int], expected: list[tuple[int, list[int]]],
) -> None:
    """_batches splits (seq, payload) pairs into consecutive groups of at most the byte limit, first seqs exact."""
    monkeypatch.setattr(sender_mod, "_MAX_BATCH_BYTES", 10)
    records = _records(sizes, first_seq=7)
    batches = list(_batches(records))
    assert _shape(batches) == expected
    assert [p for _, payloads in batches for p in payloads] == [p for _, p in records]


def test_batches_default_limit_keeps_small_records_together() -> None:
    """With the default 4 MiB limit, a thousand 1 KiB records travel as one message."""
    records = _records([1024] * 1000)
    batches = list(_batches(records))
    assert len(batches) == 1
    assert batches[0][0] == 1
    assert batches[0][1] == [p for _, p in records]


# -- a fake service stub ----------------------------------------------------------------


class _Broken(grpc.RpcError):
    def code(self) -> grpc.StatusCode:
        return grpc.StatusCode.UNAVAILABLE

    def details(self) -> str:
        return "fake stream broken"


class FakeService:
    """Stands in for `TrackerStub`: records the stream's messages, acks only while acking."""

    def __init__(self, ack: bool = True) -> None:
        self.lock = threading.Lock()
        self.acking = ack
        self.hellos: list[pb.Hello] = []
        self.batches: list[tuple[int, int]] = []  # (first_seq, count)
        self.payloads: dict[int, bytes] = {}
        self.calls: list[FakeCall] = []

    def Stream(self, requests: Iterator[pb.ClientMessage]) -> FakeCall:  # noqa: N802 - gRPC name
        call = FakeCall(self, requests)
        with self.lock:
            self.calls.append(call)
        return call

    def start_acking(self) -> None:
        """Acks everything received so far, and from now on every batch as it arrives."""
        with self.lock:
            self.acking = True
            for call in self.calls:
                call.ack()

    def seqs(self) -> list[int]:
        with self.lock:
            return sorted(self.payloads)


class FakeCall:
    def __init__(self, service: FakeService, requests: Iterator[pb.ClientMessage]) -> None:
        self._service = service
        self._out: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.max_seq = 0  # guarded by service.lock
        threading.Thread(target=self._consume, args=(requests,), daemon=True).start()

    def _consume(self, requests: Iterator[pb.ClientMessage]) -> None:
        service = self._service
        for message in requests:
            kind = message.WhichOneof("kind")
            if kind == "hello":
                service.hellos.append(message.hello)
            elif kind == "batch":
                first, records = message.batch.first_seq, list(message.batch.records)
                with service.lock:
                    service.batches.append((first, len(records)))
                    for i, payload in enumerate(records):
                        service.payloads[first + i] = payload
                    self.max_seq = max(self.max_seq, first + len(records) - 1)
                    if service.acking:
                        self.ack()
        self._out.put(None)

    def ack(self) -> None:
        """Acks up to the highest seq received on this call (caller holds service.lock)."""
        if self.max_seq:
            self._out.put(pb.ServerMessage(ack=pb.Ack(acked_seq=self.max_seq)))

    def __iter__(self) -> Iterator[pb.ServerMessage]:
        while True:
            item = self._out.get()
            if item is None:
                return
            if isinstance(item, Exception):
                raise item
            yield item

    def cancel(self) -> None:
        self._out.put(None)

    def break_stream(self) -> None:
        self._out.put(_Broken())


class FakeClient:
    """Stands in for `ServiceClient`: its record stream is the real one, on the fake stub."""

    def __init__(self, service: FakeService) -> None:
        self.stub = service
        self.closed = False

    def open_stream(self, hello: Any, on_ack: Any, on_notice: Any, on_broken: Any) -> RecordStream:
        return RecordStream(self.stub.Stream, hello, on_ack, on_notice, on_broken)

    def close(self) -> None:
        self.closed = True


class Connector:
    """Replaces `connect`: hands out fake clients once allowed, never starts a service."""

    def __init__(self, *clients: FakeClient, allowed: bool = True) -> None:
        self.clients = list(clients)
        self.allowed = threading.Event()
        if allowed:
            self.allowed.set()
        self.homes: list[str] = []

    def __call__(self, home: str, timeout: float = 30.0) -> FakeClient:
        self.homes.append(home)
        if not self.allowed.wait(timeout) or not self.clients:
            raise CommError("no fake service")
        return self.clients.pop(0)


@pytest.fixture
def home(tmp_path: Path) -> str:
    """A service home that holds no service (and never will: connect is replaced)."""
    return str(tmp_path / "no-such-home")


def _sender(home: str, monkeypatch: pytest.MonkeyPatch, connector: Connector,
            **options: Any) -> Sender:
    monkeypatch.setattr(sender_mod, "connect", connector)
    settings: dict[str, Any] = dict(
        max_buffer_bytes=64 * 1024 * 1024, max_queue_entries=1000, heartbeat_interval=60.0,
        connect_timeout=10.0,
    )
    settings.update(options)
    return Sender(home, "writer-1", RunKey(entity="e", project="p", run_id="r1"), **settings)


def _entry(i: int) -> tuple[dict[str, Any], None, None, float]:
    return ({"i": float(i)}, None, None, 1000.0 + i)


def _logged(service: FakeService) -> list[Any]:
    events: list[Any] = []
    for seq in service.seqs():
        got_seq, decoded = decode(service.payloads[seq])
        assert got_seq == seq
        for event in decoded:  # columnar batches: one call per row, as the general form
            events.extend(event.calls() if isinstance(event, LogColumns) else [event])
    return events


# -- delivery, backpressure ------------------------------------------------------------------


def test_delivers_in_order_with_dense_seqs(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Queued log entries and control records arrive once each, with seqs 1..n, and flush() sees every ack."""
    service = FakeService()
    connector = Connector(FakeClient(service))
    sender = _sender(home, monkeypatch, connector)
    try:
        for i in range(50):
            sender.enqueue(_entry(i))
        sender.enqueue(config_record({"lr": 0.1}))
        for i in range(50, 60):
            sender.enqueue(_entry(i))
        assert sender.flush(timeout=10.0)
        assert service.seqs() == list(range(1, sender.last_seq + 1))
        assert sender.acked_seq == sender.last_seq
        assert sender.stats.records_acked == sender.stats.records_sent == sender.last_seq
        assert sender.pending_records == 0
        events = _logged(service)
        assert events[50] == ConfigChange({"lr": 0.1}, [])
        logs = [e for e in events if isinstance(e, LogCall)]
        assert logs == [LogCall({"i": float(i)}, None, None, 1000.0 + i) for i in range(60)]
        assert [h.writer_id for h in service.hellos] == ["writer-1"]
        assert service.hellos[0].run == pb.RunKey(entity="e", project="p", run_id="r1")
        assert sender.stats.backpressure_seconds == 0.0
        assert connector.homes == [home]
    finally:
        connector.allowed.set()
        assert sender.close(timeout=10.0)


def test_full_queue_blocks_and_counts_backpressure(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the service unreachable, enqueue() blocks once the queue is full; the wait is counted and nothing is
    dropped."""
    service = FakeService()
    connector = Connector(FakeClient(service), allowed=False)
    sender = _sender(home, monkeypatch, connector, max_queue_entries=4)
    done = threading.Event()
    produced: list[int] = []

    def produce() -> None:
        for i in range(10):
            sender.enqueue(_entry(i))
            produced.append(i)
        done.set()

    producer = threading.Thread(target=produce, daemon=True)
    try:
        started = time.monotonic()
        producer.start()
        wait_for(lambda: len(produced) == 3 and len(sender.queue) == 4, timeout=10.0,
                 message="the producer to fill the queue")
        assert not done.wait(0.3), "enqueue() returned while the queue was full"
        assert produced == [0, 1, 2]
        assert len(sender.queue) == 4
        assert sender.stats.backpressure_seconds == 0.0  # counted when the wait ends
        connector.allowed.set()
        assert done.wait(10.0), "enqueue() stayed blocked after the service came up"
        elapsed = time.monotonic() - started
        producer.join(5.0)
        assert produced == list(range(10))
        assert 0.3 <= sender.stats.backpressure_seconds <= elapsed
        assert sender.flush(timeout=10.0)
        logs = [e for e in _logged(service) if isinstance(e, LogCall)]
        assert [e.data["i"] for e in logs] == [float(i) for i in range(10)]
    finally:
        connector.allowed.set()
        sender.close(timeout=10.0)


def test_unacked_bytes_bound_stops_encoding(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """When unacked bytes reach max_buffer_bytes the sender stops taking from the queue until acks arrive."""
    service = FakeService(ack=False)
    connector = Connector(FakeClient(service))
    sender = _sender(home, monkeypatch, connector, max_buffer_bytes=1, max_queue_entries=6)
    done = threading.Event()

    def produce() -> None:
        sender.enqueue(_entry(0))
        wait_for(lambda: sender.last_seq == 1, timeout=10.0, message="the first record")
        for i in range(1, 10):
            sender.enqueue(_entry(i))
        done.set()

    producer = threading.Thread(target=produce, daemon=True)
    try:
        producer.start()
        wait_for(lambda: len(sender.queue) == 6, timeout=10.0, message="the queue to fill")
        assert not done.wait(0.3), "enqueue() returned while nothing could be sent"
        assert sender.last_seq == 1  # one record in flight, the rest held back
        assert service.seqs() == [1]
        assert sender.pending_records == 2  # one unacked record + a non-empty queue
        assert not sender.flush(timeout=0.1)
        service.start_acking()
        assert done.wait(10.0)
        assert sender.flush(timeout=10.0)
        assert sender.stats.backpressure_seconds >= 0.3
        logs = [e for e in _logged(service) if isinstance(e, LogCall)]
        assert [e.data["i"] for e in logs] == [float(i) for i in range(10)]
    finally:
        service.start_acking()
        sender.close(timeout=10.0)


def test_broken_stream_reconnects_and_resends_unacked(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the stream breaks, the sender reconnects, says Hello again and resends every unacked record from seq 1."""
    first = FakeService(ack=False)
    second = FakeService()
    first_client = FakeClient(first)
    connector = Connector(first_client, FakeClient(second))
    sender = _sender(home, monkeypatch, connector)
    try:
        for i in range(20):
            sender.enqueue(_entry(i))
        wait_for(lambda: first.seqs() == list(range(1, sender.last_seq + 1)) and not sender.queue,
                 timeout=10.0, message="the records to reach the first service")
        sent = sender.last_seq
        assert sender.acked_seq == 0
        first.calls[0].break_stream()
        assert sender.flush(timeout=10.0)
        assert sender.stats.reconnects == 1
        assert first_client.closed
        assert [h.writer_id for h in second.hellos] == ["writer-1"]
        assert second.batches[0][0] == 1
        assert second.seqs() == list(range(1, sent + 1))
        assert all(second.payloads[s] == first.payloads[s] for s in range(1, sent + 1))
        assert "fake stream broken" in sender.stats.last_error
        for i in range(20, 25):
            sender.enqueue(_entry(i))
        assert sender.flush(timeout=10.0)
        logs = [e for e in _logged(second) if isinstance(e, LogCall)]
        assert [e.data["i"] for e in logs] == [float(i) for i in range(25)]
    finally:
        sender.close(timeout=10.0)


def test_unreachable_service_keeps_records(home: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """While no service can be reached, records stay queued, flush() times out, and the error is recorded."""
    connector = Connector(allowed=True)  # no clients: every connect fails
    sender = _sender(home, monkeypatch, connector, connect_timeout=0.05)
    try:
        for i in range(5):
            sender.enqueue(_entry(i))
        assert not sender.flush(timeout=0.3)
        assert len(sender.queue) == 5
        assert sender.last_seq == 0
        wait_for(lambda: "cannot reach the mytrack service" in sender.stats.last_error,
                 timeout=10.0, message="the connection error to be recorded")
        assert len(connector.homes) >= 1 and set(connector.homes) == {home}
    finally:
        assert not sender.close(timeout=0.1)
