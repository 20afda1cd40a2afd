"""`SqlStore`: the metadata store on SQLAlchemy Core, for SQLite and PostgreSQL.

History is kept twice, in one transaction: ``history`` holds each step's full
row (for full-row scans), and ``history_chunks`` holds, per flattened key and
per block of `CHUNK` steps, the key's steps and values (see chunks.py), so that
reading one key over a million steps touches about a thousand rows. Rows and
run fields are stored as TEXT written by ``json.dumps(allow_nan=True)``, so NaN
and +-Infinity round-trip exactly on both databases.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection, RowMapping, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from mytrack_service.store.base import (
    Batch,
    MetadataStore,
    ProjectRow,
    RunExistsError,
    RunKey,
    RunRow,
    StoreError,
    WriterRow,
)
from mytrack_service.store.blocks import with_block_rows
from mytrack_service.store.jsontext import dump_json, load_json
from mytrack_service.store.migrations import migrate
from mytrack_service.store.rows import decode_row
from mytrack_service.store.semantics import (
    JSON_RUN_FIELDS,
    check_run_fields,
    flatten_row,
    merge_fields,
    merge_rows,
    unique_rows,
)
from mytrack_service.store.sql_artifacts import ArtifactsMixin, write_artifacts
from mytrack_service.store.sql_deletion import DeletionMixin
from mytrack_service.store.sql_engine import make_engine
from mytrack_service.store.sql_files import FilesMixin, write_files
from mytrack_service.store.sql_history import IN_LIST, HistoryMixin, history_params
from mytrack_service.store.sql_schema import KEY_COLUMNS, history, key_filter, runs, writers
from mytrack_service.store.sql_series import SeriesMixin
from mytrack_service.store.sql_streams import StreamsMixin, write_console, write_system
from mytrack_service.store.sql_sweeps import SweepsMixin
from mytrack_service.store.sql_views import ViewsMixin


class SqlStore(
    HistoryMixin, ArtifactsMixin, FilesMixin, StreamsMixin, SeriesMixin, SweepsMixin, ViewsMixin,
    DeletionMixin,
    MetadataStore,
):
    """A `MetadataStore` on SQLite (``sqlite:////abs/path.db``) or PostgreSQL.

    Each method checks a connection out of the engine's pool and holds its
    transaction only for its own statements, so the store may be shared by
    threads. Driver errors are raised as `StoreError`, never with the password.
    """

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._safe_url = parsed.render_as_string(hide_password=True)
        self._password = parsed.password if isinstance(parsed.password, str) else None
        self._dialect = parsed.get_backend_name()
        # Only the dialect in use: PostgreSQL's costs a SQLite service 20 ms of its start.
        dialect = importlib.import_module(
            "sqlalchemy.dialects.postgresql" if self._dialect == "postgresql" else "sqlalchemy.dialects.sqlite"
        )
        self._insert = dialect.insert
        # SQLite has one writer at a time. Threads of this process queue for it
        # here, in order, rather than in SQLite's busy handler, which polls with
        # sleeps of up to 100 ms (64 ranks opening runs at once waited seconds).
        self._write_lock: AbstractContextManager[Any] = (
            threading.RLock() if self._dialect == "sqlite" else nullcontext()
        )
        # The two hot upserts go to the driver's executemany directly: SQLAlchemy's
        # per-row parameter processing cost more than the database work.
        mark = "?" if self._dialect == "sqlite" else "%s"
        self._history_upsert_sql = (
            f"INSERT INTO history (run_pk, step, data) VALUES ({mark}, {mark}, {mark}) "
            "ON CONFLICT (run_pk, step) DO UPDATE SET data = excluded.data"
        )
        self._chunk_upsert_sql = (
            "INSERT INTO history_chunks (run_pk, key, chunk, steps, vals) "
            f"VALUES ({mark}, {mark}, {mark}, {mark}, {mark}) ON CONFLICT (run_pk, key, chunk) "
            "DO UPDATE SET steps = excluded.steps, vals = excluded.vals"
        )
        with self._errors("opening the store"):
            self._engine = make_engine(url)
            try:
                migrate(self._engine)
            except BaseException:
                self._engine.dispose()
                raise

    def __repr__(self) -> str:
        return f"SqlStore({self._safe_url!r})"

    def close(self) -> None:
        self._engine.dispose()

    # -- runs -------------------------------------------------------------

    def create_run(self, run: RunRow, writer: WriterRow | None = None) -> None:
        values = _run_values(run)
        with self._errors("create_run"):
            try:
                with self._write() as conn:
                    conn.execute(runs.insert().values(values))
                    if writer is not None:
                        conn.execute(self._writer_upsert(writer))
            except IntegrityError as exc:  # the only constraint: uq_runs_key
                raise RunExistsError(f"run {run.key.path} already exists") from exc

    def get_run(self, key: RunKey) -> RunRow | None:
        with self._errors("get_run"), self._engine.connect() as conn:
            row = conn.execute(select(runs).where(*key_filter(key))).mappings().first()
        return None if row is None else run_from_row(row)

    def update_run(self, key: RunKey, fields: Mapping[str, Any]) -> None:
        check_run_fields(fields)
        values = _field_values(fields)
        with self._errors("update_run"), self._write() as conn:
            pk = self._run_pk(conn, key)
            if values:
                conn.execute(update(runs).where(runs.c.id == pk).values(values))

    def list_runs(
        self, entity: str | None = None, project: str | None = None, updated_since: float | None = None,
    ) -> list[RunRow]:
        query = select(runs).order_by(runs.c.created_at.desc(), runs.c.id.desc())
        if entity is not None:
            query = query.where(runs.c.entity == entity)
        if project is not None:
            query = query.where(runs.c.project == project)
        if updated_since is not None:
            query = query.where(runs.c.updated_at >= updated_since)
        with self._errors("list_runs"), self._engine.connect() as conn:
            return [run_from_row(row) for row in conn.execute(query).mappings()]

    def list_projects(self) -> list[ProjectRow]:
        last = func.max(runs.c.updated_at)
        query = (
            select(runs.c.entity, runs.c.project, func.count(), last)
            .group_by(runs.c.entity, runs.c.project)
            .order_by(last.desc(), runs.c.entity, runs.c.project)
        )
        with self._errors("list_projects"), self._engine.connect() as conn:
            return [ProjectRow(e, p, int(n), float(t)) for e, p, n, t in conn.execute(query)]

    def project_activity(self, entity: str, project: str) -> ProjectRow:
        query = select(func.count(), func.max(runs.c.updated_at)).where(
            runs.c.entity == entity, runs.c.project == project)
        with self._errors("project_activity"), self._engine.connect() as conn:
            count, last = conn.execute(query).one()
        return ProjectRow(entity, project, int(count), float(last or 0.0))

    # -- writers ----------------------------------------------------------

    def register_writer(self, writer: WriterRow) -> None:
        with self._errors("register_writer"), self._write() as conn:
            conn.execute(self._writer_upsert(writer))

    def _writer_upsert(self, writer: WriterRow) -> Any:
        values = {
            "writer_id": writer.writer_id, "entity": writer.key.entity,
            "project": writer.key.project, "run_id": writer.key.run_id,
            "wal_path": writer.wal_path, "applied_offset": writer.applied_offset,
            "applied_seq": writer.applied_seq, "closed": writer.closed,
            "adopted": writer.adopted, "node": writer.node,
        }
        stmt = self._insert(writers).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[writers.c.writer_id],
            set_={name: stmt.excluded[name] for name in values if name != "writer_id"},
        )
        return stmt

    def get_writer(self, writer_id: str) -> WriterRow | None:
        query = select(writers).where(writers.c.writer_id == writer_id)
        with self._errors("get_writer"), self._engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return None if row is None else _writer_from_row(row)

    def list_writers(self, include_closed: bool = False) -> list[WriterRow]:
        query = select(writers).order_by(writers.c.writer_id)
        if not include_closed:
            query = query.where(writers.c.closed.is_(False))
        with self._errors("list_writers"), self._engine.connect() as conn:
            return [_writer_from_row(row) for row in conn.execute(query).mappings()]

    # -- history ----------------------------------------------------------

    def write_batch(self, batch: Batch) -> int:
        check_run_fields(batch.run_fields)
        blocks = batch.blocks
        if batch.merge_rows and blocks:  # merged row by row
            rows, blocks = unique_rows(with_block_rows(batch.rows, blocks)), []
        else:
            rows = unique_rows(batch.rows)
        conflicts = 0
        with self._errors("write_batch"), self._write() as conn:
            pk = self._run_pk(conn, batch.key, lock=True)
            fields = dict(batch.run_fields)
            if batch.merge_rows:
                rows, conflicts = self._merged(conn, pk, rows)
                for name in ("summary", "metadata", "service_state"):
                    if name in fields:
                        fields[name] = self._merged_field(conn, pk, name, fields[name])
                if batch.on_merged is not None:
                    batch.on_merged(fields)
            if rows or blocks:
                for texts in history_params(pk, rows, blocks):
                    conn.exec_driver_sql(self._history_upsert_sql, texts)
                self._merge_chunks(conn, pk, [(step, flatten_row(row)) for step, row in rows], blocks)
            values = _field_values(fields)
            if values:
                conn.execute(update(runs).where(runs.c.id == pk).values(values))
            write_files(conn, self._insert, pk, batch.files)
            write_console(conn, pk, batch.console)
            write_system(conn, pk, batch.system)
            write_artifacts(conn, self._dialect, batch.artifacts)
            for pos in batch.positions:
                result = conn.execute(
                    update(writers).where(writers.c.writer_id == pos.writer_id).values(
                        applied_offset=pos.applied_offset, applied_seq=pos.applied_seq,
                        closed=pos.closed,
                    )
                )
                if result.rowcount != 1:
                    raise StoreError(f"unknown writer {pos.writer_id!r}")
        return conflicts

    def _merged(
        self, conn: Connection, pk: int, rows: list[tuple[int, dict[str, Any]]]
    ) -> tuple[list[tuple[int, dict[str, Any]]], int]:
        """The rows merged into the stored rows of their steps; and the conflicts."""
        steps = [step for step, _ in rows]
        stored: dict[int, dict[str, Any]] = {}
        for start in range(0, len(steps), IN_LIST):
            query = select(history.c.step, history.c.data).where(
                history.c.run_pk == pk, history.c.step.in_(steps[start:start + IN_LIST])
            )
            stored.update((step, decode_row(data)) for step, data in conn.execute(query))
        return merge_rows(stored, rows)

    def _merged_field(
        self, conn: Connection, pk: int, name: str, value: dict[str, Any]
    ) -> dict[str, Any]:
        """A JSON run field merged key by key into the stored one (shared runs,
        whose writers may live in several services)."""
        current = conn.execute(select(runs.c[name]).where(runs.c.id == pk)).scalar()
        return merge_fields(load_json(current) if current else {}, value)

    # -- plumbing ---------------------------------------------------------

    def _run_pk(self, conn: Connection, key: RunKey, lock: bool = False) -> int:
        """The run's primary key; with ``lock``, the run row stays locked (PostgreSQL).

        The lock serialises concurrent batches of one run, whose chunk merges
        read then write. SQLite needs none: write transactions begin IMMEDIATE.
        """
        query = select(runs.c.id).where(*key_filter(key))
        if lock and self._dialect == "postgresql":
            query = query.with_for_update()
        pk = conn.execute(query).scalar()
        if pk is None:
            raise StoreError(f"no run {key.path}")
        return int(pk)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed on success."""
        with self._write_lock, self._engine.connect() as conn:
            conn.execution_options(mytrack_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Translates driver errors into StoreError, scrubbing the password."""
        try:
            yield
        except OSError as exc:  # creating the SQLite file's folder
            raise StoreError(f"{what} failed on {self._safe_url}: {exc}") from exc
        except SQLAlchemyError as exc:
            lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
            detail = lines[0] if lines else type(exc).__name__
            message = f"{what} failed on {self._safe_url}: {detail}"
            secret = self._password
            if secret and secret in str(exc):
                # Not chained either: a traceback would print the driver's text.
                raise StoreError(message.replace(secret, "***")) from None
            raise StoreError(message) from exc


def _field_values(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {
        name: dump_json(value, f"run field {name!r}") if name in JSON_RUN_FIELDS else value
        for name, value in fields.items()
    }


def _run_values(run: RunRow) -> dict[str, Any]:
    skip = ("id", *KEY_COLUMNS)
    values = {name: getattr(run, name) for name in runs.c.keys() if name not in skip}
    values.update(entity=run.key.entity, project=run.key.project, run_id=run.key.run_id)
    return _field_values(values)


def run_from_row(row: RowMapping) -> RunRow:
    skip = ("id", *KEY_COLUMNS)
    values = {name: row[name] for name in row.keys() if name not in skip}
    for name in JSON_RUN_FIELDS:
        values[name] = load_json(values[name])
    return RunRow(key=RunKey(row["entity"], row["project"], row["run_id"]), **values)


def _writer_from_row(row: RowMapping) -> WriterRow:
    return WriterRow(
        writer_id=row["writer_id"], key=RunKey(row["entity"], row["project"], row["run_id"]),
        wal_path=row["wal_path"], applied_offset=int(row["applied_offset"]),
        applied_seq=int(row["applied_seq"]), closed=bool(row["closed"]),
        adopted=bool(row["adopted"]), node=row["node"],
    )


