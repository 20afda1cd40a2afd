"""`ArtifactTx` on plain dicts, for `MemoryStore` (the reference implementation)."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mytrack_service.store.artifact_model import ArtifactTx, CollectionRow, VersionRow
from mytrack_service.store.base import StoreError


@dataclass
class ArtifactTables:
    collections: dict[int, CollectionRow] = field(default_factory=dict)
    versions: dict[int, VersionRow] = field(default_factory=dict)
    manifests: dict[int, str] = field(default_factory=dict)  # JSON text, as the SQL store keeps it
    aliases: dict[tuple[int, str], int] = field(default_factory=dict)
    usage: list[tuple[str, int, float]] = field(default_factory=list)
    results: dict[str, str] = field(default_factory=dict)
    next_id: int = 1


@contextmanager
def transaction(tables: ArtifactTables) -> Iterator[tuple[MemoryArtifactTx, ArtifactTables]]:
    """A copy of the tables to work on; the caller keeps it only on success."""
    work = copy.deepcopy(tables)
    yield MemoryArtifactTx(work), work


def _json(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"artifact data is not JSON-serialisable: {exc}") from exc


class MemoryArtifactTx(ArtifactTx):
    def __init__(self, tables: ArtifactTables) -> None:
        self.t = tables

    def _id(self) -> int:
        self.t.next_id += 1
        return self.t.next_id - 1

    def collection(self, entity: str, project: str, name: str) -> CollectionRow | None:
        for row in self.t.collections.values():
            if (row.entity, row.project, row.name) == (entity, project, name):
                return dataclasses.replace(row)
        return None

    def collections(self, entity: str, project: str, kind: str | None) -> list[CollectionRow]:
        return [
            dataclasses.replace(row) for row in sorted(self.t.collections.values(), key=lambda r: r.id)
            if (not entity or row.entity == entity) and (not project or row.project == project)
            and (kind is None or row.kind == kind)
        ]

    def collection_by_id(self, collection_id: int) -> CollectionRow:
        return dataclasses.replace(self.t.collections[collection_id])

    def create_collection(self, row: CollectionRow) -> int:
        if self.collection(row.entity, row.project, row.name) is not None:
            raise StoreError(f"collection {row.entity}/{row.project}/{row.name} exists")
        stored = dataclasses.replace(row, id=self._id())
        self.t.collections[stored.id] = stored
        return stored.id

    def versions(self, collection_id: int) -> list[VersionRow]:
        return [copy.deepcopy(v) for _, v in sorted(self.t.versions.items())
                if v.collection_id == collection_id]

    def version(self, version_id: int) -> VersionRow | None:
        row = self.t.versions.get(version_id)
        return None if row is None else copy.deepcopy(row)

    def insert_version(self, row: VersionRow, manifest: list[dict[str, Any]]) -> int:
        stored = copy.deepcopy(dataclasses.replace(row, id=self._id()))
        _json(stored.metadata)
        self.t.versions[stored.id] = stored
        self.t.manifests[stored.id] = _json(manifest)
        return stored.id

    def update_version(
        self, version_id: int, fields: dict[str, Any], manifest: list[dict[str, Any]] | None
    ) -> None:
        self.t.versions[version_id] = copy.deepcopy(
            dataclasses.replace(self.t.versions[version_id], **fields)
        )
        if manifest is not None:
            self.t.manifests[version_id] = _json(manifest)

    def delete_version(self, version_id: int) -> None:
        doomed = {version_id} | {i for i, v in self.t.versions.items() if v.source_id == version_id}
        for vid in doomed:
            self.t.versions.pop(vid, None)
            self.t.manifests.pop(vid, None)
        self.t.aliases = {k: v for k, v in self.t.aliases.items() if v not in doomed}
        self.t.usage = [u for u in self.t.usage if u[1] not in doomed]

    def manifest(self, version_id: int) -> list[dict[str, Any]]:
        text = self.t.manifests.get(version_id)
        return [] if text is None else list(json.loads(text))

    def aliases(self, collection_id: int) -> dict[str, int]:
        return {alias: v for (c, alias), v in sorted(self.t.aliases.items()) if c == collection_id}

    def set_alias(self, collection_id: int, alias: str, version_id: int) -> None:
        self.t.aliases[(collection_id, alias)] = version_id

    def add_usage(self, run: str, version_id: int, timestamp: float) -> None:
        if not any(u[0] == run and u[1] == version_id for u in self.t.usage):
            self.t.usage.append((run, version_id, timestamp))

    def usage_of_run(self, run: str) -> list[int]:
        return [vid for r, vid, _ in self.t.usage if r == run]

    def users_of_version(self, version_id: int) -> list[str]:
        return [r for r, vid, _ in self.t.usage if vid == version_id]

    def remove_usage(self, run: str) -> None:
        self.t.usage = [u for u in self.t.usage if u[0] != run]

    def links_to(self, version_id: int) -> list[int]:
        return [i for i, v in sorted(self.t.versions.items()) if v.source_id == version_id]

    def versions_by_run(self, run: str) -> list[VersionRow]:
        return [copy.deepcopy(v) for _, v in sorted(self.t.versions.items())
                if v.created_by == run and v.state == "committed" and not v.source_id]

    def put_result(self, client_id: str, result: dict[str, Any]) -> None:
        self.t.results[client_id] = _json(result)

    def result(self, client_id: str) -> dict[str, Any] | None:
        text = self.t.results.get(client_id)
        return None if text is None else dict(json.loads(text))
