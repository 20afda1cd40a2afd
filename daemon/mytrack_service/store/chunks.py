"""Per-key history chunks: a key's (step, value) series in blocks of CHUNK steps.

A chunk is stored as two blobs. Steps are little-endian int64s. Values are
``F`` + little-endian float64s when every value is a float (exact, NaN and
+-Infinity included, and far cheaper than printing floats as JSON), else
``J`` + a JSON array.
"""

from __future__ import annotations

import bisect
import itertools
import json
import sys
from array import array
from collections.abc import Iterator, Mapping
from typing import Any

CHUNK = 1024  # steps per chunk
Series = tuple[list[int], Any]  # (ascending steps, values: a list or a float64 array)

_ENCODER = json.JSONEncoder(allow_nan=True, separators=(",", ":"))


_BIG_ENDIAN = sys.byteorder == "big"
_FLOATS = {float}


def _pack(typecode: str, values: list[Any]) -> bytes:
    packed = array(typecode, values)
    if _BIG_ENDIAN:
        packed.byteswap()
    return packed.tobytes()


def _unpack(typecode: str, data: bytes) -> list[Any]:
    unpacked = array(typecode, data)
    if _BIG_ENDIAN:
        unpacked.byteswap()
    return unpacked.tolist()


def encode_steps(steps: list[int]) -> bytes:
    return _pack("q", steps)


def decode_steps(data: bytes) -> list[int]:
    return _unpack("q", data)


def encode_values(values: Any) -> bytes:
    if isinstance(values, array) and values.typecode == "d":
        doubles: array[float] = values
        if _BIG_ENDIAN:
            doubles = array("d", values)
            doubles.byteswap()
        return b"F" + doubles.tobytes()
    if {*map(type, values)} == _FLOATS:
        return b"F" + _pack("d", values)
    return b"J" + _ENCODER.encode(values).encode()


def append_values(old: bytes, values: Any) -> bytes:
    """``old`` (encoded) followed by ``values``, encoded as `encode_values` would encode
    the whole series, without decoding ``old`` (except on a change from floats to other
    values, once per chunk): appending a few rows to a chunk of large values (lists of
    20,000 floats) costs the new rows, not the chunk."""
    new = encode_values(values)
    if old[:1] == new[:1] == b"F":
        return old + new[1:]
    if old[:1] == b"F":  # other values follow floats: the chunk becomes JSON
        return encode_values([*decode_values(old), *decode_values(new)])
    if new[:1] == b"F":
        new = b"J" + _ENCODER.encode(decode_values(new)).encode()
    if old == b"J[]":
        return new
    return old[:-1] + b"," + new[2:]


def decode_values(data: bytes) -> list[Any]:
    if data[:1] == b"F":
        return _unpack("d", data[1:])
    decoded: list[Any] = json.loads(data[1:])
    return decoded


def split_by_chunk(
    flats: list[tuple[int, Mapping[str, Any]]],
) -> tuple[dict[int, list[int]], dict[tuple[str, int], Series]]:
    """Ascending batch steps per chunk, and the batch's series per (key, chunk).

    ``flats`` is ascending by step. Consecutive rows with the same keys (the
    common case: a training loop logs the same metrics every step) are cut
    into columns with one comprehension per key, not one append per value.
    """
    batch_steps: dict[int, list[int]] = {}
    new: dict[tuple[str, int], Series] = {}
    for number, chunk_rows in itertools.groupby(flats, key=lambda item: item[0] // CHUNK):
        rows = list(chunk_rows)
        batch_steps[number] = [step for step, _ in rows]
        for names, same_keys in itertools.groupby(rows, key=lambda item: tuple(item[1])):
            group = list(same_keys)
            steps = [step for step, _ in group]
            # Same keys in the same order: one transpose gives every column.
            columns = zip(*[flat.values() for _, flat in group], strict=False)
            for name, column in zip(names, columns, strict=False):
                values = list(column)
                series = new.get((name, number))
                if series is None:
                    new[(name, number)] = (list(steps), values)
                else:
                    series[0].extend(steps)
                    series[1].extend(values)
    return batch_steps, new


Split = tuple[dict[int, list[int]], dict[tuple[str, int], Series]]


def combine_splits(a: Split, b: Split) -> Split:
    """Two splits of one batch (of disjoint steps) as one."""
    if not b[0]:
        return a
    if not a[0]:
        return b
    batch_steps = {n: sorted(a[0].get(n, []) + b[0].get(n, [])) for n in a[0].keys() | b[0].keys()}
    new = dict(a[1])
    for key, series in b[1].items():
        new[key] = series if key not in new else merge(new[key], series)
    return batch_steps, new


def without(series: Series, steps: list[int]) -> Series:
    """``series`` less the given steps; the same object when none is in it."""
    old_steps, old_vals = series
    if not old_steps or steps[0] > old_steps[-1]:  # appending: the common case
        return series
    drop = set(steps)
    if drop.isdisjoint(old_steps):
        return series
    kept = [(s, v) for s, v in zip(old_steps, old_vals, strict=False) if s not in drop]
    return [s for s, _ in kept], [v for _, v in kept]


def merge(old: Series, new: Series) -> Series:
    """Both series' points by step; ``old`` holds none of ``new``'s steps.

    Values may be lists or float64 arrays (`blocks.split_blocks`).
    """
    if not old[0]:
        return new
    if new[0][0] > old[0][-1]:
        return old[0] + new[0], [*old[1], *new[1]]
    points = sorted(zip(old[0] + new[0], [*old[1], *new[1]], strict=False), key=lambda point: point[0])
    return [s for s, _ in points], [v for _, v in points]


def join(
    series: dict[str, Series], wanted: list[str], lo: int | None, hi: int | None
) -> Iterator[dict[str, Any]]:
    """Rows of one chunk: the first key's steps that every other key holds too."""
    steps, vals = series[wanted[0]]
    start = 0 if lo is None else bisect.bisect_left(steps, lo)
    stop = len(steps) if hi is None else bisect.bisect_right(steps, hi)
    first = wanted[0]
    if len(wanted) == 1:
        for i in range(start, stop):
            yield {"_step": steps[i], first: vals[i]}
        return
    others = [(name, dict(zip(*series[name], strict=False))) for name in wanted[1:]]
    for i in range(start, stop):
        step = steps[i]
        if all(step in points for _, points in others):
            row = {"_step": step, first: vals[i]}
            row.update((name, points[step]) for name, points in others)
            yield row
