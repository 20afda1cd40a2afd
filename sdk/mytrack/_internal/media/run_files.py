"""Media files of a run: where log() writes them and how the service hears of them.

`MediaSink` is bound to a run: its ``files/`` folder, a way to read the
current step (for file names) and a callback that sends a ``Files`` record.
Each log() call that holds media gets its own `MediaBatch`: the files are
written as the values are converted, and the batch is then either committed
(one ``Files`` record, policy "now", so the service uploads them at once) or
discarded (a later value of the same call was refused: the files that call
created are removed, and nothing of it is recorded).

Names: ``media/<kind>/<key>_<step>_<sha256[:20]>.<ext>`` inside ``files/``;
each "/" of the key is a sub-folder, other unusual characters become "_".
Content-addressed names make a file written twice (same key, step and
content) one file.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

from mytrack.errors import UsageError

# A Files record's entries: (name in the run, path to read, policy).
FileEntries = Sequence[tuple[str, str, str]]

_UNSAFE = re.compile(r"[^A-Za-z0-9._=+-]+")
_MAX_SEGMENT = 120


class MediaSink:
    """Writes media files for one run; one per run, shared by every thread."""

    def __init__(
        self, files_dir: str, step: Callable[[], int], send: Callable[[FileEntries], None]
    ) -> None:
        self.files_dir = files_dir
        self._step = step
        self._send = send

    def batch(self) -> MediaBatch:
        """A batch for one log() call, at the step the run is at now."""
        return MediaBatch(self, self._step())

    def send(self, entries: FileEntries) -> None:
        self._send(entries)


class MediaBatch:
    """The files one log() call writes; see the module docstring."""

    def __init__(self, sink: MediaSink, step: int) -> None:
        self._sink = sink
        self._step = step
        self._entries: list[tuple[str, str, str]] = []
        self._created: list[str] = []

    @property
    def step(self) -> int:
        return self._step

    def write(self, kind: str, key: str, ext: str, data: bytes) -> dict[str, Any]:
        """Writes ``data`` (atomically); returns ``{"path", "sha256", "size"}``."""
        digest = hashlib.sha256(data).hexdigest()
        name = media_name(kind, key, self._step, digest, ext)
        target = os.path.join(self._sink.files_dir, *name.split("/"))
        if not os.path.exists(target):
            folder = os.path.dirname(target)
            try:
                os.makedirs(folder, exist_ok=True)
                fd, temp = tempfile.mkstemp(dir=folder, prefix=".mytrack-")
            except OSError as exc:
                raise _unwritable(key, folder, exc) from exc
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(data)
                os.replace(temp, target)
            except BaseException as exc:
                if os.path.exists(temp):
                    os.unlink(temp)
                if isinstance(exc, OSError):
                    raise _unwritable(key, folder, exc) from exc
                raise
            self._created.append(target)
        self._entries.append((name, target, "now"))
        return {"path": name, "sha256": digest, "size": len(data)}

    def convert(self, value: Any, name: str) -> Any:
        from mytrack._internal.run.values import convert_value

        return convert_value(value, name, self)

    def commit(self) -> None:
        """Tells the service about the files written (one Files record)."""
        if self._entries:
            self._sink.send(list(dict.fromkeys(self._entries)))
        self._entries, self._created = [], []

    def discard(self) -> None:
        """Removes the files this batch created; nothing is sent."""
        for path in self._created:
            try:
                os.unlink(path)
            except OSError:
                pass
        self._entries, self._created = [], []


def media_name(kind: str, key: str, step: int, digest: str, ext: str) -> str:
    """``media/<kind>/<key folders>/<last part>_<step>_<digest[:20]>.<ext>``."""
    parts = [_segment(p) for p in key.split("/")]
    parts[-1] = f"{parts[-1]}_{step}_{digest[:20]}.{ext}"
    return "/".join(["media", kind, *parts])


def _segment(part: str) -> str:
    safe = _UNSAFE.sub("_", part)[:_MAX_SEGMENT]
    if not safe.strip("."):
        safe = "_" * max(1, len(safe))  # "", "." and ".." would escape or vanish
    return safe


def _unwritable(key: str, folder: str, exc: OSError) -> UsageError:
    """A media file that cannot be written (a full disk): the call is refused whole."""
    return UsageError(
        f"log(): the media file of {key!r} cannot be written in {folder}: "
        f"{exc.strerror or exc}; nothing of this call was logged"
    )
