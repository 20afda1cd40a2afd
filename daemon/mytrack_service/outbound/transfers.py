"""File uploads: saved files into the blob store, in parallel, with retries.

The store says which uploads are due (``files.pending``), so they survive a
restart: a service that starts finds them and carries on. A scheduler thread
hands due files to a small pool of workers; each worker streams the file into
the `BlobStore` (hashing as it copies, so a 2 GB file never sits in memory)
and records digest, size and time. Identical content is not recorded again.
A failure is retried with exponential backoff and jitter, the error noted.

Live files (policy "live") are watched by `LiveWatcher`; a change marks the
file due again, subject to a debounce and a minimum interval that grows with
the file's size, so a file rewritten 1,000 times a second is uploaded a few
times, and always in its last version.
"""

from __future__ import annotations

import logging
import mimetypes
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from mytrack_common.retry import backoff_delay
from mytrack_service.blobs.base import BlobError, BlobStore
from mytrack_service.outbound.live_files import LiveWatcher
from mytrack_service.reclaim.guard import UploadGuard
from mytrack_service.store.base import FileRow, MetadataStore, RunKey, StoreError

logger = logging.getLogger("mytrack_service.outbound.transfers")

_WORKERS = 4
_BACKOFF_FIRST = 0.5
_BACKOFF_MAX = 60.0
# Never less than half the base wait: a failing blob store is not hammered.
_JITTER = (0.5, 1.5)
_DEBOUNCE = 0.5  # seconds of quiet after a live change before uploading
# Live watches are re-read from the store when files were written or the live
# runs changed (at most once a second), and at least this often in any case.
_REFRESH_SECONDS = 30.0


def min_interval(size: int) -> float:
    """Least time between two uploads of one live file, by its size."""
    if size < 10 * 2**20:
        return 1.0
    if size < 100 * 2**20:
        return 10.0
    if size < 2**30:
        return 60.0
    return 300.0


@dataclass
class _Slot:
    """In-memory upload state of one file."""

    generation: int = 0  # bumped by every change: an upload of an older one is stale
    first_change: float = 0.0  # monotonic time of the oldest change not yet uploaded
    in_flight: bool = False
    failures: int = 0
    next_try: float = 0.0  # monotonic time before which not to start (backoff, throttle)
    last_upload: float = 0.0  # monotonic time the last upload finished


class Transfers:
    def __init__(
        self, store: MetadataStore, blobs: BlobStore,
        live_runs: Callable[[], list[RunKey]] = list, guard: UploadGuard | None = None,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.guard = guard or UploadGuard()  # a blob sweep waits while an upload commits
        self.live_runs = live_runs  # runs whose live files are to be watched
        self.watcher = LiveWatcher(self.changed)
        self.retries = 0
        self.last_error = ""  # the current trouble only: cleared once uploads recover
        self._listing_failed = False
        self._slots: dict[tuple[RunKey, str], _Slot] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._files_written = True  # since the live watches were last read
        self._last_refresh = 0.0  # monotonic time they were
        self._watched_runs: list[RunKey] | None = None  # the live runs they were read for
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="mytrack-upload")
        self._thread = threading.Thread(target=self._run, name="mytrack-transfers", daemon=True)

    def start(self) -> None:
        self.watcher.start()
        self._thread.start()

    def wake(self) -> None:
        """Files were written (new ones, or a new policy): uploads and watches are re-read."""
        self._files_written = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join()
        self.watcher.stop()
        self._pool.shutdown(wait=True)

    def changed(self, key: RunKey, name: str, size: int) -> None:
        """A live file changed: upload it again after the debounce and throttle."""
        with self._lock:
            slot = self._slots.setdefault((key, name), _Slot())
            slot.generation += 1
            now = time.monotonic()
            if not slot.first_change:
                slot.first_change = now
            # Debounced, but a file that never stops changing is still uploaded
            # once per interval, not only at the end.
            quiet = min(now + _DEBOUNCE, slot.first_change + max(_DEBOUNCE, min_interval(size)))
            slot.next_try = max(quiet, slot.last_upload + min_interval(size))
        try:
            self.store.update_file(key, name, {"pending": True})
        except StoreError as exc:
            logger.warning("cannot mark %s of %s for upload: %s", name, key.path, exc)
        self._wake.set()

    def pending(self, key: RunKey | None = None) -> tuple[int, int]:
        """(files, bytes) waiting for an upload, for one run or all."""
        rows = self.store.list_files(key, pending=True)
        return len(rows), sum(_size(row.path) for row in rows)

    # -- scheduling -------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(0.25)
            self._wake.clear()
            try:
                self._maybe_refresh_watches()
                due = self.store.list_files(pending=True)
            except StoreError as exc:
                self._files_written = True  # the watches are read again next time
                self._listing_failed = True
                self._note(f"cannot list pending uploads: {exc}")
                continue
            if self._listing_failed:
                self._listing_failed = False
                self._clear_if_recovered()
            now = time.monotonic()
            for row in due:
                with self._lock:
                    slot = self._slots.setdefault((row.key, row.name), _Slot())
                    if slot.in_flight or slot.next_try > now:
                        continue
                    slot.in_flight = True
                    slot.first_change = 0.0
                    generation = slot.generation
                self._pool.submit(self._upload, row, generation)

    def _maybe_refresh_watches(self) -> None:
        """Re-reads the live files when files were written or the live runs changed.

        At most once a second, and not a query per live run each second (64
        ranks: 64 queries/s) when nothing changed.
        """
        since = time.monotonic() - self._last_refresh
        live = self.live_runs()
        if since > 1.0 and (self._files_written or live != self._watched_runs) \
                or since > _REFRESH_SECONDS:
            self._files_written = False
            self._refresh_watches(live)
            self._last_refresh, self._watched_runs = time.monotonic(), live

    def _refresh_watches(self, live: list[RunKey]) -> None:
        wanted = {
            row.path: (row.key, row.name)
            for key in live
            for row in self.store.list_files(key)
            if row.policy == "live"
        }
        self.watcher.refresh(wanted)

    def _upload(self, row: FileRow, generation: int) -> None:
        with self.guard.uploading():
            self._upload_guarded(row, generation)

    def _upload_guarded(self, row: FileRow, generation: int) -> None:
        slot = self._slots[(row.key, row.name)]
        try:
            fields = self._transfer(row)
        except (BlobError, OSError) as exc:
            with self._lock:
                slot.failures += 1
                slot.in_flight = False
                slot.next_try = time.monotonic() + backoff_delay(
                    slot.failures, _BACKOFF_FIRST, _BACKOFF_MAX, _JITTER)
            self.retries += 1
            self._note(f"upload of {row.name} ({row.key.path}) failed, retrying: {exc}")
            self._record(row, {"error": str(exc)})
            return
        with self._lock:
            slot.failures = 0
            slot.in_flight = False
            slot.last_upload = time.monotonic()
            # A change during the upload keeps the file due (its last version).
            fields["pending"] = slot.generation != generation
        self._record(row, fields)
        self._clear_if_recovered()
        self._wake.set()

    def _transfer(self, row: FileRow) -> dict[str, object]:
        if not os.path.exists(row.path):
            # Deleted (or never readable): the last upload stands.
            message = "" if row.uploads else f"{row.path} does not exist"
            return {"error": message}
        digest, size = self.blobs.put_file(row.path)
        if digest == row.digest:
            return {"error": ""}  # same content: nothing new to record
        mime = mimetypes.guess_type(row.name)[0] or "application/octet-stream"
        return {
            "digest": digest, "size": size, "mime": mime, "updated_at": time.time(),
            "uploads": row.uploads + 1, "error": "",
        }

    def _record(self, row: FileRow, fields: dict[str, object]) -> None:
        try:
            self.store.update_file(row.key, row.name, fields)
        except StoreError as exc:
            self._note(f"cannot record the upload of {row.name}: {exc}")

    def _clear_if_recovered(self) -> None:
        """Forgets the last error once nothing is failing, so that ``mytrack-service
        status`` shows current trouble, not an outage that is over."""
        with self._lock:
            failing = self._listing_failed or any(s.failures for s in self._slots.values())
        if not failing:
            self.last_error = ""

    def _note(self, text: str) -> None:
        if text != self.last_error:
            logger.warning("%s", text)
        self.last_error = text


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
