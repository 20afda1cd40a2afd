"""The artifact tables of `SqlStore` and `ArtifactTx` on a SQLAlchemy connection.

The rules are in artifact_model.py; this module only stores rows. JSON
columns (metadata, tags, manifest, results) are TEXT, as elsewhere in the store.
On PostgreSQL a collection row is locked (``FOR UPDATE``) when a transaction
reads it, so two services applying ops of one collection take turns.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, RowMapping

from mytrack_service.store.artifact_model import ArtifactTx, CollectionRow, VersionRow, apply_ops
from mytrack_service.store.sql_schema import metadata

_ID = BigInteger().with_variant(Integer, "sqlite")

artifact_collections = Table(
    "artifact_collections", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    *(Column(name, Text, nullable=False)
      for name in ("entity", "project", "name", "type", "kind", "description")),
    Column("created_at", Double, nullable=False),
    UniqueConstraint("entity", "project", "name", name="uq_artifact_collections_name"),
)
artifact_versions = Table(
    "artifact_versions", metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("collection_id", _ID, ForeignKey("artifact_collections.id", ondelete="CASCADE"),
           nullable=False),
    Column("idx", BigInteger, nullable=False),
    *(Column(name, Text, nullable=False) for name in (
        "digest", "type", "description", "metadata", "tags", "state", "created_by",
        "distributed_id", "error", "manifest",
    )),
    Column("created_at", Double, nullable=False),
    Column("source_id", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("file_count", BigInteger, nullable=False),
    Index("ix_artifact_versions_collection", "collection_id"),
    Index("ix_artifact_versions_created_by", "created_by"),
    Index("ix_artifact_versions_source", "source_id"),
)
artifact_aliases = Table(
    "artifact_aliases", metadata,
    Column("collection_id", _ID, ForeignKey("artifact_collections.id", ondelete="CASCADE"),
           nullable=False),
    Column("alias", Text, nullable=False),
    Column("version_id", _ID, ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("collection_id", "alias"),
)
artifact_usage = Table(
    "artifact_usage", metadata,
    Column("run", Text, nullable=False),
    Column("version_id", _ID, ForeignKey("artifact_versions.id", ondelete="CASCADE"), nullable=False),
    Column("ts", Double, nullable=False),
    PrimaryKeyConstraint("run", "version_id"),
    Index("ix_artifact_usage_version", "version_id"),
)
artifact_results = Table(
    "artifact_results", metadata,
    Column("client_id", Text, primary_key=True),
    Column("result", Text, nullable=False),
)
ARTIFACT_TABLES = (artifact_collections, artifact_versions, artifact_aliases, artifact_usage,
                   artifact_results)


def create_artifact_tables(conn: Connection) -> None:
    """Migration step to schema version 2: the artifact tables."""
    for table in ARTIFACT_TABLES:
        table.create(conn, checkfirst=True)


_V = artifact_versions.c
_VERSION_COLUMNS = [c for c in artifact_versions.c if c.name != "manifest"]
_JSON_VERSION_FIELDS = ("metadata", "tags")


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _version(row: RowMapping) -> VersionRow:
    return VersionRow(
        collection_id=int(row["collection_id"]), index=int(row["idx"]), digest=row["digest"],
        type=row["type"], description=row["description"], metadata=json.loads(row["metadata"]),
        tags=json.loads(row["tags"]), state=row["state"], created_at=float(row["created_at"]),
        created_by=row["created_by"], distributed_id=row["distributed_id"],
        source_id=int(row["source_id"]), size=int(row["size"]), file_count=int(row["file_count"]),
        error=row["error"], id=int(row["id"]),
    )


def _version_values(fields: dict[str, Any]) -> dict[str, Any]:
    values = dict(fields)
    if "index" in values:
        values["idx"] = values.pop("index")
    values.pop("id", None)
    for name in _JSON_VERSION_FIELDS:
        if name in values:
            values[name] = _dump(values[name])
    return values


def _collection(row: RowMapping) -> CollectionRow:
    return CollectionRow(row["entity"], row["project"], row["name"], row["type"], row["kind"],
                         row["description"], float(row["created_at"]), int(row["id"]))


class SqlArtifactTx(ArtifactTx):
    def __init__(self, conn: Connection, lock: bool) -> None:
        self.conn = conn
        self.lock = lock

    def collection(self, entity: str, project: str, name: str) -> CollectionRow | None:
        c = artifact_collections.c
        query = select(artifact_collections).where(
            c.entity == entity, c.project == project, c.name == name
        )
        if self.lock:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        return None if row is None else _collection(row)

    def collections(self, entity: str, project: str, kind: str | None) -> list[CollectionRow]:
        c = artifact_collections.c
        query = select(artifact_collections).order_by(c.id)
        if entity:
            query = query.where(c.entity == entity)
        if project:
            query = query.where(c.project == project)
        if kind is not None:
            query = query.where(c.kind == kind)
        return [_collection(r) for r in self.conn.execute(query).mappings()]

    def collection_by_id(self, collection_id: int) -> CollectionRow:
        query = select(artifact_collections).where(artifact_collections.c.id == collection_id)
        return _collection(self.conn.execute(query).mappings().one())

    def create_collection(self, row: CollectionRow) -> int:
        values = {k: getattr(row, k) for k in (
            "entity", "project", "name", "type", "kind", "description", "created_at")}
        result = self.conn.execute(insert(artifact_collections).values(values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]  # never None after an insert

    def versions(self, collection_id: int) -> list[VersionRow]:
        query = select(*_VERSION_COLUMNS).where(_V.collection_id == collection_id).order_by(_V.id)
        return [_version(r) for r in self.conn.execute(query).mappings()]

    def version(self, version_id: int) -> VersionRow | None:
        row = self.conn.execute(
            select(*_VERSION_COLUMNS).where(_V.id == version_id)
        ).mappings().first()
        return None if row is None else _version(row)

    def insert_version(self, row: VersionRow, manifest: list[dict[str, Any]]) -> int:
        values = _version_values({k: getattr(row, k) for k in VersionRow.__dataclass_fields__})
        values["manifest"] = _dump(manifest)
        result = self.conn.execute(insert(artifact_versions).values(values))
        return int(result.inserted_primary_key[0])  # type: ignore[index]  # never None after an insert

    def update_version(
        self, version_id: int, fields: dict[str, Any], manifest: list[dict[str, Any]] | None
    ) -> None:
        values = _version_values(fields)
        if manifest is not None:
            values["manifest"] = _dump(manifest)
        self.conn.execute(update(artifact_versions).where(_V.id == version_id).values(values))

    def delete_version(self, version_id: int) -> None:
        ids = [version_id, *self.conn.execute(
            select(_V.id).where(_V.source_id == version_id)).scalars()]
        for table, column in ((artifact_aliases, artifact_aliases.c.version_id),
                              (artifact_usage, artifact_usage.c.version_id),
                              (artifact_versions, _V.id)):
            self.conn.execute(delete(table).where(column.in_(ids)))

    def manifest(self, version_id: int) -> list[dict[str, Any]]:
        text = self.conn.execute(select(_V.manifest).where(_V.id == version_id)).scalar()
        return [] if text is None else list(json.loads(text))

    def aliases(self, collection_id: int) -> dict[str, int]:
        a = artifact_aliases.c
        query = select(a.alias, a.version_id).where(a.collection_id == collection_id).order_by(a.alias)
        return {alias: int(vid) for alias, vid in self.conn.execute(query)}

    def set_alias(self, collection_id: int, alias: str, version_id: int) -> None:
        a = artifact_aliases.c
        self.conn.execute(delete(artifact_aliases).where(
            a.collection_id == collection_id, a.alias == alias))
        self.conn.execute(insert(artifact_aliases).values(
            collection_id=collection_id, alias=alias, version_id=version_id))

    def add_usage(self, run: str, version_id: int, timestamp: float) -> None:
        u = artifact_usage.c
        found = self.conn.execute(
            select(u.ts).where(u.run == run, u.version_id == version_id)).first()
        if found is None:
            self.conn.execute(insert(artifact_usage).values(run=run, version_id=version_id, ts=timestamp))

    def usage_of_run(self, run: str) -> list[int]:
        u = artifact_usage.c
        query = select(u.version_id).where(u.run == run).order_by(u.ts, u.version_id)
        return [int(v) for v in self.conn.execute(query).scalars()]

    def users_of_version(self, version_id: int) -> list[str]:
        u = artifact_usage.c
        query = select(u.run).where(u.version_id == version_id).order_by(u.ts, u.run)
        return list(self.conn.execute(query).scalars())

    def remove_usage(self, run: str) -> None:
        self.conn.execute(delete(artifact_usage).where(artifact_usage.c.run == run))

    def links_to(self, version_id: int) -> list[int]:
        query = select(_V.id).where(_V.source_id == version_id).order_by(_V.id)
        return [int(v) for v in self.conn.execute(query).scalars()]

    def versions_by_run(self, run: str) -> list[VersionRow]:
        query = select(*_VERSION_COLUMNS).where(
            _V.created_by == run, _V.state == "committed", _V.source_id == 0
        ).order_by(_V.id)
        return [_version(r) for r in self.conn.execute(query).mappings()]

    def put_result(self, client_id: str, result: dict[str, Any]) -> None:
        r = artifact_results.c
        self.conn.execute(delete(artifact_results).where(r.client_id == client_id))
        self.conn.execute(insert(artifact_results).values(client_id=client_id, result=_dump(result)))

    def result(self, client_id: str) -> dict[str, Any] | None:
        r = artifact_results.c
        text = self.conn.execute(select(r.result).where(r.client_id == client_id)).scalar()
        return None if text is None else dict(json.loads(text))


class ArtifactsMixin:
    """`MetadataStore.artifacts` on the engine of a `SqlStore`."""

    _engine: Engine
    _dialect: str

    def _errors(self, what: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    @contextmanager
    def artifacts(self, write: bool = False) -> Iterator[ArtifactTx]:
        with self._errors("artifacts"):
            if write:
                with self._write() as conn:
                    yield SqlArtifactTx(conn, lock=self._dialect == "postgresql")
            else:
                with self._engine.connect() as conn:
                    yield SqlArtifactTx(conn, lock=False)


def write_artifacts(conn: Connection, dialect: str, batch_ops: list[Any]) -> None:
    """Applies a batch's artifact ops inside its transaction."""
    if batch_ops:
        apply_ops(SqlArtifactTx(conn, lock=dialect == "postgresql"), batch_ops)

