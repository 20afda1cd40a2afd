"""The metadata store interface: runs, history, writer positions.

Store code sees plain dataclasses, never protobuf messages. Everything the
service applies from a write-ahead log goes through one primitive,
`MetadataStore.write_batch`, which is atomic: the history rows, the run fields
and the WAL positions of a batch commit together or not at all.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mytrack_service.store.artifact_model import ArtifactOp, ArtifactTx

if TYPE_CHECKING:  # NumPy is imported only by the readers that need it
    import numpy as np
    from numpy.typing import NDArray

    from mytrack_service.store.blocks import RowBlock  # blocks.py imports this module
    from mytrack_service.store.run_deletion import DeletedRun
    from mytrack_service.store.sweep_model import SweepTx  # it imports this module
    from mytrack_service.store.view_model import ViewRow


class StoreError(Exception):
    """A store operation failed (the driver's exception is chained)."""


class RunExistsError(StoreError):
    """create_run() for a run key that already exists."""


@dataclass(frozen=True, order=True)
class RunKey:
    entity: str
    project: str
    run_id: str

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.run_id}"


@dataclass
class RunRow:
    key: RunKey
    name: str = ""
    state: str = "running"
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
    heartbeat_at: float = 0.0
    runtime: float = 0.0
    last_step: int = -1  # -1: no history row yet
    exit_code: int | None = None
    run_dir: str = ""
    host: str = ""
    pid: int = 0
    sweep_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    # The service's assembly state (current step, pending row, metric
    # definitions...), opaque to the store; saved with each batch so that a
    # restarted service resumes exactly where the last committed batch ended.
    service_state: dict[str, Any] = field(default_factory=dict)


# Fields of RunRow that update_run()/Batch.run_fields may set.
RUN_FIELDS = frozenset(
    {
        "name", "state", "group", "job_type", "tags", "notes", "config", "summary",
        "updated_at", "heartbeat_at", "runtime", "last_step", "exit_code", "run_dir",
        "host", "pid", "sweep_id", "metadata", "service_state",
    }
)


@dataclass
class WriterRow:
    """One writer (one SDK process's connection to a run) and its WAL."""

    writer_id: str
    key: RunKey
    wal_path: str
    applied_offset: int = 0  # WAL byte offset up to which entries are applied
    applied_seq: int = 0  # highest record seq applied
    closed: bool = False  # exit record applied; nothing more will come
    # The WAL was written by another process (offline mode, `mytrack sync`):
    # the service only reads it, never appends to it or cuts its tail.
    adopted: bool = False
    # The service (node id) that owns the writer; services sharing a store
    # recover only their own writers after a restart.
    node: str = ""


@dataclass
class WriterPosition:
    writer_id: str
    applied_offset: int
    applied_seq: int
    closed: bool = False


@dataclass
class FileRow:
    """A file saved with a run (``run.save``), as indexed in the store."""

    key: RunKey
    name: str  # path inside the run's files/ folder, with "/" separators
    path: str = ""  # where the service reads it from (the link in the run folder)
    policy: str = "now"  # "live", "now" or "end"
    digest: str = ""  # sha256 of the last uploaded content; "" before the first upload
    size: int = 0
    mime: str = ""
    updated_at: float = 0.0  # when the last upload finished
    pending: bool = True  # an upload is due (durable: resumed after a restart)
    uploads: int = 0  # how many times the content was uploaded
    error: str = ""  # the last upload failure, "" if none


# Fields of FileRow that update_file() may set.
FILE_FIELDS = frozenset(
    {"path", "policy", "digest", "size", "mime", "updated_at", "pending", "uploads", "error"}
)


@dataclass
class ConsoleLine:
    """One line the training process printed."""

    timestamp: float
    stream: str  # "stdout" or "stderr"
    text: str
    label: str = ""  # the writer's label (shared runs)


@dataclass
class Batch:
    """What one apply cycle commits for one run, atomically."""

    key: RunKey
    # (step, row) pairs, ascending by step. Each row holds the user's keys
    # (nested dicts as logged) plus _step, _runtime and _timestamp. A row for a
    # step that already exists replaces it.
    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    run_fields: dict[str, Any] = field(default_factory=dict)
    positions: list[WriterPosition] = field(default_factory=list)
    # Files to index (or re-index) with the run: an upload of each is due.
    files: list[FileRow] = field(default_factory=list)
    # Console lines, appended in order; the store numbers them per run from 0.
    console: list[ConsoleLine] = field(default_factory=list)
    # Shared runs: each row merges into the stored row of its step (new keys
    # win), and run_fields["summary"] merges key by key into the stored one.
    merge_rows: bool = False
    # With merge_rows: called inside the transaction with the merged run fields
    # (the service completes what needs every writer's state, e.g. aggregates).
    on_merged: Callable[[dict[str, Any]], None] | None = None
    # Artifact records of the run, applied in order in the same transaction
    # (artifact_model.apply_ops); their content is in the blob store already.
    artifacts: list[ArtifactOp] = field(default_factory=list)
    # More rows, kept as columns (see blocks.py); no step of theirs is in rows
    # or in another block.
    blocks: list[RowBlock] = field(default_factory=list)
    # System-metrics samples carried by records (an import), as append_system takes them.
    system: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ProjectRow:
    entity: str
    project: str
    run_count: int
    last_activity: float


def as_float(value: Any) -> float:
    """A history value as a chart's y: numbers (and booleans) as floats, anything else NaN."""
    if isinstance(value, (int, float)):
        try:
            return float(value)
        except OverflowError:  # an int beyond float range
            return float("inf") if value > 0 else float("-inf")
    return float("nan")


class MetadataStore(abc.ABC):
    """Runs, their history and the service's WAL positions."""

    @abc.abstractmethod
    def create_run(self, run: RunRow, writer: WriterRow | None = None) -> None:
        """Inserts a new run, and registers ``writer`` in the same transaction;
        RunExistsError (and nothing written) if the key is taken."""

    @abc.abstractmethod
    def get_run(self, key: RunKey) -> RunRow | None: ...

    @abc.abstractmethod
    def update_run(self, key: RunKey, fields: Mapping[str, Any]) -> None:
        """Sets the given RUN_FIELDS of an existing run."""

    @abc.abstractmethod
    def list_runs(
        self, entity: str | None = None, project: str | None = None, updated_since: float | None = None,
    ) -> list[RunRow]:
        """Runs of a project (or all runs when both are None), newest first.

        ``updated_since``: only the runs whose ``updated_at`` is at least this.
        """

    @abc.abstractmethod
    def list_projects(self) -> list[ProjectRow]: ...

    def project_activity(self, entity: str, project: str) -> ProjectRow:
        """One project's run count and latest ``updated_at`` (0 and 0.0 when it has no runs)."""
        for row in self.list_projects():
            if (row.entity, row.project) == (entity, project):
                return row
        return ProjectRow(entity, project, 0, 0.0)

    @abc.abstractmethod
    def register_writer(self, writer: WriterRow) -> None:
        """Inserts a writer, or replaces the row of the same writer_id."""

    @abc.abstractmethod
    def get_writer(self, writer_id: str) -> WriterRow | None: ...

    @abc.abstractmethod
    def list_writers(self, include_closed: bool = False) -> list[WriterRow]: ...

    @abc.abstractmethod
    def write_batch(self, batch: Batch) -> int:
        """Applies rows, run fields and writer positions in one transaction.

        Returns how many keys a merged row overwrote with a different value
        (conflicts between writers of a shared run); 0 without merge_rows.
        """

    @abc.abstractmethod
    def read_history(
        self,
        key: RunKey,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Rows in step order, min_step <= _step <= max_step, no sampling.

        With ``keys``, only the rows holding every one of them, each reduced to
        ``_step`` and those keys; a key names a top-level key or, with dots, a
        leaf inside nested dicts ("a.b"). A key that contains dots itself is
        found too.
        """

    @abc.abstractmethod
    def count_history(self, key: RunKey) -> int: ...

    @abc.abstractmethod
    def read_console(
        self, key: RunKey, label: str | None = None, min_line: int | None = None,
        max_line: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Console lines in order: {"_line", "_timestamp", "stream", "label", "text"}."""

    @abc.abstractmethod
    def append_system(self, key: RunKey, samples: list[dict[str, Any]]) -> None:
        """Stores system-metrics samples: each has ``_timestamp``, ``_runtime``,
        ``_label`` and ``system/...`` keys (their own stream, not the history)."""

    @abc.abstractmethod
    def read_system(
        self, key: RunKey, keys: list[str] | None = None, min_time: float | None = None,
        max_time: float | None = None, label: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Samples by time; with ``keys``, those holding them all, reduced to
        ``_timestamp``, ``_runtime``, ``_label`` and the keys."""

    @abc.abstractmethod
    def list_files(self, key: RunKey | None = None, pending: bool | None = None) -> list[FileRow]:
        """Files of a run (every run when None), by name; optionally only (not) pending."""

    @abc.abstractmethod
    def get_file(self, key: RunKey, name: str) -> FileRow | None: ...

    @abc.abstractmethod
    def update_file(self, key: RunKey, name: str, fields: Mapping[str, Any]) -> None:
        """Sets FILE_FIELDS of an indexed file."""

    # -- conveniences for the web UI: built on read_history, overridden where faster --

    def history_keys(self, key: RunKey) -> list[str]:
        """The flattened keys ("a.b" for nested dicts) any history row of the run holds, sorted."""
        from mytrack_service.store.semantics import flatten_row

        names: set[str] = set()
        for row in self.read_history(key):
            names.update(flatten_row(row))
        return sorted(names)

    def read_series(
        self, key: RunKey, name: str, min_step: int | None = None, max_step: int | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        """One flattened key's points in step order, every one (no sampling), as
        arrays for charts: steps, and values as floats (booleans as 0 and 1; NaN
        where the value is not a number)."""
        import numpy as np

        steps: list[int] = []
        values: list[float] = []
        for row in self.read_history(key, [name], min_step, max_step):
            steps.append(row["_step"])
            values.append(as_float(row[name]))
        return np.array(steps, dtype=np.int64), np.array(values, dtype=np.float64)

    def artifacts(self, write: bool = False) -> AbstractContextManager[ArtifactTx]:
        """A transaction on the artifact tables (see artifact_model.py); with
        ``write``, committed when the block ends without an exception."""
        raise NotImplementedError(f"{type(self).__name__} does not store artifacts")

    def delete_run(self, key: RunKey, delete_artifacts: bool = False) -> DeletedRun | None:
        """Removes the run and everything stored under it (history, files, console,
        system metrics, writers) in one transaction, with its artifact records as
        run_deletion.forget_run says; None if there is no such run. Blobs are not
        touched: the result names the digests the removed rows referenced."""
        raise NotImplementedError(f"{type(self).__name__} cannot delete runs")

    def referenced_digests(self, candidates: Collection[str] | None = None) -> set[str]:
        """The blob digests that files or artifact manifests reference (only among
        ``candidates`` when given)."""
        raise NotImplementedError(f"{type(self).__name__} cannot list blob references")

    def sweeps(self, write: bool = False) -> AbstractContextManager[SweepTx]:
        """A transaction on the sweep tables (see sweep_model.py); with ``write``,
        committed when the block ends without an exception."""
        raise NotImplementedError(f"{type(self).__name__} does not store sweeps")

    def list_views(self, entity: str, project: str) -> list[ViewRow]:
        """The project's saved views of the runs table (view_model.py), by name."""
        raise NotImplementedError(f"{type(self).__name__} does not store views")

    def save_view(self, view: ViewRow) -> None:
        """Inserts the view, or replaces the state and ``updated_at`` of the one of that name."""
        raise NotImplementedError(f"{type(self).__name__} does not store views")

    def delete_view(self, entity: str, project: str, name: str) -> bool:
        """Deletes the named view; False if there was none."""
        raise NotImplementedError(f"{type(self).__name__} does not store views")

    def close(self) -> None:  # noqa: B027 - optional hook
        """Releases connections."""
