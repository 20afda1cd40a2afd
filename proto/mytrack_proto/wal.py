"""Framing of the write-ahead log: a run's records, durable on disk.

File layout::

    MAGIC (8 bytes) | entry | entry | ...
    entry = length (u32 little-endian) | crc32 of payload (u32 LE) | payload

A payload is one serialized ``Record``. A crash can leave a torn tail (a short
header, a short payload, or a payload whose CRC does not match); readers stop
there and `WalWriter` cuts it off when it opens the file, so a torn entry is
never misread. The SDK's offline mode and the service share this module.
"""

from __future__ import annotations

import os
import struct
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

MAGIC = b"MYTWAL1\n"
_HEADER = struct.Struct("<II")
# A sanity cap on one entry: a corrupt length field must not make us allocate GiBs.
MAX_ENTRY_BYTES = 256 * 1024 * 1024


class WalFormatError(Exception):
    """The file is not a mytrack WAL."""


@dataclass(frozen=True)
class WalEntry:
    offset: int  # where the entry starts
    end: int  # where the next entry starts
    payload: bytes


def encode_entry(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def read_entries(path: str, start: int = 0, limit: int | None = None) -> Iterator[WalEntry]:
    """Yields the valid entries from byte offset ``start`` (0: the beginning).

    Stops silently at the end of the file or at the first torn/corrupt entry.
    """
    with open(path, "rb") as f:
        if start <= len(MAGIC):
            if f.read(len(MAGIC)) != MAGIC:
                raise WalFormatError(f"{path} is not a mytrack WAL")
            start = len(MAGIC)
        f.seek(start)
        offset = start
        count = 0
        while limit is None or count < limit:
            header = f.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return
            length, crc = _HEADER.unpack(header)
            if length > MAX_ENTRY_BYTES:
                return
            payload = f.read(length)
            if len(payload) < length or zlib.crc32(payload) != crc:
                return
            end = offset + _HEADER.size + length
            yield WalEntry(offset, end, payload)
            offset = end
            count += 1


def valid_end(path: str) -> tuple[int, bytes | None]:
    """Returns (offset just past the last valid entry, that entry's payload)."""
    end, last = len(MAGIC), None
    for entry in read_entries(path):
        end, last = entry.end, entry.payload
    return end, last


class WalWriter:
    """Appends entries with one write and one fsync per batch (group commit).

    Opening an existing file cuts a torn tail, so that appended entries follow
    the last valid one.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.last_payload: bytes | None = None
        if os.path.exists(path) and os.path.getsize(path) > 0:
            end, self.last_payload = valid_end(path)
            if os.path.getsize(path) != end:
                with open(path, "r+b") as f:
                    f.truncate(end)
                    os.fsync(f.fileno())
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        else:
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(self._fd, MAGIC)
            os.fsync(self._fd)
            _fsync_dir(os.path.dirname(os.path.abspath(path)))
        self.size = os.fstat(self._fd).st_size

    def append(self, payloads: list[bytes], sync: bool = True) -> int:
        """Appends ``payloads`` and (by default) fsyncs; returns the new size."""
        data = b"".join(encode_entry(p) for p in payloads)
        with self._lock:
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]
            if sync:
                os.fdatasync(self._fd)
            self.size += len(data)
            return self.size

    def sync(self) -> None:
        with self._lock:
            os.fdatasync(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
