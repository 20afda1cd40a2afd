"""Media descriptors read back through ``mytrack.Api``: dicts that can download their file.

``ApiRun.scan_history()`` and ``history()`` return a logged `Image`, `Table`...
as the descriptor the row holds (``{"_type", "path", "sha256", "size", ...}``);
those with a ``path`` are `ApiMedia`: still equal to that dict, plus
``download(root)``, which fetches the file the run uploaded and checks its sha256.
"""

from __future__ import annotations

import json
import os
from typing import Any

from mytrack._internal.files.download import download
from mytrack.errors import CommError


class ApiMedia(dict[str, Any]):
    """A media descriptor of a stored run; ``download()`` fetches its file."""

    def __init__(self, descriptor: dict[str, Any], run: Any) -> None:
        super().__init__(descriptor)
        self._run = run

    @property
    def type(self) -> str:
        return str(self.get("_type", ""))

    @property
    def path(self) -> str:
        """The file's path inside the run's files (e.g. ``media/images/x_3_ab12.png``)."""
        return str(self["path"])

    def download(self, root: str = ".", replace: bool = False) -> str:
        """Writes the file under ``root`` (keeping its ``media/...`` path) and returns where.

        An existing file with the right content is kept unless ``replace``.

        Raises:
            RunNotFoundError: the run has no such file (not uploaded yet?).
            CommError: the service cannot be reached, or the content does not
                match the descriptor's sha256.
        """
        expected = self.get("sha256")
        target = os.path.join(os.path.abspath(root), *self.path.split("/"))
        if not replace and os.path.exists(target) and (not expected or _sha256(target) == expected):
            return target
        api = self._run._api
        target = download(api._rpc(), self._run._key(), self.path, root, replace=True)
        if expected and _sha256(target) != expected:
            raise CommError(f"{self.path}: the file does not match the sha256 {expected} of the descriptor")
        return target

    def __copy__(self) -> ApiMedia:
        return ApiMedia(dict(self), self._run)

    def __deepcopy__(self, memo: dict[int, Any]) -> ApiMedia:
        import copy

        return ApiMedia(copy.deepcopy(dict(self), memo), self._run)  # the run is shared, not copied

    def __reduce__(self) -> tuple[Any, ...]:
        return (dict, (dict(self),))  # pickled as the plain descriptor

    def __repr__(self) -> str:
        return f"<ApiMedia {self.type} {self.get('path')}>"


def load_rows(data: bytes, run: Any) -> list[dict[str, Any]]:
    """A page of history rows; descriptors with a path become `ApiMedia` of ``run``."""
    if b'"_type"' not in data:  # no media: the plain (fast) parse
        rows: list[dict[str, Any]] = json.loads(data)
        return rows

    def hook(obj: dict[str, Any]) -> Any:
        if "_type" in obj and isinstance(obj.get("path"), str):
            return ApiMedia(obj, run)
        return obj

    loaded: list[dict[str, Any]] = json.loads(data, object_hook=hook)
    return loaded


def _sha256(path: str) -> str:
    import hashlib

    digest = hashlib.sha256()
    with open(os.fspath(path), "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
