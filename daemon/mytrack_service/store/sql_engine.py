"""The SQLAlchemy engine of a `SqlStore`: pooling, and SQLite's pragmas and transaction control.

Kept apart from the store's queries: this is the part that knows how each
database must be driven (one shared connection for ``:memory:``, WAL journal
mode, IMMEDIATE write transactions), not what is stored.
"""

from __future__ import annotations

import os
import sqlite3
import time
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_MS = 30_000
# WAL: readers never block the writer. NORMAL: no fsync per commit, which
# stays safe because the service's own WAL holds everything not yet applied.
_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", f"busy_timeout={BUSY_TIMEOUT_MS}",
            "foreign_keys=ON")


def make_engine(url: str) -> Engine:
    """The engine for ``url``; SQLite connections get the pragmas and transaction control below."""
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
            url, hide_parameters=True, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000}
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
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
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
