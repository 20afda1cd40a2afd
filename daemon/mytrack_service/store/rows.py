"""How a history row is kept in the text column of the ``history`` table.

A training loop logs the same few keys of floats and ints at every step.
Printing each float as JSON was the largest cost of applying such rows (the
shortest round-tripping decimal of a double is expensive to find), so a row
whose values are all floats, ints or bools is stored packed instead::

    P["loss","acc","_step","ddq"]\\n<base64 of the little-endian values>

The header (the keys, then one struct code per value) is the same for every
row of the loop and is built once; the values are packed exactly (NaN and
+-Infinity included). Any other row (strings, nested dicts, media, lists,
ints beyond 64 bits) stays JSON, whose first character is always ``{``, so
rows written before this format read back unchanged.
"""

from __future__ import annotations

import binascii
import json
import struct
from typing import Any, Literal

from mytrack_service.store.jsontext import dump_json, load_json

_PACKED = "P"
_CODES: dict[type, str] = {float: "d", int: "q", bool: "?"}
_HEADER_ENCODER = json.JSONEncoder(separators=(",", ":"))
# Bounded caches: a run that logs ever new key sets must not grow the service.
_MAX_CACHED = 4096
# (keys, value types) -> (text prefix, struct), or None when the row is JSON.
_encoders: dict[tuple[tuple[str, ...], tuple[type, ...]], tuple[str, struct.Struct] | None] = {}
_prefixes: dict[tuple[tuple[str, ...], str], str] = {}
# header line -> (keys, struct)
_decoders: dict[str, tuple[list[str], struct.Struct]] = {}


def encode_row(row: dict[str, Any], what: str) -> str:
    """The stored text of a history row.

    Raises:
        StoreError: the row holds something JSON cannot represent.
    """
    values = row.values()
    shape = (tuple(row), tuple(map(type, values)))
    encoder: tuple[str, struct.Struct] | None | Literal[False] = _encoders.get(shape, False)
    if encoder is False:
        encoder = _encoder(*shape)
    if encoder is not None:
        prefix, packer = encoder
        try:
            return prefix + binascii.b2a_base64(packer.pack(*values), newline=False).decode("ascii")
        except struct.error:
            pass  # an int beyond 64 bits: JSON keeps it exactly
    return dump_json(row, what)


def _encoder(keys: tuple[str, ...], types: tuple[type, ...]) -> tuple[str, struct.Struct] | None:
    if len(_encoders) >= _MAX_CACHED:
        _encoders.clear()
    codes = [_CODES.get(t) for t in types]
    encoder = None
    if keys and None not in codes:
        code_text = "".join(codes)  # type: ignore[arg-type]
        encoder = (packed_prefix(keys, code_text), struct.Struct("<" + code_text))
    _encoders[(keys, types)] = encoder
    return encoder


def packed_prefix(keys: tuple[str, ...], codes: str) -> str:
    """The text before the values of a packed row of ``keys`` with these struct codes."""
    prefix = _prefixes.get((keys, codes))
    if prefix is None:
        if len(_prefixes) >= _MAX_CACHED:
            _prefixes.clear()
        prefix = _prefixes[(keys, codes)] = f"{_PACKED}{_HEADER_ENCODER.encode([*keys, codes])}\n"
    return prefix


def decode_row(text: str) -> dict[str, Any]:
    """The row that `encode_row` stored (or that an older version stored as JSON)."""
    if not text.startswith(_PACKED):
        row: dict[str, Any] = load_json(text)
        return row
    cut = text.index("\n") + 1  # JSON escapes newlines: the first one ends the header
    header = text[:cut]
    decoder = _decoders.get(header)
    if decoder is None:
        if len(_decoders) >= _MAX_CACHED:
            _decoders.clear()
        *keys, code_text = json.loads(header[1:])
        decoder = _decoders[header] = (keys, struct.Struct("<" + code_text))
    keys, unpacker = decoder
    return dict(zip(keys, unpacker.unpack(binascii.a2b_base64(text[cut:])), strict=False))
