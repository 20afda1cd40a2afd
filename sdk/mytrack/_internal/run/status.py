"""`RunStatus`: the sync status of a run, with real numbers from the service."""

from __future__ import annotations

import datetime
from dataclasses import dataclass


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


def unconfirmed_line(path: str, records: int, timeout: float) -> str:
    """What finish() prints when the records are acked but not yet in the store."""
    return (
        f"mytrack: run {path} is NOT confirmed: its {records} record(s) are safe in the "
        f"service's write-ahead log, but the service had not applied them to the store "
        f"within {timeout:.0f}s; it goes on applying them (see `mytrack-service status`)"
    )
