"""Records the applier cannot decode or apply: kept aside, reported, skipped.

One bad record must never block the records after it. Without this, a record
that fails the same way on every try (a string the store cannot encode, a
record from a newer SDK, a bug in the assembly) stops its run for good: the
applier retries it twice a second, the WAL grows, the run never finishes.

A quarantined record is

* kept: appended, with the error and its bytes (base64), to
  ``<wal>.quarantine`` beside the writer's WAL (JSON lines), so that nothing
  acknowledged is silently thrown away and the record can be inspected;
* reported: once per writer in the service log, in ``status`` (the applier's
  ``last_error``), in the run's ``metadata["quarantined_records"]`` and as a
  warning to the writer;
* skipped: the entry's offset is remembered (and re-read from the file after a
  restart), so a redone batch passes over it.

The unit is the record, or, for a LogBatch record that carries many ``log()``
calls, the call: a bad call is kept aside under its record's offset and its
index in the record, and the record's other calls are applied.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger("mytrack_service.apply.quarantine")

SUFFIX = ".quarantine"
# Quarantined records listed in a run's metadata (the count covers all of them).
MAX_LISTED = 20


@dataclass(frozen=True)
class QuarantinedRecord:
    writer_id: str
    offset: int  # where the entry starts in the WAL
    end: int
    error: str
    timestamp: float
    call: int | None = None  # the log() call's index in its LogBatch record; None: all of it

    def summary(self) -> dict[str, Any]:
        """What the run's metadata shows of it."""
        shown: dict[str, Any] = {
            "writer": self.writer_id, "offset": self.offset, "error": self.error[:500],
            "time": self.timestamp,
        }
        if self.call is not None:
            shown["call"] = self.call
        return shown


class Quarantine:
    """The quarantined WAL entries of every writer this service applies."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # WAL path -> {quarantined entry offset: why}; a call alone: {(offset, index): why}
        self._offsets: dict[str, dict[int | tuple[int, int], str]] = {}
        self._logged: set[str] = set()  # writers already named in the service log
        self.count = 0  # records quarantined since the service started
        self.last_note = ""  # for the service's status
        self._run_notes: dict[str, str] = {}  # run path -> for that run's status

    def contains(self, wal_path: str, offset: int) -> bool:
        """Whether the entry at ``offset`` of ``wal_path`` was quarantined (also before a restart)."""
        return offset in self._of(wal_path)

    def calls(self, wal_path: str, offset: int) -> set[int]:
        """The indexes of the calls of the record at ``offset`` quarantined alone."""
        if not self._of(wal_path):
            return set()
        return {k[1] for k in self._of(wal_path) if isinstance(k, tuple) and k[0] == offset}

    def _of(self, wal_path: str) -> dict[int | tuple[int, int], str]:
        with self._lock:
            offsets = self._offsets.get(wal_path)
            if offsets is None:
                offsets = self._offsets[wal_path] = _load(wal_path + SUFFIX)
            return offsets

    def note(self, run: str | None = None) -> str:
        """What status says: about ``run`` (its path), or about the service when None."""
        with self._lock:
            return self.last_note if run is None else self._run_notes.get(run, "")

    def add(
        self, wal_path: str, run: str, writer_id: str, offset: int, end: int, payload: bytes,
        error: str, call: int | None = None,
    ) -> QuarantinedRecord:
        """Keeps the entry, or its call ``call`` alone (``payload``: that call's JSON),
        aside (once) and reports it; the caller skips it.

        ``error`` is ignored for an entry quarantined before (its first error stays).
        """
        slot: int | tuple[int, int] = offset if call is None else (offset, call)
        known = self._of(wal_path).get(slot)
        if known is not None:
            return QuarantinedRecord(writer_id, offset, end, known, time.time(), call)
        record = QuarantinedRecord(writer_id, offset, end, error, time.time(), call)
        fields: dict[str, Any] = {
            "writer": writer_id, "offset": offset, "end": end, "error": error,
            "time": record.timestamp, "payload": base64.b64encode(payload).decode(),
        }
        if call is not None:
            fields["call"] = call
        line = json.dumps(fields)
        try:
            _append(wal_path + SUFFIX, line)
        except OSError as exc:  # kept in memory still: the run goes on either way
            logger.warning("cannot write %s%s: %s", wal_path, SUFFIX, exc)
        with self._lock:
            self._offsets.setdefault(wal_path, {})[slot] = error
            self.count += 1
            what = "" if call is None else f", log() call {call} of the record"
            where = (f"writer {writer_id}, WAL offset {offset}{what}: {error[:200]}); "
                     f"kept in {wal_path}{SUFFIX}")
            self.last_note = (
                f"{self.count} record(s) could not be applied and were quarantined (latest: run "
                f"{run}, {where}"
            )
            self._run_notes[run] = f"a record of this run could not be applied and was quarantined ({where}"
            first = writer_id not in self._logged
            self._logged.add(writer_id)
        if first:  # once per writer: a stream of bad records must not flood the log
            logger.warning(
                "quarantined a record of writer %s at WAL offset %d (%s); later ones of this "
                "writer are counted in status; all are kept in %s%s",
                writer_id, offset, error, wal_path, SUFFIX,
            )
        return record


def listed(metadata: dict[str, Any], record: QuarantinedRecord) -> dict[str, Any]:
    """The metadata keys that report ``record`` on top of what ``metadata`` holds."""
    previous = metadata.get("quarantined_records")
    entries = list(previous) if isinstance(previous, list) else []
    count = metadata.get("quarantined_count")
    total = (count if isinstance(count, int) else len(entries)) + 1
    return {
        "quarantined_records": [*entries, record.summary()][-MAX_LISTED:],
        "quarantined_count": total,
    }


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _load(path: str) -> dict[int | tuple[int, int], str]:
    """Offsets (and calls) quarantined before, and why (a restarted service skips them again)."""
    offsets: dict[int | tuple[int, int], str] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                    call = entry.get("call")
                    offset = int(entry["offset"])
                    slot = offset if call is None else (offset, int(call))
                    offsets[slot] = str(entry.get("error", ""))
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line: that record is quarantined again
    except FileNotFoundError:
        pass
    except OSError as exc:
        logger.warning("cannot read %s: %s", path, exc)
    return offsets
