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
        self._created: tuple[str, int] | None = None  # (folder, generation) until durable
        if os.path.exists(path) and os.path.getsize(path) > 0:
            end, self.last_payload = valid_end(path)
            if os.path.getsize(path) != end:
                with open(path, "r+b") as f:
                    f.truncate(end)
                    os.fsync(f.fileno())
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        else:
            # Made durable with the first synced append, before anything in it is
            # acked: 64 ranks opening runs at once then share a few directory
            # fsyncs (`_DirSync`) instead of making 128 journal commits.
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            os.write(self._fd, MAGIC)
            self._created = _DIR_SYNC.created(os.path.dirname(os.path.abspath(path)))
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
                self._sync_locked()
            self.size += len(data)
            return self.size

    def sync(self) -> None:
        with self._lock:
            self._sync_locked()

    def _sync_locked(self) -> None:
        os.fdatasync(self._fd)
        if self._created is not None:
            _DIR_SYNC.sync(*self._created)
            self._created = None

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


class _DirSync:
    """Group commit of folder fsyncs: one fsync covers every file created before it began."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._created: dict[str, int] = {}  # folder -> files created in it so far
        self._synced: dict[str, int] = {}  # folder -> files covered by a finished fsync
        self._busy: set[str] = set()  # folders being fsynced now

    def created(self, folder: str) -> tuple[str, int]:
        """Notes a file created in ``folder``; `sync` with the result makes it durable."""
        with self._cond:
            generation = self._created.get(folder, 0) + 1
            self._created[folder] = generation
            return folder, generation

    def sync(self, folder: str, generation: int) -> None:
        with self._cond:
            while self._synced.get(folder, 0) < generation:
                if folder in self._busy:
                    self._cond.wait()
                    continue
                self._busy.add(folder)
                covered = self._created[folder]
                self._cond.release()
                try:
                    _fsync_dir(folder)
                finally:
                    self._cond.acquire()
                    self._busy.discard(folder)
                    self._cond.notify_all()
                self._synced[folder] = max(self._synced.get(folder, 0), covered)


_DIR_SYNC = _DirSync()
