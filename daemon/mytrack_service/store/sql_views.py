"""The saved-views table of `SqlStore` (see view_model.py)."""

from __future__ import annotations

from contextlib import AbstractContextManager

from sqlalchemy import Column, Double, PrimaryKeyConstraint, Table, Text, delete, select, update
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from mytrack_service.store.jsontext import dump_json, load_json
from mytrack_service.store.sql_schema import metadata
from mytrack_service.store.view_model import ViewRow

views = Table(
    "views", metadata,
    *(Column(name, Text, nullable=False) for name in ("entity", "project", "name", "state")),
    Column("created_at", Double, nullable=False),
    Column("updated_at", Double, nullable=False),
    PrimaryKeyConstraint("entity", "project", "name"),
)


def create_view_tables(conn: Connection) -> None:
    """Migration step to schema version 5: the saved views."""
    views.create(conn, checkfirst=True)


def _view(row: RowMapping) -> ViewRow:
    return ViewRow(entity=row["entity"], project=row["project"], name=row["name"],
                   state=load_json(row["state"]), created_at=row["created_at"],
                   updated_at=row["updated_at"])


class ViewsMixin:
    """`MetadataStore`'s saved views on the engine of a `SqlStore`."""

    _engine: Engine

    def _errors(self, what: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def list_views(self, entity: str, project: str) -> list[ViewRow]:
        query = select(views).where(views.c.entity == entity, views.c.project == project).order_by(views.c.name)
        with self._errors("list_views"), self._engine.connect() as conn:
            return [_view(row) for row in conn.execute(query).mappings()]

    def save_view(self, view: ViewRow) -> None:
        where = (views.c.entity == view.entity, views.c.project == view.project, views.c.name == view.name)
        state = dump_json(view.state, "view state")
        with self._errors("save_view"), self._write() as conn:
            done = conn.execute(update(views).where(*where).values(state=state, updated_at=view.updated_at))
            if done.rowcount:
                return
            try:
                with conn.begin_nested():
                    conn.execute(views.insert().values(
                        entity=view.entity, project=view.project, name=view.name, state=state,
                        created_at=view.created_at, updated_at=view.updated_at))
            except IntegrityError:  # another service saved the same name meanwhile: ours is later
                conn.execute(update(views).where(*where).values(state=state, updated_at=view.updated_at))

    def delete_view(self, entity: str, project: str, name: str) -> bool:
        with self._errors("delete_view"), self._write() as conn:
            done = conn.execute(delete(views).where(
                views.c.entity == entity, views.c.project == project, views.c.name == name))
            return bool(done.rowcount)
