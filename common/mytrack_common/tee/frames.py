"""What a tee sends back on its copy pipe: frames of ready-made Output messages.

A frame is `FRAME` (kind, line count, payload length) then the payload. Kind
`OUTPUT` carries a serialized ``Output`` message (`encode_lines`); kind
`END` (no payload) answers a drain request written to the control pipe (the
partial lines are sent before it), after which the tee only forwards.

The encoder is written by hand for the three fields of ``OutputLine``
(proto/mytrack.proto: timestamp = 1, a double; stream = 2; text = 3) and
``Output.lines`` = 1; tests/unit/test_console_tee.py parses its output with
the generated classes. Its `_varint` repeats the SDK's ``encode._varint`` on
purpose: importing protobuf would cost the tee more than its whole start.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from mytrack_common.lines import Line

FRAME = struct.Struct("<BII")  # kind, lines, payload length
OUTPUT = 1  # payload: a serialized Output message
END = 255  # no payload: everything before it was sent

_DOUBLE = struct.Struct("<d")
_STREAMS = {"stdout": b"\x12\x06stdout", "stderr": b"\x12\x06stderr"}  # field 2, length 6


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def encode_lines(batch: Sequence[Line]) -> bytes:
    """A serialized Output message holding ``batch`` [(timestamp, stream, text)]."""
    parts = []
    for timestamp, stream, text in batch:
        data = text.encode("utf-8", "replace")
        body = b"".join((b"\x09", _DOUBLE.pack(timestamp), _STREAMS[stream], b"\x1a",
                         _varint(len(data)), data))
        parts.append(b"\x0a" + _varint(len(body)) + body)
    return b"".join(parts)


def frame(kind: int, count: int, payload: bytes = b"") -> bytes:
    """One frame: its head and ``payload``."""
    return FRAME.pack(kind, count, len(payload)) + payload
