"""Artifact uploads: an artifact's content into the blob store, apart from the applier.

The applier must never wait on the blob store: an S3 that stops answering
(packets dropped, not refused) holds each try for boto's timeouts, and every
run's records would be applied late meanwhile. So the applier only hands an
artifact record whose entries have content to upload to `ArtifactUploads.defer`
and commits the rest of the run's batch; the record is written to a job file in
the service home (fsynced) before that batch commits, so it survives a restart.

Worker threads then upload each job's entries by digest (skipping what is
stored) and apply the record to the store in a transaction of its own: the
version is *committed*, and `artifact.wait()`/`use_artifact` see its result,
only once its content is downloadable. The records of one run keep their order
(a later record of the run waits behind one that is uploading); runs are
independent. A failing blob store is retried with backoff (0.5 s to 10 s), per
run, and noted in `last_error` until it answers. `Sync` (the confirmation of
`finish()`) also waits for the run's uploads, as W&B's `finish()` does.

A job applied twice (the batch that deferred it was redone, or the service
died between the commit and deleting the file) is applied once: a record whose
result is stored already is skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import asdict, dataclass, field

from mytrack_common.names import entry_name_problem
from mytrack_common.retry import backoff_delay
from mytrack_service.blobs.base import BlobError, BlobStore
from mytrack_service.query import artifacts
from mytrack_service.reclaim.guard import UploadGuard
from mytrack_service.store.artifact_model import ArtifactOp, apply_ops
from mytrack_service.store.base import MetadataStore, RunKey, StoreError

logger = logging.getLogger("mytrack_service.outbound.artifact_uploads")

_FOLDER = "artifact-uploads"
_WORKERS = 2
_RETRY_FIRST = 0.5
_RETRY_CAP = 10.0
_JITTER = (0.5, 1.5)


def needs_upload(op: ArtifactOp) -> bool:
    """Whether the op has content to put into the blob store before it can be applied."""
    if op.error:
        return False
    return any(isinstance(e, dict) and e.get("local") and not e.get("ref")
               for e in op.data.get("entries") or [])


def check_names(op: ArtifactOp) -> None:
    """Marks the op failed if an entry's name is unsafe (no I/O: done in the applier)."""
    for entry in op.data.get("entries") or []:
        path = entry.get("path") if isinstance(entry, dict) else entry
        problem = entry_name_problem(path) if isinstance(entry, dict) else "is not an object"
        if problem is not None:
            op.error = f"artifact entry name {path!r:.300} {problem}"
            return


@dataclass
class _Job:
    name: str  # the job file's name, derived from the op (the same op: the same name)
    key: RunKey
    op: ArtifactOp
    order: int  # when it was first deferred (ns): the run's jobs are applied in this order


@dataclass
class _RunQueue:
    jobs: list[_Job] = field(default_factory=list)
    busy: bool = False  # a worker holds its head job
    failures: int = 0
    next_try: float = 0.0  # monotonic


class ArtifactUploads:
    """The artifact jobs of one service, their files, and the threads that upload them."""

    def __init__(self, store: MetadataStore, blobs: BlobStore, home: str,
                 guard: UploadGuard | None = None) -> None:
        self.store = store
        self.blobs = blobs
        self.guard = guard or UploadGuard()
        self.folder = os.path.join(home, _FOLDER)
        self.last_error = ""  # the current trouble only: cleared once uploads succeed again
        self.uploaded = 0  # files put into the blob store
        self._runs: dict[RunKey, _RunQueue] = {}
        self._names: set[str] = set()  # jobs queued, by file name
        self._cond = threading.Condition()
        self._stop = False
        self._threads = [threading.Thread(target=self._work, name=f"mytrack-artifact-upload-{i}",
                                          daemon=True)  # a held upload never holds the exit
                         for i in range(_WORKERS)]

    # -- the applier's side ----------------------------------------------------------

    def defer(self, key: RunKey, ops: list[ArtifactOp]) -> list[ArtifactOp]:
        """Takes the ops that must wait for uploads (and every op of the run after the
        first such one, to keep their order); returns the ops to apply in the batch.

        The jobs are on disk when this returns, so the batch may commit past them.
        Raises OSError if a job file cannot be written (the batch is then retried).
        """
        kept: list[ArtifactOp] = []
        taken: list[_Job] = []
        with self._cond:
            waiting = bool(self._runs.get(key) and self._runs[key].jobs)
        for op in ops:
            check_names(op)
            if waiting or needs_upload(op):
                waiting = True
                taken.append(self._write(key, op))
            else:
                kept.append(op)
        if taken:
            with self._cond:
                for job in taken:
                    self._enqueue(job)
                self._cond.notify_all()
        return kept

    def pending(self, key: RunKey | None = None) -> int:
        """Jobs not yet applied, of one run or all."""
        with self._cond:
            if key is not None:
                queue = self._runs.get(key)
                return len(queue.jobs) if queue else 0
            return sum(len(q.jobs) for q in self._runs.values())

    def wait_run(self, key: RunKey, timeout: float) -> bool:
        """Waits until the run has no job left; False if some remain after ``timeout``."""
        with self._cond:
            return self._cond.wait_for(lambda: not (self._runs.get(key) and self._runs[key].jobs),
                                       timeout=max(0.0, timeout))

    # -- life -----------------------------------------------------------------------

    def start(self) -> None:
        """Loads the jobs a previous service left, then starts the workers."""
        for job in sorted(self._load(), key=lambda j: j.order):
            with self._cond:
                self._enqueue(job)
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Stops taking jobs. An upload in flight is not waited for (S3 may not answer):
        its job file stays, and the next service does it."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()

    # -- jobs on disk -------------------------------------------------------------------

    def _write(self, key: RunKey, op: ArtifactOp) -> _Job:
        text = json.dumps({"key": [key.entity, key.project, key.run_id], "op": asdict(op)},
                          sort_keys=True)
        name = hashlib.sha256(text.encode()).hexdigest()[:32] + ".json"
        path = os.path.join(self.folder, name)
        job = _Job(name, key, op, time.time_ns())
        if os.path.exists(path):  # deferred before (a redone batch): keeps its first order
            with suppress(OSError, ValueError, KeyError, TypeError):
                job.order = int(json.loads(_read(path))["order"])
            return job
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        tmp = f"{path}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, json.dumps({"key": [key.entity, key.project, key.run_id], "op": asdict(op),
                                     "order": job.order}).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        dir_fd = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return job

    def _load(self) -> Iterator[_Job]:
        try:
            names = sorted(n for n in os.listdir(self.folder) if n.endswith(".json"))
        except FileNotFoundError:
            return
        for name in names:
            try:
                doc = json.loads(_read(os.path.join(self.folder, name)))
                entity, project, run_id = doc["key"]
                yield _Job(name, RunKey(entity, project, run_id), ArtifactOp(**doc["op"]),
                           int(doc["order"]))
            except (OSError, ValueError, KeyError, TypeError) as exc:
                logger.error("cannot read the artifact job %s (kept): %s", name, exc)

    def _enqueue(self, job: _Job) -> None:
        if job.name in self._names:
            return  # queued already (a redone batch deferred it again)
        self._names.add(job.name)
        self._runs.setdefault(job.key, _RunQueue()).jobs.append(job)

    # -- the workers ---------------------------------------------------------------------

    def _next(self) -> tuple[_RunQueue, _Job] | None:
        """The head job of a run that is free and due, or None once stopping."""
        with self._cond:
            while not self._stop:
                now = time.monotonic()
                due = [q for q in self._runs.values() if q.jobs and not q.busy and q.next_try <= now]
                if due:
                    queue = min(due, key=lambda q: q.jobs[0].order)
                    queue.busy = True
                    return queue, queue.jobs[0]
                waits = [q.next_try - now for q in self._runs.values() if q.jobs and not q.busy]
                self._cond.wait(min(waits, default=1.0))
            return None

    def _work(self) -> None:
        while (picked := self._next()) is not None:
            queue, job = picked
            try:
                self._do(job)
            except (BlobError, StoreError, OSError) as exc:
                with self._cond:
                    queue.busy = False
                    queue.failures += 1
                    queue.next_try = time.monotonic() + backoff_delay(
                        queue.failures, _RETRY_FIRST, _RETRY_CAP, _JITTER)
                    self._cond.notify_all()
                self._note(f"the blob store failed, so an artifact of {job.key.path} waits to be "
                           f"uploaded and committed; retrying: {exc}")
                continue
            except Exception:  # noqa: BLE001 - a worker must outlive any one bug
                logger.exception("artifact job %s of %s failed; will retry", job.name, job.key.path)
                with self._cond:
                    queue.busy = False
                    queue.failures += 1
                    queue.next_try = time.monotonic() + _RETRY_CAP
                    self._cond.notify_all()
                continue
            with suppress(FileNotFoundError):
                os.unlink(os.path.join(self.folder, job.name))
            with self._cond:
                queue.jobs.pop(0)
                self._names.discard(job.name)
                queue.busy = False
                queue.failures = 0
                if not queue.jobs:
                    del self._runs[job.key]
                if not any(q.failures for q in self._runs.values()):
                    self.last_error = ""
                self._cond.notify_all()

    def _do(self, job: _Job) -> None:
        """Uploads the job's content and applies its op, once (BlobError: retried)."""
        with self.guard.uploading():  # from the put to the commit: a blob sweep waits
            if not self._applied(job.op):
                self.uploaded += artifacts.upload(self.blobs, [job.op])
            with self.store.artifacts(write=True) as tx:
                if not job.op.client_id or tx.result(job.op.client_id) is None:
                    apply_ops(tx, [job.op])

    def _applied(self, op: ArtifactOp) -> bool:
        if not op.client_id:
            return False
        with self.store.artifacts() as tx:
            return tx.result(op.client_id) is not None

    def _note(self, text: str) -> None:
        if not self.last_error:
            logger.warning("%s", text)
        self.last_error = text


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()
