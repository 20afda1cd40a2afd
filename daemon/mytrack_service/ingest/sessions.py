"""A live run's and a writer's in-service state: the records of `LiveRuns`.

A `RunSession` holds one run's assembly state and its writers; a
`WriterSession` is one SDK process's connection to a run, with its WAL. Plain
records: `LiveRuns` (live_runs.py) decides who may change them and under which
lock; the applier, crash detection and system metrics read them.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass, field
from typing import Any

from mytrack_common.wal import WalWriter, valid_end
from mytrack_service.apply.assembly import RunAssembly
from mytrack_service.apply.decode import record_seq
from mytrack_service.store.base import RunKey


class IngestError(Exception):
    """A request the live_runs refuses; ``code`` names the kind (for the RPC edge)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # "not_found", "invalid", "exists", "precondition", "full"


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
