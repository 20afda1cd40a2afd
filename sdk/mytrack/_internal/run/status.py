"""`RunStatus`: the sync status of a run, with real numbers from the service.

`run_status` assembles it from the sender's counters (what this process
knows) and, while the run is live and online, the service's answer (what
was applied, files still uploading); a service that cannot be reached is a
``last_error``, not an exception, as ``status()`` is for watching delivery.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mytrack._internal.run.state import RunState
from mytrack.errors import CommError

if TYPE_CHECKING:
    from mytrack._internal.run.run import Run


@dataclass(frozen=True)
class RunStatus:
    """What ``run.status()`` returns.

    Attributes:
        sync_items_total: records this writer has encoded and sent.
        sync_items_pending: records not yet applied to the store (queued in
            the SDK, waiting for an ack, or acked and waiting in the WAL).
        sync_time: when the service last acked this writer's records.
        records_acked: records durable in the service's WAL.
        records_applied: records applied to the store.
        queued_calls: log() calls (and other changes) not yet encoded.
        files_pending: files waiting to be uploaded.
        bytes_pending: their size.
        conflicts: shared runs: keys two writers logged at the same step.
        last_error: the last delivery problem, "" if none; after a finish()
            that could not confirm the run, what is not confirmed.
        confirmed: True once finish() has the service's word that every
            record of this process is applied to the store (offline: written
            to the run's WAL); False while the run is running and after a
            finish() that could not confirm it. finish() returns None, as
            W&B's does, and prints what is not confirmed instead.
    """

    sync_items_total: int
    sync_items_pending: int
    sync_time: datetime.datetime | None
    records_acked: int
    records_applied: int
    queued_calls: int
    files_pending: int = 0
    bytes_pending: int = 0
    conflicts: int = 0
    last_error: str = ""
    confirmed: bool = False


def run_status(run: Run) -> RunStatus:
    """``run.status()``: records sent, acked, applied and pending, with real numbers."""
    sender = run._sender
    if sender is None:
        return RunStatus(0, 0, None, 0, 0, 0)
    applied = sender.acked_seq if run.offline else 0
    error = sender.stats.last_error
    files = size = conflicts = 0
    if not run.offline and run._state is RunState.RUNNING:
        try:
            # The count of pending records and files is this run's own.
            reply = run._rpc().status(run._key, run._writer_id, timeout=10)
            applied = reply.writer_applied_seq
            error = error or reply.last_error
            files, size = reply.files_pending, reply.bytes_pending
            conflicts = reply.conflicts
        except CommError as exc:
            error = str(exc)
    elif run._state is RunState.FINISHED:
        applied = sender.acked_seq if not run._unconfirmed else 0
        error = run._unconfirmed or error
    last_ack = sender.stats.last_ack_time
    last_seq, queued = sender.backlog()  # calls not yet encoded count as items too
    return RunStatus(
        sync_items_total=last_seq + queued,
        sync_items_pending=max(0, last_seq - applied) + queued,
        sync_time=datetime.datetime.fromtimestamp(last_ack) if last_ack else None,
        records_acked=sender.acked_seq,
        records_applied=applied,
        queued_calls=queued,
        files_pending=files,
        bytes_pending=size,
        conflicts=conflicts,
        last_error=error,
        confirmed=run._state is RunState.FINISHED and not run._unconfirmed,
    )


def unconfirmed_line(path: str, records: int, timeout: float) -> str:
    """What finish() prints when the records are acked but not yet in the store."""
    return (
        f"mytrack: run {path} is NOT confirmed: its {records} record(s) are safe in the "
        f"service's write-ahead log, but the service had not applied them to the store "
        f"within {timeout:.0f}s; it goes on applying them (see `mytrack-service status`)"
    )
