"""Artifacts in the service: uploading entry content, and the artifact queries.

`upload` puts an artifact record's content into the blob store before its
version commits; outbound/artifact_uploads.py calls it, apart from the
applier, so a blob store that does not answer delays no run's records. Each
entry's staged file (hard link or copy in
the run folder, made by the SDK at log time) is put into the blob store by
digest, skipped when the blob exists already. So a new version of a large
dataset with one changed file uploads one file, and a version is never
committed before its content is stored ("committed" always means
"downloadable"). If a staged file is gone and its blob is missing too, the
record's result is an error and no version is made.

Queries (`ArtifactQuery` RPC, JSON in and out) are answered by `answer`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from mytrack_common.names import entry_name_problem
from mytrack_service.blobs.base import BlobError, BlobStore
from mytrack_service.store import artifact_model as model
from mytrack_service.store.artifact_model import ArtifactOp, ArtifactRuleError
from mytrack_service.store.base import MetadataStore

logger = logging.getLogger("mytrack_service.query.artifacts")


class QueryError(Exception):
    """A query that cannot be answered; ``code`` is "not_found" or "invalid"."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def upload(blobs: BlobStore, ops: list[ArtifactOp]) -> int:
    """Puts the content of the ops' entries into ``blobs``; returns the files uploaded.

    An entry that cannot be uploaded marks its op with an error (applied as a
    failed result, not as a version); a failing blob store raises BlobError, so
    that the upload is retried once it answers.
    """
    uploaded = 0
    for op in ops:
        for entry in op.data.get("entries") or []:
            path = entry.get("path") if isinstance(entry, dict) else entry
            problem = entry_name_problem(path) if isinstance(entry, dict) else "is not an object"
            if problem is not None:  # refused before anything is uploaded
                op.error = f"artifact entry name {path!r:.300} {problem}"
                break
            local, digest = entry.get("local"), entry.get("digest", "")
            if not local or entry.get("ref"):
                continue
            try:
                if blobs.exists(digest):
                    continue
                if not os.path.exists(local):
                    op.error = f"the content of {entry['path']!r} is gone ({local} was removed before upload)"
                    break
                stored, _ = blobs.put_file(local)
                uploaded += 1
            except BlobError:
                # An outage, not the artifact's fault: retried with backoff
                # (failing the op here lost the artifact).
                raise
            except (OSError, ValueError) as exc:
                op.error = f"uploading {entry['path']!r} failed: {exc}"
                break
            if stored != digest:
                op.error = (f"the content of {entry['path']!r} changed after it was logged "
                            f"(sha256 {stored}, expected {digest})")
                break
    return uploaded


def answer(
    store: MetadataStore, kind: str, request: dict[str, Any],
    wait_result: Callable[[str, float], dict[str, Any] | None],
) -> Any:
    """Answers one artifact query. Raises QueryError."""
    try:
        if kind == "result":
            found = wait_result(str(request["client_id"]), float(request.get("timeout", 60.0)))
            if found is None:
                raise QueryError("not_found", "the artifact record was not applied in time")
            return found
        if kind == "delete":
            with store.artifacts(write=True) as tx:
                version_id = _resolve_id(tx, request)
                model.delete(tx, version_id)
            return {"ok": True}
        with store.artifacts() as tx:
            return _read(tx, kind, request)
    except ArtifactRuleError as exc:
        raise QueryError("not_found", str(exc)) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise QueryError("invalid", f"bad artifact query {kind!r}: {exc}") from None


def _resolve_id(tx: model.ArtifactTx, request: dict[str, Any]) -> int:
    if request.get("id"):
        return int(request["id"])
    doc = model.resolve(tx, request["entity"], request["project"], request["name"],
                        request.get("version") or "latest")
    return int(doc["id"])


def _read(tx: model.ArtifactTx, kind: str, request: dict[str, Any]) -> Any:
    if kind == "resolve":
        doc = model.resolve(tx, request["entity"], request["project"], request["name"],
                            request.get("version") or "latest")
        wanted = request.get("type")
        if wanted and doc["type"] != wanted:
            raise ArtifactRuleError(
                f"artifact {doc['name']}:{doc['version']} has type {doc['type']!r}, not {wanted!r}"
            )
        return doc
    if kind == "versions":
        return model.versions_of(tx, request["entity"], request["project"], request["name"],
                                 request.get("type"))
    if kind == "collections":
        return model.collections_of(tx, request.get("entity", ""), request.get("project", ""),
                                    request.get("kind"))
    if kind == "logged":
        return model.logged_by_run(tx, request["run"])
    if kind == "used":
        return model.used_by_run(tx, request["run"])
    if kind == "users":
        return tx.users_of_version(_resolve_id(tx, request))
    raise QueryError("invalid", f"unknown artifact query {kind!r}")
