"""Live runs and writers: the service's in-memory state around the store.

A `RunSession` holds one run's assembly state and its writers; a
`WriterSession` is one SDK process's connection to a run, with its WAL (both
in sessions.py, re-exported here). The `LiveRuns` owns them all: it opens runs, appends received records to WALs (acking
only after the fsync), and lets the applier (apply/applier.py) move WAL entries
into the store.

Other modules see a narrow surface: the run and writer operations below, read-only
views (snapshots, counters) and `applied` for the applier's commits; the
dictionaries, the lock and the counters stay private.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any, Final, TypeVar

from mytrack_common.names import new_run_name
from mytrack_common.wal import DISK_FULL_ERRNOS, WalWriter
from mytrack_service.apply.assembly import RunAssembly
from mytrack_service.apply.decode import record_seq
from mytrack_service.ingest.sessions import (
    IngestError,
    OpenRequest,
    RunSession,
    WriterSession,
    WriterState,
)
from mytrack_service.store.base import (
    Batch,
    MetadataStore,
    RunExistsError,
    RunKey,
    RunRow,
    WriterPosition,
    WriterRow,
)

__all__ = ["IngestError", "LiveRuns", "OpenRequest", "RunSession", "WriterSession", "WriterState"]

T = TypeVar("T")
logger = logging.getLogger("mytrack_service.ingest")


class LiveRuns:
    """Runs, writers and their WALs; thread-safe."""

    def __init__(
        self, store: MetadataStore, home: str, clock: Callable[[], float] = time.time,
        node_id: str = "", on_append: Callable[[], None] = lambda: None,
    ) -> None:
        # Collaborators, fixed for the service's life (Final: read-only to others).
        self.store: Final = store
        self.home: Final = home
        self.node_id: Final = node_id  # this service, among several sharing a store
        self.clock: Final = clock
        # The state below is this class's alone: other modules go through the
        # methods, so every change happens under the lock it needs.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)  # an applied position moved
        self._sessions: dict[RunKey, RunSession] = {}
        self._writers: dict[str, WriterSession] = {}
        self._records_received = 0
        # Why WAL appends are refused now (a full disk), "" when they are not:
        # logged once when it starts and shown by status until an append succeeds.
        self._write_error = ""
        self._records_applied = 0
        self._last_activity = clock()
        # Records are in a WAL, or a writer died: the applier has work.
        self._on_append = on_append
        self._run_locks = [threading.Lock() for _ in range(64)]

    # -- opening -------------------------------------------------------------

    def open_run(self, req: OpenRequest) -> tuple[RunRow, bool, int, str]:
        """Creates or resumes a run; returns (run, resumed, starting step, WAL path).

        The store work happens under a lock of the run alone: the live_runs's lock is
        taken only to publish the session and the writer, so 64 ranks opening
        their runs at once do not hold up each other's streams (and a Hello
        does not wait behind another run's store transactions).
        """
        with self._lock:
            self._last_activity = self.clock()
            if req.adopt_wal:
                return self._adopt(req)
        with self._run_lock(req.key):
            existing = self.store.get_run(req.key)
            # A writer joining a shared run is neither a resume nor refused by one.
            joining = req.shared and existing is not None
            if existing is not None and req.resume == "never" and not joining:
                raise IngestError("exists", f"run {req.key.path} already exists and resume='never'")
            if existing is None and req.resume == "must":
                raise IngestError("precondition", f"run {req.key.path} does not exist and resume='must'")
            wal_path = self._wal_path(req)
            row = WriterRow(req.writer_id, req.key, wal_path, node=self.node_id)
            registered = False
            if existing is None:
                run, registered = self._create(req, row)
            elif joining and not (req.primary and existing.state != "running"):
                run = existing
            else:
                run = self._resume(existing, req)
            with self._lock:
                session = self._session(run)
                session.opening += 1  # not evicted before the writer is in it
                if existing is not None and not joining:
                    session.assembly.restart(req.start_time)
                step = session.assembly.add_writer(req.writer_id, req.shared, req.primary, req.label)
                state = session.assembly.state_field() if existing is not None or req.shared else None
            try:
                if state is not None:
                    self.store.write_batch(Batch(
                        req.key, run_fields={"service_state": state}, merge_rows=session.assembly.shared,
                    ))
                writer = self._new_writer(req.writer_id, req.key, wal_path, 0, 0)
                writer.pid, writer.host = req.pid, req.host
                writer.stats_interval = req.stats_interval
                # Registered before the applier can see it: it records the
                # writer's position in the store with every batch.
                if not registered:
                    self.store.register_writer(row)
            except BaseException:
                with self._lock:
                    session.opening -= 1
                raise
            with self._lock:
                session.opening -= 1
                self._writers[writer.writer_id] = writer
                session.writers[writer.writer_id] = writer
            return run, existing is not None and not joining, step, wal_path

    def _run_lock(self, key: RunKey) -> threading.Lock:
        """One of a few locks, chosen by the run: opens of one run never overlap."""
        return self._run_locks[hash(key) % len(self._run_locks)]

    def _adopt(self, req: OpenRequest) -> tuple[RunRow, bool, int, str]:
        """`mytrack sync`: apply an existing WAL; a second sync finds it applied."""
        known = self._writers.get(req.writer_id)
        row = self.store.get_writer(req.writer_id) if known is None else None
        if known is None and row is not None:
            known = self._restore_writer(row)
        if known is None:
            existing = self.store.get_run(req.key)
            run = self._create(req)[0] if existing is None else existing
            session = self._session(run)
            if existing is not None:
                session.assembly.restart(req.start_time)
            known = self._open_writer(req.writer_id, req.key, req.adopt_wal, 0, 0, adopt=True)
            known.pid, known.host = req.pid, req.host
            session.writers[known.writer_id] = known
            self.store.register_writer(
                WriterRow(req.writer_id, req.key, req.adopt_wal, adopted=True, node=self.node_id)
            )
        known.refresh_adopted()
        self._on_append()
        adopted = self.store.get_run(req.key)
        assert adopted is not None
        return adopted, False, self._sessions[req.key].assembly.step, known.wal_path

    def _create(self, req: OpenRequest, writer: WriterRow | None = None) -> tuple[RunRow, bool]:
        """The new run (or, for a shared run created meanwhile, the existing
        one), and whether ``writer`` was registered with it."""
        now = self.clock()
        run = RunRow(
            key=req.key, name=req.name or new_run_name(), state="running", group=req.group,
            job_type=req.job_type, tags=list(req.tags), notes=req.notes, config=req.config,
            created_at=req.start_time or now, updated_at=now, heartbeat_at=now,
            run_dir=req.run_dir, host=req.host, pid=req.pid, sweep_id=req.sweep_id,
            service_state={"step": 0, "start_time": req.start_time or now},
        )
        try:
            self.store.create_run(run, writer)
        except RunExistsError as exc:
            # Writers of a shared run on two services may create it at once.
            existing = self.store.get_run(req.key) if req.shared else None
            if existing is None:
                raise IngestError("exists", str(exc)) from None
            return existing, False
        return run, writer is not None

    def _resume(self, run: RunRow, req: OpenRequest) -> RunRow:
        config = dict(run.config)
        config.update(req.config)
        fields: dict[str, Any] = {
            "state": "running", "exit_code": None, "config": config, "pid": req.pid,
            "host": req.host, "run_dir": req.run_dir, "heartbeat_at": self.clock(),
        }
        for name in ("name", "group", "job_type", "notes"):
            if getattr(req, name):
                fields[name] = getattr(req, name)
        if req.tags:
            fields["tags"] = list(req.tags)
        self.store.update_run(run.key, fields)
        session = self._sessions.get(run.key)
        if session is not None:
            session.assembly.config = config
        updated = self.store.get_run(run.key)
        assert updated is not None
        return updated

    def _session(self, run: RunRow) -> RunSession:
        session = self._sessions.get(run.key)
        if session is None:
            session = RunSession(run.key, RunAssembly(run, self.node_id))
            self._sessions[run.key] = session
        return session

    def _wal_path(self, req: OpenRequest) -> str:
        if req.run_dir and os.path.isdir(req.run_dir):
            return os.path.join(req.run_dir, f"run-{req.key.run_id}-{req.writer_id}.wal")
        folder = os.path.join(self.home, "wal")
        os.makedirs(folder, exist_ok=True)
        return os.path.join(folder, f"{req.writer_id}.wal")

    def _open_writer(
        self, writer_id: str, key: RunKey, wal_path: str, applied_offset: int, applied_seq: int,
        adopt: bool = False,
    ) -> WriterSession:
        writer = self._new_writer(writer_id, key, wal_path, applied_offset, applied_seq, adopt)
        self._writers[writer_id] = writer
        return writer

    def _new_writer(
        self, writer_id: str, key: RunKey, wal_path: str, applied_offset: int, applied_seq: int,
        adopt: bool = False,
    ) -> WriterSession:
        """A writer with its WAL open, not yet known to the live_runs."""
        wal = None if adopt else WalWriter(wal_path)
        writer = WriterSession(
            writer_id=writer_id, key=key, wal_path=wal_path, wal=wal,
            durable_size=wal.size if wal else 0,
            max_seq=record_seq(wal.last_payload) if wal and wal.last_payload else 0,
            applied_offset=applied_offset, applied_seq=applied_seq, last_heartbeat=self.clock(),
            opened_at=self.clock(),
        )
        writer.refresh_adopted()
        return writer

    def attach(self, writer_id: str, pid: int = 0, host: str = "") -> WriterSession:
        """The writer of a stream's Hello; reloaded from the store after a restart."""
        with self._lock:
            self._last_activity = self.clock()
            writer = self._writers.get(writer_id)
            if writer is None:
                row = self.store.get_writer(writer_id)
                if row is None:
                    raise IngestError("not_found", f"unknown writer {writer_id}: open the run first")
                writer = self._restore_writer(row)
            if pid:
                writer.pid, writer.host = pid, host
            writer.last_heartbeat = self.clock()
            writer.dead_reason = ""  # it talks to us: alive
            return writer

    def recover(self) -> int:
        """Reopens every writer the store says is still open (after a restart)."""
        count = 0
        with self._lock:
            for row in self.store.list_writers():
                mine = row.node in ("", self.node_id)  # other services recover theirs
                if mine and row.writer_id not in self._writers and os.path.exists(row.wal_path):
                    self._restore_writer(row)
                    count += 1
        return count

    def _restore_writer(self, row: WriterRow) -> WriterSession:
        run = self.store.get_run(row.key)
        if run is None:
            raise IngestError("not_found", f"run {row.key.path} of writer {row.writer_id} is gone")
        session = self._session(run)
        writer = self._open_writer(
            row.writer_id, row.key, row.wal_path, row.applied_offset, row.applied_seq,
            adopt=row.adopted,
        )
        writer.pid, writer.host = run.pid, run.host
        if row.closed:
            writer.state = WriterState.CLOSED
        session.writers[row.writer_id] = writer
        return writer

    # -- the write path -----------------------------------------------------------

    def append(self, writer: WriterSession, first_seq: int, records: list[bytes]) -> int:
        """Appends the records not yet in the WAL, fsyncs, returns the acked seq."""
        if writer.wal is None:
            raise IngestError("invalid", f"writer {writer.writer_id} is read-only (synced WAL)")
        with writer.lock:
            skip = writer.max_seq + 1 - first_seq
            if skip < 0:
                raise IngestError(
                    "invalid", f"records {writer.max_seq + 1}..{first_seq - 1} of writer "
                    f"{writer.writer_id} are missing"
                )
            fresh = records[skip:]
            if fresh:
                try:
                    writer.durable_size = writer.wal.append(fresh)
                except OSError as exc:
                    # The WAL is rolled back: nothing of the batch is acked, the
                    # client keeps it and resends it (backpressure meanwhile).
                    if exc.errno in DISK_FULL_ERRNOS:
                        self._write_failed(_disk_full(writer.wal_path, exc))
                        raise IngestError("full", self._write_error) from None
                    raise
                self._write_error = ""
                writer.max_seq = first_seq + len(records) - 1
                writer.received += len(fresh)
            acked = writer.max_seq
        if fresh:
            with self._lock:
                self._records_received += len(fresh)
                self._last_activity = self.clock()
            self._on_append()
        return acked

    def _write_failed(self, text: str) -> None:
        if text != self._write_error:
            logger.error("%s", text)  # once, not once per resent batch
        self._write_error = text

    @property
    def write_error(self) -> str:
        """Why WAL appends are refused now (a full disk); "" when they are not."""
        return self._write_error

    def heartbeat(self, writer: WriterSession) -> None:
        writer.last_heartbeat = self.clock()

    def stop_run(self, key: RunKey) -> tuple[bool, str]:
        """Asks the run's live writers to stop (they finish as killed).

        A run with no live writer is marked killed at once.
        """
        with self._lock:
            session = self._sessions.get(key)
            live = [w for w in session.writers.values() if w.state is WriterState.OPEN] if session else []
            for writer in live:
                writer.stop_requested = True
                writer.notices.append(("stop", f"run {key.path} was stopped from the CLI or UI"))
            if live:
                return True, "running"
            run = self.store.get_run(key)
            if run is None:
                raise IngestError("not_found", f"run {key.path} not found")
            if run.state in ("running", "preempting"):
                self.store.update_run(key, {"state": "killed", "updated_at": self.clock()})
                return False, "killed"
            return False, run.state

    def expect_kill(self, key: RunKey) -> None:
        """The run's process is about to be killed on purpose (a sweep's agent stops its
        trial): if it dies without an exit it ends as killed, not crashed."""
        with self._lock:
            session = self._sessions.get(key)
            for writer in session.writers.values() if session else ():
                if writer.state is WriterState.OPEN:
                    writer.stop_requested = True

    def mark_dead(self, writer: WriterSession, reason: str) -> None:
        """The writer's process is gone: the applier ends it once its WAL is applied."""
        if writer.state is WriterState.OPEN and not writer.dead_reason:
            writer.dead_reason = reason
            self._on_append()

    def wait_applied(self, writer_id: str, seq: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                writer = self._writers.get(writer_id)
                if writer is None or writer.applied_seq >= seq:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))

    def active_runs(self) -> int:
        # Without the lock, which OpenRun holds across store writes: a count
        # from a snapshot of the sessions is exact enough for a status line.
        return sum(1 for session in list(self._sessions.values()) if session.active)

    def live_run_keys(self) -> list[RunKey]:
        """Runs with a writer still open."""
        with self._lock:
            return [key for key, s in self._sessions.items() if s.active]

    def evict_idle(self) -> None:
        """Forgets runs whose writers are all closed, releasing their WAL files."""
        with self._lock:
            for key, session in list(self._sessions.items()):
                if session.writers and not session.active and not session.opening:
                    if any(w.applied_offset < w.durable_size for w in session.writers.values()):
                        continue
                    for writer_id, writer in session.writers.items():
                        if writer.wal is not None:
                            writer.wal.close()
                        self._writers.pop(writer_id, None)
                    del self._sessions[key]

    def delete_run(self, key: RunKey, delete: Callable[[], T]) -> T:
        """Runs ``delete`` (the store's deletion) for a run no writer is open on,
        forgetting its session first; IngestError "precondition" for a live run.

        Under the run's open lock: no writer can resume it meanwhile.
        """
        with self._run_lock(key):
            with self._lock:
                session = self._sessions.get(key)
                if session is not None and (session.active or session.opening or any(
                        w.applied_offset < w.durable_size for w in session.writers.values())):
                    raise IngestError("precondition", f"run {key.path} is live: stop it first "
                                      f"(mytrack runs stop {key.path}) and delete it once it ended")
                if session is not None:
                    for writer_id, writer in session.writers.items():
                        if writer.wal is not None:
                            writer.wal.close()
                        self._writers.pop(writer_id, None)
                    del self._sessions[key]
            return delete()

    def close(self) -> None:
        with self._lock:
            for writer in self._writers.values():
                if writer.wal is not None:
                    writer.wal.close()

    # -- read-only views and the applier's side ---------------------------------------

    @property
    def records_received(self) -> int:
        """Records appended to WALs since the service started (resends not counted)."""
        return self._records_received

    @property
    def records_applied(self) -> int:
        """Records the applier committed to the store since the service started."""
        return self._records_applied

    def idle_seconds(self) -> float:
        """Seconds since the last sign of use (a run opened, records, a stream, a web page)."""
        return self.clock() - self._last_activity

    def touch(self) -> None:
        """Someone uses the service (a web page is looked at): keeps it from stopping as idle."""
        self._last_activity = self.clock()

    def run_sessions(self) -> list[RunSession]:
        """A snapshot of the runs this service holds (the applier's work list)."""
        with self._lock:
            return list(self._sessions.values())

    def session(self, key: RunKey) -> RunSession | None:
        """The live session of run ``key``, if this service holds it."""
        return self._sessions.get(key)

    def writer(self, writer_id: str) -> WriterSession | None:
        """The writer ``writer_id``, if this service holds it."""
        return self._writers.get(writer_id)

    def all_writers(self) -> list[WriterSession]:
        """A snapshot of every writer this service holds, open or closed."""
        with self._lock:
            return list(self._writers.values())

    def open_writers(self) -> list[WriterSession]:
        """A snapshot of the writers whose records may still arrive."""
        with self._lock:
            return [w for w in self._writers.values() if w.state is WriterState.OPEN]

    def applied(
        self, moved: list[tuple[WriterSession, WriterPosition]], records: int, warnings: list[str],
    ) -> None:
        """The applier committed these WAL positions: publish them and wake the waiters.

        Under the condition's lock, so `wait_applied` (Sync) and artifact results
        see a position only once its batch is in the store.
        """
        with self._changed:
            for writer, position in moved:
                writer.applied_offset = position.applied_offset
                writer.applied_seq = position.applied_seq
                if position.closed:
                    writer.state = WriterState.CLOSED
                writer.notices.extend(("warning", text) for text in warnings)
            self._records_applied += records
            self._changed.notify_all()

    def wait_changed(self, timeout: float) -> None:
        """Waits at most ``timeout`` seconds for an applied position to move."""
        with self._changed:
            self._changed.wait(timeout)


def _disk_full(wal_path: str, exc: OSError) -> str:
    folder = os.path.dirname(os.path.abspath(wal_path))
    return (
        f"no space left on device in {folder} ({exc.strerror}): the service cannot write "
        "the run's WAL there; nothing is lost, the records wait in the training process "
        "and are written when space is freed"
    )
