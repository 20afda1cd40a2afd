"""The files index of `SqlStore`: which files each run saved, and their uploads."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection, Engine, RowMapping

from mytrack_service.store.base import FILE_FIELDS, FileRow, RunKey, StoreError
from mytrack_service.store.sql_schema import files, runs

_COLUMNS = ("path", "policy", "digest", "size", "mime", "updated_at", "pending", "uploads", "error")


def write_files(conn: Connection, insert: Callable[..., Any], pk: int, rows: list[FileRow]) -> None:
    """Indexes (or re-indexes) a batch's files for run ``pk``; an upload becomes due."""
    if not rows:
        return
    values = [{"run_pk": pk, "name": f.name, **{c: getattr(f, c) for c in _COLUMNS}} for f in rows]
    stmt = insert(files)
    # A file saved again keeps what its uploads recorded, with its new policy and path.
    stmt = stmt.on_conflict_do_update(
        index_elements=[files.c.run_pk, files.c.name],
        set_={"path": stmt.excluded.path, "policy": stmt.excluded.policy,
              "pending": stmt.excluded.pending},
    )
    conn.execute(stmt, values)


class FilesMixin:
    """list_files/get_file/update_file on the engine of a `SqlStore`."""

    _engine: Engine

    def _errors(self, what: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def list_files(self, key: RunKey | None = None, pending: bool | None = None) -> list[FileRow]:
        query = select(files, runs.c.entity, runs.c.project, runs.c.run_id).join(runs)
        if key is not None:
            query = query.where(
                runs.c.entity == key.entity, runs.c.project == key.project,
                runs.c.run_id == key.run_id,
            )
        if pending is not None:
            query = query.where(files.c.pending.is_(pending))
        query = query.order_by(runs.c.id, files.c.name)
        with self._errors("list_files"), self._engine.connect() as conn:
            return list(_rows(conn.execute(query).mappings()))

    def get_file(self, key: RunKey, name: str) -> FileRow | None:
        found = [f for f in self.list_files(key) if f.name == name]
        return found[0] if found else None

    def update_file(self, key: RunKey, name: str, fields: Mapping[str, Any]) -> None:
        unknown = sorted(set(fields) - FILE_FIELDS)
        if unknown:
            raise ValueError(f"not settable file fields: {', '.join(unknown)}")
        pk = select(runs.c.id).where(
            runs.c.entity == key.entity, runs.c.project == key.project, runs.c.run_id == key.run_id
        ).scalar_subquery()
        stmt = update(files).where(files.c.run_pk == pk, files.c.name == name).values(dict(fields))
        with self._errors("update_file"), self._write() as conn:
            if conn.execute(stmt).rowcount != 1:
                raise StoreError(f"run {key.path} has no file {name!r}")


def _rows(rows: Iterator[RowMapping]) -> Iterator[FileRow]:
    for row in rows:
        yield FileRow(
            key=RunKey(row["entity"], row["project"], row["run_id"]), name=row["name"],
            path=row["path"], policy=row["policy"], digest=row["digest"], size=int(row["size"]),
            mime=row["mime"], updated_at=float(row["updated_at"]), pending=bool(row["pending"]),
            uploads=int(row["uploads"]), error=row["error"],
        )
