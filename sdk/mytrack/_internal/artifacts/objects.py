"""Data types kept in artifacts: ``Artifact.add(obj, name)`` and ``Artifact.get(name)``, as W&B's.

``add`` writes the object as W&B names it: a `Table` as ``<name>.table.json``
(``{"columns": [...], "data": [[...], ...]}``), any other media type as
``<name>.<type>.json`` (its descriptor) beside its file; media inside a table
(images in cells...) are files under ``media/<kind>/``, named by content. ``get``
reads it back from a stored version: a `Table`, an `Image`, or else the
descriptor with ``path`` made local.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import TYPE_CHECKING, Any

from mytrack._internal.media.base import Media
from mytrack._internal.transport.encode import dumps
from mytrack.errors import ArtifactError, InvalidTypeError

if TYPE_CHECKING:
    from mytrack.artifacts import Artifact, ArtifactManifestEntry


class _ArtifactWriter:
    """A `MediaWriter` that writes the files of one ``add()`` into the artifact."""

    def __init__(self, artifact: Artifact, name: str, overwrite: bool) -> None:
        self.artifact = artifact
        self.name = name
        self.overwrite = overwrite
        self.table_entry: ArtifactManifestEntry | None = None

    @property
    def step(self) -> int:
        return 0

    def write(self, kind: str, key: str, ext: str, data: bytes) -> dict[str, Any]:
        digest = hashlib.sha256(data).hexdigest()
        if key == self.name and kind == "tables":
            path = with_suffix(self.name, "table")
            self.table_entry = _put(self.artifact, path, data, self.overwrite)
        else:  # content-addressed: the same image in two cells is one file
            path = f"media/{kind}/{digest[:20]}.{ext}"
            if path not in self.artifact._entries:
                _put(self.artifact, path, data, overwrite=False)
        return {"path": path, "sha256": digest, "size": len(data)}

    def convert(self, value: Any, name: str) -> Any:
        from mytrack._internal.run.values import convert_value

        return convert_value(value, name, self)  # type: ignore[arg-type]  # a MediaWriter like MediaBatch


def with_suffix(name: str, type_name: str) -> str:
    """W&B's entry name of an object added as ``name``: ``<name>.<type>.json``."""
    suffix = f".{type_name}.json"
    return name if name.endswith(suffix) else name + suffix


def _put(artifact: Artifact, path: str, data: bytes, overwrite: bool) -> ArtifactManifestEntry:
    if path in artifact._entries:
        if not overwrite:
            return artifact._entries[path]
        artifact.remove(path)
    with artifact.new_file(path, mode="xb") as f:
        f.write(data)
    return artifact._entries[path]


def add_object(artifact: Artifact, obj: Any, name: str, overwrite: bool) -> ArtifactManifestEntry:
    """``Artifact.add``: see the module docstring."""
    if not isinstance(obj, Media) or not obj.needs_files:
        raise InvalidTypeError(
            f"Artifact.add({name!r}): expected a Table, Image, Audio, Video, Html or Object3D, "
            f"got {type(obj).__name__} (add files with add_file)")
    writer = _ArtifactWriter(artifact, name, overwrite)
    descriptor = obj.to_descriptor(writer, name)
    if writer.table_entry is not None:
        return writer.table_entry
    return _put(artifact, with_suffix(name, obj.type_name), dumps(descriptor), overwrite)


def get_object(artifact: Artifact, name: str) -> Any:
    """``Artifact.get``: the object added as ``name`` (None when there is none)."""
    from mytrack._internal.media.table import Table

    entries = artifact._entries
    path = next((p for p in entries if p == name or _added_as(p, name)), None)
    if path is None:
        return None
    root = artifact.download()  # tables refer to the media files beside them
    with open(os.path.join(root, *path.split("/")), encoding="utf-8") as f:
        try:
            doc = json.load(f)
        except ValueError as exc:
            raise ArtifactError(f"{artifact.name}: {path} is not an object added with add(): {exc}") from None
    if path.endswith(".table.json"):
        rows = [[_local(cell, root) for cell in row] for row in doc["data"]]
        return Table(columns=doc["columns"], data=rows)
    if not isinstance(doc, dict) or "path" not in doc:
        raise ArtifactError(f"{artifact.name}: {path} is not an object added with add()")
    return _local(doc, root)


def _local(value: Any, root: str) -> Any:
    """A descriptor read from an artifact: an `Image` of the downloaded file, or the
    descriptor with ``path`` made local; other values as they are."""
    from mytrack._internal.media.image import Image

    if not (isinstance(value, dict) and isinstance(value.get("_type"), str) and isinstance(value.get("path"), str)):
        return value
    local = os.path.join(root, *value["path"].split("/"))
    if value["_type"] == Image.type_name:
        return Image(local, caption=value.get("caption"))
    return {**value, "path": local}


def _added_as(path: str, name: str) -> bool:
    if not path.startswith(name + ".") or not path.endswith(".json"):
        return False
    middle = path[len(name) + 1:-len(".json")]
    return bool(middle) and "/" not in middle and "." not in middle
