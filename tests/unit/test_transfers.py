"""`Transfers` (the service's file uploader) without a service.

A real `MemoryStore` holds the run and its file rows, a real `LocalBlobStore`
(wrapped to count or to fail on purpose) holds the blobs, and the files are
real files in tmp_path, linked into a run folder the way ``run.save()`` links
them. Live changes are fed through `Transfers.changed` directly, except in the
tests that are about the watchdog watcher itself.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mytrack_service.blobs.base import BlobError
from mytrack_service.blobs.local import LocalBlobStore
from mytrack_service.outbound import transfers as transfers_module
from mytrack_service.outbound.transfers import Transfers, min_interval
from mytrack_service.store.base import Batch, FileRow, RunKey, RunRow
from mytrack_service.store.memory import MemoryStore
from tests.helpers import sha, wait_for

KEY = RunKey("ent", "proj", "files01")
MiB = 2**20


class CountingBlobs(LocalBlobStore):
    """A LocalBlobStore that records every put_file (monotonic time, digest)."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.puts: list[tuple[float, str]] = []

    def put_file(self, path: str) -> tuple[str, int]:
        digest, size = super().put_file(path)
        self.puts.append((time.monotonic(), digest))
        return digest, size


class FlakyBlobs(CountingBlobs):
    """Fails the first ``failures`` put_file calls, then works; notes each attempt."""

    def __init__(self, root: str, failures: int, store: MemoryStore, name: str) -> None:
        super().__init__(root)
        self.failures = failures
        self.store = store
        self.name = name
        # (monotonic time, the row's recorded error at the time of the attempt)
        self.attempts: list[tuple[float, str]] = []
        self.transfers: Transfers | None = None  # set by the test, to see its last_error
        self.last_errors: list[str] = []  # Transfers.last_error at each attempt

    def put_file(self, path: str) -> tuple[str, int]:
        row = self.store.get_file(KEY, self.name)
        self.attempts.append((time.monotonic(), row.error if row else "<no row>"))
        self.last_errors.append(self.transfers.last_error if self.transfers else "")
        if len(self.attempts) <= self.failures:
            raise BlobError(f"simulated outage #{len(self.attempts)}")
        return super().put_file(path)


class BarrierBlobs(CountingBlobs):
    """Every put_file waits for ``parties`` uploads to be in progress at once."""

    def __init__(self, root: str, parties: int) -> None:
        super().__init__(root)
        self.barrier = threading.Barrier(parties, timeout=10)

    def put_file(self, path: str) -> tuple[str, int]:
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError as exc:
            raise BlobError("uploads did not run in parallel") from exc
        return super().put_file(path)


@dataclass
class Harness:
    """A run with files in a MemoryStore, and the Transfers under test."""

    tmp: Path
    store: MemoryStore = field(default_factory=MemoryStore)
    transfers: list[Transfers] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.source_dir = self.tmp / "work"
        self.files_dir = self.tmp / "run" / "files"
        self.source_dir.mkdir()
        self.files_dir.mkdir(parents=True)
        self.store.create_run(RunRow(key=KEY, created_at=time.time()))

    def write(self, name: str, data: bytes) -> Path:
        path = self.source_dir / name
        path.write_bytes(data)
        return path

    def add(self, name: str, data: bytes, policy: str = "live", pending: bool = True) -> Path:
        """Writes the source, links it into the run folder, indexes it (as runstate does)."""
        source = self.write(name, data)
        link = self.files_dir / name
        os.symlink(source, link)
        self.store.write_batch(Batch(key=KEY, files=[
            FileRow(KEY, name, path=str(link), policy=policy, pending=pending),
        ]))
        return source

    def start(self, blobs: LocalBlobStore,
              live_runs: Callable[[], list[RunKey]] = list) -> Transfers:
        transfers = Transfers(self.store, blobs, live_runs=live_runs)
        transfers.start()
        self.transfers.append(transfers)
        return transfers

    def row(self, name: str) -> FileRow:
        found = self.store.get_file(KEY, name)
        assert found is not None, f"no row for {name}"
        return found

    def wait_uploaded(self, name: str, data: bytes, timeout: float = 10) -> FileRow:
        wait_for(lambda: self.row(name).digest == sha(data) and not self.row(name).pending,
                 timeout=timeout, message=f"{name} uploaded with the expected content")
        return self.row(name)

    def change(self, transfers: Transfers, name: str, data: bytes) -> None:
        """Rewrites the source and reports the change, as the watcher would."""
        self.write(name, data)
        transfers.changed(KEY, name, len(data))


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    for transfers in h.transfers:
        transfers.stop()


def holds_for(predicate: Callable[[], bool], seconds: float, message: str) -> None:
    """Polls ``predicate`` for ``seconds``; fails at the first time it is false."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert predicate(), message
        time.sleep(0.02)


# -- plain uploads ---------------------------------------------------------------------


def test_pending_file_is_uploaded_with_digest_size_mime_and_count(harness: Harness,
                                                                  tmp_path: Path) -> None:
    """A pending "now" file is streamed into the blob store and its row gets digest, size, mime, time and one upload."""
    data = b"epoch,loss\n1,0.5\n"
    harness.add("metrics.csv", data, policy="now")
    blobs = CountingBlobs(str(tmp_path / "blobs"))
    before = time.time()
    harness.start(blobs)
    row = harness.wait_uploaded("metrics.csv", data)
    assert (row.digest, row.size, row.mime, row.uploads, row.error, row.policy) == (
        sha(data), len(data), "text/csv", 1, "", "now")
    assert before <= row.updated_at <= time.time()
    with blobs.open(sha(data)) as stream:
        assert stream.read() == data
    assert [d for _, d in blobs.puts] == [sha(data)]


def test_upload_failing_twice_then_succeeding_is_retried_with_backoff(
        harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A blob store that fails twice: the file ends uploaded after exactly 2 retries, with growing waits,
    and its error cleared, on the row and in last_error (what status shows)."""
    monkeypatch.setattr(transfers_module, "_BACKOFF_FIRST", 0.1)
    data = b"checkpoint bytes"
    harness.add("model.bin", data, policy="now")
    blobs = FlakyBlobs(str(tmp_path / "blobs"), failures=2, store=harness.store, name="model.bin")
    transfers = harness.start(blobs)
    blobs.transfers = transfers
    row = harness.wait_uploaded("model.bin", data)
    assert transfers.retries == 2
    assert (row.uploads, row.error, row.digest) == (1, "", sha(data))
    assert len(blobs.attempts) == 3
    # The failure is noted on the row (and in last_error) between attempts.
    assert blobs.attempts[0][1] == ""
    assert blobs.attempts[1][1] == "simulated outage #1"
    assert blobs.attempts[2][1] == "simulated outage #2"
    assert "simulated outage #2" in blobs.last_errors[2] and "model.bin" in blobs.last_errors[2]
    # Once the upload succeeded nothing is failing: status no longer shows the outage.
    wait_for(lambda: transfers.last_error == "", timeout=5, message="last_error cleared")
    # Exponential backoff with jitter in [0.5, 1.5): waits of at least 0.05 s then 0.1 s.
    first_wait = blobs.attempts[1][0] - blobs.attempts[0][0]
    second_wait = blobs.attempts[2][0] - blobs.attempts[1][0]
    assert first_wait >= 0.05 * 0.99, first_wait
    assert second_wait >= 0.1 * 0.99, second_wait
    assert first_wait < 5 and second_wait < 5


def test_last_error_stays_while_another_upload_still_fails(
        harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One file recovers while another keeps failing: last_error is kept until every upload works."""
    monkeypatch.setattr(transfers_module, "_BACKOFF_FIRST", 0.05)
    harness.add("good.bin", b"good", policy="now")
    harness.add("bad.bin", b"bad", policy="now")

    class OneBadBlobs(CountingBlobs):
        fail = True

        def put_file(self, path: str) -> tuple[str, int]:
            if self.fail and path.endswith("bad.bin"):
                raise BlobError("bad.bin refused")
            return super().put_file(path)

    blobs = OneBadBlobs(str(tmp_path / "blobs"))
    transfers = harness.start(blobs)
    harness.wait_uploaded("good.bin", b"good")
    wait_for(lambda: transfers.retries >= 2, timeout=10, message="bad.bin retried")
    assert "bad.bin refused" in transfers.last_error
    blobs.fail = False
    harness.wait_uploaded("bad.bin", b"bad")
    wait_for(lambda: transfers.last_error == "", timeout=5, message="last_error cleared")


def test_uploads_run_in_parallel(harness: Harness, tmp_path: Path) -> None:
    """Four due files are uploaded by four workers at the same time (each upload waits for the other three)."""
    contents = {f"shard-{i}.bin": f"shard {i}".encode() for i in range(4)}
    for name, data in contents.items():
        harness.add(name, data, policy="now")
    transfers = harness.start(BarrierBlobs(str(tmp_path / "blobs"), parties=4))
    for name, data in contents.items():
        harness.wait_uploaded(name, data)
    assert transfers.retries == 0


def test_pending_uploads_are_resumed_by_a_new_transfers_on_the_same_store(
        harness: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pending upload that never succeeded is found and finished by the next Transfers (a restarted service)."""
    monkeypatch.setattr(transfers_module, "_BACKOFF_FIRST", 30.0)  # the first one gives up for good
    data = b"survives a restart"
    harness.add("notes.txt", data, policy="end")
    dead = FlakyBlobs(str(tmp_path / "blobs"), failures=10**6, store=harness.store, name="notes.txt")
    first = harness.start(dead)
    wait_for(lambda: harness.row("notes.txt").error == "simulated outage #1", timeout=10,
             message="the first attempt to fail")
    first.stop()
    harness.transfers.remove(first)
    assert harness.row("notes.txt").pending is True
    assert harness.row("notes.txt").digest == ""
    harness.start(CountingBlobs(str(tmp_path / "blobs")))
    row = harness.wait_uploaded("notes.txt", data)
    assert (row.uploads, row.error) == (1, "")


# -- live files: debounce, throttle, identical content, deletion ---------------------------------


def test_burst_of_changes_gives_few_uploads_and_the_last_version(harness: Harness,
                                                                  tmp_path: Path) -> None:
    """1,000 changes in a tight loop give at most 3 new uploads, the last being the final content."""
    harness.add("log.txt", b"v0")
    blobs = CountingBlobs(str(tmp_path / "blobs"))
    transfers = harness.start(blobs)
    harness.wait_uploaded("log.txt", b"v0")
    for i in range(1000):
        harness.change(transfers, "log.txt", f"burst {i}".encode())
    row = harness.wait_uploaded("log.txt", b"burst 999")
    new_puts = len(blobs.puts) - 1
    assert 1 <= new_puts <= 3, blobs.puts
    assert 2 <= row.uploads <= 4
    assert blobs.puts[-1][1] == sha(b"burst 999")


def test_change_is_uploaded_after_debounce_and_min_interval(harness: Harness,
                                                            tmp_path: Path) -> None:
    """A change right after an upload waits for the debounce (0.5 s) and the file's min_interval since the last
    upload."""
    harness.add("small.txt", b"first")
    blobs = CountingBlobs(str(tmp_path / "blobs"))
    transfers = harness.start(blobs)
    harness.wait_uploaded("small.txt", b"first")
    first_upload = blobs.puts[0][0]
    changed_at = time.monotonic()
    harness.change(transfers, "small.txt", b"second")
    harness.wait_uploaded("small.txt", b"second")
    second_upload = blobs.puts[-1][0]
    assert len(blobs.puts) == 2
    assert second_upload - changed_at >= transfers_module._DEBOUNCE * 0.99
    assert second_upload - first_upload >= min_interval(len(b"second")) * 0.99


def test_min_interval_grows_with_the_file_size() -> None:
    """Live re-uploads are throttled by size: 1 s under 10 MiB, 10 s under 100 MiB, 60 s under 1 GiB, then 300 s."""
    table = [(0, 1.0), (10 * MiB - 1, 1.0), (10 * MiB, 10.0), (100 * MiB - 1, 10.0),
             (100 * MiB, 60.0), (2**30 - 1, 60.0), (2**30, 300.0), (50 * 2**30, 300.0)]
    assert [(size, min_interval(size)) for size, _ in table] == table
    sizes = [0, 1, MiB, 20 * MiB, 500 * MiB, 2 * 2**30]
    intervals = [min_interval(s) for s in sizes]
    assert intervals == sorted(intervals)


def test_unchanged_content_is_not_recorded_again(harness: Harness, tmp_path: Path) -> None:
    """A change event with identical content reads the file but records no new upload (same digest, count, time)."""
    harness.add("same.txt", b"constant")
    blobs = CountingBlobs(str(tmp_path / "blobs"))
    transfers = harness.start(blobs)
    before = harness.wait_uploaded("same.txt", b"constant")
    harness.change(transfers, "same.txt", b"constant")
    wait_for(lambda: len(blobs.puts) == 2 and not harness.row("same.txt").pending, timeout=10,
             message="the identical content to be re-read")
    after = harness.row("same.txt")
    assert (after.digest, after.uploads, after.updated_at, after.error) == (
        before.digest, 1, before.updated_at, "")


def test_deleted_live_file_keeps_its_last_upload(harness: Harness, tmp_path: Path) -> None:
    """A live file deleted by the user stays as last uploaded: same digest and count, no error, blob intact."""
    source = harness.add("progress.txt", b"last good version")
    blobs = CountingBlobs(str(tmp_path / "blobs"))
    transfers = harness.start(blobs)
    harness.wait_uploaded("progress.txt", b"last good version")
    source.unlink()
    transfers.changed(KEY, "progress.txt", 0)
    assert harness.row("progress.txt").pending is True
    wait_for(lambda: not harness.row("progress.txt").pending, timeout=10,
             message="the change of a deleted file to be handled")
    row = harness.row("progress.txt")
    assert (row.digest, row.uploads, row.error, row.size) == (
        sha(b"last good version"), 1, "", len(b"last good version"))
    assert len(blobs.puts) == 1
    with blobs.open(row.digest) as stream:
        assert stream.read() == b"last good version"
    assert transfers.pending(KEY) == (0, 0)


def test_pending_counts_files_and_bytes_of_one_run(harness: Harness) -> None:
    """pending(key) counts the run's due files and their sizes on disk; other runs are not counted."""
    harness.add("a.bin", b"x" * 1000, policy="now")
    harness.add("b.bin", b"y" * 234, policy="now")
    harness.add("c.bin", b"z" * 50, policy="end", pending=False)
    other = RunKey("ent", "proj", "other01")
    harness.store.create_run(RunRow(key=other))
    link = harness.files_dir / "o.bin"
    os.symlink(harness.write("o.bin", b"o" * 77), link)
    harness.store.write_batch(Batch(key=other, files=[FileRow(other, "o.bin", path=str(link))]))
    transfers = Transfers(harness.store, LocalBlobStore(str(harness.tmp / "blobs")))  # not started
    assert transfers.pending(KEY) == (2, 1234)
    assert transfers.pending(other) == (1, 77)
    assert transfers.pending() == (3, 1311)


# -- known bugs -------------------------------------------------------------------------------


@pytest.mark.skipif(sys.platform != "linux", reason="inotify reports reads as open/close events")
def test_uploaders_own_read_does_not_retrigger_a_live_upload(harness: Harness,
                                                             tmp_path: Path) -> None:
    """A watched live file that nobody writes is uploaded once and then stays idle (not pending, not re-read)."""
    harness.add("watched.txt", b"written once")
    blobs = CountingBlobs(str(tmp_path / "blobs"))
    harness.start(blobs, live_runs=lambda: [KEY])
    wait_for(lambda: harness.row("watched.txt").digest == sha(b"written once"), timeout=10,
             message="the first upload")
    holds_for(lambda: len(blobs.puts) == 1, 2.5, "the unchanged file was read again")
    assert harness.row("watched.txt").pending is False


@pytest.mark.skipif(sys.platform != "linux", reason="relies on inotify event delivery")
def test_change_right_after_the_first_upload_is_uploaded(harness: Harness,
                                                         tmp_path: Path) -> None:
    """A live file changed right after its first upload is uploaded again in its new version while the run is live."""
    blobs = CountingBlobs(str(tmp_path / "blobs"))
    transfers = harness.start(blobs, live_runs=lambda: [KEY])
    # A first file proves the scheduler has run (and refreshed its watches) once.
    harness.add("warmup.txt", b"warm", policy="now")
    transfers.wake()
    harness.wait_uploaded("warmup.txt", b"warm")
    harness.add("fresh.txt", b"version 1")
    transfers.wake()
    wait_for(lambda: harness.row("fresh.txt").digest == sha(b"version 1"), timeout=10,
             message="the first upload")
    harness.write("fresh.txt", b"version 2")  # the user's next write, as a watcher would see it
    harness.wait_uploaded("fresh.txt", b"version 2", timeout=3)


def test_file_changing_continuously_is_still_uploaded_while_it_changes(
        harness: Harness, tmp_path: Path) -> None:
    """A live file rewritten every 0.2 s gets a new upload within 3 s, while the writes go on."""
    harness.add("train.log", b"line 0\n")
    blobs = CountingBlobs(str(tmp_path / "blobs"))
    transfers = harness.start(blobs)
    harness.wait_uploaded("train.log", b"line 0\n")
    lines = [b"line 0\n"]
    last_write = [0.0]

    def write_every_200ms_and_check() -> bool:
        if time.monotonic() - last_write[0] >= 0.2:  # the training loop's cadence
            lines.append(f"line {len(lines)}\n".encode())
            harness.change(transfers, "train.log", b"".join(lines))
            last_write[0] = time.monotonic()
        return len(blobs.puts) >= 2

    wait_for(write_every_200ms_and_check, timeout=3, message="an upload during the writes")


class ListCountingStore(MemoryStore):
    """Counts the per-run file listings (the live watches' refresh)."""

    def __init__(self) -> None:
        super().__init__()
        self.run_listings = 0

    def list_files(self, key: RunKey | None = None, pending: bool | None = None) -> list[FileRow]:
        if key is not None:
            self.run_listings += 1
        return super().list_files(key, pending)


def test_live_watches_are_read_again_only_when_something_changed(tmp_path: Path) -> None:
    """The live files are listed per live run when files were written or the live runs changed (at most once a second),
    not every second regardless: 64 ranks made 64 queries a second."""
    store = ListCountingStore()
    keys = [RunKey("e", "p", f"r{i}") for i in range(3)]
    for key in keys:
        store.create_run(RunRow(key=key, created_at=time.time()))
    live = list(keys)
    transfers = Transfers(store, LocalBlobStore(str(tmp_path / "blobs")), live_runs=lambda: list(live))

    def refresh_after(seconds: float) -> int:
        """Listings made by a refresh check ``seconds`` after the last refresh."""
        before = store.run_listings
        transfers._last_refresh = time.monotonic() - seconds
        transfers._maybe_refresh_watches()
        return store.run_listings - before

    assert refresh_after(2.0) == 3  # the first time
    assert refresh_after(2.0) == 0  # nothing changed
    transfers.wake()  # the applier wrote files
    assert refresh_after(0.5) == 0  # within the second: later
    assert refresh_after(2.0) == 3
    live.pop()
    assert refresh_after(2.0) == 2  # a run ended
    assert refresh_after(2.0) == 0
    assert refresh_after(31.0) == 2  # the periodic safety net
