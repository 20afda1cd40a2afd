"""`Api.runs(filters=...)`: the filter document checked and encoded at the call.

The service evaluates the filter (and checks it again); here a document that
cannot be one (a list, a string, nesting deeper than any real filter, a
value JSON cannot hold) is refused with an error that names ``filters``,
instead of a ValueError from ``dict()`` or a RecursionError from the encoder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mytrack._internal.transport.encode import dumps
from mytrack.errors import InvalidTypeError, InvalidValueError

# Real filters nest a few levels ($and of $or of {"config.x": {"$gt": ...}});
# the bound stops a runaway (or self-containing) document before the encoder.
MAX_FILTER_DEPTH = 64


def encode_filters(filters: Any) -> bytes:
    """The JSON of ``filters`` for ListRuns (empty for none).

    Raises:
        InvalidTypeError: ``filters`` is not a dict.
        InvalidValueError: it nests too deep or holds what JSON cannot.
    """
    if filters is None:
        return b""
    if not isinstance(filters, Mapping):
        raise InvalidTypeError(
            "filters must be a dict (a MongoDB-style document such as "
            f"{{'state': 'finished', 'config.lr': {{'$gt': 0.01}}}}), got {type(filters).__name__}"
        )
    if not filters:
        return b""
    if _depth_exceeds(filters, MAX_FILTER_DEPTH):
        raise InvalidValueError(
            f"filters nest more than {MAX_FILTER_DEPTH} levels deep (or contain themselves)"
        )
    try:
        return dumps(dict(filters))
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"filters cannot be encoded as JSON: {exc}") from None


def _depth_exceeds(document: Any, limit: int) -> bool:
    """Whether dicts and lists in ``document`` nest deeper than ``limit``.

    Iterative, so the check itself cannot hit the recursion limit, and it stops
    at the limit, so a document that contains itself ends.
    """
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, Mapping):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        if level > limit:
            return True
        stack.extend((child, level + 1) for child in children)
    return False
