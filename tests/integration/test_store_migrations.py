"""Schema versions of the SQL store: migrations on start, concurrent starts, newer databases.

Every test runs on SQLite (a file in tmp_path) and on a fresh PostgreSQL
database (``postgres_db``, tests/pg_fixtures.py).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from mytrack_service.store import sql
from mytrack_service.store.base import StoreError
from mytrack_service.store.migrations import LATEST, MIGRATIONS, migrate
from mytrack_service.store.sql import SqlStore
from mytrack_service.store.sql_engine import make_engine as _make_engine
from tests.pg_fixtures import postgres_db  # noqa: F401 - a fixture

STARTS = 4  # services starting at once


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, as a SQLAlchemy URL (PostgreSQL through psycopg)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    url: str = request.getfixturevalue("postgres_db")
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def versions(url: str) -> list[int]:
    engine = _make_engine(url)
    try:
        with engine.connect() as conn:
            return [row[0] for row in conn.execute(text("SELECT version FROM schema_version"))]
    finally:
        engine.dispose()


def set_version(url: str, version: int) -> None:
    engine = _make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = :v"), {"v": version})
    engine.dispose()


def test_empty_database_gets_latest_schema(db_url: str) -> None:
    """A store opened on an empty database creates every table and records the latest version."""
    SqlStore(db_url).close()
    engine = _make_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"runs", "writers", "history", "history_chunks", "files", "schema_version"} <= tables
    assert versions(db_url) == [LATEST]


def test_concurrent_starts_migrate_once(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores built at once on one empty database (own engines) all open; one migrates."""
    results: list[list[int]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(STARTS)

    def recording(engine: object) -> list[int]:
        barrier.wait(timeout=30)  # every engine exists: now race for the migration
        applied = migrate(engine)  # type: ignore[arg-type]
        results.append(applied)
        return applied

    monkeypatch.setattr(sql, "migrate", recording)

    def start() -> None:
        try:
            SqlStore(db_url).close()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(STARTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(results) == [[]] * (STARTS - 1) + [[LATEST]]
    assert versions(db_url) == [LATEST]


def test_concurrent_starts_in_separate_processes(db_url: str) -> None:
    """Service processes starting together on one empty database all open it."""
    code = "import sys; from mytrack_service.store.sql import SqlStore; SqlStore(sys.argv[1]).close()"
    processes = [
        subprocess.Popen([sys.executable, "-c", code, db_url], stderr=subprocess.PIPE, text=True)
        for _ in range(STARTS)
    ]
    failures = [p.communicate(timeout=120)[1] for p in processes if p.wait(timeout=120) != 0]
    assert failures == []
    assert versions(db_url) == [LATEST]


def test_newer_database_is_refused(db_url: str) -> None:
    """A database whose schema is newer than the code raises StoreError naming both versions."""
    SqlStore(db_url).close()
    set_version(db_url, LATEST + 1)
    with pytest.raises(StoreError, match=rf"version {LATEST + 1}\b.*version {LATEST}\b"):
        SqlStore(db_url)
    assert versions(db_url) == [LATEST + 1]


def _add_notes_table(conn: Connection) -> None:
    conn.execute(text("CREATE TABLE run_notes (id INTEGER PRIMARY KEY, body TEXT)"))


def test_older_database_runs_the_later_steps(db_url: str) -> None:
    """A database at version 1 runs each later step once and records the new version."""
    SqlStore(db_url).close()
    calls: list[int] = []

    def step(conn: Connection) -> None:
        calls.append(1)
        _add_notes_table(conn)

    steps: list[Callable[[Connection], None]] = [*MIGRATIONS, step]
    engine = _make_engine(db_url)
    try:
        assert migrate(engine, steps) == [LATEST + 1]
        assert migrate(engine, steps) == []
        assert "run_notes" in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert calls == [1]
    assert versions(db_url) == [LATEST + 1]


def test_failing_step_leaves_the_old_version(db_url: str) -> None:
    """A step that fails rolls the whole migration back: old version, no half-made tables."""
    SqlStore(db_url).close()

    def broken(conn: Connection) -> None:
        _add_notes_table(conn)
        raise RuntimeError("step failed")

    engine = _make_engine(db_url)
    try:
        with pytest.raises(RuntimeError, match="step failed"):
            migrate(engine, [*MIGRATIONS, broken])
        assert "run_notes" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert versions(db_url) == [LATEST]
    SqlStore(db_url).close()  # still opens with the released steps


def test_sweeps_of_version_5_get_a_search_state(db_url: str) -> None:
    """A database at version 5 (sweep tables without search_state) gains the columns; its sweeps
    and trials read back with an empty search state and take one."""
    SqlStore(db_url).close()
    engine = _make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sweeps (sweep_id, entity, project, name, config, state, created_at, "
                          "updated_at) VALUES ('s1', 'e', 'p', 's1', '{}', 'running', 1, 1)"))
        conn.execute(text("INSERT INTO sweep_trials (sweep_id, run_id, seq, params, state, agent_id, created_at, "
                          "updated_at) VALUES ('s1', 'r1', 0, '{}', 'finished', '', 1, 1)"))
        for table in ("sweeps", "sweep_trials"):
            conn.execute(text(f"ALTER TABLE {table} DROP COLUMN search_state"))
        conn.execute(text("UPDATE schema_version SET version = 5"))
    engine.dispose()
    store = SqlStore(db_url)
    try:
        with store.sweeps(write=True) as tx:
            assert tx.sweep("s1").search_state == {}  # type: ignore[union-attr]
            assert tx.trials("s1")[0].search_state == {}
            tx.update_sweep("s1", {"search_state": {"k": 1}})
        with store.sweeps() as tx:
            assert tx.sweep("s1").search_state == {"k": 1}  # type: ignore[union-attr]
    finally:
        store.close()
    assert versions(db_url) == [LATEST]
