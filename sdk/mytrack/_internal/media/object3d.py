"""``mytrack.Object3D``: a 3-D model file (.obj, .gltf, .glb, .stl) or a point cloud."""

from __future__ import annotations

import json
import os
from typing import Any

from mytrack._internal.media.base import Media, MediaWriter, bad, check_caption, extension, is_path, read_path, to_numpy

FILE_FORMATS = ("obj", "gltf", "glb", "stl")
_CLOUD = "a point cloud of shape (N, 3) xyz, (N, 4) xyz+category or (N, 6) xyz+rgb"
_FORMS = f"a path or open file ending in .{', .'.join(FILE_FORMATS)}, or {_CLOUD}"


class Object3D(Media):
    """A 3-D object: a path or an open file (``open("x.obj")``; give
    ``file_type`` when the file object has no name), or a NumPy point cloud
    (N×3 xyz, N×4 xyz + category, N×6 xyz + rgb), stored as ``.pts.json``.
    """

    kind = "object3D"
    type_name = "object3D-file"

    def __init__(self, data_or_path: Any, caption: str | None = None, file_type: str | None = None) -> None:
        self._data = data_or_path
        self._caption = caption
        self._file_type = file_type

    def to_descriptor(self, sink: MediaWriter | None, key: str) -> dict[str, Any]:
        caption = check_caption(key, "Object3D", self._caption)
        data = self._data
        if is_path(data):
            content, ext = read_path(key, "Object3D", data)
            ext = self._check_type(key, self._file_type or ext, os.fspath(data))
            return self._file_descriptor(sink, key, ext, content, format=ext, caption=caption)
        if hasattr(data, "read"):
            read = data.read()
            content = read if isinstance(read, bytes) else str(read).encode("utf-8")
            name = str(getattr(data, "name", "") or "")
            ext = self._check_type(key, self._file_type or extension(name), name or "a file object")
            return self._file_descriptor(sink, key, ext, content, format=ext, caption=caption)
        points = self._points(key)
        content = json.dumps({"type": "lidar/beta", "points": points.tolist()},
                             separators=(",", ":")).encode()
        return self._file_descriptor(
            sink, key, "pts.json", content, format="pts.json", points=points.shape[0],
            columns=points.shape[1], caption=caption,
        )

    @staticmethod
    def _check_type(key: str, ext: str, where: str) -> str:
        ext = ext.lower().lstrip(".")
        if ext not in FILE_FORMATS:
            raise bad(key, "Object3D", _FORMS, f"{where!r} (type {ext or 'unknown'!r})")
        return ext

    def _points(self, key: str) -> Any:
        import numpy as np

        try:
            array = to_numpy(self._data)
        except (TypeError, ValueError):
            raise bad(key, "Object3D", _FORMS, type(self._data).__name__) from None
        if array.ndim != 2 or array.shape[1] not in (3, 4, 6) or array.shape[0] == 0 \
                or array.dtype.kind not in "iuf":
            raise bad(key, "Object3D", _FORMS, f"an array of shape {array.shape} ({array.dtype})")
        if not np.isfinite(array).all():
            raise bad(key, "Object3D", f"{_CLOUD} of finite numbers", "NaN or infinite coordinates")
        return array
