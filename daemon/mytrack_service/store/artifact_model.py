"""Artifacts in the store: collections, versions, aliases, usage and links.

The rules (version numbers, dedup by digest, unique aliases, "latest",
distributed versions, portfolio links) live here once, as `apply_ops` and the
read functions, written against `ArtifactTx`: a handful of primitives that
each store implements inside its own transaction (`SqlStore` in
sql_artifacts.py, `MemoryStore` in memory_artifacts.py). So every store agrees
by construction.

Model:

* a *collection* is ``entity/project/name`` with a type and a kind:
  "artifact" (versions made by runs), "portfolio" (``link_artifact``) or
  "registered_model" (``link_model``);
* a *version* of a collection has an index (v0, v1, ... assigned when it is
  committed; -1 while a distributed version is pending), a digest over its
  entries, a manifest, and the run that created it. A version of a portfolio
  is a link: ``source_id`` names the linked version, whose manifest it shares
  (nothing is copied);
* an *alias* names one version per collection (moving it takes it from the
  version that had it); "latest" is set on every newly committed version;
* *usage* records which runs used which versions.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass, field
from typing import Any

from mytrack_common.names import entry_name_problem

KINDS = ("artifact", "portfolio", "registered_model")
_VERSION = re.compile(r"v(\d+)")


@dataclass
class ArtifactOp:
    """One artifact record of a run, as the applier hands it to the store."""

    action: str  # "log", "use", "upsert", "finish" or "link"
    client_id: str  # the SDK's id of the call: its result is stored under it
    run: str  # the run's path, entity/project/run_id
    data: dict[str, Any]
    timestamp: float = 0.0
    error: str = ""  # set by the applier when uploading the content failed


@dataclass
class CollectionRow:
    entity: str
    project: str
    name: str
    type: str
    kind: str = "artifact"
    description: str = ""
    created_at: float = 0.0
    id: int = 0


@dataclass
class VersionRow:
    collection_id: int
    index: int  # -1 while pending
    digest: str
    type: str
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    state: str = "committed"  # "committed" or "pending"
    created_at: float = 0.0
    created_by: str = ""  # run path; "" when not logged by a run
    distributed_id: str = ""
    source_id: int = 0  # portfolio links: the linked version
    size: int = 0
    file_count: int = 0
    error: str = ""
    id: int = 0


class ArtifactTx(abc.ABC):
    """The primitives of one store transaction that the rules are built on."""

    @abc.abstractmethod
    def collection(self, entity: str, project: str, name: str) -> CollectionRow | None: ...

    @abc.abstractmethod
    def collections(self, entity: str, project: str, kind: str | None) -> list[CollectionRow]: ...

    @abc.abstractmethod
    def collection_by_id(self, collection_id: int) -> CollectionRow: ...

    @abc.abstractmethod
    def create_collection(self, row: CollectionRow) -> int: ...

    @abc.abstractmethod
    def versions(self, collection_id: int) -> list[VersionRow]:
        """Every version of the collection (pending ones too), by id."""

    @abc.abstractmethod
    def version(self, version_id: int) -> VersionRow | None: ...

    @abc.abstractmethod
    def insert_version(self, row: VersionRow, manifest: list[dict[str, Any]]) -> int: ...

    @abc.abstractmethod
    def update_version(
        self, version_id: int, fields: dict[str, Any], manifest: list[dict[str, Any]] | None
    ) -> None: ...

    @abc.abstractmethod
    def delete_version(self, version_id: int) -> None:
        """Removes the version, its aliases, usage and manifest, and the links to it."""

    @abc.abstractmethod
    def manifest(self, version_id: int) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    def aliases(self, collection_id: int) -> dict[str, int]:
        """alias -> version id."""

    @abc.abstractmethod
    def set_alias(self, collection_id: int, alias: str, version_id: int) -> None:
        """Points ``alias`` at the version (taking it from any other)."""

    @abc.abstractmethod
    def add_usage(self, run: str, version_id: int, timestamp: float) -> None:
        """Records that run ``run`` used the version (once)."""

    @abc.abstractmethod
    def usage_of_run(self, run: str) -> list[int]:
        """Versions the run used, in order of first use."""

    @abc.abstractmethod
    def users_of_version(self, version_id: int) -> list[str]:
        """Runs that used the version, in order of first use."""

    @abc.abstractmethod
    def remove_usage(self, run: str) -> None:
        """Forgets every use by run ``run`` (the run is being deleted)."""

    @abc.abstractmethod
    def links_to(self, version_id: int) -> list[int]:
        """Portfolio versions that link to the version."""

    @abc.abstractmethod
    def versions_by_run(self, run: str) -> list[VersionRow]:
        """Committed versions the run created, by id."""

    @abc.abstractmethod
    def put_result(self, client_id: str, result: dict[str, Any]) -> None: ...

    @abc.abstractmethod
    def result(self, client_id: str) -> dict[str, Any] | None: ...


class ArtifactRuleError(Exception):
    """An artifact op that cannot be applied (its result carries the message)."""


# -- writes ---------------------------------------------------------------------


def apply_ops(tx: ArtifactTx, ops: list[ArtifactOp]) -> None:
    """Applies ops in order; each one's result (or error) is stored under its client id."""
    for op in ops:
        try:
            if op.error:
                raise ArtifactRuleError(op.error)
            result = _apply(tx, op)
        except ArtifactRuleError as exc:
            result = {"ok": False, "error": str(exc)}
        if op.client_id:
            tx.put_result(op.client_id, result)


def _apply(tx: ArtifactTx, op: ArtifactOp) -> dict[str, Any]:
    data = op.data
    if op.action == "log":
        return _log(tx, op, created_by=op.run)
    if op.action == "use":
        if data.get("entries") is not None:  # a new local artifact: logged, then used
            out = _log(tx, op, created_by="")
            version_id = out["id"]
        else:
            version_id = _resolve_id(tx, data["entity"], data["project"], data["name"],
                                     data.get("version", "latest"))
            out = document(tx, version_id)
        tx.add_usage(op.run, version_id, op.timestamp)
        return out
    if op.action in ("upsert", "finish"):
        return _upsert(tx, op, finish=op.action == "finish")
    if op.action == "link":
        return _link(tx, op)
    raise ArtifactRuleError(f"unknown artifact action {op.action!r}")


def _collection(tx: ArtifactTx, data: dict[str, Any], kind: str, ts: float) -> CollectionRow:
    found = tx.collection(data["entity"], data["project"], data["name"])
    if found is None:
        row = CollectionRow(data["entity"], data["project"], data["name"], data["type"], kind,
                            data.get("description") or "", ts)
        row.id = tx.create_collection(row)
        return row
    if found.type != data["type"] and kind == "artifact":
        raise ArtifactRuleError(
            f"artifact {found.entity}/{found.project}/{found.name} has type {found.type!r}, "
            f"not {data['type']!r}"
        )
    if found.kind != kind:
        raise ArtifactRuleError(
            f"{found.entity}/{found.project}/{found.name} is a {found.kind}, not a {kind}"
        )
    return found


def _commit_aliases(tx: ArtifactTx, collection_id: int, version_id: int, aliases: list[str]) -> None:
    for alias in aliases:
        if _VERSION.fullmatch(alias):
            raise ArtifactRuleError(f"alias {alias!r} looks like a version; pick another name")
        tx.set_alias(collection_id, alias, version_id)


def _next_index(tx: ArtifactTx, collection_id: int) -> int:
    return 1 + max((v.index for v in tx.versions(collection_id)), default=-1)


def _sizes(entries: list[dict[str, Any]]) -> tuple[int, int]:
    return sum(int(e.get("size") or 0) for e in entries), len(entries)


def _log(tx: ArtifactTx, op: ArtifactOp, created_by: str) -> dict[str, Any]:
    data = op.data
    coll = _collection(tx, data, "artifact", op.timestamp)
    aliases = list(dict.fromkeys(["latest", *(data.get("aliases") or [])]))
    for version in tx.versions(coll.id):
        if version.state == "committed" and version.digest == data["digest"]:
            _commit_aliases(tx, coll.id, version.id, [a for a in aliases if a != "latest"])
            out = document(tx, version.id)
            out["created"] = False
            return out
    entries = manifest_entries(data["entries"])
    size, count = _sizes(entries)
    row = VersionRow(
        coll.id, _next_index(tx, coll.id), data["digest"], data["type"],
        data.get("description") or "", dict(data.get("metadata") or {}), list(data.get("tags") or []),
        "committed", op.timestamp, created_by, size=size, file_count=count,
    )
    row.id = tx.insert_version(row, entries)
    _commit_aliases(tx, coll.id, row.id, aliases)
    out = document(tx, row.id)
    out["created"] = True
    return out


def _upsert(tx: ArtifactTx, op: ArtifactOp, finish: bool) -> dict[str, Any]:
    data = op.data
    coll = _collection(tx, data, "artifact", op.timestamp)
    distributed_id = str(data.get("distributed_id") or "")
    pending = next(
        (v for v in tx.versions(coll.id)
         if v.state == "pending" and v.distributed_id == distributed_id), None,
    )
    added = manifest_entries(data.get("entries") or [])
    if pending is None:
        merged = added
        pending = VersionRow(
            coll.id, -1, digest_of(merged), data["type"], data.get("description") or "",
            dict(data.get("metadata") or {}), list(data.get("tags") or []), "pending",
            op.timestamp, op.run, distributed_id,
        )
        pending.size, pending.file_count = _sizes(merged)
        pending.id = tx.insert_version(pending, merged)
    else:
        by_path = {e["path"]: e for e in tx.manifest(pending.id)}
        by_path.update((e["path"], e) for e in added)
        merged = manifest_entries(list(by_path.values()))
        metadata = {**pending.metadata, **(data.get("metadata") or {})}
        size, count = _sizes(merged)
        tx.update_version(pending.id, {"digest": digest_of(merged), "metadata": metadata,
                                       "size": size, "file_count": count}, merged)
    aliases = list(dict.fromkeys(data.get("aliases") or []))
    if not finish:
        out = document(tx, pending.id)
        out["pending_aliases"] = aliases
        return out
    digest = digest_of(merged)
    for version in tx.versions(coll.id):
        if version.state == "committed" and version.digest == digest:
            tx.delete_version(pending.id)  # identical content: no new version
            _commit_aliases(tx, coll.id, version.id, [a for a in aliases if a != "latest"])
            out = document(tx, version.id)
            out["created"] = False
            return out
    tx.update_version(pending.id, {"state": "committed", "index": _next_index(tx, coll.id),
                                   "created_by": op.run}, None)
    _commit_aliases(tx, coll.id, pending.id, list(dict.fromkeys(["latest", *aliases])))
    out = document(tx, pending.id)
    out["created"] = True
    return out


def _link(tx: ArtifactTx, op: ArtifactOp) -> dict[str, Any]:
    data = op.data
    source_id = _resolve_id(tx, data["entity"], data["project"], data["name"], data["version"])
    source = tx.version(source_id)
    assert source is not None
    while source.source_id:  # linking a link links what it links
        source_id = source.source_id
        source = tx.version(source_id)
        assert source is not None
    kind = data.get("kind") or "portfolio"
    if kind not in ("portfolio", "registered_model"):
        raise ArtifactRuleError(f"unknown link target kind {kind!r}")
    target = {"entity": data["target_entity"], "project": data["target_project"],
              "name": data["target_name"], "type": source.type}
    coll = _collection(tx, target, kind, op.timestamp)
    aliases = [a for a in dict.fromkeys(data.get("aliases") or []) if a != "latest"]
    for version in tx.versions(coll.id):
        if version.source_id == source_id:
            _commit_aliases(tx, coll.id, version.id, aliases)
            return document(tx, version.id)
    row = VersionRow(
        coll.id, _next_index(tx, coll.id), source.digest, source.type, source.description,
        source.metadata, source.tags, "committed", op.timestamp, op.run, source_id=source_id,
        size=source.size, file_count=source.file_count,
    )
    row.id = tx.insert_version(row, [])
    _commit_aliases(tx, coll.id, row.id, ["latest", *aliases])
    return document(tx, row.id)


# -- reads ----------------------------------------------------------------------


def resolve(tx: ArtifactTx, entity: str, project: str, name: str, version: str) -> dict[str, Any]:
    """The document of ``name:version`` (vN or an alias); ArtifactRuleError if none."""
    return document(tx, _resolve_id(tx, entity, project, name, version))


def _resolve_id(tx: ArtifactTx, entity: str, project: str, name: str, version: str) -> int:
    coll = tx.collection(entity, project, name)
    if coll is None:
        raise ArtifactRuleError(f"artifact {entity}/{project}/{name} not found")
    version = version or "latest"
    match = _VERSION.fullmatch(version)
    if match:
        index = int(match.group(1))
        for row in tx.versions(coll.id):
            if row.index == index and row.state == "committed":
                return row.id
    else:
        found = tx.aliases(coll.id).get(version)
        if found is not None:
            return found
        for row in tx.versions(coll.id):  # a digest names its version too
            if row.digest == version and row.state == "committed":
                return row.id
    raise ArtifactRuleError(f"artifact {entity}/{project}/{name}:{version} not found")


def document(tx: ArtifactTx, version_id: int, manifest: bool = True) -> dict[str, Any]:
    """A version as the SDK reads it (JSON-ready)."""
    row = tx.version(version_id)
    if row is None:
        raise ArtifactRuleError(f"artifact version {version_id} not found")
    coll = tx.collection_by_id(row.collection_id)
    aliases = sorted(a for a, v in tx.aliases(coll.id).items() if v == version_id)
    out: dict[str, Any] = {
        "ok": True, "id": row.id, "entity": coll.entity, "project": coll.project,
        "name": coll.name, "kind": coll.kind, "type": row.type, "index": row.index,
        "version": f"v{row.index}" if row.index >= 0 else "", "digest": row.digest,
        "description": row.description, "metadata": row.metadata, "tags": row.tags,
        "aliases": aliases, "state": row.state, "created_at": row.created_at,
        "created_by": row.created_by, "size": row.size, "file_count": row.file_count,
        "distributed_id": row.distributed_id, "error": row.error, "source": None,
    }
    content_id = row.id
    if row.source_id:
        source = document(tx, row.source_id, manifest=False)
        out["source"] = {k: source[k] for k in ("id", "entity", "project", "name", "version")}
        out["created_by"] = source["created_by"]
        content_id = row.source_id
    if manifest:
        out["manifest"] = tx.manifest(content_id)
    return out


def versions_of(
    tx: ArtifactTx, entity: str, project: str, name: str, type_: str | None = None,
) -> list[dict[str, Any]]:
    coll = tx.collection(entity, project, name)
    if coll is None or (type_ and coll.type != type_):
        return []
    return [document(tx, v.id, manifest=False) for v in tx.versions(coll.id)
            if v.state == "committed"]


def collections_of(tx: ArtifactTx, entity: str, project: str, kind: str | None) -> list[dict[str, Any]]:
    out = []
    for coll in tx.collections(entity, project, kind):
        versions = [v for v in tx.versions(coll.id) if v.state == "committed"]
        out.append({"entity": coll.entity, "project": coll.project, "name": coll.name,
                    "type": coll.type, "kind": coll.kind, "description": coll.description,
                    "created_at": coll.created_at, "versions": len(versions),
                    "aliases": sorted(tx.aliases(coll.id))})
    return out


def logged_by_run(tx: ArtifactTx, run: str) -> list[dict[str, Any]]:
    return [document(tx, v.id, manifest=False) for v in tx.versions_by_run(run)
            if tx.collection_by_id(v.collection_id).kind == "artifact"]


def used_by_run(tx: ArtifactTx, run: str) -> list[dict[str, Any]]:
    return [document(tx, vid, manifest=False) for vid in tx.usage_of_run(run)]


# -- entries --------------------------------------------------------------------


def manifest_entries(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries as stored: path, digest, size, ref (and extras), sorted by path.

    The local path an entry was uploaded from is not part of the manifest.

    Raises:
        ArtifactRuleError: an entry whose name could escape a download folder
            (the SDK refuses those; this is for any other client): the op fails,
            nothing of it is stored.
    """
    out = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise ArtifactRuleError(f"a manifest entry must be an object, got {entry!r:.100}")
        problem = entry_name_problem(entry.get("path"))
        if problem is not None:
            raise ArtifactRuleError(f"artifact entry name {entry.get('path')!r:.300} {problem}")
        kept = {k: v for k, v in entry.items() if k != "local"}
        kept.setdefault("ref", "")
        kept["size"] = int(kept.get("size") or 0)
        out.append(kept)
    return sorted(out, key=lambda e: e["path"])


def digest_of(entries: list[dict[str, Any]]) -> str:
    """The artifact digest: sha256 over the sorted "path:digest" lines (as the SDK computes it)."""
    import hashlib

    lines = "".join(f"{e['path']}:{e['digest']}\n" for e in sorted(entries, key=lambda e: e["path"]))
    return hashlib.sha256(lines.encode()).hexdigest()


def delete(tx: ArtifactTx, version_id: int) -> None:
    """Deletes a version (and the links to it); "latest" moves to the newest left."""
    row = tx.version(version_id)
    if row is None:
        raise ArtifactRuleError(f"artifact version {version_id} not found")
    tx.delete_version(version_id)
    _reset_latest(tx, row.collection_id)


def _reset_latest(tx: ArtifactTx, collection_id: int) -> None:
    committed = [v for v in tx.versions(collection_id) if v.state == "committed"]
    if committed and "latest" not in tx.aliases(collection_id):
        tx.set_alias(collection_id, "latest", max(committed, key=lambda v: v.index).id)
