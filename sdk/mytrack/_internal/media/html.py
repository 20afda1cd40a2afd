"""``mytrack.Html``: an HTML document in ``media/html/``."""

from __future__ import annotations

import os
from typing import Any

from mytrack._internal.media.base import Media, MediaWriter, bad, is_path, read_path


class Html(Media):
    """HTML: a string of HTML, a path to an .html file, or an open file.

    Args:
        data: the HTML.
        inject: wrap a fragment (no ``<html>`` element) into a complete UTF-8
            document, so that it renders the same in any viewer; False stores
            the text exactly as given.
    """

    kind = "html"
    type_name = "html-file"

    def __init__(self, data: Any, inject: bool = True) -> None:
        self._data = data
        self._inject = inject

    def to_descriptor(self, sink: MediaWriter | None, key: str) -> dict[str, Any]:
        data = self._data
        if is_path(data) and os.fspath(data).lower().endswith((".html", ".htm")) \
                and os.path.isfile(os.fspath(data)):
            content, _ = read_path(key, "Html", data)
            text = content.decode("utf-8", errors="replace")
        elif isinstance(data, str):
            text = data
        elif hasattr(data, "read"):
            read = data.read()
            text = read.decode("utf-8", errors="replace") if isinstance(read, bytes) else str(read)
        else:
            raise bad(key, "Html", "a string of HTML, a path to an .html file or an open file",
                      type(data).__name__)
        if self._inject and "<html" not in text[:2048].lower():
            text = ('<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n<body>\n'
                    f"{text}\n</body></html>\n")
        return self._file_descriptor(sink, key, "html", text.encode("utf-8"))
