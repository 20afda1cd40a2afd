"""Per-run assembly: log() calls into history rows, summary, config and state.

The step/commit rules are the reference's:

* ``step`` given and lower than the current step: dropped, with a warning;
* ``step`` higher: the pending row (if any) is committed under the current
  step, and the current step jumps (no empty rows in between);
* data merges into the pending row; it is committed when ``commit`` is True,
  or when ``commit`` is None and no ``step`` was given;
* a committed row gets ``_step``, ``_runtime`` and ``_timestamp``, and the
  current step moves on by one. The exit commits what is pending.

`RunAssembly` is deterministic: replaying the same records from the same
snapshot gives the same rows, which is what makes WAL replay after a crash
exact. Its snapshot (`snapshot()`) is stored with every batch.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from mytrack_service.apply.decode import (
    AlertEvent,
    ArtifactEvent,
    ConfigChange,
    EnvironmentEvent,
    Event,
    ExitEvent,
    FilesEvent,
    LogCall,
    LogColumns,
    MetricDefinition,
    OutputEvent,
    PreemptingEvent,
    RunFieldsChange,
    SummaryChange,
    SystemEvent,
    TensorBoardEvent,
)
from mytrack_service.apply.metric_definitions import MetricRegistry
from mytrack_service.apply.tensorboard import TensorBoardRows
from mytrack_service.store.artifact_model import ArtifactOp
from mytrack_service.store.base import ConsoleLine, FileRow, RunRow
from mytrack_service.store.blocks import RowBlock

FINAL_STATES = ("finished", "failed", "killed", "crashed", "preempted")
# Alerts kept in the run's metadata["alerts"] (the oldest go first).
MAX_ALERTS = 500


@dataclass
class Output:
    """What applying a series of events produced, for one store batch."""

    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # Rows kept as columns (the training loop's case); no step of theirs is in rows.
    blocks: list[RowBlock] = field(default_factory=list)
    fields: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    files: list[FileRow] = field(default_factory=list)
    console: list[ConsoleLine] = field(default_factory=list)
    # System-metrics samples carried by records (an import), with _runtime and _label.
    system: list[dict[str, Any]] = field(default_factory=list)
    # Shared runs: rows merge with the stored rows of the same steps.
    merge_rows: bool = False
    # With merge_rows: each step's row in ``rows``, so that a batch of 10,000 rows
    # merges in linear time.
    row_of_step: dict[int, dict[str, Any]] = field(default_factory=dict)
    conflicts: int = 0  # same key, same step, two writers, within this output
    # Alerts to deliver (to the webhook) once this output is committed.
    alerts: list[dict[str, Any]] = field(default_factory=list)
    # Artifact records, for the same batch (uploaded by the applier first).
    artifacts: list[ArtifactOp] = field(default_factory=list)


@dataclass
class Cursor:
    """Where one stream of log() calls stands: its step and its pending row."""

    step: int = 0
    pending: dict[str, Any] | None = None
    pending_ts: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "pending": self.pending, "pending_ts": self.pending_ts}


@dataclass
class WriterInfo:
    """A writer of a shared run: its label, and whether its end ends the run."""

    label: str = ""
    primary: bool = True


class RunAssembly:
    """Turns a run's events into rows and run fields.

    A run has one step cursor; a shared run (several writers, mode="shared")
    has one per writer, and rows of different writers at the same step merge
    into one row (in the store, across services too).
    """

    def __init__(self, run: RunRow, node_id: str = "") -> None:
        # A shared run's writers may live in several services (nodes): each
        # keeps its own snapshot under service_state["nodes"][node_id].
        self.node_id = node_id
        state = run.service_state
        if "nodes" in state:
            state = {"shared": True, **state["nodes"].get(node_id, {})}
        self.main = Cursor(
            int(state.get("step", run.last_step + 1)), state.get("pending"),
            float(state.get("pending_ts", 0.0)),
        )
        self.shared: bool = bool(state.get("shared", False))
        self.cursors = {w: Cursor(**c) for w, c in state.get("cursors", {}).items()}
        self.writers = {w: WriterInfo(**i) for w, i in state.get("writers", {}).items()}
        self.conflicts: int = int(state.get("conflicts", 0))
        self.cursor = self.main  # the cursor of the writer being applied
        self.start_time: float = float(state.get("start_time", run.created_at))
        self.runtime_offset: float = float(state.get("runtime_offset", 0.0))
        self.registry = MetricRegistry(state.get("metrics", []), state.get("metric_state", {}))
        self.preempting: bool = bool(state.get("preempting", False))
        # name -> {"path", "policy"} of every file saved, for the uploads at exit.
        self.files: dict[str, dict[str, str]] = dict(state.get("files", {}))
        # title -> time (client clock) the last alert with that title was sent:
        # the rate limit, kept here so it holds across processes and restarts.
        self.alert_sent: dict[str, float] = dict(state.get("alert_sent", {}))
        # TensorBoard log dir -> {"namespace", "since", "save", "files": {event file: records applied}}
        # (apply/tensorboard.py). While a run has one, its rows merge by step.
        self.tensorboard: dict[str, dict[str, Any]] = copy.deepcopy(state.get("tensorboard", {}))
        self.key = run.key
        self.last_step = run.last_step
        self.runtime = run.runtime
        self.summary: dict[str, Any] = copy.deepcopy(run.summary)
        self.config: dict[str, Any] = copy.deepcopy(run.config)
        self.metadata: dict[str, Any] = copy.deepcopy(run.metadata)
        self.writer_id = ""  # the writer whose events are being applied
        self.out = Output()
        self._touched = False  # an event was applied since the last take()

    # The main cursor, under the names the single-writer code has always used.
    @property
    def step(self) -> int:
        return self.cursor.step

    @step.setter
    def step(self, value: int) -> None:
        self.cursor.step = value

    @property
    def pending(self) -> dict[str, Any] | None:
        return self.cursor.pending

    @pending.setter
    def pending(self, value: dict[str, Any] | None) -> None:
        self.cursor.pending = value

    @property
    def pending_ts(self) -> float:
        return self.cursor.pending_ts

    @pending_ts.setter
    def pending_ts(self, value: float) -> None:
        self.cursor.pending_ts = value

    @property
    def label(self) -> str:
        info = self.writers.get(self.writer_id)
        return info.label if info else ""

    def add_writer(self, writer_id: str, shared: bool, primary: bool, label: str) -> int:
        """Registers a writer; returns the step its automatic counter starts at."""
        if not shared:
            return self.main.step
        self.shared = True
        self.writers[writer_id] = WriterInfo(label=label, primary=primary)
        cursor = self.cursors.setdefault(writer_id, Cursor())
        return cursor.step

    def select(self, writer_id: str) -> None:
        """The events that follow come from ``writer_id``."""
        self.writer_id = writer_id
        self.cursor = self.cursors.setdefault(writer_id, Cursor()) if self.shared else self.main

    def restart(self, start_time: float) -> None:
        """A new session (resume): runtime continues from the previous total."""
        self.runtime_offset = self.runtime
        self.start_time = start_time

    def snapshot(self) -> dict[str, Any]:
        return {
            "step": self.main.step,
            "pending": self.main.pending,
            "pending_ts": self.main.pending_ts,
            "shared": self.shared,
            "cursors": {w: c.to_dict() for w, c in self.cursors.items()},
            "writers": {w: {"label": i.label, "primary": i.primary} for w, i in self.writers.items()},
            "conflicts": self.conflicts,
            "start_time": self.start_time,
            "runtime_offset": self.runtime_offset,
            "metrics": list(self.registry.definitions.values()),
            "metric_state": self.registry.state(),
            "preempting": self.preempting,
            "files": self.files,
            "alert_sent": self.alert_sent,
            "tensorboard": self.tensorboard,
        }

    def state_field(self) -> dict[str, Any]:
        """The run's service_state as this assembly writes it (see __init__)."""
        if self.shared:
            return {"nodes": {self.node_id: self.snapshot()}}
        return self.snapshot()

    def take(self) -> Output:
        """What was produced since the last take(), with the new snapshot."""
        out, self.out = self.out, Output()
        # A shared run's fields merge too (its writers may live in other services).
        out.merge_rows = out.merge_rows or self.shared or bool(self.tensorboard)
        # Always with the snapshot: a batch that only accumulated a pending row
        # (commit=False) still moves the WAL position past those calls.
        if self._touched:
            out.fields["service_state"] = self.state_field()
            if self.shared:  # the store combines every service's aggregates into it
                out.fields.setdefault("summary", self.summary)
            self._touched = False
        return out

    # -- events -------------------------------------------------------------

    def apply(self, event: Event) -> None:
        self._touched = True
        if isinstance(event, LogCall):
            self._log(event)
        elif isinstance(event, LogColumns):
            self._log_columns(event)
        elif isinstance(event, ConfigChange):
            self.config.update(event.update)
            for key in event.remove:
                self.config.pop(key, None)
            self.out.fields["config"] = self.config
        elif isinstance(event, SummaryChange):
            # A user-set value wins until the key is logged again.
            self.summary.update(event.update)
            for key in event.remove:
                self.summary.pop(key, None)
            self.out.fields["summary"] = self.summary
        elif isinstance(event, RunFieldsChange):
            self.out.fields.update(event.fields)
        elif isinstance(event, MetricDefinition):
            self.registry.define(event.options)
        elif isinstance(event, PreemptingEvent):
            self.preempting = True
            self.out.fields["state"] = "preempting"
        elif isinstance(event, FilesEvent):
            for saved in event.files:
                if saved.policy == "now":
                    # Uploaded once, now; not remembered for the exit, so the
                    # snapshot does not grow with every media file logged.
                    self.files.pop(saved.name, None)
                    self.out.files.append(FileRow(
                        self.key, saved.name, path=saved.path, policy="now", pending=True
                    ))
                    continue
                self.files[saved.name] = {"path": saved.path, "policy": saved.policy}
                # "end" files wait for the exit; "live" ones are uploaded now too.
                self._file(saved.name, pending=saved.policy != "end")
        elif isinstance(event, OutputEvent):
            self.out.console.extend(
                ConsoleLine(ts, stream, text, self.label) for ts, stream, text in event.lines
            )
        elif isinstance(event, SystemEvent):
            for sample in event.samples:
                ts = float(sample["_timestamp"])
                self.out.system.append({**sample, "_runtime": self._runtime_at(ts), "_label": self.label or ""})
        elif isinstance(event, EnvironmentEvent):
            self.metadata.update(event.metadata)
            self.out.fields["metadata"] = self.metadata
        elif isinstance(event, AlertEvent):
            self._alert(event)
        elif isinstance(event, ArtifactEvent):
            self.out.artifacts.append(ArtifactOp(
                event.action, event.client_id, self.key.path, event.data,
                timestamp=float(event.data.get("timestamp") or 0.0),
            ))
        elif isinstance(event, TensorBoardEvent):
            self.tensorboard.setdefault(event.logdir, {
                "namespace": event.namespace, "since": event.since, "save": event.save, "files": {},
            })
        elif isinstance(event, ExitEvent):
            self._exit(event)

    def apply_tensorboard(self, read: TensorBoardRows) -> None:
        """Rows read from the run's event files, keyed by TensorBoard's global step.

        Each merges into the row of its step (the run's own log() rows included), so
        log directories whose steps interleave (train/, val/) lose nothing; the
        positions reached in the files commit with them.
        """
        self._touched = True
        for path, records in read.positions.items():
            info = self.tensorboard.get(path.rsplit("/", 1)[0])
            if info is not None:
                info.setdefault("files", {})[path] = records
        for step in sorted(read.rows):
            row = read.rows[step]
            ts = float(row.pop("_timestamp"))
            runtime = self._runtime_at(ts)
            row.update(_step=step, _runtime=runtime, _timestamp=ts)
            self.registry.apply(row, self.summary)
            self._merge_row(step, row)
            self.last_step = max(self.last_step, step)
            self.runtime = max(self.runtime, runtime)
            self._committed_fields(ts)
        self.out.files.extend(read.files)
        for name, path in read.saved.items():
            self.files[name] = {"path": path, "policy": "live"}
            self._file(name, pending=True)
        self.out.warnings.extend(read.warnings)

    def _log(self, call: LogCall) -> None:
        cursor = self.cursor  # once: this runs for every log() call
        step = call.step
        if step is not None:
            if step < cursor.step:
                self.out.warnings.append(
                    f"Tried to log to step {step} that is less than the current step "
                    f"{cursor.step}; the data was dropped."
                )
                return
            if step > cursor.step:
                if cursor.pending is not None:
                    self._commit()
                cursor.step = step
        if cursor.pending is None:
            cursor.pending = call.data  # decoded for us alone: no copy needed
        else:
            _merge(cursor.pending, call.data)
        cursor.pending_ts = call.timestamp
        commit = call.commit if call.commit is not None else step is None
        if commit:
            self._commit()

    def _log_columns(self, event: LogColumns) -> None:
        """Calls of the same float keys, each committed at the next step: one block.

        The same rows, summary and snapshot as `_log` of each call; rows that
        need more (a pending row to merge into, define_metric, a shared run,
        a key that the row's own ``_`` keys would shadow) go call by call.
        """
        cursor = self.cursor
        if (cursor.pending is not None or self.shared or self.tensorboard or self.registry.definitions
                or not event.keys or any(key.startswith("_") for key in event.keys)):
            for call in event.calls():
                self._log(call)
            return
        if not event.timestamps:
            return
        runtimes = [self._runtime_at(ts) for ts in event.timestamps]
        block = RowBlock(event.keys, cursor.step, event.values, runtimes, event.timestamps)
        self.out.blocks.append(block)
        # Every row has the same keys: folding the last into the summary is
        # what folding each in turn gives.
        self.registry.apply(block.row(len(block) - 1), self.summary)
        self.last_step = block.last_step
        self.runtime = max(self.runtime, max(runtimes))
        cursor.step = block.last_step + 1
        cursor.pending_ts = event.timestamps[-1]  # as _log leaves it
        self._committed_fields(event.timestamps[-1])

    def _commit(self) -> None:
        cursor = self.cursor
        row = cursor.pending or {}
        ts = cursor.pending_ts
        step = cursor.step
        runtime = self._runtime_at(ts)
        row["_step"] = step
        row["_runtime"] = runtime
        row["_timestamp"] = ts
        self.registry.apply(row, self.summary)
        if self.shared or self.tensorboard:
            self._merge_row(step, row)
            self.last_step = max(self.last_step, step)
        else:
            self.out.rows.append((step, row))
            self.last_step = step
        if runtime > self.runtime:
            self.runtime = runtime
        cursor.step = step + 1
        cursor.pending = None
        self._committed_fields(ts)

    def _runtime_at(self, ts: float) -> float:
        """``_runtime`` of a row logged at ``ts`` (continuing a resumed run's total)."""
        return self.runtime_offset + max(0.0, ts - self.start_time)

    def _committed_fields(self, ts: float) -> None:
        """The run fields that every committed row moves."""
        fields = self.out.fields
        fields["summary"] = self.summary
        fields["last_step"] = self.last_step
        fields["runtime"] = self.runtime
        fields["updated_at"] = ts

    def _merge_row(self, step: int, row: dict[str, Any]) -> None:
        """Shared runs: rows of one step merge; the store merges with what it has."""
        out = self.out
        out.merge_rows = True
        if len(out.row_of_step) != len(out.rows):  # rows committed before the run was shared
            out.row_of_step = dict(out.rows)
        old = out.row_of_step.get(step)
        if old is not None:
            out.conflicts += count_conflicts(old, row)
            old.update(row)
            return
        out.row_of_step[step] = row
        out.rows.append((step, row))

    def _file(self, name: str, pending: bool) -> None:
        info = self.files[name]
        self.out.files.append(
            FileRow(self.key, name, path=info["path"], policy=info["policy"], pending=pending)
        )

    def _alert(self, event: AlertEvent) -> None:
        """Stores and (after the commit) delivers an alert, unless an alert with
        the same title was sent less than its ``wait_duration`` before."""
        last = self.alert_sent.get(event.title)
        if last is not None and event.timestamp - last < event.wait_duration:
            self.metadata["alerts_suppressed"] = int(self.metadata.get("alerts_suppressed", 0)) + 1
            self.out.fields["metadata"] = self.metadata
            return
        self.alert_sent[event.title] = event.timestamp
        alert = {
            "title": event.title, "text": event.text, "level": event.level,
            "wait_duration": event.wait_duration, "timestamp": event.timestamp,
        }
        if self.label:
            alert["label"] = self.label
        alerts = self.metadata.setdefault("alerts", [])
        alerts.append(alert)
        del alerts[:-MAX_ALERTS]
        self.out.fields["metadata"] = self.metadata
        self.out.alerts.append({**alert, "run": self.key.path})

    def _exit(self, event: ExitEvent) -> None:
        if self.pending is not None:
            self._commit()
        for name, saved in self.files.items():
            if saved["policy"] in ("end", "live"):  # the final version, at the end
                self._file(name, pending=True)
        state = event.state or ("finished" if not event.exit_code else "failed")
        info = self.writers.get(self.writer_id)
        if self.shared and info is not None and not info.primary:
            self._writer_event(info.label or self.writer_id, state, event)
            return
        if self.preempting and state != "finished":
            state = "preempted"
        # The applier read the event files to their end before this exit; what a
        # writer adds after the run ended is not the run's.
        self.tensorboard = {}
        if event.timestamp:
            runtime = self._runtime_at(event.timestamp)
            self.runtime = max(self.runtime, runtime)
        self.out.fields.update(
            state=state, exit_code=event.exit_code, runtime=self.runtime,
            updated_at=event.timestamp or self.start_time + self.runtime,
        )

    def _writer_event(self, label: str, state: str, event: ExitEvent) -> None:
        """A non-primary writer of a shared run ended: recorded, the run goes on."""
        writers = self.metadata.setdefault("writers", {})
        writers[label] = {"state": state, "exit_code": event.exit_code, "time": event.timestamp}
        self.out.fields["metadata"] = self.metadata


def count_conflicts(old: dict[str, Any], new: dict[str, Any]) -> int:
    """Keys two rows of one step both hold, with different values."""
    return sum(
        1 for key, value in new.items()
        if not key.startswith("_") and key in old and old[key] != value
        and not (value != value and old[key] != old[key])  # NaN and NaN agree
    )


def _merge(into: dict[str, Any], data: dict[str, Any]) -> None:
    """Merges ``data`` into ``into``; nested dicts merge key by key."""
    for key, value in data.items():
        old = into.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and "_type" not in value:
            _merge(old, value)
        else:
            into[key] = value
