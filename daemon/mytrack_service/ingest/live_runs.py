"""Live runs and writers: the service's in-memory state around the store.

A `RunSession` holds one run's assembly state and its writers; a
`WriterSession` is one SDK process's connection to a run, with its WAL. The
`LiveRuns` owns them all: it opens runs, appends received records to WALs (acking
only after the fsync), and lets the applier (uploader.py) move WAL entries
into the store.
"""

from __future__ import annotations

import enum
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mytrack_common.names import new_run_name
from mytrack_common.wal import WalWriter, valid_end
from mytrack_service.apply.assembly import RunAssembly
from mytrack_service.apply.decode import record_seq
from mytrack_service.store.base import (
    Batch,
    MetadataStore,
    RunExistsError,
    RunKey,
    RunRow,
    WriterRow,
)


class IngestError(Exception):
    """A request the live_runs refuses; ``code`` names the kind (for the RPC edge)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # "not_found", "invalid", "exists", "precondition"


class WriterState(enum.Enum):
    OPEN = "open"  # records may arrive
    CLOSED = "closed"  # the exit record is applied; nothing more will come


@dataclass
class WriterSession:
    writer_id: str
    key: RunKey
    wal_path: str
    wal: WalWriter | None  # None: an adopted WAL, written by someone else (sync)
    durable_size: int  # bytes of the WAL that are fsync'ed
    max_seq: int  # highest seq in the WAL (acked)
    applied_offset: int
    applied_seq: int
    state: WriterState = WriterState.OPEN
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_heartbeat: float = 0.0
    received: int = 0
    notices: list[tuple[str, str]] = field(default_factory=list)  # (kind, text)
    pid: int = 0
    host: str = ""
    opened_at: float = 0.0  # when this service learned of the writer
    streams: int = 0  # open Stream calls
    # Why the writer's process is considered gone (crash detection), if it is:
    # once its WAL is applied, the applier ends it as crashed (or preempted).
    dead_reason: str = ""
    stop_requested: bool = False
    stats_interval: float | None = None  # system metrics: None = service default, 0 = off

    def refresh_adopted(self) -> None:
        """An adopted WAL may still grow (a live offline run): re-read its end."""
        if self.wal is None:
            end, last = valid_end(self.wal_path)
            self.durable_size = end
            self.max_seq = record_seq(last) if last else 0


@dataclass
class RunSession:
    key: RunKey
    assembly: RunAssembly
    writers: dict[str, WriterSession] = field(default_factory=dict)
    # The last store write failed: the assembly must be rebuilt from the store.
    needs_reload: bool = False
    opening: int = 0  # OpenRun calls between creating and publishing a writer here

    @property
    def active(self) -> bool:
        return any(w.state is WriterState.OPEN for w in list(self.writers.values()))


@dataclass
class OpenRequest:
    key: RunKey
    writer_id: str
    name: str
    group: str
    job_type: str
    tags: list[str]
    notes: str
    config: dict[str, Any]
    resume: str
    run_dir: str
    start_time: float
    pid: int
    host: str
    sweep_id: str
    adopt_wal: str = ""
    shared: bool = False
    primary: bool = True
    label: str = ""
    stats_interval: float | None = None  # None: the service's interval


class LiveRuns:
    """Runs, writers and their WALs; thread-safe."""

    def __init__(
        self, store: MetadataStore, home: str, clock: Callable[[], float] = time.time,
        node_id: str = "",
    ) -> None:
        self.store = store
        self.home = home
        self.node_id = node_id  # this service, among several sharing a store
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)  # an applied position moved
        self.sessions: dict[RunKey, RunSession] = {}
        self.writers: dict[str, WriterSession] = {}
        self.records_received = 0
        self.records_applied = 0
        self.last_activity = clock()
        self.on_append: Callable[[], None] = lambda: None
        self._run_locks = [threading.Lock() for _ in range(64)]

    # -- opening -------------------------------------------------------------

    def open_run(self, req: OpenRequest) -> tuple[RunRow, bool, int, str]:
        """Creates or resumes a run; returns (run, resumed, starting step, WAL path).

        The store work happens under a lock of the run alone: the live_runs's lock is
        taken only to publish the session and the writer, so 64 ranks opening
        their runs at once do not hold up each other's streams (and a Hello
        does not wait behind another run's store transactions).
        """
        with self.lock:
            self.last_activity = self.clock()
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
            with self.lock:
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
                with self.lock:
                    session.opening -= 1
                raise
            with self.lock:
                session.opening -= 1
                self.writers[writer.writer_id] = writer
                session.writers[writer.writer_id] = writer
            return run, existing is not None and not joining, step, wal_path

    def _run_lock(self, key: RunKey) -> threading.Lock:
        """One of a few locks, chosen by the run: opens of one run never overlap."""
        return self._run_locks[hash(key) % len(self._run_locks)]

    def _adopt(self, req: OpenRequest) -> tuple[RunRow, bool, int, str]:
        """`mytrack sync`: apply an existing WAL; a second sync finds it applied."""
        known = self.writers.get(req.writer_id)
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
        self.on_append()
        adopted = self.store.get_run(req.key)
        assert adopted is not None
        return adopted, False, self.sessions[req.key].assembly.step, known.wal_path

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
        session = self.sessions.get(run.key)
        if session is not None:
            session.assembly.config = config
        updated = self.store.get_run(run.key)
        assert updated is not None
        return updated

    def _session(self, run: RunRow) -> RunSession:
        session = self.sessions.get(run.key)
        if session is None:
            session = RunSession(run.key, RunAssembly(run, self.node_id))
            self.sessions[run.key] = session
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
        self.writers[writer_id] = writer
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
        with self.lock:
            self.last_activity = self.clock()
            writer = self.writers.get(writer_id)
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
        with self.lock:
            for row in self.store.list_writers():
                mine = row.node in ("", self.node_id)  # other services recover theirs
                if mine and row.writer_id not in self.writers and os.path.exists(row.wal_path):
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
                writer.durable_size = writer.wal.append(fresh)
                writer.max_seq = first_seq + len(records) - 1
                writer.received += len(fresh)
            acked = writer.max_seq
        if fresh:
            with self.lock:
                self.records_received += len(fresh)
                self.last_activity = self.clock()
            self.on_append()
        return acked

    def heartbeat(self, writer: WriterSession) -> None:
        writer.last_heartbeat = self.clock()

    def stop_run(self, key: RunKey) -> tuple[bool, str]:
        """Asks the run's live writers to stop (they finish as killed).

        A run with no live writer is marked killed at once.
        """
        with self.lock:
            session = self.sessions.get(key)
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

    def mark_dead(self, writer: WriterSession, reason: str) -> None:
        """The writer's process is gone: the applier ends it once its WAL is applied."""
        if writer.state is WriterState.OPEN and not writer.dead_reason:
            writer.dead_reason = reason
            self.on_append()

    def wait_applied(self, writer_id: str, seq: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                writer = self.writers.get(writer_id)
                if writer is None or writer.applied_seq >= seq:
                    return True
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(min(remaining, 0.5))

    def active_runs(self) -> int:
        # Without the lock, which OpenRun holds across store writes: a count
        # from a snapshot of the sessions is exact enough for a status line.
        return sum(1 for session in list(self.sessions.values()) if session.active)

    def live_run_keys(self) -> list[RunKey]:
        """Runs with a writer still open."""
        with self.lock:
            return [key for key, s in self.sessions.items() if s.active]

    def evict_idle(self) -> None:
        """Forgets runs whose writers are all closed, releasing their WAL files."""
        with self.lock:
            for key, session in list(self.sessions.items()):
                if session.writers and not session.active and not session.opening:
                    if any(w.applied_offset < w.durable_size for w in session.writers.values()):
                        continue
                    for writer_id, writer in session.writers.items():
                        if writer.wal is not None:
                            writer.wal.close()
                        self.writers.pop(writer_id, None)
                    del self.sessions[key]

    def close(self) -> None:
        with self.lock:
            for writer in self.writers.values():
                if writer.wal is not None:
                    writer.wal.close()
