"""The blob sweep: delete the blobs that no file row and no artifact manifest references.

Mark and sweep, not reference counts: the references are the store's rows
themselves (`MetadataStore.referenced_digests`), so they can never drift from
what the store holds, and nothing is counted on the hot path of an upload.

Safe with concurrent uploads (see guard.py): the candidates are listed first,
outside the guard (a blob stored after the listing is not a candidate); then,
holding the guard alone, the sweep reads the references and deletes. An upload
of this service is either committed by then (referenced) or waits.

Services that share one store and one blob store (PostgreSQL and S3 on several
machines) do not share the guard: ``grace`` keeps every blob written less than
that many seconds ago (``MYTRACK_GC_GRACE``), which covers another service's
upload between its put and its commit.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from mytrack_service.blobs.base import BlobError, BlobStore
from mytrack_service.reclaim.guard import UploadGuard
from mytrack_service.store.base import MetadataStore

logger = logging.getLogger("mytrack_service.reclaim")


@dataclass
class SweepReport:
    """What a sweep found and did (JSON-ready through `as_dict`)."""

    dry_run: bool
    checked: int = 0  # blobs looked at
    referenced: int = 0
    unreferenced: int = 0
    deleted: int = 0  # (with dry_run: would be)
    deleted_bytes: int = 0
    kept_recent: int = 0  # unreferenced, but younger than the grace period
    errors: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)  # those deleted, at most 1,000 listed

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


class BlobSweep:
    """Sweeps the blob store of one service (`sweep` is thread-safe)."""

    def __init__(
        self, store: MetadataStore, blobs: BlobStore, guard: UploadGuard, grace: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.guard = guard
        self.grace = grace
        self.clock = clock

    def sweep(self, candidates: Collection[str] | None = None, dry_run: bool = False) -> SweepReport:
        """Deletes the unreferenced ones among ``candidates`` (every blob when None)."""
        report = SweepReport(dry_run)
        listed = sorted(set(self.blobs.list()) if candidates is None else set(candidates))
        report.checked = len(listed)
        started = self.clock()
        with self.guard.sweeping():
            referenced = self.store.referenced_digests(None if candidates is None else listed)
            report.referenced = sum(1 for d in listed if d in referenced)
            for digest in listed:
                if digest not in referenced:
                    self._sweep_one(digest, started, report)
        if report.deleted:
            logger.info("blob sweep: %s %d blobs (%d bytes)", "would delete" if dry_run else "deleted",
                        report.deleted, report.deleted_bytes)
        return report

    def _sweep_one(self, digest: str, started: float, report: SweepReport) -> None:
        try:
            info = self.blobs.stat(digest)
            if info is None:
                return  # not stored (a candidate whose upload never happened)
            report.unreferenced += 1
            if started - info.modified < self.grace:
                report.kept_recent += 1
                return
            if not report.dry_run and not self.blobs.delete(digest):
                return
        except (BlobError, ValueError) as exc:
            report.errors.append(f"{digest}: {exc}")
            return
        report.deleted += 1
        report.deleted_bytes += info.size
        if len(report.digests) < 1000:
            report.digests.append(digest)
