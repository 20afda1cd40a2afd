from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Record(_message.Message):
    __slots__ = ("seq", "log", "config", "summary", "metric", "run_update", "exit", "preempting", "files", "output", "environment", "alert", "artifact", "tensorboard", "system")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    LOG_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    METRIC_FIELD_NUMBER: _ClassVar[int]
    RUN_UPDATE_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    PREEMPTING_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_FIELD_NUMBER: _ClassVar[int]
    ENVIRONMENT_FIELD_NUMBER: _ClassVar[int]
    ALERT_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    TENSORBOARD_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    seq: int
    log: LogBatch
    config: ConfigUpdate
    summary: SummaryUpdate
    metric: MetricDefinition
    run_update: RunUpdate
    exit: Exit
    preempting: Preempting
    files: Files
    output: Output
    environment: Environment
    alert: Alert
    artifact: ArtifactRecord
    tensorboard: TensorBoardLogdir
    system: SystemSamples
    def __init__(self, seq: _Optional[int] = ..., log: _Optional[_Union[LogBatch, _Mapping]] = ..., config: _Optional[_Union[ConfigUpdate, _Mapping]] = ..., summary: _Optional[_Union[SummaryUpdate, _Mapping]] = ..., metric: _Optional[_Union[MetricDefinition, _Mapping]] = ..., run_update: _Optional[_Union[RunUpdate, _Mapping]] = ..., exit: _Optional[_Union[Exit, _Mapping]] = ..., preempting: _Optional[_Union[Preempting, _Mapping]] = ..., files: _Optional[_Union[Files, _Mapping]] = ..., output: _Optional[_Union[Output, _Mapping]] = ..., environment: _Optional[_Union[Environment, _Mapping]] = ..., alert: _Optional[_Union[Alert, _Mapping]] = ..., artifact: _Optional[_Union[ArtifactRecord, _Mapping]] = ..., tensorboard: _Optional[_Union[TensorBoardLogdir, _Mapping]] = ..., system: _Optional[_Union[SystemSamples, _Mapping]] = ...) -> None: ...

class ArtifactRecord(_message.Message):
    __slots__ = ("action", "json", "client_id")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    action: str
    json: bytes
    client_id: str
    def __init__(self, action: _Optional[str] = ..., json: _Optional[bytes] = ..., client_id: _Optional[str] = ...) -> None: ...

class Alert(_message.Message):
    __slots__ = ("title", "text", "level", "wait_duration", "timestamp")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    WAIT_DURATION_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    title: str
    text: str
    level: str
    wait_duration: float
    timestamp: float
    def __init__(self, title: _Optional[str] = ..., text: _Optional[str] = ..., level: _Optional[str] = ..., wait_duration: _Optional[float] = ..., timestamp: _Optional[float] = ...) -> None: ...

class Output(_message.Message):
    __slots__ = ("lines",)
    LINES_FIELD_NUMBER: _ClassVar[int]
    lines: _containers.RepeatedCompositeFieldContainer[OutputLine]
    def __init__(self, lines: _Optional[_Iterable[_Union[OutputLine, _Mapping]]] = ...) -> None: ...

class OutputLine(_message.Message):
    __slots__ = ("timestamp", "stream", "text")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    timestamp: float
    stream: str
    text: str
    def __init__(self, timestamp: _Optional[float] = ..., stream: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class Environment(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    def __init__(self, json: _Optional[bytes] = ...) -> None: ...

class Files(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[FileEntry]
    def __init__(self, files: _Optional[_Iterable[_Union[FileEntry, _Mapping]]] = ...) -> None: ...

class FileEntry(_message.Message):
    __slots__ = ("name", "path", "policy")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    name: str
    path: str
    policy: str
    def __init__(self, name: _Optional[str] = ..., path: _Optional[str] = ..., policy: _Optional[str] = ...) -> None: ...

class LogBatch(_message.Message):
    __slots__ = ("json", "count", "keys", "values", "timestamps")
    JSON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    count: int
    keys: _containers.RepeatedScalarFieldContainer[str]
    values: bytes
    timestamps: bytes
    def __init__(self, json: _Optional[bytes] = ..., count: _Optional[int] = ..., keys: _Optional[_Iterable[str]] = ..., values: _Optional[bytes] = ..., timestamps: _Optional[bytes] = ...) -> None: ...

class ConfigUpdate(_message.Message):
    __slots__ = ("update_json", "remove")
    UPDATE_JSON_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    update_json: bytes
    remove: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, update_json: _Optional[bytes] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...

class SummaryUpdate(_message.Message):
    __slots__ = ("update_json", "remove")
    UPDATE_JSON_FIELD_NUMBER: _ClassVar[int]
    REMOVE_FIELD_NUMBER: _ClassVar[int]
    update_json: bytes
    remove: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, update_json: _Optional[bytes] = ..., remove: _Optional[_Iterable[str]] = ...) -> None: ...

class MetricDefinition(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    def __init__(self, json: _Optional[bytes] = ...) -> None: ...

class RunUpdate(_message.Message):
    __slots__ = ("name", "notes", "group", "job_type", "set_tags", "tags")
    NAME_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    SET_TAGS_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    name: str
    notes: str
    group: str
    job_type: str
    set_tags: bool
    tags: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, name: _Optional[str] = ..., notes: _Optional[str] = ..., group: _Optional[str] = ..., job_type: _Optional[str] = ..., set_tags: _Optional[bool] = ..., tags: _Optional[_Iterable[str]] = ...) -> None: ...

class Exit(_message.Message):
    __slots__ = ("exit_code", "state", "timestamp")
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    exit_code: int
    state: str
    timestamp: float
    def __init__(self, exit_code: _Optional[int] = ..., state: _Optional[str] = ..., timestamp: _Optional[float] = ...) -> None: ...

class Preempting(_message.Message):
    __slots__ = ("timestamp",)
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    timestamp: float
    def __init__(self, timestamp: _Optional[float] = ...) -> None: ...

class TensorBoardLogdir(_message.Message):
    __slots__ = ("logdir", "namespace", "since", "save")
    LOGDIR_FIELD_NUMBER: _ClassVar[int]
    NAMESPACE_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    SAVE_FIELD_NUMBER: _ClassVar[int]
    logdir: str
    namespace: str
    since: float
    save: bool
    def __init__(self, logdir: _Optional[str] = ..., namespace: _Optional[str] = ..., since: _Optional[float] = ..., save: _Optional[bool] = ...) -> None: ...

class SystemSamples(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    def __init__(self, json: _Optional[bytes] = ...) -> None: ...

class ClientMessage(_message.Message):
    __slots__ = ("hello", "batch", "heartbeat")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    batch: RecordBatch
    heartbeat: Heartbeat
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., batch: _Optional[_Union[RecordBatch, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("writer_id", "run", "pid", "host")
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    RUN_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    writer_id: str
    run: RunKey
    pid: int
    host: str
    def __init__(self, writer_id: _Optional[str] = ..., run: _Optional[_Union[RunKey, _Mapping]] = ..., pid: _Optional[int] = ..., host: _Optional[str] = ...) -> None: ...

class RecordBatch(_message.Message):
    __slots__ = ("first_seq", "records")
    FIRST_SEQ_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    first_seq: int
    records: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, first_seq: _Optional[int] = ..., records: _Optional[_Iterable[bytes]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("timestamp",)
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    timestamp: float
    def __init__(self, timestamp: _Optional[float] = ...) -> None: ...

class ServerMessage(_message.Message):
    __slots__ = ("ack", "notice")
    ACK_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    ack: Ack
    notice: Notice
    def __init__(self, ack: _Optional[_Union[Ack, _Mapping]] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("acked_seq",)
    ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    acked_seq: int
    def __init__(self, acked_seq: _Optional[int] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("kind", "text")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    text: str
    def __init__(self, kind: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class RunKey(_message.Message):
    __slots__ = ("entity", "project", "run_id")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    entity: str
    project: str
    run_id: str
    def __init__(self, entity: _Optional[str] = ..., project: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class OpenRunRequest(_message.Message):
    __slots__ = ("run", "writer_id", "name", "group", "job_type", "tags", "notes", "config_json", "resume", "run_dir", "start_time", "pid", "host", "sweep_id", "mode", "adopt_wal", "shared", "primary", "label", "stats_interval")
    RUN_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    RESUME_FIELD_NUMBER: _ClassVar[int]
    RUN_DIR_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    ADOPT_WAL_FIELD_NUMBER: _ClassVar[int]
    SHARED_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    STATS_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    run: RunKey
    writer_id: str
    name: str
    group: str
    job_type: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    notes: str
    config_json: bytes
    resume: str
    run_dir: str
    start_time: float
    pid: int
    host: str
    sweep_id: str
    mode: str
    adopt_wal: str
    shared: bool
    primary: bool
    label: str
    stats_interval: float
    def __init__(self, run: _Optional[_Union[RunKey, _Mapping]] = ..., writer_id: _Optional[str] = ..., name: _Optional[str] = ..., group: _Optional[str] = ..., job_type: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., notes: _Optional[str] = ..., config_json: _Optional[bytes] = ..., resume: _Optional[str] = ..., run_dir: _Optional[str] = ..., start_time: _Optional[float] = ..., pid: _Optional[int] = ..., host: _Optional[str] = ..., sweep_id: _Optional[str] = ..., mode: _Optional[str] = ..., adopt_wal: _Optional[str] = ..., shared: _Optional[bool] = ..., primary: _Optional[bool] = ..., label: _Optional[str] = ..., stats_interval: _Optional[float] = ...) -> None: ...

class OpenRunResponse(_message.Message):
    __slots__ = ("run", "resumed", "starting_step", "wal_path", "web_base", "web_token")
    RUN_FIELD_NUMBER: _ClassVar[int]
    RESUMED_FIELD_NUMBER: _ClassVar[int]
    STARTING_STEP_FIELD_NUMBER: _ClassVar[int]
    WAL_PATH_FIELD_NUMBER: _ClassVar[int]
    WEB_BASE_FIELD_NUMBER: _ClassVar[int]
    WEB_TOKEN_FIELD_NUMBER: _ClassVar[int]
    run: RunInfo
    resumed: bool
    starting_step: int
    wal_path: str
    web_base: str
    web_token: str
    def __init__(self, run: _Optional[_Union[RunInfo, _Mapping]] = ..., resumed: _Optional[bool] = ..., starting_step: _Optional[int] = ..., wal_path: _Optional[str] = ..., web_base: _Optional[str] = ..., web_token: _Optional[str] = ...) -> None: ...

class SyncRequest(_message.Message):
    __slots__ = ("run", "writer_id", "last_seq", "timeout")
    RUN_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    run: RunKey
    writer_id: str
    last_seq: int
    timeout: float
    def __init__(self, run: _Optional[_Union[RunKey, _Mapping]] = ..., writer_id: _Optional[str] = ..., last_seq: _Optional[int] = ..., timeout: _Optional[float] = ...) -> None: ...

class SyncResponse(_message.Message):
    __slots__ = ("run", "timed_out", "history_rows")
    RUN_FIELD_NUMBER: _ClassVar[int]
    TIMED_OUT_FIELD_NUMBER: _ClassVar[int]
    HISTORY_ROWS_FIELD_NUMBER: _ClassVar[int]
    run: RunInfo
    timed_out: bool
    history_rows: int
    def __init__(self, run: _Optional[_Union[RunInfo, _Mapping]] = ..., timed_out: _Optional[bool] = ..., history_rows: _Optional[int] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("run", "writer_id", "quick")
    RUN_FIELD_NUMBER: _ClassVar[int]
    WRITER_ID_FIELD_NUMBER: _ClassVar[int]
    QUICK_FIELD_NUMBER: _ClassVar[int]
    run: RunKey
    writer_id: str
    quick: bool
    def __init__(self, run: _Optional[_Union[RunKey, _Mapping]] = ..., writer_id: _Optional[str] = ..., quick: _Optional[bool] = ...) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("pid", "socket", "uptime", "active_runs", "records_received", "records_applied", "version", "store", "writer_acked_seq", "writer_applied_seq", "last_applied_time", "last_error", "writer_pending", "files_pending", "bytes_pending", "upload_retries", "conflicts", "web_base", "web_token")
    PID_FIELD_NUMBER: _ClassVar[int]
    SOCKET_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    ACTIVE_RUNS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    RECORDS_APPLIED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STORE_FIELD_NUMBER: _ClassVar[int]
    WRITER_ACKED_SEQ_FIELD_NUMBER: _ClassVar[int]
    WRITER_APPLIED_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_APPLIED_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    WRITER_PENDING_FIELD_NUMBER: _ClassVar[int]
    FILES_PENDING_FIELD_NUMBER: _ClassVar[int]
    BYTES_PENDING_FIELD_NUMBER: _ClassVar[int]
    UPLOAD_RETRIES_FIELD_NUMBER: _ClassVar[int]
    CONFLICTS_FIELD_NUMBER: _ClassVar[int]
    WEB_BASE_FIELD_NUMBER: _ClassVar[int]
    WEB_TOKEN_FIELD_NUMBER: _ClassVar[int]
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
    def __init__(self, pid: _Optional[int] = ..., socket: _Optional[str] = ..., uptime: _Optional[float] = ..., active_runs: _Optional[int] = ..., records_received: _Optional[int] = ..., records_applied: _Optional[int] = ..., version: _Optional[str] = ..., store: _Optional[str] = ..., writer_acked_seq: _Optional[int] = ..., writer_applied_seq: _Optional[int] = ..., last_applied_time: _Optional[float] = ..., last_error: _Optional[str] = ..., writer_pending: _Optional[int] = ..., files_pending: _Optional[int] = ..., bytes_pending: _Optional[int] = ..., upload_retries: _Optional[int] = ..., conflicts: _Optional[int] = ..., web_base: _Optional[str] = ..., web_token: _Optional[str] = ...) -> None: ...

class StopRunResponse(_message.Message):
    __slots__ = ("delivered", "state")
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    delivered: bool
    state: str
    def __init__(self, delivered: _Optional[bool] = ..., state: _Optional[str] = ...) -> None: ...

class ShutdownRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ShutdownResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RunInfo(_message.Message):
    __slots__ = ("key", "name", "state", "group", "job_type", "tags", "notes", "config_json", "summary_json", "created_at", "updated_at", "runtime", "last_step", "exit_code", "run_dir", "host", "sweep_id", "metadata_json", "heartbeat_at", "metrics_json")
    KEY_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    JOB_TYPE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    CONFIG_JSON_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_JSON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    LAST_STEP_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    RUN_DIR_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    METADATA_JSON_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_AT_FIELD_NUMBER: _ClassVar[int]
    METRICS_JSON_FIELD_NUMBER: _ClassVar[int]
    key: RunKey
    name: str
    state: str
    group: str
    job_type: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    notes: str
    config_json: bytes
    summary_json: bytes
    created_at: float
    updated_at: float
    runtime: float
    last_step: int
    exit_code: int
    run_dir: str
    host: str
    sweep_id: str
    metadata_json: bytes
    heartbeat_at: float
    metrics_json: bytes
    def __init__(self, key: _Optional[_Union[RunKey, _Mapping]] = ..., name: _Optional[str] = ..., state: _Optional[str] = ..., group: _Optional[str] = ..., job_type: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., notes: _Optional[str] = ..., config_json: _Optional[bytes] = ..., summary_json: _Optional[bytes] = ..., created_at: _Optional[float] = ..., updated_at: _Optional[float] = ..., runtime: _Optional[float] = ..., last_step: _Optional[int] = ..., exit_code: _Optional[int] = ..., run_dir: _Optional[str] = ..., host: _Optional[str] = ..., sweep_id: _Optional[str] = ..., metadata_json: _Optional[bytes] = ..., heartbeat_at: _Optional[float] = ..., metrics_json: _Optional[bytes] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("entity", "project", "filters_json")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    FILTERS_JSON_FIELD_NUMBER: _ClassVar[int]
    entity: str
    project: str
    filters_json: bytes
    def __init__(self, entity: _Optional[str] = ..., project: _Optional[str] = ..., filters_json: _Optional[bytes] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs",)
    RUNS_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[RunInfo]
    def __init__(self, runs: _Optional[_Iterable[_Union[RunInfo, _Mapping]]] = ...) -> None: ...

class ListProjectsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ProjectInfo(_message.Message):
    __slots__ = ("entity", "project", "run_count", "last_activity")
    ENTITY_FIELD_NUMBER: _ClassVar[int]
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    RUN_COUNT_FIELD_NUMBER: _ClassVar[int]
    LAST_ACTIVITY_FIELD_NUMBER: _ClassVar[int]
    entity: str
    project: str
    run_count: int
    last_activity: float
    def __init__(self, entity: _Optional[str] = ..., project: _Optional[str] = ..., run_count: _Optional[int] = ..., last_activity: _Optional[float] = ...) -> None: ...

class ListProjectsResponse(_message.Message):
    __slots__ = ("projects",)
    PROJECTS_FIELD_NUMBER: _ClassVar[int]
    projects: _containers.RepeatedCompositeFieldContainer[ProjectInfo]
    def __init__(self, projects: _Optional[_Iterable[_Union[ProjectInfo, _Mapping]]] = ...) -> None: ...

class HistoryRequest(_message.Message):
    __slots__ = ("run", "keys", "min_step", "max_step", "page_size", "stream", "label")
    RUN_FIELD_NUMBER: _ClassVar[int]
    KEYS_FIELD_NUMBER: _ClassVar[int]
    MIN_STEP_FIELD_NUMBER: _ClassVar[int]
    MAX_STEP_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    STREAM_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    run: RunKey
    keys: _containers.RepeatedScalarFieldContainer[str]
    min_step: int
    max_step: int
    page_size: int
    stream: str
    label: str
    def __init__(self, run: _Optional[_Union[RunKey, _Mapping]] = ..., keys: _Optional[_Iterable[str]] = ..., min_step: _Optional[int] = ..., max_step: _Optional[int] = ..., page_size: _Optional[int] = ..., stream: _Optional[str] = ..., label: _Optional[str] = ...) -> None: ...

class FileInfo(_message.Message):
    __slots__ = ("name", "size", "digest", "updated_at", "policy", "mime", "pending", "uploads")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    POLICY_FIELD_NUMBER: _ClassVar[int]
    MIME_FIELD_NUMBER: _ClassVar[int]
    PENDING_FIELD_NUMBER: _ClassVar[int]
    UPLOADS_FIELD_NUMBER: _ClassVar[int]
    name: str
    size: int
    digest: str
    updated_at: float
    policy: str
    mime: str
    pending: bool
    uploads: int
    def __init__(self, name: _Optional[str] = ..., size: _Optional[int] = ..., digest: _Optional[str] = ..., updated_at: _Optional[float] = ..., policy: _Optional[str] = ..., mime: _Optional[str] = ..., pending: _Optional[bool] = ..., uploads: _Optional[int] = ...) -> None: ...

class FileList(_message.Message):
    __slots__ = ("files",)
    FILES_FIELD_NUMBER: _ClassVar[int]
    files: _containers.RepeatedCompositeFieldContainer[FileInfo]
    def __init__(self, files: _Optional[_Iterable[_Union[FileInfo, _Mapping]]] = ...) -> None: ...

class FileRequest(_message.Message):
    __slots__ = ("run", "name")
    RUN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    run: RunKey
    name: str
    def __init__(self, run: _Optional[_Union[RunKey, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class FileChunk(_message.Message):
    __slots__ = ("info", "data")
    INFO_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    info: FileInfo
    data: bytes
    def __init__(self, info: _Optional[_Union[FileInfo, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class JsonRequest(_message.Message):
    __slots__ = ("kind", "json")
    KIND_FIELD_NUMBER: _ClassVar[int]
    JSON_FIELD_NUMBER: _ClassVar[int]
    kind: str
    json: bytes
    def __init__(self, kind: _Optional[str] = ..., json: _Optional[bytes] = ...) -> None: ...

class JsonResponse(_message.Message):
    __slots__ = ("json",)
    JSON_FIELD_NUMBER: _ClassVar[int]
    json: bytes
    def __init__(self, json: _Optional[bytes] = ...) -> None: ...

class BlobRequest(_message.Message):
    __slots__ = ("digest",)
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    digest: str
    def __init__(self, digest: _Optional[str] = ...) -> None: ...

class HistoryPage(_message.Message):
    __slots__ = ("rows_json", "count")
    ROWS_JSON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    rows_json: bytes
    count: int
    def __init__(self, rows_json: _Optional[bytes] = ..., count: _Optional[int] = ...) -> None: ...
