"""``output.log``: a run's console lines, served as a virtual file.

The lines live in the store's console stream (`MetadataStore.read_console`);
`ListFiles` and `ReadFile` show them as one more file of the run, each line
followed by a newline, UTF-8. Size and sha256 are computed by reading the
lines once; the content is then read up to the same last line, so a run that
is still printing never yields a file that disagrees with its digest. A file
the user saved under the same name wins over the virtual one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from mytrack_service.store.base import FileRow, MetadataStore, RunKey

NAME = "output.log"
_CHUNK_BYTES = 1 << 20


def describe(store: MetadataStore, key: RunKey) -> tuple[FileRow, int] | None:
    """The log's file row and its last line number; None when the run printed nothing."""
    digest = hashlib.sha256()
    size = 0
    last = -1
    updated = 0.0
    parts: list[bytes] = []
    for data, line, timestamp in _encoded(store, key, None):
        parts.append(data)
        size += len(data)
        last, updated = line, timestamp
        if len(parts) >= 4096:  # one update per many lines: hashing per line is slow
            digest.update(b"".join(parts))
            parts = []
    digest.update(b"".join(parts))
    if last < 0:
        return None
    row = FileRow(
        key, NAME, policy="end", digest=digest.hexdigest(), size=size, mime="text/plain",
        updated_at=updated, pending=False,
    )
    return row, last


def chunks(store: MetadataStore, key: RunKey, last_line: int) -> Iterator[bytes]:
    """The log's content up to ``last_line``, in chunks of about 1 MiB."""
    parts: list[bytes] = []
    size = 0
    for data, _, _ in _encoded(store, key, last_line):
        parts.append(data)
        size += len(data)
        if size >= _CHUNK_BYTES:
            yield b"".join(parts)
            parts, size = [], 0
    if parts:
        yield b"".join(parts)


def _encoded(
    store: MetadataStore, key: RunKey, last_line: int | None
) -> Iterator[tuple[bytes, int, float]]:
    """(line + newline as UTF-8, line number, timestamp), in order."""
    for line in store.read_console(key, None, None, last_line):
        data = (line["text"] + "\n").encode("utf-8", "replace")
        yield data, int(line["_line"]), float(line["_timestamp"])
