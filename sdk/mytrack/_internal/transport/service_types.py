"""Plain values the service client takes and returns, so that no SDK module but
the client (and the record encoder) sees a protobuf message.

They mirror the control RPCs' messages field for field: the JSON documents
(config, summary, metadata, metric definitions) stay the bytes the service sent,
decoded by whoever reads them, because most callers read one of them or none.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunKey:
    """A run's identity: ``entity/project/run_id``."""

    entity: str
    project: str
    run_id: str

    def __post_init__(self) -> None:
        # A key read from a file (the resume file) may hold anything; refuse it
        # here, as the message class did, rather than on the wire.
        for field in (self.entity, self.project, self.run_id):
            if not isinstance(field, str):
                raise TypeError(f"a run key holds strings, got {field!r}")

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.run_id}"


@dataclass(frozen=True)
class RunInfo:
    """A run as the store holds it (the GetRun, ListRuns, Sync and OpenRun replies)."""

    key: RunKey
    name: str = ""
    state: str = ""
    group: str = ""
    job_type: str = ""
    tags: tuple[str, ...] = ()
    notes: str = ""
    config_json: bytes = b""
    summary_json: bytes = b""
    created_at: float = 0.0
    updated_at: float = 0.0
    runtime: float = 0.0
    last_step: int = 0
    exit_code: int = 0
    run_dir: str = ""
    host: str = ""
    sweep_id: str = ""
    metadata_json: bytes = b""
    heartbeat_at: float = 0.0
    metrics_json: bytes = b""


@dataclass
class OpenRun:
    """What a writer asks when it opens (or resumes, or adopts the WAL of) a run.

    Mutable because ``init()`` fills it in over a few steps; also the content of
    a run folder's ``.open`` file, which ``mytrack sync`` reads back.
    """

    run: RunKey
    writer_id: str
    name: str = ""
    group: str = ""
    job_type: str = ""
    tags: tuple[str, ...] = ()
    notes: str = ""
    config_json: bytes = b""
    resume: str = ""  # "", "allow", "must" or "never"
    run_dir: str = ""
    start_time: float = 0.0
    pid: int = 0
    host: str = ""
    sweep_id: str = ""
    mode: str = "online"
    adopt_wal: str = ""  # `mytrack sync`: the WAL the service reads read-only
    shared: bool = False
    primary: bool = False
    label: str = ""
    stats_interval: float | None = None  # None: the service's default


@dataclass(frozen=True)
class OpenedRun:
    """The OpenRun reply: the run as stored, and where the step continues."""

    run: RunInfo
    resumed: bool
    starting_step: int
    wal_path: str
    web_base: str  # "" when the service serves no web UI
    web_token: str


@dataclass(frozen=True)
class SyncResult:
    """The Sync reply: the run once the writer's records are applied (or the wait ran out)."""

    run: RunInfo
    timed_out: bool
    history_rows: int


@dataclass(frozen=True)
class ServiceStatus:
    """The Status reply; the ``writer_*`` and pending counts are a run's own when asked for one."""

    pid: int
    socket: str
    uptime: float
    active_runs: int
    records_received: int
    records_applied: int
    version: str
    store: str
    writer_acked_seq: int
    writer_applied_seq: int
    last_applied_time: float
    last_error: str
    writer_pending: int
    files_pending: int
    bytes_pending: int
    upload_retries: int
    conflicts: int
    web_base: str
    web_token: str


@dataclass(frozen=True)
class ProjectInfo:
    entity: str
    project: str
    run_count: int
    last_activity: float


@dataclass(frozen=True)
class FileInfo:
    """A file saved with a run."""

    name: str
    size: int
    digest: str
    updated_at: float
    policy: str
    mime: str
    pending: bool
    uploads: int


@dataclass(frozen=True)
class FileChunk:
    """A piece of a file being read; the first one carries the file's info."""

    info: FileInfo | None
    data: bytes


@dataclass(frozen=True)
class StopResult:
    """StopRun: whether a live process was told to stop, and the run's state now."""

    delivered: bool
    state: str


@dataclass(frozen=True)
class StreamHello:
    """Who writes on a record stream: the first message of every stream."""

    writer_id: str
    run: RunKey
    pid: int
    host: str
