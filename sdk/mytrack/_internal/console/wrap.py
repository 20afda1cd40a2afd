"""Stream wrapping ("wrap" mode): the ``write`` of sys.stdout and sys.stderr, replaced.

Where descriptor capture is impossible (pytest capturing, Jupyter, an IDE
console) the ``write`` method of the ``sys.stdout`` and ``sys.stderr``
objects is replaced, on the objects themselves, by one that calls the
original and hands a copy to the capture. Identity, ``isatty``,
``encoding``, ``fileno`` and ``flush`` stay the objects' own; writes through
``.buffer`` and by child processes are not seen.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

logger = logging.getLogger("mytrack")

STREAMS = ("stdout", "stderr")

Write = Callable[[str], int]
# (stream index, the object's own write) -> the write that replaces it
MakeWrite = Callable[[int, Write], Write]


class StreamWrap:
    """The ``write`` methods this capture replaced, and how to put them back."""

    def __init__(self) -> None:
        self._patched: list[tuple[Any, Write]] = []  # (stream object, our write)

    def install(self, make_write: MakeWrite) -> bool:
        """Replaces the streams' ``write``; whether any stream could be wrapped."""
        for index, name in enumerate(STREAMS):
            stream = getattr(sys, name, None)
            if stream is None:
                continue
            write = make_write(index, stream.write)
            try:
                stream.write = write
            except (AttributeError, TypeError):  # a stream object that takes no attributes
                logger.debug("console: cannot wrap sys.%s (%s)", name, type(stream).__name__)
                continue
            self._patched.append((stream, write))
        return bool(self._patched)

    def remove(self) -> None:
        """Puts the streams' own ``write`` back, where ours is still in place."""
        for stream, write in self._patched:
            # Only ours: someone may have replaced it since, and keeps theirs.
            if getattr(stream, "__dict__", {}).get("write") is write:
                try:
                    del stream.write
                except AttributeError:
                    pass
        self._patched = []

    def write_past(self, stream: Any, text: str) -> bool:
        """Writes ``text`` with the class's ``write`` of a wrapped ``stream``; False if not ours."""
        for patched, _ in self._patched:
            if patched is stream:
                type(stream).write(stream, text)
                return True
        return False
