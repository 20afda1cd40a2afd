"""The applier: moves WAL entries into the store, in batches.

One thread. Each cycle reads, for every run with unapplied entries, the new
part of each writer's WAL (only up to the fsync'ed size), feeds the records to
the run's assembly, and commits the resulting rows, run fields and the new WAL
positions in one store transaction. If the store fails, the run's in-memory
state is reloaded from the last committed batch and the cycle is retried
later with backoff, so nothing is applied twice or skipped.

A record that cannot be decoded or applied (the same way on every try) is
quarantined instead (apply/quarantine.py): kept aside, reported and skipped,
so that it never blocks the records after it.

The applier never waits on the blob store: artifact records with content to
upload are handed to outbound/artifact_uploads.py (a job file, before the
batch commits past them), which uploads and commits their versions apart. A failure of the store write
itself cannot name its record, so the run is then applied one record per
batch for a while, which pins the bad one down.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mytrack_common.retry import Backoff
from mytrack_common.wal import MAGIC, WalDamage, WalEntry, scan
from mytrack_service.apply import quarantine, wal_damage
from mytrack_service.apply.assembly import Output, RunAssembly
from mytrack_service.apply.decode import (
    ArtifactEvent,
    BadCall,
    DecodeError,
    EnvironmentEvent,
    Event,
    ExitEvent,
    LogCall,
    LogColumns,
    decode,
)
from mytrack_service.apply.metric_definitions import combine_nodes
from mytrack_service.apply.tensorboard import TensorBoardFollower
from mytrack_service.blobs.base import BlobError
from mytrack_service.ingest.live_runs import LiveRuns, RunSession, WriterSession, WriterState
from mytrack_service.outbound.artifact_uploads import ArtifactUploads
from mytrack_service.store.artifact_model import ArtifactOp
from mytrack_service.store.base import Batch, RunKey, StoreError, WriterPosition

logger = logging.getLogger("mytrack_service.apply.applier")

# Most log() calls applied in one transaction: bounds memory and latency.
_MAX_CALLS_PER_BATCH = 5_000
# A call of a columnar batch, kept as raw float64s until the store writes it
# (store/blocks.py), takes a fraction of the memory of a decoded dict call.
_COLUMNAR_CALL_WEIGHT = 0.5
# Wait this long after a wake-up so that records arriving together share a
# batch (fewer, larger transactions), unless someone waits for the result.
_COALESCE_SECONDS = 0.05
# Batches of one record after a store write failed for a reason that is not
# the store's (a value it cannot take): enough to reach and pin the bad record.
_ISOLATED_BATCHES = 64
# Failures that say nothing about the record: retried, never quarantined.
_TRANSIENT = (StoreError, BlobError, OSError)
# Records of one run the store refused one after another: past this, the fault
# is the store's or the service's (every record fails), not a record's, so the
# batch is retried instead of quarantining the whole run record by record.
_MAX_REFUSED_IN_A_ROW = 3


def _refused_value(exc: BaseException) -> bool:
    """Whether a store error says a value was refused (DB-API DataError, an encoding or
    type error; e.g. PostgreSQL takes no NUL in text), which no retry can fix."""
    seen: list[BaseException] = []
    stack: list[BaseException | None] = [exc]
    while stack and len(seen) < 16:
        item = stack.pop()
        if item is None or any(item is s for s in seen):
            continue
        seen.append(item)
        if isinstance(item, (UnicodeError, TypeError)) or type(item).__name__ == "DataError":
            return True
        if isinstance(item, ValueError) and not isinstance(item, OSError):
            return True
        orig = getattr(item, "orig", None)  # SQLAlchemy's wrapper of the driver's error
        stack.extend([item.__cause__, item.__context__,
                      orig if isinstance(orig, BaseException) else None])
    return False


class _Quarantined(Exception):
    """A record was quarantined mid-batch: the batch is redone without it."""


def _call_text(event: LogCall) -> bytes:
    """A call as the SDK sent it (JSON, lone surrogates escaped), for the quarantine file."""
    try:
        return json.dumps([event.data, event.step, event.commit, event.timestamp]).encode()
    except (ValueError, TypeError, RecursionError):
        return repr(event).encode("utf-8", "backslashreplace")


def _combine_aggregates(fields: dict[str, Any]) -> None:
    if "service_state" in fields and "summary" in fields:
        combine_nodes(fields["service_state"], fields["summary"])


@dataclass
class _Budget:
    """What one apply cycle of a run has taken so far."""

    calls: float = 0.0  # log() calls, weighted
    records: int = 0
    isolated: bool = False  # one record per batch (see _ISOLATED_BATCHES)
    last: tuple[WriterSession, WalEntry] | None = None  # the record read last


class Applier:
    """The applier thread of one service.

    Args:
        live_runs: the runs and writers whose WALs it applies.
        wake: set when records arrive (the `LiveRuns` was given its ``set`` as
            ``on_append``); None: an event of its own, woken only by `wake()`.
        uploads: takes the artifact records whose content is to be uploaded
            (outbound/artifact_uploads.py), so that the blob store never holds
            this thread; None: artifact records are applied in the batch.
        on_files: called after a commit that made uploads due.
        on_alerts: given the alerts of a commit to deliver (after the commit:
            a batch redone after a store failure does not deliver twice).
    """

    def __init__(
        self, live_runs: LiveRuns, wake: threading.Event | None = None,
        uploads: ArtifactUploads | None = None,
        on_files: Callable[[], None] = lambda: None,
        on_alerts: Callable[[list[dict[str, Any]]], None] = lambda alerts: None,
    ) -> None:
        self.live_runs = live_runs
        self.last_error = ""
        # Sticky: shown by status (as last_error once the store answers) until
        # the service restarts, so that a skipped span is not missed.
        self.damage_note = ""
        self.last_applied_time = 0.0
        self._wake = wake if wake is not None else threading.Event()
        self.urgent = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mytrack-applier", daemon=True)
        self.on_files = on_files
        self.uploads = uploads
        self.on_alerts = on_alerts
        self.quarantine = quarantine.Quarantine()
        self._isolated: dict[RunKey, int] = {}  # run -> batches still applied one record each
        self._refused: dict[RunKey, int] = {}  # run -> records the store refused in a row
        self._tensorboard: dict[RunKey, TensorBoardFollower] = {}  # runs with TensorBoard sync

    def start(self) -> None:
        self._thread.start()

    def wake(self, urgent: bool = False) -> None:
        if urgent:
            self.urgent.set()
        self._wake.set()

    def stop(self) -> None:
        """Applies everything received, then stops the thread."""
        self._stop.set()
        self._wake.set()
        self._thread.join()

    def _run(self) -> None:
        backoff = Backoff(0.1, 5.0)
        while True:
            stopping = self._stop.is_set()
            self._wake.wait(0.5)
            if not stopping and not self.urgent.is_set():
                self._stop.wait(_COALESCE_SECONDS)
            self._wake.clear()
            self.urgent.clear()
            try:
                more = self.cycle()
                backoff.succeeded()
                self.last_error = self.damage_note  # the store answers again
            except Exception as exc:  # noqa: BLE001 - the applier thread must outlive any one bug
                if isinstance(exc, StoreError):
                    self._note_error(f"store write failed, will retry: {exc}")
                else:
                    logger.exception("apply cycle failed; will retry")
                backoff.wait(self._stop)
                if stopping and backoff.exhausted:
                    logger.error("stopping with unapplied records: %s", exc)
                    return
                continue
            if more:
                self._wake.set()
            elif stopping:
                return

    def cycle(self) -> bool:
        """One pass over every run; True if some run has more to apply."""
        more = False
        sessions = self.live_runs.run_sessions()
        for key in set(self._tensorboard) - {s.key for s in sessions}:
            del self._tensorboard[key]
        for session in sessions:
            try:
                more |= self._apply(session)
            except StoreError:
                raise
            except _Quarantined:
                session.needs_reload = True  # redone at once, without the record
                more = True
            except Exception:  # noqa: BLE001 - one bad run must not stop the others
                logger.exception("applying %s failed; will retry", session.key.path)
                session.needs_reload = True
        self.live_runs.evict_idle()
        return more

    def _apply(self, session: RunSession) -> bool:
        if session.needs_reload:
            self._reload(session)
        positions: list[tuple[WriterSession, WriterPosition]] = []
        budget = _Budget(isolated=session.key in self._isolated)
        followed, more = self._follow_tensorboard(session)
        for writer in list(session.writers.values()):
            if writer.state is not WriterState.OPEN and writer.applied_offset >= writer.durable_size:
                continue
            if writer.wal is None:
                writer.refresh_adopted()
            position = WriterPosition(writer.writer_id, writer.applied_offset, writer.applied_seq)
            session.assembly.select(writer.writer_id)
            more |= self._read_writer(session, writer, position, budget)
            if self._ends_crashed(writer, position):
                # A writer asked to stop (runs stop, the UI, a sweep's early termination)
                # that then died without an exit was killed by whoever stopped it.
                ended = "killed" if writer.stop_requested else "crashed"
                session.assembly.apply(ExitEvent(None, ended, writer.last_heartbeat))
                position.closed = True
            if (position.applied_offset, position.closed) != (writer.applied_offset, False):
                positions.append((writer, position))
        if not positions and not followed:
            return more
        out = session.assembly.take()
        self._commit(session, out, positions, budget)
        return more

    def _commit(
        self, session: RunSession, out: Output,
        positions: list[tuple[WriterSession, WriterPosition]], budget: _Budget,
    ) -> None:
        if out.artifacts and self.uploads is not None:
            # On disk before the batch commits past them; uploaded and committed apart.
            out.artifacts = self.uploads.defer(session.key, out.artifacts)
        batch = Batch(
            session.key, out.rows, out.fields, [p for _, p in positions], out.files, out.console,
            merge_rows=out.merge_rows, artifacts=out.artifacts, blocks=out.blocks, system=out.system,
            on_merged=_combine_aggregates if out.merge_rows else None,
        )
        try:
            conflicts = out.conflicts + self.live_runs.store.write_batch(batch)
        except _TRANSIENT as exc:
            session.needs_reload = True
            if _refused_value(exc):  # not an outage: this data can never be written
                self._write_failed(session, budget, exc)
            raise
        except Exception as exc:
            session.needs_reload = True
            self._write_failed(session, budget, exc)
            raise
        self._isolated_done(session.key)
        if conflicts:
            self._conflicted(session, conflicts, out.warnings)
        self._committed(positions, budget.records, out.warnings)
        if out.files:
            self.on_files()
        if out.alerts:
            self.on_alerts(out.alerts)

    def _read_writer(
        self, session: RunSession, writer: WriterSession, position: WriterPosition, budget: _Budget
    ) -> bool:
        """Feeds the writer's unapplied entries to the assembly; True if some remain."""
        if position.applied_offset < len(MAGIC) <= writer.durable_size:
            # A new writer's position is 0, before the WAL's magic: without this,
            # one that died before sending a record never counts as all applied
            # (and so is never ended as crashed).
            position.applied_offset = len(MAGIC)
        if position.applied_offset >= writer.durable_size:
            return False
        if budget.calls >= _MAX_CALLS_PER_BATCH:
            return True
        for entry in scan(writer.wal_path, position.applied_offset, writer.durable_size):
            if budget.calls >= _MAX_CALLS_PER_BATCH or (budget.isolated and budget.records):
                return True
            position.applied_offset = entry.end
            if isinstance(entry, WalDamage):
                # Everything below durable_size was whole when it was acked:
                # bad bytes there, at the end too, are damage, not a torn tail.
                self.damage_note = wal_damage.report(session, writer, entry)
                self.last_error = self.damage_note
                continue
            if self.quarantine.contains(writer.wal_path, entry.offset):
                self._report(session, writer, entry, "")  # its error is on file
                continue
            try:
                seq, events = decode(entry.payload)
            except DecodeError as exc:
                self._report(session, writer, entry, str(exc))
                continue
            if seq <= position.applied_seq:
                continue  # applied before a restart
            position.applied_seq = seq
            budget.records += 1
            budget.last = (writer, entry)
            self._apply_events(session, writer, entry, events, position, budget)
        return False

    def _apply_events(
        self, session: RunSession, writer: WriterSession, entry: WalEntry, events: list[Event],
        position: WriterPosition, budget: _Budget,
    ) -> None:
        # The calls of a LogBatch are quarantined one by one: a bad call never
        # costs the good calls sent in the same record.
        skipped = self.quarantine.calls(writer.wal_path, entry.offset) if len(events) > 1 else set()
        for index, event in enumerate(events):
            if isinstance(event, BadCall):
                self._report_call(session, writer, entry, index, event.error, event.entry)
                continue
            if index in skipped:
                self._report_call(session, writer, entry, index, "", b"")  # its error is on file
                continue
            if isinstance(event, ExitEvent) and session.assembly.tensorboard:
                # What the program flushed before it sent its exit is the run's.
                self._follow_tensorboard(session, force=True)
            try:
                session.assembly.apply(event)
            except _TRANSIENT:
                raise
            except Exception as exc:  # noqa: BLE001 - any bug in a record's handling
                # The assembly may be half-changed: the batch is redone from the
                # last commit, and this record (or call) is skipped then.
                error = f"cannot apply: {type(exc).__name__}: {exc}"
                where = (writer.wal_path, writer.key.path, writer.writer_id, entry.offset, entry.end)
                if isinstance(event, LogCall) and len(events) > 1:
                    self.quarantine.add(*where, _call_text(event),
                                        f"log() call {index} of the record: {error}", call=index)
                else:
                    self.quarantine.add(*where, entry.payload, error)
                raise _Quarantined from exc
            budget.calls += len(event) * _COLUMNAR_CALL_WEIGHT if isinstance(event, LogColumns) else 1
            if isinstance(event, ExitEvent):
                position.closed = True

    def _follow_tensorboard(self, session: RunSession, force: bool = False) -> tuple[bool, bool]:
        """Reads the run's TensorBoard event files into its assembly: (anything read, more left)."""
        assembly = session.assembly
        if not assembly.tensorboard:
            return False, False
        follower = self._tensorboard.get(session.key)
        if follower is None:
            writers = list(session.writers.values())
            files_dir = os.path.join(os.path.dirname(writers[-1].wal_path), "files") if writers else ""
            follower = self._tensorboard[session.key] = TensorBoardFollower(session.key, files_dir)
        read = follower.poll(assembly.tensorboard, force)
        if not (read.positions or read.warnings):
            return False, False
        assembly.apply_tensorboard(read)
        return True, read.more

    def _report(self, session: RunSession, writer: WriterSession, entry: WalEntry, error: str) -> None:
        """Keeps a skipped record aside and tells the run's metadata, status and writer."""
        record = self.quarantine.add(
            writer.wal_path, writer.key.path, writer.writer_id, entry.offset, entry.end, entry.payload, error
        )
        session.assembly.apply(
            EnvironmentEvent(quarantine.listed(session.assembly.metadata, record))
        )
        self._fail_artifact_calls(session, entry, record.error)
        session.assembly.out.warnings.append(
            f"the service could not apply a record of this run and skipped it ({record.error}); "
            "it is kept beside the run's WAL"
        )

    def _report_call(
        self, session: RunSession, writer: WriterSession, entry: WalEntry, index: int, error: str,
        text: bytes,
    ) -> None:
        """Keeps one skipped log() call aside and tells the run's metadata, status and writer."""
        record = self.quarantine.add(writer.wal_path, writer.key.path, writer.writer_id, entry.offset,
                                     entry.end, text, error, call=index)
        session.assembly.apply(EnvironmentEvent(quarantine.listed(session.assembly.metadata, record)))
        session.assembly.out.warnings.append(
            f"the service could not apply one log() call of this run and skipped it ({record.error}); "
            "the calls sent with it are applied, and it is kept beside the run's WAL"
        )

    @staticmethod
    def _fail_artifact_calls(session: RunSession, entry: WalEntry, error: str) -> None:
        """An SDK waits for the result of an artifact call: give it the failure now,
        not after its timeout (the store keeps it under the call's client id)."""
        try:
            _, events = decode(entry.payload)
        except DecodeError:
            return  # nothing to answer: the client id is in the undecodable part
        session.assembly.out.artifacts.extend(
            ArtifactOp(event.action, event.client_id, session.key.path, {},
                       error=f"the service could not apply this artifact record ({error})")
            for event in events if isinstance(event, ArtifactEvent) and event.client_id
        )

    def _write_failed(self, session: RunSession, budget: _Budget, exc: Exception) -> None:
        """A store write failed for a reason that is not the store's: find the record."""
        refused = self._refused.get(session.key, 0)
        if budget.isolated and budget.records == 1 and budget.last is not None:
            if refused >= _MAX_REFUSED_IN_A_ROW:
                self._note_error(f"the store refuses every record of {session.key.path} ({exc}); "
                                 "retrying, not quarantining")
                return
            self._refused[session.key] = refused + 1
            writer, entry = budget.last
            self.quarantine.add(writer.wal_path, writer.key.path, writer.writer_id, entry.offset, entry.end,
                                entry.payload, f"the store refused it: {type(exc).__name__}: {exc}")
            raise _Quarantined from exc
        logger.warning("writing a batch of %s failed (%s): applying it record by record",
                       session.key.path, exc)
        self._isolated[session.key] = _ISOLATED_BATCHES

    def _isolated_done(self, key: RunKey) -> None:
        self._refused.pop(key, None)
        left = self._isolated.get(key)
        if left is not None:
            if left <= 1:
                del self._isolated[key]
            else:
                self._isolated[key] = left - 1

    @staticmethod
    def _conflicted(session: RunSession, conflicts: int, warnings: list[str]) -> None:
        """Counts key conflicts between writers; warns the writers the first time."""
        if session.assembly.conflicts == 0:
            warnings.append(
                f"two writers of shared run {session.key.path} logged the same key at the same "
                "step; the later value was kept (run.status().conflicts counts them)"
            )
        session.assembly.conflicts += conflicts

    @staticmethod
    def _ends_crashed(writer: WriterSession, position: WriterPosition) -> bool:
        """A dead writer whose WAL is all applied and that never sent an exit."""
        return (
            bool(writer.dead_reason) and writer.state is WriterState.OPEN
            and not position.closed and position.applied_offset >= writer.durable_size
        )

    def _committed(
        self,
        positions: list[tuple[WriterSession, WriterPosition]],
        records: int,
        warnings: list[str],
    ) -> None:
        self.last_applied_time = time.time()
        self.live_runs.applied(positions, records, warnings)

    def _reload(self, session: RunSession) -> None:
        """Back to the last committed state: the batch is redone later."""
        run = self.live_runs.store.get_run(session.key)
        if run is not None:
            session.assembly = RunAssembly(run, self.live_runs.node_id)
        session.needs_reload = False

    def _note_error(self, text: str) -> None:
        if text != self.last_error:
            logger.warning("%s", text)
        self.last_error = text
