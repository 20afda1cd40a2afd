"""The sweep tables of `SqlStore` and `SweepTx` on a SQLAlchemy connection.

A sweep read with ``lock=True`` is ``SELECT ... FOR UPDATE`` on PostgreSQL, so
services sharing the database take turns at one sweep; on SQLite the write
transaction began IMMEDIATE and already excludes every other writer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from mytrack_service.store.base import RunRow, StoreError
from mytrack_service.store.jsontext import dump_json, load_json
from mytrack_service.store.sql_schema import metadata, runs
from mytrack_service.store.sweep_model import (
    SWEEP_FIELDS,
    TRIAL_FIELDS,
    SweepExistsError,
    SweepRow,
    SweepTx,
    TrialRow,
    check_fields,
)

sweeps = Table(
    "sweeps", metadata,
    Column("sweep_id", Text, primary_key=True),
    *(Column(name, Text, nullable=False) for name in ("entity", "project", "name", "config", "state")),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("search_state", Text, nullable=False, server_default="{}"),
    Index("ix_sweeps_project", "entity", "project", "created_at"),
)
sweep_trials = Table(
    "sweep_trials", metadata,
    Column("sweep_id", Text, ForeignKey("sweeps.sweep_id", ondelete="CASCADE"), nullable=False),
    Column("run_id", Text, nullable=False),
    Column("seq", BigInteger, nullable=False),
    *(Column(name, Text, nullable=False) for name in ("params", "state", "agent_id")),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    Column("search_state", Text, nullable=False, server_default="{}"),
    PrimaryKeyConstraint("sweep_id", "run_id"),
    UniqueConstraint("sweep_id", "seq", name="uq_sweep_trials_seq"),
)
SWEEP_TABLES = (sweeps, sweep_trials)


def create_sweep_tables(conn: Connection) -> None:
    """Migration step to schema version 4: the sweep tables."""
    for table in SWEEP_TABLES:
        table.create(conn, checkfirst=True)


def add_search_state(conn: Connection) -> None:
    """Migration step to schema version 6: what the search keeps between suggestions
    (``search_state`` of sweeps and of trials, JSON objects)."""
    for table in SWEEP_TABLES:
        columns = {c["name"] for c in inspect(conn).get_columns(table.name)}
        if "search_state" not in columns:
            conn.exec_driver_sql(f"ALTER TABLE {table.name} ADD COLUMN search_state TEXT NOT NULL DEFAULT '{{}}'")


def _sweep(row: RowMapping) -> SweepRow:
    return SweepRow(
        sweep_id=row["sweep_id"], entity=row["entity"], project=row["project"], name=row["name"],
        config=load_json(row["config"]), state=row["state"], created_at=row["created_at"],
        updated_at=row["updated_at"], search_state=load_json(row["search_state"]),
    )


def _trial(row: RowMapping) -> TrialRow:
    return TrialRow(
        sweep_id=row["sweep_id"], run_id=row["run_id"], seq=int(row["seq"]),
        params=load_json(row["params"]), state=row["state"], agent_id=row["agent_id"],
        created_at=row["created_at"], updated_at=row["updated_at"],
        search_state=load_json(row["search_state"]),
    )


class SqlSweepTx(SweepTx):
    def __init__(self, conn: Connection, lock: bool) -> None:
        self.conn = conn
        self._lock = lock  # PostgreSQL write transactions: FOR UPDATE

    def sweep(self, sweep_id: str, lock: bool = False) -> SweepRow | None:
        query = select(sweeps).where(sweeps.c.sweep_id == sweep_id)
        if lock and self._lock:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        return None if row is None else _sweep(row)

    def sweeps(self, entity: str | None, project: str | None) -> list[SweepRow]:
        query = select(sweeps).order_by(sweeps.c.created_at.desc(), sweeps.c.sweep_id.desc())
        if entity is not None:
            query = query.where(sweeps.c.entity == entity)
        if project is not None:
            query = query.where(sweeps.c.project == project)
        return [_sweep(row) for row in self.conn.execute(query).mappings()]

    def insert_sweep(self, row: SweepRow) -> None:
        values = {
            "sweep_id": row.sweep_id, "entity": row.entity, "project": row.project,
            "name": row.name, "config": dump_json(row.config, "sweep config"), "state": row.state,
            "created_at": row.created_at, "updated_at": row.updated_at,
            "search_state": dump_json(row.search_state, "sweep search state"),
        }
        try:
            with self.conn.begin_nested():
                self.conn.execute(sweeps.insert().values(values))
        except IntegrityError as exc:
            raise SweepExistsError(f"sweep {row.sweep_id} already exists") from exc

    def update_sweep(self, sweep_id: str, fields: Mapping[str, Any]) -> None:
        check_fields(fields, SWEEP_FIELDS, "sweep")
        values = dict(fields)
        if "config" in values:
            values["config"] = dump_json(values["config"], "sweep config")
        if "search_state" in values:
            values["search_state"] = dump_json(values["search_state"], "sweep search state")
        if not values:
            return
        done = self.conn.execute(update(sweeps).where(sweeps.c.sweep_id == sweep_id).values(values))
        if done.rowcount != 1:
            raise StoreError(f"no sweep {sweep_id}")

    def trials(self, sweep_id: str) -> list[TrialRow]:
        query = select(sweep_trials).where(sweep_trials.c.sweep_id == sweep_id).order_by(sweep_trials.c.seq)
        return [_trial(row) for row in self.conn.execute(query).mappings()]

    def insert_trial(self, row: TrialRow) -> None:
        values = {
            "sweep_id": row.sweep_id, "run_id": row.run_id, "seq": row.seq,
            "params": dump_json(row.params, "trial params"), "state": row.state,
            "agent_id": row.agent_id, "created_at": row.created_at, "updated_at": row.updated_at,
            "search_state": dump_json(row.search_state, "trial search state"),
        }
        try:
            with self.conn.begin_nested():
                self.conn.execute(sweep_trials.insert().values(values))
        except IntegrityError as exc:
            raise StoreError(
                f"sweep {row.sweep_id} already has trial {row.run_id} or seq {row.seq}, or no such sweep"
            ) from exc

    def update_trial(self, sweep_id: str, run_id: str, fields: Mapping[str, Any]) -> None:
        check_fields(fields, TRIAL_FIELDS, "trial")
        if not fields:
            return
        done = self.conn.execute(
            update(sweep_trials)
            .where(sweep_trials.c.sweep_id == sweep_id, sweep_trials.c.run_id == run_id)
            .values(dict(fields))
        )
        if done.rowcount != 1:
            raise StoreError(f"sweep {sweep_id} has no trial {run_id}")

    def runs(self, entity: str, project: str, run_ids: list[str]) -> dict[str, RunRow]:
        from mytrack_service.store.sql import run_from_row  # sql.py imports this module

        found: dict[str, RunRow] = {}
        for start in range(0, len(run_ids), 500):
            query = select(runs).where(
                runs.c.entity == entity, runs.c.project == project,
                runs.c.run_id.in_(run_ids[start:start + 500]),
            )
            for row in self.conn.execute(query).mappings():
                run = run_from_row(row)
                found[run.key.run_id] = run
        return found


class SweepsMixin:
    """`MetadataStore.sweeps` on the engine of a `SqlStore`."""

    _engine: Engine
    _dialect: str

    def _errors(self, what: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    @contextmanager
    def sweeps(self, write: bool = False) -> Iterator[SweepTx]:
        with self._errors("sweeps"):
            if write:
                with self._write() as conn:
                    yield SqlSweepTx(conn, lock=self._dialect == "postgresql")
            else:
                with self._engine.connect() as conn:
                    yield SqlSweepTx(conn, lock=False)

