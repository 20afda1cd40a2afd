"""WAL damage at the framing level, property-based: any single byte flip or
truncation of a WAL costs at most the one entry it hits, and is reported.

Fast (no service): the end-to-end counterpart is test_wal_damage_e2e.py.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator

from hypothesis import given, settings
from hypothesis import strategies as st

from mytrack_common.wal import (
    MAGIC,
    WalDamage,
    WalEntry,
    WalWriter,
    damaged_copy_path,
    encode_entry,
    read_entries,
    scan,
)

# Records are never empty (each carries its seq), so neither are these payloads.
PAYLOADS = st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=25)


def _wal(payloads: list[bytes]) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "run.wal")
        writer = WalWriter(path)
        writer.append(payloads)
        writer.close()
        yield path


def _spans(payloads: list[bytes]) -> list[tuple[int, int]]:
    """[start, end) of each entry in a WAL holding ``payloads``."""
    spans, offset = [], len(MAGIC)
    for payload in payloads:
        end = offset + len(encode_entry(payload))
        spans.append((offset, end))
        offset = end
    return spans


@settings(max_examples=300, deadline=None)
@given(payloads=PAYLOADS, where=st.floats(0, 1, exclude_max=True), bit=st.integers(0, 7))
def test_a_flipped_bit_costs_only_the_entry_it_hits(
    payloads: list[bytes], where: float, bit: int
) -> None:
    """A bit flipped anywhere after MAGIC: every other entry is read back in order, and the damage is reported where it
    is."""
    for path in _wal(payloads):
        spans = _spans(payloads)
        offset = len(MAGIC) + int(where * (spans[-1][1] - len(MAGIC)))
        hit = next(i for i, (start, end) in enumerate(spans) if start <= offset < end)
        data = bytearray(open(path, "rb").read())
        data[offset] ^= 1 << bit
        with open(path, "wb") as f:
            f.write(bytes(data))

        intact = [p for i, p in enumerate(payloads) if i != hit]
        assert [e.payload for e in read_entries(path)] == intact
        items = list(scan(path))
        damage = [i for i in items if isinstance(i, WalDamage)]
        assert len(damage) == 1
        assert damage[0].offset == spans[hit][0]
        assert damage[0].end == spans[hit][1] or (damage[0].tail and hit == len(payloads) - 1)
        assert damage[0].tail == (hit == len(payloads) - 1)

        # Reopened for appending: nothing intact is lost, the bad bytes are kept aside.
        writer = WalWriter(path)
        writer.append([b"after"])
        writer.close()
        assert [e.payload for e in read_entries(path)] == [*intact, b"after"]
        with open(damaged_copy_path(path, spans[hit][0]), "rb") as f:
            kept = f.read()
        assert kept == bytes(data[spans[hit][0]:spans[hit][1]])


@settings(max_examples=300, deadline=None)
@given(payloads=PAYLOADS, where=st.floats(0, 1))
def test_a_truncation_keeps_every_whole_entry(payloads: list[bytes], where: float) -> None:
    """A WAL cut at any offset after MAGIC: every entry wholly before the cut is read back; a partial one is reported
    as a torn tail, cut by the writer and kept aside."""
    for path in _wal(payloads):
        spans = _spans(payloads)
        cut = len(MAGIC) + int(where * (spans[-1][1] - len(MAGIC)))
        os.truncate(path, cut)
        whole = [p for p, (_, end) in zip(payloads, spans, strict=True) if end <= cut]
        assert [e.payload for e in read_entries(path)] == whole
        damage = [i for i in scan(path) if isinstance(i, WalDamage)]
        boundary = cut == len(MAGIC) or any(end == cut for _, end in spans)
        if boundary:
            assert damage == []
        else:
            start = next(s for s, e in spans if s < cut < e)
            assert damage == [WalDamage(start, cut, tail=True)]
        writer = WalWriter(path)
        writer.append([b"after"])
        writer.close()
        assert [e.payload for e in read_entries(path)] == [*whole, b"after"]


@settings(max_examples=100, deadline=None)
@given(payloads=PAYLOADS, zeros=st.integers(1, 64))
def test_zeros_after_a_torn_entry_are_not_read_as_entries(payloads: list[bytes], zeros: int) -> None:
    """A crash can leave a torn entry followed by zero bytes: no empty entry is invented after it."""
    for path in _wal(payloads):
        with open(path, "ab") as f:
            f.write(encode_entry(b"torn record")[:6] + b"\0" * zeros)
        items = list(scan(path))
        assert [i.payload for i in items if isinstance(i, WalEntry)] == payloads
        assert isinstance(items[-1], WalDamage) and items[-1].tail
