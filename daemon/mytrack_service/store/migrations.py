"""Schema versions of `SqlStore` and the migrations between them.

`MIGRATIONS[i]` brings a database from version ``i`` to ``i + 1``. Version 1
is the baseline: the tables of sql_schema.py as they were first released,
made by ``metadata.create_all``. A later version is a function that changes
an existing database through the `Connection` it is given (ALTER TABLE,
CREATE INDEX, data fixes); sql_schema.py always describes the latest version.

So an empty database is not walked through every step: it gets the latest
tables from ``metadata.create_all`` and is stamped `LATEST`. A database at an
older version runs the steps after its version. Everything happens in one
transaction, so a failed step leaves the database at its old version.

Two services may start at once on the same database. The whole check and
upgrade holds a lock: on PostgreSQL a transaction-scoped advisory lock
(released at commit or rollback, also when the connection dies); on SQLite
the transaction begins IMMEDIATE, taking the write lock up front, and the
second service waits for it (busy_timeout). The second one then finds the
version already recorded and does nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import inspect, select, text, update
from sqlalchemy.engine import Connection, Engine

from mytrack_service.store.base import StoreError
from mytrack_service.store.sql_artifacts import create_artifact_tables
from mytrack_service.store.sql_schema import metadata, schema_version
from mytrack_service.store.sql_sweeps import add_search_state, create_sweep_tables
from mytrack_service.store.sql_views import create_view_tables

Migration = Callable[[Connection], None]

# Any fixed 64-bit number; advisory locks are per database, so stores in
# other databases of the same server never wait for each other.
_LOCK_KEY = 0x6D79_7472_6163_6B01  # "mytrack" 1


def _baseline(conn: Connection) -> None:
    """Version 1: the first released tables."""
    metadata.create_all(conn)


# Version 2: the artifact tables (sql_artifacts.py).
def _writer_nodes(conn: Connection) -> None:
    """Version 3: writers.node, the service that owns each writer."""
    columns = {c["name"] for c in inspect(conn).get_columns("writers")}
    if "node" not in columns:
        conn.exec_driver_sql("ALTER TABLE writers ADD COLUMN node TEXT NOT NULL DEFAULT ''")


# Version 4: the sweep tables (sql_sweeps.py). Version 5: the saved views (sql_views.py).
# Version 6: the sweeps' and trials' search_state (sql_sweeps.py).
MIGRATIONS: list[Migration] = [
    _baseline, create_artifact_tables, _writer_nodes, create_sweep_tables, create_view_tables,
    add_search_state,
]
LATEST = len(MIGRATIONS)


def migrate(engine: Engine, migrations: list[Migration] | None = None) -> list[int]:
    """Brings the database of ``engine`` to the latest schema version.

    Args:
        engine: an engine made by `SqlStore` (on SQLite, its ``begin`` hook
            opens transactions marked ``mytrack_write`` IMMEDIATE).
        migrations: the steps, `MIGRATIONS` by default (tests pass others).

    Returns:
        The versions applied: ``[]`` when the database was up to date, the
        latest alone when it was empty.

    Raises:
        StoreError: the database has a newer version than this code knows.
        sqlalchemy.exc.SQLAlchemyError: the database failed.
    """
    steps = MIGRATIONS if migrations is None else migrations
    latest = len(steps)
    with engine.connect() as conn:
        conn.execution_options(mytrack_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            schema_version.create(conn, checkfirst=True)
            found = conn.execute(select(schema_version.c.version)).scalar()
            if found is None:
                metadata.create_all(conn)
                conn.execute(schema_version.insert().values(id=1, version=latest))
                return [latest]
            if found > latest:
                url = engine.url.render_as_string(hide_password=True)
                raise StoreError(
                    f"{url} has schema version {found}, newer than version {latest} that this "
                    "mytrack supports: upgrade mytrack"
                )
            applied = list(range(found + 1, latest + 1))
            for version in applied:
                steps[version - 1](conn)
            if applied:
                conn.execute(update(schema_version).values(version=latest))
            return applied
