"""A run's files in the web UI: download (streamed from the blob store), text preview,
and pages of logged tables.

Files are the user's content served from our own origin, so they never run
there: every file response carries ``Content-Security-Policy: sandbox``, and
only images, audio and video (not SVG) are served inline; the rest download.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from mytrack_service.blobs.base import BlobError, BlobStore
from mytrack_service.query import console_file
from mytrack_service.store.base import FileRow, MetadataStore, RunKey
from mytrack_service.web.responses import ApiError, Response, json_response

_CHUNK = 1 << 20
PREVIEW_BYTES = 256 * 1024
_MAX_TABLE_BYTES = 64 << 20
_INLINE = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "audio/", "video/")
_FILE_CSP = "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"


class RunFiles:
    def __init__(self, store: MetadataStore, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    def download(self, key: RunKey, name: str, inline: bool) -> Response:
        row, stream = self._open(key, name)
        mime = row.mime or mimetypes.guess_type(name)[0] or "application/octet-stream"
        shown = inline and mime.startswith(_INLINE)
        disposition = "inline" if shown else "attachment"
        base = name.rsplit("/", 1)[-1]
        return Response(
            content_type=mime if shown else _download_type(mime), stream=stream, length=row.size,
            headers={
                "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(base)}",
                "Content-Security-Policy": _FILE_CSP,
                # Media files are named after their content: they may be cached.
                "Cache-Control": "private, max-age=86400" if name.startswith("media/") else "no-cache",
            },
        )

    def preview(self, key: RunKey, name: str) -> Response:
        """The first PREVIEW_BYTES as text; ``binary`` when they hold a NUL byte."""
        row, stream = self._open(key, name)
        data = b""
        for chunk in stream:
            data += chunk
            if len(data) >= PREVIEW_BYTES:
                break
        close = getattr(stream, "close", None)
        if close is not None:  # a generator: closing it closes the blob
            close()
        head = data[:PREVIEW_BYTES]
        binary = b"\0" in head[:8192]
        return json_response({
            "name": name, "size": row.size, "binary": binary,
            "truncated": row.size > len(head),
            "text": "" if binary else head.decode("utf-8", "replace"),
        })

    def table(self, key: RunKey, name: str, offset: int, limit: int) -> Response:
        """Rows ``offset..offset+limit`` of a logged table file ({"columns", "data"})."""
        row, stream = self._open(key, name)
        if row.size > _MAX_TABLE_BYTES:
            raise ApiError(413, f"table {name!r} is too large to page here: download it")
        try:
            table = json.loads(b"".join(stream))
        except ValueError as exc:
            raise ApiError(422, f"{name!r} is not a table file: {exc}") from None
        if not isinstance(table, Mapping) or not isinstance(table.get("data"), list):
            raise ApiError(422, f"{name!r} is not a table file")
        data: list[Any] = table["data"]
        return json_response({
            "name": name, "columns": table.get("columns") or [], "total": len(data),
            "offset": offset, "rows": data[offset:offset + limit],
        })

    def _open(self, key: RunKey, name: str) -> tuple[FileRow, Iterator[bytes]]:
        if not name or name.startswith("/") or ".." in name.split("/"):
            raise ApiError(400, f"invalid file name {name!r}")
        row = self.store.get_file(key, name)
        if row is None and name == console_file.NAME:
            log = console_file.describe(self.store, key)
            if log is not None:
                return log[0], console_file.chunks(self.store, key, log[1])
        if row is None:
            raise ApiError(404, f"run {key.path} has no file {name!r}")
        if not row.digest:
            raise ApiError(409, f"file {name!r} of run {key.path} is not uploaded yet")
        return row, self._blob_chunks(row.digest)

    def _blob_chunks(self, digest: str) -> Iterator[bytes]:
        try:
            stream = self.blobs.open(digest)
        except BlobError as exc:
            raise ApiError(503, f"the blob store failed: {exc}") from None

        def chunks() -> Iterator[bytes]:
            with stream:
                while chunk := stream.read(_CHUNK):
                    yield chunk

        return chunks()


def _download_type(mime: str) -> str:
    """Text and markup download as themselves, but never render (the CSP sandbox holds too)."""
    return "application/octet-stream" if mime.startswith(("text/html", "image/svg")) else mime
