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
        last_error: the last delivery problem, "" if none.
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
