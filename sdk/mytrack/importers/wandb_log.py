"""The framing of W&B's ``.wandb`` transaction log, read without W&B's code.

Recent ``wandb`` releases write the file from their Go core and ship no Python
reader of it, so the importer reads the framing itself. It is LevelDB's log
format after a 7-byte file header::

    header := ":W&B" | magic 0xBEE1 (u16 LE) | version (u8)
    then 32 KiB blocks of fragments:
    fragment := checksum (u32 LE) | length (u16 LE) | type (u8) | data[length]
    type: FULL 1, FIRST 2, MIDDLE 3, LAST 4; fewer than 7 bytes left in a
    block are zero padding.

The checksum of version 0, the one ``wandb`` 0.31 writes (checked against
files ``wandb`` writes in tests/integration/test_import_wandb.py), is the IEEE
CRC-32 (``zlib.crc32``) of the type byte and the data, unmasked; LevelDB itself
uses a masked CRC-32C. A fragment that fails its checksum costs the rest of
its block (LevelDB's reader does the same) and is reported, never misread; a
torn tail (a run killed while writing) ends the log.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from mytrack.errors import InvalidValueError

BLOCK = 32 * 1024
_FILE_HEADER = struct.Struct("<4sHB")
_FRAGMENT = struct.Struct("<IHB")
_IDENT, _MAGIC = b":W&B", 0xBEE1
SUPPORTED_VERSIONS = (0,)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


@dataclass(frozen=True)
class Damage:
    """Bytes of the log that held no intact record, and why."""

    offset: int
    reason: str


def read_records(path: str) -> Iterator[bytes | Damage]:
    """Yields each record's bytes (a serialized ``wandb`` Record), and `Damage`
    where the log could not be read.

    Raises:
        InvalidValueError: the file is not a W&B transaction log of a known version.
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < _FILE_HEADER.size:
        raise InvalidValueError(f"{path} is not a W&B transaction log (too short)")
    ident, magic, version = _FILE_HEADER.unpack_from(data, 0)
    if ident != _IDENT or magic != _MAGIC:
        raise InvalidValueError(f"{path} is not a W&B transaction log (no ':W&B' header)")
    if version not in SUPPORTED_VERSIONS:
        raise InvalidValueError(
            f"{path} is a W&B transaction log of version {version}; this reader knows "
            f"version(s) {', '.join(map(str, SUPPORTED_VERSIONS))}"
        )
    yield from _records(data, _FILE_HEADER.size)


def _records(data: bytes, offset: int) -> Iterator[bytes | Damage]:
    view = memoryview(data)
    pending: list[bytes] | None = None  # fragments of a record begun by FIRST
    while offset + _FRAGMENT.size <= len(data):
        left = BLOCK - offset % BLOCK
        if left < _FRAGMENT.size:
            offset += left  # the block's zero trailer
            continue
        checksum, length, kind = _FRAGMENT.unpack_from(data, offset)
        start, end = offset + _FRAGMENT.size, offset + _FRAGMENT.size + length
        if kind == 0 and length == 0:
            offset += left  # zeros: preallocated space, or padding to the block's end
            continue
        if end > len(data) or end - offset > left or kind not in (FULL, FIRST, MIDDLE, LAST):
            if end > len(data) and end - offset <= left:
                yield Damage(offset, "the log ends in the middle of a record (a torn tail)")
                return
            yield Damage(offset, "a fragment header that makes no sense; the rest of its block skipped")
            offset, pending = offset + left, None
            continue
        if zlib.crc32(view[start:end], zlib.crc32(bytes((kind,)))) != checksum:
            yield Damage(offset, "a fragment failed its checksum; the rest of its block skipped")
            offset, pending = offset + left, None
            continue
        offset = end
        fragment = bytes(view[start:end])
        if kind == FULL:
            if pending is not None:
                yield Damage(start, "a record's fragments were cut short")
            pending = None
            yield fragment
        elif kind == FIRST:
            if pending is not None:
                yield Damage(start, "a record's fragments were cut short")
            pending = [fragment]
        elif pending is None:
            yield Damage(start, "a record fragment without its beginning")
        elif kind == MIDDLE:
            pending.append(fragment)
        else:
            pending.append(fragment)
            yield b"".join(pending)
            pending = None
    if pending is not None:
        yield Damage(offset, "the log ends in the middle of a record (a torn tail)")
