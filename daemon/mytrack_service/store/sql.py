"""`SqlStore`: the metadata store on SQLAlchemy Core, for SQLite and PostgreSQL.

History is kept twice, in one transaction: ``history`` holds each step's full
row (for full-row scans), and ``history_chunks`` holds, per flattened key and
per block of `CHUNK` steps, the key's steps and values (see chunks.py), so that
reading one key over a million steps touches about a thousand rows. Rows and
run fields are stored as TEXT written by ``json.dumps(allow_nan=True)``, so NaN
and +-Infinity round-trip exactly on both databases.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

from sqlalchemy import bindparam, create_engine, delete, event, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, RowMapping, make_url
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

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
from mytrack_service.store.blocks import RowBlock, block_texts, split_blocks, with_block_rows
from mytrack_service.store.chunks import (
    CHUNK,
    Series,
    combine_splits,
    decode_steps,
    decode_values,
    encode_steps,
    encode_values,
    join,
    merge,
    split_by_chunk,
    without,
)
from mytrack_service.store.jsontext import dump_json, load_json
from mytrack_service.store.memory import (
    JSON_RUN_FIELDS,
    check_run_fields,
    flatten_row,
    merge_fields,
    merge_rows,
    unique_keys,
    unique_rows,
)
from mytrack_service.store.migrations import migrate
from mytrack_service.store.rows import decode_row, encode_row
from mytrack_service.store.sql_artifacts import ArtifactsMixin, write_artifacts
from mytrack_service.store.sql_files import FilesMixin, write_files
from mytrack_service.store.sql_schema import (
    KEY_COLUMNS,
    history,
    history_chunks,
    runs,
    writers,
)
from mytrack_service.store.sql_series import SeriesMixin
from mytrack_service.store.sql_streams import StreamsMixin, write_console

_PAGE_ROWS = 5000  # full rows fetched per query
_PAGE_CHUNKS = 64  # chunk numbers fetched per query in keyed reads
_IN_LIST = 500  # values per IN (...) list
_TEXTS_PER_STATEMENT = 2000  # history rows per executemany
_BUSY_TIMEOUT_MS = 30_000
# WAL: readers never block the writer. NORMAL: no fsync per commit, which
# stays safe because the service's own WAL holds everything not yet applied.
_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={_BUSY_TIMEOUT_MS}",
            "foreign_keys=ON")

class SqlStore(ArtifactsMixin, FilesMixin, StreamsMixin, SeriesMixin, MetadataStore):
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
        self._insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
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
            self._engine = _make_engine(url)
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
            row = conn.execute(select(runs).where(*_key_filter(key))).mappings().first()
        return None if row is None else _run_from_row(row)

    def update_run(self, key: RunKey, fields: Mapping[str, Any]) -> None:
        check_run_fields(fields)
        values = _field_values(fields)
        with self._errors("update_run"), self._write() as conn:
            pk = self._run_pk(conn, key)
            if values:
                conn.execute(update(runs).where(runs.c.id == pk).values(values))

    def list_runs(self, entity: str | None = None, project: str | None = None) -> list[RunRow]:
        query = select(runs).order_by(runs.c.created_at.desc(), runs.c.id.desc())
        if entity is not None:
            query = query.where(runs.c.entity == entity)
        if project is not None:
            query = query.where(runs.c.project == project)
        with self._errors("list_runs"), self._engine.connect() as conn:
            return [_run_from_row(row) for row in conn.execute(query).mappings()]

    def list_projects(self) -> list[ProjectRow]:
        last = func.max(runs.c.updated_at)
        query = (
            select(runs.c.entity, runs.c.project, func.count(), last)
            .group_by(runs.c.entity, runs.c.project)
            .order_by(last.desc(), runs.c.entity, runs.c.project)
        )
        with self._errors("list_projects"), self._engine.connect() as conn:
            return [ProjectRow(e, p, int(n), float(t)) for e, p, n, t in conn.execute(query)]

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
                for texts in _history_params(pk, rows, blocks):
                    conn.exec_driver_sql(self._history_upsert_sql, texts)
                self._merge_chunks(conn, pk, [(step, flatten_row(row)) for step, row in rows], blocks)
            values = _field_values(fields)
            if values:
                conn.execute(update(runs).where(runs.c.id == pk).values(values))
            write_files(conn, self._insert, pk, batch.files)
            write_console(conn, pk, batch.console)
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
        for start in range(0, len(steps), _IN_LIST):
            query = select(history.c.step, history.c.data).where(
                history.c.run_pk == pk, history.c.step.in_(steps[start:start + _IN_LIST])
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

    def read_history(
        self,
        key: RunKey,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        if keys is None:
            return self._read_rows(key, min_step, max_step, full=True)
        wanted = unique_keys(keys)
        if not wanted:  # every row holds all of no keys: just the steps
            return self._read_rows(key, min_step, max_step, full=False)
        return self._read_keys(key, wanted, min_step, max_step)

    def count_history(self, key: RunKey) -> int:
        query = select(func.count()).select_from(history.join(runs)).where(*_key_filter(key))
        with self._errors("count_history"), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _read_rows(
        self, key: RunKey, min_step: int | None, max_step: int | None, full: bool
    ) -> Iterator[dict[str, Any]]:
        """Pages through ``history`` by step (keyset pagination), one short read each."""
        columns = (history.c.step, history.c.data) if full else (history.c.step,)
        base = select(*columns).join(runs).where(*_key_filter(key)).order_by(history.c.step)
        if max_step is not None:
            base = base.where(history.c.step <= max_step)
        after = None if min_step is None else min_step - 1
        while True:
            query = base if after is None else base.where(history.c.step > after)
            with self._errors("read_history"), self._engine.connect() as conn:
                page = conn.execute(query.limit(_PAGE_ROWS)).all()
            for row in page:
                yield decode_row(row[1]) if full else {"_step": row[0]}
            if len(page) < _PAGE_ROWS:
                return
            after = page[-1][0]

    def _read_keys(
        self, key: RunKey, wanted: list[str], min_step: int | None, max_step: int | None
    ) -> Iterator[dict[str, Any]]:
        """Reads the chunks of ``wanted`` a window of chunk numbers at a time."""
        c = history_chunks.c
        with self._errors("read_history"), self._engine.connect() as conn:
            pk = conn.execute(select(runs.c.id).where(*_key_filter(key))).scalar()
            if pk is None:
                return
            # A row needs every key, so the first key's chunks are the candidates.
            query = select(c.chunk).where(c.run_pk == pk, c.key == wanted[0]).order_by(c.chunk)
            if min_step is not None:
                query = query.where(c.chunk >= min_step // CHUNK)
            if max_step is not None:
                query = query.where(c.chunk <= max_step // CHUNK)
            numbers = list(conn.execute(query).scalars())
        for start in range(0, len(numbers), _PAGE_CHUNKS):
            window = numbers[start:start + _PAGE_CHUNKS]
            query = select(c.key, c.chunk, c.steps, c.vals).where(
                c.run_pk == pk, c.key.in_(wanted), c.chunk.between(window[0], window[-1])
            )
            with self._errors("read_history"), self._engine.connect() as conn:
                found = conn.execute(query).all()
            grouped: dict[int, dict[str, Series]] = {}
            for name, number, steps, vals in found:
                grouped.setdefault(number, {})[name] = (decode_steps(steps), decode_values(vals))
            for number in window:
                series = grouped.get(number, {})
                if len(series) == len(wanted):
                    yield from join(series, wanted, min_step, max_step)

    def _merge_chunks(
        self, conn: Connection, pk: int, flats: list[tuple[int, Mapping[str, Any]]],
        blocks: list[RowBlock],
    ) -> None:
        """Merges a batch's flattened rows and blocks into the chunks they touch.

        The touched chunks are read once, every key of them: a step in the
        batch replaces that step in its whole chunk, so keys that the new row
        no longer holds lose their value at that step.
        """
        batch_steps, new = combine_splits(split_by_chunk(flats), split_blocks(blocks))
        upserts: list[tuple[Any, ...]] = []
        deletes: list[dict[str, Any]] = []
        for (name, number), old in self._load_chunks(conn, pk, list(batch_steps)).items():
            kept = without(old, batch_steps[number])
            added = new.pop((name, number), None)
            merged = kept if added is None else merge(kept, added)
            if not merged[0]:
                deletes.append({"k": name, "n": number})
            elif merged is not old:
                upserts.append(_chunk_params(pk, name, number, merged))
        upserts.extend(_chunk_params(pk, name, number, s) for (name, number), s in new.items())
        if upserts:
            conn.exec_driver_sql(self._chunk_upsert_sql, upserts)
        if deletes:
            c = history_chunks.c
            stmt = delete(history_chunks).where(
                c.run_pk == pk, c.key == bindparam("k"), c.chunk == bindparam("n")
            )
            conn.execute(stmt, deletes)

    def _load_chunks(
        self, conn: Connection, pk: int, numbers: list[int]
    ) -> dict[tuple[str, int], Series]:
        """Every key's series in the given chunks of run ``pk``."""
        c = history_chunks.c
        out: dict[tuple[str, int], Series] = {}
        for start in range(0, len(numbers), _IN_LIST):
            query = select(c.key, c.chunk, c.steps, c.vals).where(
                c.run_pk == pk, c.chunk.in_(numbers[start:start + _IN_LIST])
            )
            for name, number, steps, vals in conn.execute(query):
                out[(name, number)] = (decode_steps(steps), decode_values(vals))
        return out

    # -- plumbing ---------------------------------------------------------


    def _run_pk(self, conn: Connection, key: RunKey, lock: bool = False) -> int:
        """The run's primary key; with ``lock``, the run row stays locked (PostgreSQL).

        The lock serialises concurrent batches of one run, whose chunk merges
        read then write. SQLite needs none: write transactions begin IMMEDIATE.
        """
        query = select(runs.c.id).where(*_key_filter(key))
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


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    # hide_parameters: a failed batch must not dump user data into the error.
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, hide_parameters=True, pool_pre_ping=True)
    if parsed.database in (None, "", ":memory:"):
        # One shared connection, or every thread would see its own empty database.
        engine = create_engine(
            url, hide_parameters=True, poolclass=StaticPool,
            connect_args={"check_same_thread": False},
        )
    else:
        os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
        engine = create_engine(
            url, hide_parameters=True, connect_args={"timeout": _BUSY_TIMEOUT_MS / 1000}
        )
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # Take transaction control from the sqlite3 module: it would BEGIN
    # lazily and DEFERRED, and a deferred writer that first reads can fail
    # with SQLITE_BUSY at once, ignoring busy_timeout (see _sqlite_begin).
    dbapi_conn.isolation_level = None
    cursor = dbapi_conn.cursor()
    for pragma in _PRAGMAS:
        if pragma.startswith("journal_mode"):
            _set_journal_mode(cursor, pragma)
        else:
            cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _set_journal_mode(cursor: Any, pragma: str) -> None:
    """Runs ``pragma``, retrying while the database is locked.

    Switching a new file to WAL takes an exclusive lock, and SQLite answers
    SQLITE_BUSY at once, without the busy handler, while another connection
    holds any lock: as when several services open one new file together.
    Once the file is in WAL mode, the pragma needs no lock.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute(f"PRAGMA {pragma}")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def _sqlite_begin(conn: Connection) -> None:
    mode = "IMMEDIATE" if conn.get_execution_options().get("mytrack_write") else "DEFERRED"
    conn.exec_driver_sql(f"BEGIN {mode}")


def _key_filter(key: RunKey) -> tuple[Any, ...]:
    return (runs.c.entity == key.entity, runs.c.project == key.project, runs.c.run_id == key.run_id)


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


def _run_from_row(row: RowMapping) -> RunRow:
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


def _history_params(
    pk: int, rows: list[tuple[int, dict[str, Any]]], blocks: list[RowBlock]
) -> Iterator[list[tuple[Any, ...]]]:
    """The history upserts of a batch, a slice at a time (the texts of a whole
    batch at once would be the largest allocation of the service)."""
    for start in range(0, len(rows), _TEXTS_PER_STATEMENT):
        yield [(pk, step, encode_row(row, f"history row {step}"))
               for step, row in rows[start:start + _TEXTS_PER_STATEMENT]]
    for block in blocks:
        for start in range(0, len(block), _TEXTS_PER_STATEMENT):
            yield block_texts(pk, block, start, start + _TEXTS_PER_STATEMENT)


def _chunk_params(pk: int, name: str, number: int, series: Series) -> tuple[Any, ...]:
    try:
        values = encode_values(series[1])
    except (TypeError, ValueError) as exc:
        raise StoreError(f"values of {name!r} are not JSON-serialisable: {exc}") from exc
    return (pk, name, number, encode_steps(series[0]), values)
