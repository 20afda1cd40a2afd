"""W&B ``artifact`` records (the versions a run logged) as mytrack artifacts.

A W&B run folder does not hold its artifacts' files: the record's manifest
names, for each entry, a ``local_path`` (W&B's staging copy under
``~/.local/share/wandb/artifacts/staging``, or the file itself with
``policy="immutable"``) and its MD5. An artifact is carried when every entry
is such a file, still there with that MD5, on this machine; otherwise it is
left out whole (a version missing files would not be the one logged) and the
reason reported. References (``s3://``, ``file://`` entries) are not carried.
"""

from __future__ import annotations

import base64
import hashlib
import os
from typing import Any

from mytrack.artifacts import Artifact
from mytrack.errors import Error

_BUFSIZE = 1 << 20


def to_artifact(record: Any) -> tuple[Artifact, list[str]] | str:
    """(artifact, aliases) of a W&B ArtifactRecord, or why it cannot be carried."""
    label = f"artifact {record.name!r} ({record.type})"
    try:
        artifact = Artifact(record.name, type=record.type, description=record.description or None)
    except Error as exc:
        return f"{label}: {exc}"
    for entry in record.manifest.contents:
        if entry.ref:
            return f"{label}: entry {entry.path!r} is a reference ({entry.ref}); references are not carried"
        path = entry.local_path
        if not path or not os.path.isfile(path):
            return f"{label}: the file of entry {entry.path!r} is no longer at {path or '(no local path)'}"
        if _md5(path) != entry.digest:
            return f"{label}: the file of entry {entry.path!r} at {path} changed since it was logged"
        try:
            artifact.add_file(path, name=entry.path)
        except Error as exc:
            return f"{label}: entry {entry.path!r}: {exc}"
    if record.metadata:
        import json

        try:
            artifact.metadata = dict(json.loads(record.metadata))
        except (ValueError, TypeError):
            pass  # W&B wrote it; a bad one costs the metadata, not the version
    aliases = [a for a in record.aliases if a != "latest"]  # mytrack moves "latest" itself
    return artifact, aliases


def _md5(path: str) -> str:
    """W&B's digest of a file: base64 of its MD5."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_BUFSIZE):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()
