"""Framing of the write-ahead log: a run's records, durable on disk.

File layout::

    MAGIC (8 bytes) | entry | entry | ...
    entry = length (u32 little-endian) | crc32 of payload (u32 LE) | payload

A payload is one serialized ``Record``. Two kinds of bad bytes are told apart
(LevelDB's log reader makes the same distinction):

* a **torn tail**: the last entry is incomplete or fails its CRC and no intact
  entry follows it. A crash while appending leaves exactly this; readers stop
  there and `WalWriter` cuts it off when it opens the file, so a torn entry is
  never misread.
* **damage**: an entry that fails its CRC (or whose length is absurd) with an
  intact entry after it. A flipped bit must not cost every entry behind it, so
  readers resynchronise: they scan forward byte by byte for the next offset
  where a whole entry verifies, report the bad span as a `WalDamage` and go
  on. The per-entry CRC is what makes the scan safe: a random offset passes it
  with a chance of 2**-32. Empty entries are never resynchronised on (eight
  zero bytes, as a crash can leave, would verify), and records are never empty.

Nothing is deleted silently: `WalWriter` copies a cut tail and every damaged
span to ``<wal>.damaged-<offset>`` before anything else happens to the file.
An append that fails part-way (a full disk) is rolled back to the last good
entry before the error is raised, so nothing unacknowledged stays behind and
later entries never follow a broken one. The SDK's offline mode and the
service share this module.
"""

from __future__ import annotations

import errno
import mmap
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
# errno values that mean "the disk (or the user's quota) is full".
DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})


class WalFormatError(Exception):
    """The file is not a mytrack WAL."""


@dataclass(frozen=True)
class WalEntry:
    offset: int  # where the entry starts
    end: int  # where the next entry starts
    payload: bytes


@dataclass(frozen=True)
class WalDamage:
    """Bytes ``[offset, end)`` of a WAL that hold no intact entry.

    ``tail`` is True for a torn tail (nothing intact follows, up to the end of
    what was read); False for damage with an intact entry at ``end``.
    """

    offset: int
    end: int
    tail: bool

    @property
    def size(self) -> int:
        return self.end - self.offset


def encode_entry(payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def damaged_copy_path(path: str, offset: int) -> str:
    """Where the bytes of a damaged span (or a cut tail) at ``offset`` are kept."""
    return f"{path}.damaged-{offset}"


def _entry_at(data: memoryview, offset: int, stop: int, allow_empty: bool) -> int:
    """The end of the intact entry at ``offset`` (ending by ``stop``), or -1."""
    if offset + _HEADER.size > stop:
        return -1
    length: int
    crc: int
    length, crc = _HEADER.unpack_from(data, offset)
    end = offset + _HEADER.size + length
    if length > MAX_ENTRY_BYTES or end > stop or (length == 0 and not allow_empty):
        return -1
    if zlib.crc32(data[offset + _HEADER.size:end]) != crc:
        return -1
    return end


def scan(path: str, start: int = 0, stop: int | None = None) -> Iterator[WalEntry | WalDamage]:
    """Yields the intact entries of bytes ``[start, stop)`` and the damage between them.

    ``start`` 0 means the beginning (and checks MAGIC); ``stop`` None means the
    end of the file. The last item is a `WalDamage` with ``tail=True`` when the
    region ends in bytes that hold no intact entry.
    """
    with open(path, "rb") as f:
        if start <= len(MAGIC):
            if f.read(len(MAGIC)) != MAGIC:
                raise WalFormatError(f"{path} is not a mytrack WAL")
            start = len(MAGIC)
        size = os.fstat(f.fileno()).st_size
        stop = size if stop is None else min(stop, size)
        if start >= stop:
            return
        # A map, not a read: the applier reads a few new entries of a WAL
        # that may be GiBs long, and a resync scans without copying.
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            data = memoryview(mapped)
            try:
                yield from _scan(data, start, stop)
            finally:
                data.release()


def _scan(data: memoryview, start: int, stop: int) -> Iterator[WalEntry | WalDamage]:
    offset = start
    header, unpack, crc32 = _HEADER.size, _HEADER.unpack_from, zlib.crc32
    while offset < stop:
        # The common case inline (the applier reads every entry through here).
        if offset + header <= stop:
            length, crc = unpack(data, offset)
            end = offset + header + length
            if end <= stop and length <= MAX_ENTRY_BYTES:
                payload = data[offset + header:end]
                if crc32(payload) == crc:
                    yield WalEntry(offset, end, payload.tobytes())
                    offset = end
                    continue
        resync = offset + 1
        while resync < stop and _entry_at(data, resync, stop, allow_empty=False) < 0:
            resync += 1
        yield WalDamage(offset, resync, tail=resync >= stop)
        offset = resync


def read_entries(
    path: str, start: int = 0, limit: int | None = None, stop: int | None = None
) -> Iterator[WalEntry]:
    """Yields the intact entries from byte offset ``start`` (0: the beginning).

    Damaged spans are skipped (the entries after them are read); a torn tail
    ends the reading. `scan` tells what was skipped.
    """
    count = 0
    if limit is not None and limit <= 0:
        return
    for item in scan(path, start, stop):
        if isinstance(item, WalEntry):
            yield item
            count += 1
            if limit is not None and count >= limit:
                return


@dataclass(frozen=True)
class WalExtent:
    """What a whole-file scan found: where appends go and what is damaged."""

    end: int  # just past the last intact entry: a torn tail starts here
    last_payload: bytes | None
    damage: tuple[WalDamage, ...]  # damaged spans before ``end``
    tail: WalDamage | None  # the torn tail, if any


def extent(path: str) -> WalExtent:
    """Scans the whole file (see `scan`)."""
    end, last, damage, tail = len(MAGIC), None, [], None
    for item in scan(path):
        if isinstance(item, WalEntry):
            end, last = item.end, item.payload
        elif item.tail:
            tail = item
        else:
            damage.append(item)
    return WalExtent(end, last, tuple(damage), tail)


def valid_end(path: str) -> tuple[int, bytes | None]:
    """Returns (offset just past the last valid entry, that entry's payload)."""
    found = extent(path)
    return found.end, found.last_payload


def keep_aside(path: str, damage: WalDamage) -> str:
    """Copies the bytes of ``damage`` to `damaged_copy_path` (once); returns that path.

    Best effort: a copy that cannot be written (a full disk) must not stop
    the entries after the damage from being read.
    """
    target = damaged_copy_path(path, damage.offset)
    if os.path.exists(target):
        return target
    try:
        with open(path, "rb") as f:
            f.seek(damage.offset)
            data = f.read(damage.size)
        fd = os.open(target + ".tmp", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(target + ".tmp", target)
    except OSError:
        return ""
    return target


class WalWriter:
    """Appends entries with one write and one fsync per batch (group commit).

    Opening an existing file cuts a torn tail (kept aside first), so that
    appended entries follow the last valid one; damage before it is left in
    place for readers to skip and report. A failed append is rolled back.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.last_payload: bytes | None = None
        self.damage: tuple[WalDamage, ...] = ()
        self._created: tuple[str, int] | None = None  # (folder, generation) until durable
        # Set when a failed append could not be rolled back: the size the file
        # must be cut to before anything else is appended.
        self._rollback_to: int | None = None
        if os.path.exists(path) and os.path.getsize(path) > 0 and not _magic_prefix(path):
            found = extent(path)
            self.last_payload, self.damage = found.last_payload, found.damage
            for damage in found.damage:
                keep_aside(path, damage)
            if found.tail is not None:
                keep_aside(path, found.tail)
                with open(path, "r+b") as f:
                    f.truncate(found.end)
                    os.fsync(f.fileno())
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        else:
            # Made durable with the first synced append, before anything in it is
            # acked: 64 ranks opening runs at once then share a few directory
            # fsyncs (`_DirSync`) instead of making 128 journal commits.
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                _write_all(self._fd, MAGIC)
            except OSError:
                # A half-written MAGIC would make the file unreadable later.
                os.close(self._fd)
                os.unlink(path)
                raise
            os.close(self._fd)
            self._fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            self._created = _DIR_SYNC.created(os.path.dirname(os.path.abspath(path)))
        self.size = os.fstat(self._fd).st_size

    def append(self, payloads: list[bytes], sync: bool = True) -> int:
        """Appends ``payloads`` and (by default) fsyncs; returns the new size.

        Raises:
            OSError: the write or the fsync failed (ENOSPC: the disk is full).
                The file is then cut back to its size before the call (and
                fsynced), so the caller may retry the same payloads later.
        """
        data = b"".join(encode_entry(p) for p in payloads)
        with self._lock:
            if self._rollback_to is not None:
                self._roll_back_locked(self._rollback_to)
            before = self.size
            try:
                _write_all(self._fd, data)
                if sync:
                    self._sync_locked()
            except OSError:
                self._roll_back_locked(before)
                raise
            self.size += len(data)
            return self.size

    def _roll_back_locked(self, size: int) -> None:
        """Cuts the file to ``size`` and makes that durable; remembers it if that fails."""
        self._rollback_to = size
        os.ftruncate(self._fd, size)  # frees space: works on a full disk
        os.fsync(self._fd)
        self._rollback_to = None
        self.size = size

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


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _magic_prefix(path: str) -> bool:
    """True for a file holding a proper prefix of MAGIC: a creation cut short."""
    with open(path, "rb") as f:
        head = f.read(len(MAGIC))
    return len(head) < len(MAGIC) and MAGIC.startswith(head)


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
