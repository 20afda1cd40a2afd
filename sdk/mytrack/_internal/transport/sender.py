"""The sender: one thread that delivers a writer's records to the service.

``log()`` only appends to `Sender.queue` (a deque: no lock, no I/O). The
sender thread wakes every few milliseconds, encodes what is queued into
`Record`s with consecutive sequence numbers, keeps each encoded record in
``_unacked`` until the service acks it (acks come after the WAL fsync), and
sends them in batches on one bidirectional stream.

When the stream breaks (service killed, restarted, upgraded) the sender
reconnects, starting a service if none answers, and resends every unacked
record; the service drops the ones it already has by (writer id, seq). Nothing
is ever dropped here: when the unacked bytes or the queue reach their bounds,
``log()`` waits (backpressure) and the time it waited is counted.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from mytrack._internal.transport import encode
from mytrack._internal.transport.client import RecordStream, ServiceClient
from mytrack._internal.transport.launcher import connect
from mytrack._internal.transport.service_types import RunKey, StreamHello
from mytrack_common.address import MAX_MESSAGE_BYTES
from mytrack_common.retry import Backoff
from mytrack_common.wal import WalWriter

logger = logging.getLogger("mytrack")

_MAX_RECORD_ENTRIES = 2_000  # log() calls per LogBatch record
_MAX_BATCH_BYTES = 4 * 1024 * 1024  # serialized records per stream message
# A LogBatch record aims at this size, judged by the bytes per call of the
# record before: 2,000 rows of 200 KB in one record were over gRPC's message
# limit, and the stream broke again at every resend.
_RECORD_BYTES = 1024 * 1024
# While log() calls are large, the queue of calls not yet encoded (Python
# objects, a few times their encoding) is bounded to about this share of
# MYTRACK_BUFFER_BYTES, so the process holds about twice the buffer at most.
_QUEUE_SHARE = 4
# One record must fit in one gRPC message, with room for the envelope.
_MAX_RECORD_BYTES = MAX_MESSAGE_BYTES - 1024 * 1024
_MIN_QUEUE_ENTRIES = 2
_POLL_ACTIVE = 0.005
_POLL_IDLE = 0.05


@dataclass
class SenderStats:
    records_sent: int = 0
    records_acked: int = 0
    reconnects: int = 0
    backpressure_seconds: float = 0.0
    last_ack_time: float = 0.0
    last_error: str = ""


class _WalStream:
    """Offline mode: "sends" to the run's own WAL; fsynced means acked."""

    broken = False

    def __init__(self, path: str, sender: Sender) -> None:
        self._wal = WalWriter(path)
        self._sender = sender

    def send_batch(self, first_seq: int, records: list[bytes]) -> None:
        try:
            self._wal.append(records)
        except OSError as exc:
            # Rolled back by the WAL: unacked, so kept and written again
            # by the next stream (backpressure meanwhile).
            self.broken = True
            folder = os.path.dirname(os.path.abspath(self._wal.path))
            self._sender._note_error(f"cannot write the offline WAL in {folder}: {exc}")
            return
        self._sender._on_ack(first_seq + len(records) - 1)

    def send_heartbeat(self, timestamp: float) -> None:
        pass  # nobody to tell: offline runs have no service

    def close(self) -> None:
        self._wal.close()

    cancel = close


class Sender:
    """Delivers one writer's records; see the module docstring."""

    def __init__(
        self,
        home: str,
        writer_id: str,
        run_key: RunKey,
        *,
        max_buffer_bytes: int,
        max_queue_entries: int,
        heartbeat_interval: float,
        connect_timeout: float,
        client: ServiceClient | None = None,
        offline_wal: str = "",
        on_stop: Callable[[], None] | None = None,
    ) -> None:
        self._wake = threading.Event()
        self.queue: deque[Any] = deque()
        # True while the sender sleeps its long idle poll: log() then wakes it
        # (`wake`), so that a call logged at the start of that sleep is not held
        # 50 ms, in which a process killed (kill -9, out of memory) would lose
        # what log() had returned. A plain attribute: one read per call.
        self.idle = False
        # log() waits when the queue reaches this: the configured bound, or fewer
        # calls while the calls are large (see _bound_queue).
        self.max_queue_entries = max_queue_entries
        self._configured_entries = max_queue_entries
        self.stats = SenderStats()
        self.notices: deque[tuple[str, str]] = deque(maxlen=100)
        self._home = home
        self._hello = StreamHello(writer_id, run_key, os.getpid(), socket.gethostname())
        self._offline_wal = offline_wal
        self._on_stop = on_stop
        # Offline there is no service to compute the summary: the last value of
        # each key, kept as the entries are encoded (off log()'s path).
        self.last_values: dict[str, Any] = {}
        self._max_buffer_bytes = max_buffer_bytes
        self._heartbeat_interval = heartbeat_interval
        self._connect_timeout = connect_timeout
        self._client = client
        self._cond = threading.Condition()  # guards everything below
        self._unacked: deque[tuple[int, bytes]] = deque()
        self._unacked_bytes = 0
        self._entry_bytes = 0  # encoded bytes per log() call in the last LogBatch
        # True while calls taken off the queue have no seq yet: flush() must not
        # read an empty queue as "everything encoded" then.
        self._encoding = False
        self._waiters = 0  # calls waiting in wait_for_room now
        self._wait_start = 0.0
        self._next_seq = 1
        self._acked_seq = 0
        self._stream: RecordStream | _WalStream | None = None
        self._closing = False
        self._last_send = 0.0
        self._connected_at = 0.0  # when the current stream was opened (monotonic)
        self._thread = threading.Thread(target=self._run, name="mytrack-sender", daemon=True)
        self._thread.start()

    # -- called from the user's threads ------------------------------------

    def enqueue(self, item: Any) -> None:
        """Queues a control record (or a log entry) and waits if the queue is full.

        Against the configured bound, not the tighter one for large calls:
        control records are small, and finish()'s exit record must not wait here.
        """
        self.queue.append(item)
        if len(self.queue) >= self._configured_entries:
            self.wait_for_room()
        elif self.idle:
            self.wake()

    def wake(self) -> None:
        """Wakes an idle sender at once (after a call was queued).

        The flag is cleared here, not only by the sender when it runs: the calls
        made before the sender thread gets the GIL would otherwise each pay for
        a `set()` (a lock and a notify, ~1 us), the first one is enough.
        """
        self.idle = False
        self._wake.set()

    def wait_for_room(self) -> None:
        """Backpressure: blocks until the sender has taken entries off the queue.

        Waits until the queue is half empty, not just below the bound, so that
        a producer faster than the sender is woken once per half-queue rather
        than once per entry.
        """
        self._wake.set()
        with self._cond:
            # The time counted is the time any call waited: threads waiting
            # together count it once.
            if self._waiters == 0:
                self._wait_start = time.monotonic()
            self._waiters += 1
            try:
                while len(self.queue) > self.max_queue_entries // 2 and self._thread.is_alive():
                    self._cond.wait(0.05)
                    self._wake.set()
            finally:
                self._waiters -= 1
                if self._waiters == 0:
                    self.stats.backpressure_seconds += time.monotonic() - self._wait_start

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until everything queued so far is acked; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = None
            while True:
                if not self.queue and not self._encoding:
                    target = self._next_seq - 1 if target is None else target
                    if self._acked_seq >= target:
                        return True
                self._wake.set()
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(0.05 if remaining is None else min(remaining, 0.05))

    def backlog(self) -> tuple[int, int]:
        """(the seq of the last record encoded, calls not yet in a record), seen at one moment.

        Read in this order, a call being encoded is never missed: queued, then the
        encoding flag (set before the first pop), then the seq (published before the
        flag is cleared); a call in the sender's hands counts as one.
        """
        queued = len(self.queue)
        encoding = self._encoding
        return self._next_seq - 1, queued + (1 if encoding else 0)

    @property
    def last_seq(self) -> int:
        """The seq of the last record encoded so far."""
        return self._next_seq - 1

    @property
    def acked_seq(self) -> int:
        return self._acked_seq

    @property
    def pending_records(self) -> int:
        with self._cond:
            return len(self._unacked) + (1 if self.queue else 0)

    def close(self, timeout: float | None = None) -> bool:
        """Flushes, ends the stream and stops the thread; False if not all acked."""
        flushed = self.flush(timeout)
        with self._cond:
            self._closing = True
        self._wake.set()
        self._thread.join(timeout=5.0)
        return flushed

    def client(self) -> ServiceClient | None:
        return self._client

    # -- the sender thread --------------------------------------------------

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:  # noqa: BLE001 - never die silently: log() would block forever
            logger.exception("the mytrack sender thread failed")
            self.stats.last_error = "the sender thread failed; see the log"

    def _loop(self) -> None:
        backoff = Backoff(0.05, 2.0)
        while True:
            busy = bool(self.queue)
            if not busy:
                self.idle = True
                # A call queued between the first look and the flag did not wake us.
                busy = bool(self.queue)
            self._wake.wait(_POLL_ACTIVE if busy else _POLL_IDLE)
            self.idle = False
            self._wake.clear()
            with self._cond:
                if self._closing:
                    break
            if self._stream is None or self._stream.broken:
                if self._stream is not None and time.monotonic() - self._connected_at < 1.0:
                    # The service ended the stream at once (its disk is full):
                    # resending the whole buffer every few ms would only burn CPU.
                    backoff.wait()
                if not self._reconnect():
                    backoff.wait()
                    continue
                self._connected_at = time.monotonic()
            elif time.monotonic() - self._connected_at >= 1.0:
                backoff.succeeded()  # the stream has held: the next failure starts small again
            self._pump()
            if not self._offline_wal and time.monotonic() - self._last_send > self._heartbeat_interval:
                self._send_heartbeat()
        stream = self._stream
        if stream is not None:
            stream.close()

    def _reconnect(self) -> bool:
        if self._offline_wal:
            try:
                self._stream = _WalStream(self._offline_wal, self)
            except OSError as exc:
                self._note_error(f"cannot write the offline WAL {self._offline_wal}: {exc}")
                return False
            return True
        old = self._stream
        if old is not None:
            old.cancel()
            self.stats.reconnects += 1
        try:
            if self._client is None or old is not None:
                if self._client is not None:
                    self._client.close()
                self._client = connect(self._home, timeout=self._connect_timeout)
            stream = self._client.open_stream(self._hello, self._on_ack, self._on_notice, self._on_broken)
        except Exception as exc:  # noqa: BLE001 - any failure: retry with backoff
            self._note_error(f"cannot reach the mytrack service: {exc}")
            self._client = None
            return False
        with self._cond:
            self._stream = stream
            pending = list(self._unacked)
        # Resend in order everything not acked; the service drops duplicates.
        for first_seq, records in _batches(pending):
            self._send_batch(first_seq, records)
        return True

    def _pump(self) -> None:
        while self.queue and self._unacked_bytes < self._max_buffer_bytes:
            records = self._encode_some(self._max_buffer_bytes - self._unacked_bytes)
            if not records:
                return
            with self._cond:
                self._unacked.extend(records)
                self._unacked_bytes += sum(len(r) for _, r in records)
                self._cond.notify_all()  # room in the queue for waiting log() calls
            for first, payloads in _batches(records):
                self._send_batch(first, payloads)
            self.stats.records_sent += len(records)

    def _encode_some(self, budget: int) -> list[tuple[int, bytes]]:
        """Encodes queued items into records with consecutive seqs, about ``budget`` bytes.

        Consecutive log() calls share a LogBatch record as long as they have the
        same shape (the same columnar keys, or all general), up to a number of
        calls and about `_RECORD_BYTES`.
        """
        records: list[tuple[int, bytes]] = []
        self._encoding = True  # before the first pop (see flush)
        try:
            self._next_seq = self._encode_into(records, budget, self._next_seq)
        finally:
            self._encoding = False
        self._bound_queue()
        return records

    def _encode_into(self, records: list[tuple[int, bytes]], budget: int, seq: int) -> int:
        """Appends records from the queue starting at ``seq``; returns the next seq."""
        logs: list[Any] = []
        shape: tuple[str, ...] | None = None
        popleft = self.queue.popleft
        size = 0
        per_record = self._calls_per_record()
        for _ in range(4 * _MAX_RECORD_ENTRIES):
            if size + len(logs) * self._entry_bytes >= budget:
                break
            try:
                item = popleft()
            except IndexError:
                break
            if type(item) is tuple:
                if self._offline_wal:
                    self.last_values.update(item[0])
                item_shape = encode.columnar_keys(item)
                if logs and (item_shape != shape or len(logs) >= per_record):
                    before = len(records)
                    seq = self._add_logs(records, seq, logs, shape)
                    size += sum(len(payload) for _, payload in records[before:])
                    per_record, logs = self._calls_per_record(), []
                logs.append(item)
                shape = item_shape
                continue
            if type(item) is encode.SummaryNote:
                self.last_values.update(item.update)
                for key in item.remove:
                    self.last_values.pop(key, None)
                continue
            if logs:
                before = len(records)
                seq = self._add_logs(records, seq, logs, shape)
                size += sum(len(payload) for _, payload in records[before:])
                logs = []
            records.append((seq, item.build(seq)))
            size += len(records[-1][1])
            seq += 1
        if logs:
            seq = self._add_logs(records, seq, logs, shape)
        return seq

    def _calls_per_record(self) -> int:
        if not self._entry_bytes:  # the first record: a few calls, to learn their size
            return 16
        return max(1, min(_MAX_RECORD_ENTRIES, _RECORD_BYTES // self._entry_bytes))

    def _add_logs(self, records: list[tuple[int, bytes]], seq: int, logs: list[Any],
                  shape: tuple[str, ...] | None) -> int:
        """Encodes log() calls as one record at ``seq``, or as halves when it came
        out far over `_RECORD_BYTES` (the calls grew); returns the next seq."""
        payload = encode.log_batch(seq, logs, shape)
        if len(payload) > 4 * _RECORD_BYTES and len(logs) > 1:
            half = len(logs) // 2
            seq = self._add_logs(records, seq, logs[:half], shape)
            return self._add_logs(records, seq, logs[half:], shape)
        if len(payload) > _MAX_RECORD_BYTES:
            # No message can carry it, and a stream that tried would break at
            # every resend: said loudly, never sent.
            keys = sorted({key for entry in logs for key in entry[0]})
            self._note_error(f"a log() call of {len(payload) / 2**20:.0f} MiB (keys {', '.join(keys[:5])}) "
                             f"is over the {_MAX_RECORD_BYTES >> 20} MiB a record may be; it was not recorded")
            logger.error("%s", self.stats.last_error)
            return seq
        self._entry_bytes = max(1, len(payload) // len(logs))
        records.append((seq, payload))
        return seq + 1

    def _bound_queue(self) -> None:
        """Fewer calls may wait unencoded while calls are large: memory stays
        near MYTRACK_BUFFER_BYTES however large the rows (and the configured
        bound holds for small ones)."""
        fit = self._max_buffer_bytes // _QUEUE_SHARE // max(1, self._entry_bytes)
        bound = max(_MIN_QUEUE_ENTRIES, min(self._configured_entries, fit))
        if bound != self.max_queue_entries:
            with self._cond:
                self.max_queue_entries = bound
                self._cond.notify_all()

    def _send_batch(self, first_seq: int, records: list[bytes]) -> None:
        stream = self._stream
        if stream is not None and not stream.broken:
            stream.send_batch(first_seq, records)
            self._last_send = time.monotonic()

    def _send_heartbeat(self) -> None:
        stream = self._stream
        if stream is not None and not stream.broken:
            stream.send_heartbeat(time.time())
            self._last_send = time.monotonic()

    # -- callbacks from the ack reader ---------------------------------------

    def _on_ack(self, acked_seq: int) -> None:
        with self._cond:
            if acked_seq <= self._acked_seq:
                return
            self._acked_seq = acked_seq
            while self._unacked and self._unacked[0][0] <= acked_seq:
                _, payload = self._unacked.popleft()
                self._unacked_bytes -= len(payload)
                self.stats.records_acked += 1
            self.stats.last_ack_time = time.time()
            self._cond.notify_all()
        self._wake.set()

    def _on_notice(self, kind: str, text: str) -> None:
        self.notices.append((kind, text))
        if kind == "warning":
            logger.warning("%s", text)
        elif kind == "error":
            self._note_error(text)
        elif kind == "stop" and self._on_stop is not None:
            self._on_stop()

    def _on_broken(self, stream: RecordStream | _WalStream, error: str) -> None:
        with self._cond:
            closing = self._closing
        if not closing:
            self._note_error(f"lost the stream to the mytrack service ({error}); reconnecting")
        self._wake.set()

    def _note_error(self, text: str) -> None:
        # Logged once per distinct message: a service that is down for a minute
        # must not print a line per retry.
        if text != self.stats.last_error:
            logger.warning("%s", text)
        self.stats.last_error = text


def _batches(records: list[tuple[int, bytes]]) -> Iterator[tuple[int, list[bytes]]]:
    """Splits (seq, payload) pairs into messages of at most _MAX_BATCH_BYTES."""
    start = 0
    size = 0
    for i, (_, payload) in enumerate(records):
        if size and size + len(payload) > _MAX_BATCH_BYTES:
            yield records[start][0], [p for _, p in records[start:i]]
            start, size = i, 0
        size += len(payload)
    if start < len(records):
        yield records[start][0], [p for _, p in records[start:]]
