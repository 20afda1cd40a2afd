"""The SQL schema of `SqlStore` (SQLAlchemy Core tables), at version `migrations.LATEST`.

A change here needs a migration step in migrations.py for existing databases.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
)

from mytrack_service.store.base import RunKey
from mytrack_service.store.semantics import JSON_RUN_FIELDS

KEY_COLUMNS = ("entity", "project", "run_id")
_TEXT_RUN_COLUMNS = (
    *KEY_COLUMNS, "name", "state", "group", "job_type", "notes", "run_dir", "host", "sweep_id",
)
_TIME_RUN_COLUMNS = ("created_at", "updated_at", "heartbeat_at", "runtime")
_ID = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER only
metadata = MetaData()
schema_version = Table(
    "schema_version", metadata,
    Column("id", Integer, primary_key=True), Column("version", Integer, nullable=False),
)
runs = Table(
    "runs", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    *(Column(name, Text, nullable=False) for name in _TEXT_RUN_COLUMNS),
    *(Column(name, Text, nullable=False) for name in sorted(JSON_RUN_FIELDS)),
    *(Column(name, Double, nullable=False) for name in _TIME_RUN_COLUMNS),
    Column("last_step", BigInteger, nullable=False),
    Column("exit_code", Integer, nullable=True),
    Column("pid", BigInteger, nullable=False),
    UniqueConstraint("entity", "project", "run_id", name="uq_runs_key"),
    Index("ix_runs_project_created", "entity", "project", "created_at"),
)
writers = Table(
    "writers", metadata,
    Column("writer_id", Text, primary_key=True),
    *(Column(name, Text, nullable=False) for name in ("entity", "project", "run_id", "wal_path")),
    Column("applied_offset", BigInteger, nullable=False),
    Column("applied_seq", BigInteger, nullable=False),
    Column("closed", Boolean, nullable=False),
    Column("adopted", Boolean, nullable=False, default=False),
    Column("node", Text, nullable=False, default=""),
)
history = Table(
    "history", metadata,
    Column("run_pk", _ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("step", BigInteger, nullable=False),
    Column("data", Text, nullable=False),
    PrimaryKeyConstraint("run_pk", "step"),
)
history_chunks = Table(
    "history_chunks", metadata,
    Column("run_pk", _ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("key", Text, nullable=False),
    Column("chunk", BigInteger, nullable=False),
    Column("steps", LargeBinary, nullable=False),
    Column("vals", LargeBinary, nullable=False),
    PrimaryKeyConstraint("run_pk", "key", "chunk"),
    # write_batch reads every key of the chunks it touches.
    Index("ix_history_chunks_chunk", "run_pk", "chunk"),
)
files = Table(
    "files", metadata,
    Column("run_pk", _ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("name", Text, nullable=False),
    Column("path", Text, nullable=False),
    Column("policy", Text, nullable=False),
    Column("digest", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("mime", Text, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("pending", Boolean, nullable=False),
    Column("uploads", Integer, nullable=False),
    Column("error", Text, nullable=False),
    PrimaryKeyConstraint("run_pk", "name"),
    Index("ix_files_pending", "pending"),
)
console = Table(
    "console", metadata,
    Column("run_pk", _ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("line", BigInteger, nullable=False),
    Column("ts", Double, nullable=False),
    Column("stream", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("text", Text, nullable=False),
    PrimaryKeyConstraint("run_pk", "line"),
)
system = Table(
    "system", metadata,
    Column("run_pk", _ID, ForeignKey("runs.id", ondelete="CASCADE"), nullable=False),
    Column("ts", Double, nullable=False),
    Column("label", Text, nullable=False),
    Column("data", Text, nullable=False),
    Index("ix_system_run_ts", "run_pk", "ts"),
)


def key_filter(key: RunKey) -> tuple[Any, ...]:
    """The WHERE clauses that select run ``key`` in ``runs``."""
    return (runs.c.entity == key.entity, runs.c.project == key.project, runs.c.run_id == key.run_id)
