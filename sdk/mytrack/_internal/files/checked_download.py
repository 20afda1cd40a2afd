"""Writing downloaded content into place only once its sha256 is verified.

Shared by the run-file download (``run.restore()``, ``Api`` files) and the
artifact download, so both keep the same promise: a target path holds either
its previous content or the complete, verified new content, never a torn or
corrupt file. The bytes go to a temporary file beside the target (same folder,
so the final `os.replace` is an atomic rename on one file system), hashed as
they are written; only a matching digest replaces the target.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable


class DigestMismatch(Exception):
    """The downloaded content's sha256 is not the one expected; the target is untouched."""

    def __init__(self, actual: str, expected: str) -> None:
        super().__init__(f"content has sha256 {actual}, expected {expected}")
        self.actual = actual
        self.expected = expected


def write_verified(
    chunks: Iterable[bytes], target: str, expected: str | Callable[[], str] | None,
) -> str:
    """Streams ``chunks`` into ``target`` if their sha256 is ``expected``; returns the digest.

    Args:
        chunks: the content; read once, to the end, before anything is replaced.
        target: where the content goes; its folder must exist.
        expected: the sha256 hex digest the content must have; a callable is
            asked after the last chunk (for streams that announce the digest
            on the way); None skips the check (content without a known digest).

    Raises:
        DigestMismatch: the content does not match; the target is left as it was.
        OSError: writing failed; also whatever iterating ``chunks`` raises. The
            temporary file is removed in every case.
    """
    digest = hashlib.sha256()
    fd, temp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".mytrack-")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                out.write(chunk)
        actual = digest.hexdigest()
        wanted = expected() if callable(expected) else expected
        if wanted is not None and actual != wanted:
            raise DigestMismatch(actual, wanted)
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.unlink(temp)
    return actual
