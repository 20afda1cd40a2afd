"""History rows kept as columns: the training loop's case, without a dict per row.

A columnar LogBatch (every call a flat dict of the same float keys, no step,
no commit) becomes one `RowBlock`: the float64s exactly as they came over
the wire, one row after the other, plus each row's ``_runtime`` and
``_timestamp``. The store writes a block without making a Python object per
value: each row's stored text is the raw bytes of its values (the packed
format of `rows.py`, which is little-endian like the wire), and each key's
chunk series is a strided slice of the values.

A block's rows are exactly the rows the row-by-row path would have made:
``{**dict(zip(keys, values)), "_step": s, "_runtime": r, "_timestamp": t}``.
"""

from __future__ import annotations

import binascii
import struct
import sys
from array import array
from dataclasses import dataclass
from typing import Any

from mytrack_service.store.chunks import CHUNK, Series
from mytrack_service.store.rows import packed_prefix

_TAIL = struct.Struct("<qdd")  # _step, _runtime, _timestamp
_TAIL_KEYS = ("_step", "_runtime", "_timestamp")


@dataclass
class RowBlock:
    """Rows ``first_step``, ``first_step + 1``, ... of the same float keys.

    ``values`` holds ``len(keys)`` little-endian float64s per row, row after
    row; ``runtimes`` and ``timestamps`` hold one float per row.
    """

    keys: tuple[str, ...]
    first_step: int
    values: bytes
    runtimes: list[float]
    timestamps: list[float]

    def __len__(self) -> int:
        return len(self.timestamps)

    @property
    def last_step(self) -> int:
        return self.first_step + len(self.timestamps) - 1

    def floats(self) -> list[float]:
        """Every value, row after row."""
        return _float64s(self.values).tolist()

    def row(self, index: int) -> dict[str, Any]:
        width = len(self.keys)
        values = _float64s(self.values[index * width * 8:(index + 1) * width * 8])
        return self._complete(dict(zip(self.keys, values.tolist(), strict=False)), index)

    def rows(self) -> list[tuple[int, dict[str, Any]]]:
        """The (step, row) pairs, as the row-by-row path makes them."""
        flat, width = self.floats(), len(self.keys)
        return [
            (self.first_step + i,
             self._complete(dict(zip(self.keys, flat[i * width:(i + 1) * width], strict=False)), i))
            for i in range(len(self))
        ]

    def _complete(self, row: dict[str, Any], index: int) -> dict[str, Any]:
        row["_step"] = self.first_step + index
        row["_runtime"] = self.runtimes[index]
        row["_timestamp"] = self.timestamps[index]
        return row


def with_block_rows(
    rows: list[tuple[int, dict[str, Any]]], blocks: list[RowBlock]
) -> list[tuple[int, dict[str, Any]]]:
    """``rows`` and the rows the blocks hold, for code that works row by row."""
    return [*rows, *(row for block in blocks for row in block.rows())]


def _float64s(data: bytes) -> array[float]:
    """Little-endian float64 bytes as an array in this machine's order."""
    values = array("d", data)
    if sys.byteorder == "big":
        values.byteswap()
    return values


def block_texts(pk: Any, block: RowBlock, start: int = 0, stop: int | None = None) -> list[tuple[Any, int, str]]:
    """(pk, step, stored text) of rows ``start:stop``, each text identical to
    `rows.encode_row` of the row."""
    prefix = packed_prefix((*block.keys, *_TAIL_KEYS), "d" * len(block.keys) + "qdd")
    size = 8 * len(block.keys)
    raw, pack, b2a = block.values, _TAIL.pack, binascii.b2a_base64
    first = block.first_step
    stop = len(block) if stop is None else min(stop, len(block))
    return [
        (pk, first + i,
         prefix + b2a(raw[i * size:(i + 1) * size] + pack(first + i, block.runtimes[i], block.timestamps[i]),
                      newline=False).decode("ascii"))
        for i in range(start, stop)
    ]


def split_blocks(blocks: list[RowBlock]) -> tuple[dict[int, list[int]], dict[tuple[str, int], Series]]:
    """Like `chunks.split_by_chunk`, for blocks: steps per chunk and series per (key, chunk).

    Values stay float64 arrays (8 bytes each, not a float object each); the
    keys of one chunk share its list of steps.
    """
    batch_steps: dict[int, list[int]] = {}
    new: dict[tuple[str, int], Series] = {}
    for block in blocks:
        values, width = _float64s(block.values), len(block.keys)
        columns: dict[str, Any] = {
            **{key: values[j::width] for j, key in enumerate(block.keys)},
            "_runtime": array("d", block.runtimes), "_timestamp": array("d", block.timestamps),
        }
        start = 0
        while start < len(block):
            step = block.first_step + start
            number = step // CHUNK
            stop = min(len(block), start + (number + 1) * CHUNK - step)
            steps = list(range(step, block.first_step + stop))
            batch_steps.setdefault(number, []).extend(steps)
            _extend(new, ("_step", number), steps, steps)
            for key, column in columns.items():
                _extend(new, (key, number), steps, column[start:stop])
            start = stop
    return batch_steps, new


def _extend(new: dict[tuple[str, int], Series], at: tuple[str, int], steps: list[int], values: Any) -> None:
    series = new.get(at)
    if series is None:
        new[at] = (steps, values)
    else:  # a second block in the same chunk (after a row in between)
        new[at] = (series[0] + steps, [*series[1], *values])
