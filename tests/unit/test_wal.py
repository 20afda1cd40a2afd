"""Unit tests for the write-ahead log framing (mytrack_common.wal)."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from mytrack_common.wal import (
    MAGIC,
    MAX_ENTRY_BYTES,
    WalDamage,
    WalEntry,
    WalFormatError,
    WalWriter,
    damaged_copy_path,
    encode_entry,
    read_entries,
    scan,
    valid_end,
)

HEADER = 8  # u32 length + u32 crc32


def _payloads(path: Path, start: int = 0) -> list[bytes]:
    return [entry.payload for entry in read_entries(str(path), start)]


def _write(path: Path, payloads: list[bytes]) -> int:
    writer = WalWriter(str(path))
    try:
        return writer.append(payloads)
    finally:
        writer.close()


def test_encode_entry_layout() -> None:
    """An entry is u32 LE length, u32 LE crc32 of the payload, then the payload."""
    payload = b"hello wal"
    assert encode_entry(payload) == struct.pack("<II", 9, zlib.crc32(payload)) + payload
    assert encode_entry(b"") == struct.pack("<II", 0, 0)


def test_new_file_starts_with_magic(tmp_path: Path) -> None:
    """A fresh WAL holds exactly MAGIC and reads as no entries."""
    path = tmp_path / "a.wal"
    writer = WalWriter(str(path))
    assert writer.size == len(MAGIC)
    assert writer.last_payload is None
    writer.close()
    assert path.read_bytes() == MAGIC
    assert list(read_entries(str(path))) == []
    assert valid_end(str(path)) == (len(MAGIC), None)


def test_round_trip_offsets_and_sizes(tmp_path: Path) -> None:
    """Appended payloads come back in order, with exact offsets, including empty and binary ones."""
    path = tmp_path / "a.wal"
    payloads = [b"one", b"", bytes(range(256)), b"x" * 70_000]
    writer = WalWriter(str(path))
    size = writer.append(payloads[:2])
    assert size == len(MAGIC) + 2 * HEADER + 3
    size = writer.append(payloads[2:], sync=False)
    writer.sync()
    writer.close()
    expected_size = len(MAGIC) + sum(HEADER + len(p) for p in payloads)
    assert size == expected_size == path.stat().st_size
    entries = list(read_entries(str(path)))
    assert [e.payload for e in entries] == payloads
    offset = len(MAGIC)
    for entry, payload in zip(entries, payloads, strict=True):
        assert entry == WalEntry(offset, offset + HEADER + len(payload), payload)
        offset = entry.end
    assert valid_end(str(path)) == (expected_size, payloads[-1])


def test_read_limit(tmp_path: Path) -> None:
    """read_entries(limit=n) yields at most n entries."""
    path = tmp_path / "a.wal"
    _write(path, [b"a", b"b", b"c"])
    assert [e.payload for e in read_entries(str(path), limit=2)] == [b"a", b"b"]
    assert [e.payload for e in read_entries(str(path), limit=0)] == []


def test_read_from_offset(tmp_path: Path) -> None:
    """Reading from an entry's end offset yields exactly the entries after it; 0 means the start."""
    path = tmp_path / "a.wal"
    _write(path, [b"p0", b"p1", b"p2", b"p3"])
    entries = list(read_entries(str(path)))
    assert _payloads(path, 0) == [b"p0", b"p1", b"p2", b"p3"]
    assert _payloads(path, len(MAGIC)) == [b"p0", b"p1", b"p2", b"p3"]
    assert _payloads(path, entries[0].end) == [b"p1", b"p2", b"p3"]
    assert _payloads(path, entries[2].end) == [b"p3"]
    assert _payloads(path, entries[3].end) == []
    resumed = list(read_entries(str(path), entries[1].end))
    assert resumed[0] == entries[2]


def test_non_wal_file_raises(tmp_path: Path) -> None:
    """A non-WAL file raises WalFormatError when read from the start."""
    path = tmp_path / "not.wal"
    path.write_bytes(b"this is not a write-ahead log at all")
    with pytest.raises(WalFormatError, match="not a mytrack WAL"):
        list(read_entries(str(path)))
    with pytest.raises(WalFormatError):
        valid_end(str(path))


def test_writer_refuses_non_wal_file(tmp_path: Path) -> None:
    """WalWriter on an existing non-WAL file raises WalFormatError and leaves it untouched."""
    path = tmp_path / "not.wal"
    content = b"PK\x03\x04 some zip, not a WAL" * 3
    path.write_bytes(content)
    with pytest.raises(WalFormatError):
        WalWriter(str(path))
    assert path.read_bytes() == content


def test_short_magic_is_not_a_wal(tmp_path: Path) -> None:
    """A file holding only part of MAGIC is not a WAL."""
    path = tmp_path / "short.wal"
    path.write_bytes(MAGIC[:4])
    with pytest.raises(WalFormatError):
        list(read_entries(str(path)))


def _short_header(good: bytes, bad_payload: bytes) -> bytes:
    return good + encode_entry(bad_payload)[:5]


def _short_payload(good: bytes, bad_payload: bytes) -> bytes:
    return good + encode_entry(bad_payload)[:-3]


def _crc_mismatch(good: bytes, bad_payload: bytes) -> bytes:
    entry = bytearray(encode_entry(bad_payload))
    entry[-1] ^= 0xFF
    return good + bytes(entry)


def _bad_crc_field(good: bytes, bad_payload: bytes) -> bytes:
    return good + struct.pack("<II", len(bad_payload), zlib.crc32(bad_payload) ^ 1) + bad_payload


def _huge_length(good: bytes, bad_payload: bytes) -> bytes:
    return good + struct.pack("<II", 0xFFFF_FFF0, 0) + bad_payload


def _over_cap_length(good: bytes, bad_payload: bytes) -> bytes:
    return good + struct.pack("<II", MAX_ENTRY_BYTES + 1, 0) + bad_payload


def _length_past_eof(good: bytes, bad_payload: bytes) -> bytes:
    # A plausible length whose payload the crash cut short (zeros, as a
    # filesystem may leave after a crash).
    return good + struct.pack("<II", 16, 0) + b"\0" * 7


TORN_TAILS: dict[str, Callable[[bytes, bytes], bytes]] = {
    "short_header": _short_header,
    "short_payload": _short_payload,
    "crc_mismatch_payload": _crc_mismatch,
    "crc_mismatch_field": _bad_crc_field,
    "huge_bogus_length": _huge_length,
    "length_over_cap": _over_cap_length,
    "length_past_eof": _length_past_eof,
}


@pytest.mark.parametrize("kind", sorted(TORN_TAILS))
def test_torn_tail_detected_cut_and_appended_after(tmp_path: Path, kind: str) -> None:
    """A torn tail is never read; WalWriter truncates it and appends right after the last valid entry."""
    path = tmp_path / "a.wal"
    good_payloads = [b"first", b"second" * 10, b"third"]
    _write(path, good_payloads)
    good = path.read_bytes()
    path.write_bytes(TORN_TAILS[kind](good, b"torn-record-payload"))
    assert path.stat().st_size > len(good)

    assert _payloads(path) == good_payloads
    assert valid_end(str(path)) == (len(good), b"third")

    writer = WalWriter(str(path))
    assert path.stat().st_size == len(good)
    assert writer.size == len(good)
    assert writer.last_payload == b"third"
    size = writer.append([b"fourth", b"fifth"])
    writer.close()
    assert size == len(good) + 2 * HEADER + len(b"fourth") + len(b"fifth")
    assert path.read_bytes() == good + encode_entry(b"fourth") + encode_entry(b"fifth")
    assert _payloads(path) == [*good_payloads, b"fourth", b"fifth"]


def test_torn_first_entry_cut_to_magic(tmp_path: Path) -> None:
    """A WAL whose only entry is torn is cut back to MAGIC and accepts new entries."""
    path = tmp_path / "a.wal"
    path.write_bytes(MAGIC + encode_entry(b"only")[:-1])
    assert _payloads(path) == []
    writer = WalWriter(str(path))
    assert writer.last_payload is None
    assert path.read_bytes() == MAGIC
    writer.append([b"new"])
    writer.close()
    assert _payloads(path) == [b"new"]


def test_corrupt_middle_entry_is_skipped_and_kept_aside(tmp_path: Path) -> None:
    """A CRC mismatch in the middle skips that entry alone: the reader resynchronises on the
    next one; the writer keeps the file whole and copies the damaged bytes aside."""
    path = tmp_path / "a.wal"
    _write(path, [b"aaaa", b"bbbb", b"cccc"])
    entries = list(read_entries(str(path)))
    data = bytearray(path.read_bytes())
    data[entries[1].offset + HEADER] ^= 0x01  # flip a bit of b"bbbb"
    path.write_bytes(bytes(data))
    assert _payloads(path) == [b"aaaa", b"cccc"]
    assert [i for i in scan(str(path)) if isinstance(i, WalDamage)] == [
        WalDamage(entries[1].offset, entries[2].offset, tail=False)
    ]
    writer = WalWriter(str(path))
    assert writer.last_payload == b"cccc"
    assert writer.damage == (WalDamage(entries[1].offset, entries[2].offset, tail=False),)
    writer.append([b"dddd"])
    writer.close()
    assert _payloads(path) == [b"aaaa", b"cccc", b"dddd"]
    kept = Path(damaged_copy_path(str(path), entries[1].offset))
    assert kept.read_bytes() == bytes(data[entries[1].offset:entries[2].offset])


def test_torn_tail_is_kept_aside_when_cut(tmp_path: Path) -> None:
    """The bytes of a torn tail that WalWriter cuts are copied to <wal>.damaged-<offset> first."""
    path = tmp_path / "a.wal"
    _write(path, [b"first"])
    good = path.read_bytes()
    torn = encode_entry(b"half-written")[:-4]
    path.write_bytes(good + torn)
    WalWriter(str(path)).close()
    assert path.read_bytes() == good
    assert Path(damaged_copy_path(str(path), len(good))).read_bytes() == torn


def test_failed_append_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A write that fails part-way (ENOSPC) leaves the file as it was before the call; a
    retry appends after the last good entry."""
    import errno

    from mytrack_common import wal

    path = tmp_path / "a.wal"
    writer = WalWriter(str(path))
    writer.append([b"good"])
    before = path.read_bytes()
    real_write = wal.os.write
    calls = {"n": 0}

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 1:
            return real_write(fd, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(wal.os, "write", half_then_full)
    with pytest.raises(OSError) as caught:
        writer.append([b"x" * 1000, b"y" * 1000])
    assert caught.value.errno == errno.ENOSPC
    assert path.read_bytes() == before
    assert writer.size == len(before)
    monkeypatch.setattr(wal.os, "write", real_write)
    writer.append([b"after"])
    writer.close()
    assert _payloads(path) == [b"good", b"after"]


def test_failed_fsync_is_rolled_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries written but not fsynced (fdatasync failed) are cut off again: nothing unsynced stays."""
    import errno

    from mytrack_common import wal

    path = tmp_path / "a.wal"
    writer = WalWriter(str(path))
    writer.append([b"good"])

    def fail(fd: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(wal.os, "fdatasync", fail)
    with pytest.raises(OSError):
        writer.append([b"lost"])
    monkeypatch.undo()
    writer.close()
    assert _payloads(path) == [b"good"]


def test_failed_rollback_is_retried_before_the_next_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When even the rollback fails, the next append first cuts the file back, then appends."""
    import errno

    from mytrack_common import wal

    path = tmp_path / "a.wal"
    writer = WalWriter(str(path))
    writer.append([b"good"])
    good_size = writer.size

    def fail(*args: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(wal.os, "fdatasync", fail)
    monkeypatch.setattr(wal.os, "ftruncate", fail)
    with pytest.raises(OSError):
        writer.append([b"lost"])
    assert path.stat().st_size > good_size  # the bytes are still there
    monkeypatch.undo()
    writer.append([b"next"])
    writer.close()
    assert _payloads(path) == [b"good", b"next"]


def test_creation_cut_short_is_restarted(tmp_path: Path) -> None:
    """A file holding part of MAGIC (its creation failed) is a fresh WAL to the writer."""
    path = tmp_path / "a.wal"
    path.write_bytes(MAGIC[:3])
    writer = WalWriter(str(path))
    writer.append([b"x"])
    writer.close()
    assert path.read_bytes() == MAGIC + encode_entry(b"x")


def test_empty_existing_file_gets_magic(tmp_path: Path) -> None:
    """An existing empty file (created but never written) becomes a fresh WAL."""
    path = tmp_path / "a.wal"
    path.touch()
    writer = WalWriter(str(path))
    writer.append([b"x"])
    writer.close()
    assert path.read_bytes() == MAGIC + encode_entry(b"x")


def test_many_appends_then_reopen(tmp_path: Path) -> None:
    """Thousands of appended entries survive close and reopen, and appends continue after them."""
    path = tmp_path / "a.wal"
    writer = WalWriter(str(path))
    expected: list[bytes] = []
    for batch in range(50):
        payloads = [f"rec-{batch}-{i}".encode() * (1 + i % 5) for i in range(40)]
        writer.append(payloads, sync=(batch % 10 == 0))
        expected.extend(payloads)
    writer.sync()
    size = writer.size
    writer.close()
    assert size == path.stat().st_size
    assert _payloads(path) == expected

    reopened = WalWriter(str(path))
    assert reopened.size == size
    assert reopened.last_payload == expected[-1]
    reopened.append([b"after-reopen"])
    reopened.close()
    assert _payloads(path) == [*expected, b"after-reopen"]
    assert path.stat().st_size == size + HEADER + len(b"after-reopen")


def test_new_file_is_private(tmp_path: Path) -> None:
    """A new WAL file is created with mode 0600."""
    path = tmp_path / "a.wal"
    WalWriter(str(path)).close()
    assert path.stat().st_mode & 0o777 == 0o600


def test_close_twice_is_harmless(tmp_path: Path) -> None:
    """close() twice does not raise and the file keeps its content."""
    path = tmp_path / "a.wal"
    writer = WalWriter(str(path))
    writer.append([b"a"])
    writer.close()
    writer.close()
    assert _payloads(path) == [b"a"]


def test_a_new_wal_is_made_durable_by_its_first_synced_append(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Creating a WAL fsyncs nothing; its first synced append fsyncs the file, then its folder, once."""
    from mytrack_common import wal

    events: list[str] = []
    monkeypatch.setattr(wal.os, "fdatasync", lambda fd: events.append("file"))
    monkeypatch.setattr(wal, "_fsync_dir", lambda path: events.append(f"dir {path}"))
    writer = WalWriter(str(tmp_path / "a.wal"))
    try:
        assert events == []
        writer.append([b"one"], sync=False)
        assert events == []
        writer.append([b"two"])
        assert events == ["file", f"dir {tmp_path}"]
        writer.append([b"three"])
        writer.sync()
        assert events == ["file", f"dir {tmp_path}", "file", "file"]
    finally:
        writer.close()
    assert _payloads(tmp_path / "a.wal") == [b"one", b"two", b"three"]
    events.clear()
    reopened = WalWriter(str(tmp_path / "a.wal"))  # an existing WAL: its entry is durable
    try:
        reopened.append([b"four"])
        assert events == ["file"]
    finally:
        reopened.close()


def test_folder_fsyncs_of_wals_created_together_are_shared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """16 WALs created in one folder, then synced from 16 threads at once, need far fewer than 16 folder fsyncs, and
    each returns only after an fsync that began after its creation."""
    import threading

    from mytrack_common import wal

    lock = threading.Lock()
    fsyncs: list[int] = []  # files created when each folder fsync began
    created = 0
    gate = threading.Event()

    def slow_fsync(path: str) -> None:
        with lock:
            fsyncs.append(created)
        gate.wait(10)  # the first fsync is in progress while every thread arrives

    monkeypatch.setattr(wal.os, "fdatasync", lambda fd: None)
    monkeypatch.setattr(wal, "_fsync_dir", slow_fsync)
    writers = []
    for i in range(16):
        writers.append(WalWriter(str(tmp_path / f"{i}.wal")))
        with lock:
            created += 1
    covered_at_return: list[int] = []
    arrived = threading.Barrier(17)

    def append(writer: WalWriter) -> None:
        arrived.wait(10)
        writer.append([b"x"])
        with lock:
            covered_at_return.append(fsyncs[-1])

    threads = [threading.Thread(target=append, args=(w,)) for w in writers]
    for thread in threads:
        thread.start()
    arrived.wait(10)
    gate.set()
    for thread in threads:
        thread.join(10)
    for writer in writers:
        writer.close()
    assert len(covered_at_return) == 16
    assert 1 <= len(fsyncs) <= 2, fsyncs
    assert all(covered == 16 for covered in covered_at_return)
