"""The UI's artifact routes, under ``/api/artifacts/``:

    GET /api/artifacts/E/P                          the project's artifacts (collections)
    GET /api/artifacts/E/P/NAME                     its versions, with producer and consumer counts
    GET /api/artifacts/E/P/NAME/V                   one version (vN, an alias or a digest): metadata,
                                                    aliases, producer and consumers by run name
    GET /api/artifacts/E/P/NAME/V/files?dir=&offset=&limit=   a folder of its files
    GET /api/artifacts/E/P/NAME/V/file?path=&inline=1         an entry's content
    GET /api/artifacts/E/P/NAME/V/preview?path=               text, JSON, a table or an image
    GET /api/artifacts/E/P/NAME/V/lineage?hops=N               runs and versions around it

Entry content is streamed from the blob store as a run's files are, with the same
sandbox (files.py). Reference entries (``s3://``, ``file://``) are not fetched: the
UI names where they are.
"""

from __future__ import annotations

import csv
import io
import json
import mimetypes
import posixpath
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from mytrack_service.blobs.base import BlobError, BlobStore
from mytrack_service.store import artifact_model as model
from mytrack_service.store.artifact_model import ArtifactRuleError, ArtifactTx
from mytrack_service.store.base import MetadataStore, RunKey
from mytrack_service.web.files import _FILE_CSP, _INLINE, _download_type
from mytrack_service.web.lineage import MAX_HOPS, lineage
from mytrack_service.web.responses import ApiError, Response, json_response

PREVIEW_BYTES = 256 * 1024
MAX_JSON_BYTES = 2 << 20  # parsed (pretty-printed, or shown as a table) up to this size
TABLE_ROWS = 100
MAX_LISTED = 1000
DEFAULT_HOPS = 3
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp")
_CHUNK = 1 << 20


class ArtifactViews:
    def __init__(self, store: MetadataStore, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    def route(self, method: str, parts: list[str], query: Mapping[str, str]) -> Response:
        """Answers ``/api/artifacts/<parts...>``; ApiError for what it refuses."""
        if method != "GET":
            raise ApiError(405, "artifact pages are read-only")
        if len(parts) == 2:
            return json_response(self._read(lambda tx: self.collections(tx, *parts)))
        if len(parts) == 3:
            return json_response(self._read(lambda tx: self.versions(tx, *parts)))
        if len(parts) not in (4, 5):
            raise ApiError(404, "no such endpoint")
        action = parts[4] if len(parts) == 5 else ""
        if action in ("file", "preview"):
            path = query.get("path") or ""
            entry = self._read(lambda tx: _entry(tx, _version_id(tx, parts), path))
            if action == "file":
                return self.download(entry, query.get("inline") == "1")
            return json_response(self.preview(entry))
        if action == "files":
            return json_response(self._read(lambda tx: folder(
                tx, _version_id(tx, parts), query.get("dir") or "",
                _int(query, "offset", 0), min(MAX_LISTED, max(1, _int(query, "limit", MAX_LISTED))))))
        if action == "lineage":
            hops = min(MAX_HOPS, max(1, _int(query, "hops", DEFAULT_HOPS)))
            return json_response(self._read(
                lambda tx: lineage(tx, _version_id(tx, parts), hops, self.run_info)))
        if action:
            raise ApiError(404, "no such endpoint")
        return json_response(self._read(lambda tx: self.version(tx, _version_id(tx, parts))))

    def _read(self, work: Any) -> Any:
        try:
            with self.store.artifacts() as tx:
                return work(tx)
        except ArtifactRuleError as exc:
            raise ApiError(404, str(exc)) from None
        except NotImplementedError:
            raise ApiError(501, "this store keeps no artifacts") from None

    def run_info(self, path: str) -> dict[str, Any]:
        """A run as a link: its path, name and state (``missing`` once deleted)."""
        parts = path.split("/", 2)
        run = self.store.get_run(RunKey(*parts)) if len(parts) == 3 else None
        if run is None:
            return {"path": path, "name": "", "state": "", "missing": True}
        return {"path": path, "name": run.name, "state": run.state, "missing": False}

    def collections(self, tx: ArtifactTx, entity: str, project: str) -> list[dict[str, Any]]:
        out = []
        for coll in tx.collections(entity, project, None):
            committed = [v for v in tx.versions(coll.id) if v.state == "committed"]
            if not committed:
                continue
            newest = max(committed, key=lambda v: v.index)
            out.append({
                "name": coll.name, "type": coll.type, "kind": coll.kind,
                "description": coll.description, "versions": len(committed),
                "latest": f"v{newest.index}", "updated_at": newest.created_at,
                "size": newest.size, "aliases": sorted(tx.aliases(coll.id)),
            })
        return sorted(out, key=lambda c: (c["type"], c["name"]))

    def versions(self, tx: ArtifactTx, entity: str, project: str, name: str) -> dict[str, Any]:
        coll = tx.collection(entity, project, name)
        if coll is None:
            raise ApiError(404, f"artifact {entity}/{project}/{name} not found")
        rows = []
        for doc in reversed(model.versions_of(tx, entity, project, name)):
            content = doc["source"]["id"] if doc["source"] else doc["id"]
            rows.append({**_summary(doc), "producer": self.run_info(doc["created_by"])
                         if doc["created_by"] else None,
                         "consumers": len(tx.users_of_version(content))})
        return {"entity": entity, "project": project, "name": name, "type": coll.type,
                "kind": coll.kind, "description": coll.description, "versions": rows}

    def version(self, tx: ArtifactTx, version_id: int) -> dict[str, Any]:
        doc = model.document(tx, version_id, manifest=False)
        content = doc["source"]["id"] if doc["source"] else version_id
        links = [model.document(tx, link, manifest=False) for link in tx.links_to(version_id)]
        return {
            **_summary(doc),
            "metadata": doc["metadata"], "tags": doc["tags"], "state": doc["state"],
            "source": doc["source"],
            "producer": self.run_info(doc["created_by"]) if doc["created_by"] else None,
            "consumers": [self.run_info(run) for run in tx.users_of_version(content)],
            "links": [{k: d[k] for k in ("entity", "project", "name", "kind", "version", "aliases")}
                      for d in links],
        }

    def download(self, entry: dict[str, Any], inline: bool) -> Response:
        name = str(entry["path"])
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        shown = inline and mime.startswith(_INLINE)
        base = name.rsplit("/", 1)[-1]
        return Response(
            content_type=mime if shown else _download_type(mime),
            stream=self._chunks(entry), length=int(entry.get("size") or 0),
            headers={
                "Content-Disposition": f"{'inline' if shown else 'attachment'}; "
                                       f"filename*=UTF-8''{quote(base)}",
                "Content-Security-Policy": _FILE_CSP,
                # An entry is named by its content's digest in the URL's version: cacheable.
                "Cache-Control": "private, max-age=3600",
            },
        )

    def preview(self, entry: dict[str, Any]) -> dict[str, Any]:
        """What the files browser shows: an image, a table, JSON or text (the first
        PREVIEW_BYTES), or why not (binary, a reference)."""
        name, size = str(entry["path"]), int(entry.get("size") or 0)
        out: dict[str, Any] = {"path": name, "size": size, "digest": entry.get("digest", "")}
        lower = name.lower()
        if lower.endswith(IMAGES):
            return {**out, "kind": "image"}
        wants_json = lower.endswith(".json") and size <= MAX_JSON_BYTES
        head = self._head(entry, MAX_JSON_BYTES if wants_json else PREVIEW_BYTES)
        if b"\0" in head[:8192]:
            return {**out, "kind": "binary"}
        text = head.decode("utf-8", "replace")
        if wants_json:
            try:
                value = json.loads(text)
            except ValueError:
                pass
            else:
                if _is_table(value):
                    return {**out, "kind": "table", "columns": value["columns"],
                            "rows": value["data"][:TABLE_ROWS], "total": len(value["data"])}
                return {**out, "kind": "json", "text": json.dumps(value, indent=2)[:PREVIEW_BYTES]}
        if lower.endswith((".csv", ".tsv")):
            rows = list(_first_rows(text, "\t" if lower.endswith(".tsv") else ","))
            if rows:
                return {**out, "kind": "table", "columns": rows[0], "rows": rows[1:],
                        "total": None if size > len(head) else len(rows) - 1}
        return {**out, "kind": "text", "text": text[:PREVIEW_BYTES], "truncated": size > len(head)}

    def _head(self, entry: dict[str, Any], limit: int) -> bytes:
        data = b""
        stream = self._chunks(entry)
        for chunk in stream:
            data += chunk
            if len(data) >= limit:
                break
        close = getattr(stream, "close", None)
        if close is not None:  # a generator: closing it closes the blob
            close()
        return data[:limit]

    def _chunks(self, entry: dict[str, Any]) -> Iterator[bytes]:
        if entry.get("ref"):
            raise ApiError(409, f"{entry['path']!r} is a reference to {entry['ref']}: "
                                "its content is not kept by mytrack")
        try:
            stream = self.blobs.open(str(entry.get("digest") or ""))
        except BlobError as exc:
            raise ApiError(503, f"the content of {entry['path']!r} cannot be read: {exc}") from None

        def chunks() -> Iterator[bytes]:
            with stream:
                while chunk := stream.read(_CHUNK):
                    yield chunk

        return chunks()


def folder(tx: ArtifactTx, version_id: int, path: str, offset: int, limit: int) -> dict[str, Any]:
    """One folder of a version's files: its sub-folders (with file counts and sizes)
    and its files, a page of at most ``limit`` entries."""
    prefix = path.strip("/")
    prefix = f"{prefix}/" if prefix else ""
    content = _content_id(tx, version_id)
    folders: dict[str, dict[str, Any]] = {}
    files = []
    for entry in tx.manifest(content):
        name = str(entry["path"])
        if not name.startswith(prefix):
            continue
        rest = name[len(prefix):]
        head, slash, _ = rest.partition("/")
        if slash:
            sub = folders.setdefault(head, {"name": head, "path": prefix + head, "files": 0, "size": 0})
            sub["files"] += 1
            sub["size"] += int(entry.get("size") or 0)
        else:
            files.append({"name": rest, "path": name, "size": int(entry.get("size") or 0),
                          "digest": entry.get("digest", ""), "ref": entry.get("ref") or ""})
    if prefix and not folders and not files:
        raise ApiError(404, f"no folder {path!r} in this version")
    listed = [*(dict(f, folder=True) for f in sorted(folders.values(), key=lambda f: f["name"])),
              *(dict(f, folder=False) for f in files)]
    return {"dir": prefix.rstrip("/"), "parent": posixpath.dirname(prefix.rstrip("/")) if prefix else None,
            "total": len(listed), "offset": offset, "entries": listed[offset:offset + limit]}


def _entry(tx: ArtifactTx, version_id: int, path: str) -> dict[str, Any]:
    if not path:
        raise ApiError(400, "the query parameter 'path' is required")
    for entry in tx.manifest(_content_id(tx, version_id)):
        if entry["path"] == path:
            return dict(entry)
    raise ApiError(404, f"this version has no file {path!r}")


def _content_id(tx: ArtifactTx, version_id: int) -> int:
    row = tx.version(version_id)
    return row.source_id if row is not None and row.source_id else version_id


def _version_id(tx: ArtifactTx, parts: list[str]) -> int:
    entity, project, name, version = parts[:4]
    return int(model.resolve(tx, entity, project, name, version)["id"])


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    keep = ("entity", "project", "name", "kind", "type", "version", "aliases", "digest", "size",
            "file_count", "created_at", "created_by", "description")
    return {k: doc.get(k) for k in keep}


def _is_table(value: Any) -> bool:
    return (isinstance(value, dict) and isinstance(value.get("columns"), list)
            and isinstance(value.get("data"), list))


def _first_rows(text: str, delimiter: str) -> Iterator[list[str]]:
    lines = text.splitlines()[:TABLE_ROWS + 1]
    try:
        yield from csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    except csv.Error:
        return


def _int(query: Mapping[str, str], name: str, default: int) -> int:
    text = query.get(name)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {text!r}") from None


def page_route(parts: list[str]) -> dict[str, str] | None:
    """The artifact pages, laid out as W&B's: ``/E/P/artifacts[/TYPE]``, ``/E/P/artifacts/TYPE/NAME``
    (its versions) and ``/E/P/artifacts/TYPE/NAME/VERSION``."""
    base = {"entity": parts[0], "project": parts[1]}
    if len(parts) == 3:
        return {"page": "artifacts", **base}
    if len(parts) == 4:
        return {"page": "artifacts", **base, "type": parts[3]}
    if len(parts) == 5:
        return {"page": "artifact", **base, "type": parts[3], "name": parts[4]}
    if len(parts) == 6:
        return {"page": "artifact-version", **base, "type": parts[3], "name": parts[4],
                "version": parts[5]}
    return None
