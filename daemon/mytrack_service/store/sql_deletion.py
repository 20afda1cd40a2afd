"""Deleting a run from a `SqlStore`, and the blob references the sweep needs.

The run's own tables (history, chunks, files, console, system) go by the
foreign keys' ``ON DELETE CASCADE`` (SQLite's ``foreign_keys`` pragma is on);
its writers and artifact records are removed by hand, all in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager

from sqlalchemy import delete, select
from sqlalchemy.engine import Connection, Engine

from mytrack_service.store.base import RunKey
from mytrack_service.store.run_deletion import DeletedRun, blob_digests, forget_run
from mytrack_service.store.sql_artifacts import SqlArtifactTx, artifact_versions
from mytrack_service.store.sql_history import IN_LIST
from mytrack_service.store.sql_schema import files, key_filter, runs, writers


class DeletionMixin:
    """`MetadataStore.delete_run` and `referenced_digests` for `SqlStore`."""

    _engine: Engine
    _dialect: str

    def _errors(self, what: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def delete_run(self, key: RunKey, delete_artifacts: bool = False) -> DeletedRun | None:
        with self._errors("delete_run"), self._write() as conn:
            query = select(runs.c.id).where(*key_filter(key))
            if self._dialect == "postgresql":
                query = query.with_for_update()
            run_pk = conn.execute(query).scalar()
            if run_pk is None:
                return None
            deleted = DeletedRun(key.path)
            found = conn.execute(select(files.c.digest).where(files.c.run_pk == run_pk)).scalars()
            deleted.digests.update(d for d in found if d)
            forget_run(SqlArtifactTx(conn, lock=self._dialect == "postgresql"), deleted,
                       delete_artifacts)
            w = writers.c
            conn.execute(delete(writers).where(
                w.entity == key.entity, w.project == key.project, w.run_id == key.run_id))
            conn.execute(delete(runs).where(runs.c.id == run_pk))
            return deleted

    def referenced_digests(self, candidates: Collection[str] | None = None) -> set[str]:
        with self._errors("referenced_digests"), self._engine.connect() as conn:
            found = set(self._file_digests(conn, candidates))
            wanted = None if candidates is None else set(candidates)
            for text in conn.execute(select(artifact_versions.c.manifest)).scalars():
                if wanted is not None and not any(d in text for d in wanted - found):
                    continue  # a cheap look at the text before parsing it
                digests = blob_digests(json.loads(text))
                found |= digests if wanted is None else digests & wanted
            return found

    def _file_digests(self, conn: Connection, candidates: Collection[str] | None) -> Iterator[str]:
        digest = files.c.digest
        if candidates is None:
            yield from conn.execute(select(digest).where(digest != "").distinct()).scalars()
            return
        listed = sorted(candidates)
        for start in range(0, len(listed), IN_LIST):
            part = listed[start:start + IN_LIST]
            yield from conn.execute(select(digest).where(digest.in_(part)).distinct()).scalars()
