"""What the applier does with a damaged span of a WAL: keep, report, skip.

A span that fails its CRC with intact entries after it (a flipped bit, a bad
sector) costs only the records in it: the reader resynchronises on the next
intact entry (mytrack_common.wal). Losing even those must not be silent, so
each span is copied aside for inspection, logged in service.log, named by
``mytrack-service status`` and recorded in the run's metadata under
``wal_damage``, where ``Api().run(path).metadata`` and the UI show it.
"""

from __future__ import annotations

import logging
import os
from typing import Any

from mytrack_common.wal import WalDamage, keep_aside
from mytrack_service.apply.decode import EnvironmentEvent
from mytrack_service.ingest.live_runs import RunSession, WriterSession

logger = logging.getLogger("mytrack_service.apply.applier")

# Reports kept in one run's metadata: a WAL damaged all over must not make
# the run's row grow without bound (the count goes on).
MAX_REPORTS_PER_RUN = 20


def report(session: RunSession, writer: WriterSession, damage: WalDamage) -> str:
    """Keeps the damaged bytes aside, logs and records the damage; returns a one-line note."""
    kept = keep_aside(writer.wal_path, damage)
    note = (
        f"WAL damage in run {session.key.path}: bytes {damage.offset}..{damage.end} of "
        f"{writer.wal_path} ({damage.size} bytes) hold no intact record and were skipped; "
        + (f"kept in {os.path.basename(kept)}" if kept else "could not be copied aside")
    )
    logger.error("%s; the records after them are applied", note)
    entry: dict[str, Any] = {
        "wal": writer.wal_path, "writer": writer.writer_id, "offset": damage.offset,
        "end": damage.end, "bytes": damage.size, "kept": kept,
    }
    metadata = session.assembly.metadata
    reports = list(metadata.get("wal_damage", []))[: MAX_REPORTS_PER_RUN - 1] + [entry]
    count = int(metadata.get("wal_damage_count", 0)) + 1
    session.assembly.apply(EnvironmentEvent({"wal_damage": reports, "wal_damage_count": count}))
    return note
