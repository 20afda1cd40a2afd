"""JSON text of stored values: compact, with NaN and +-Infinity kept as such."""

from __future__ import annotations

import json
from typing import Any

from mytrack_service.store.base import StoreError

# One encoder for all calls: json.dumps() with arguments builds a new one each time.
_ENCODER = json.JSONEncoder(allow_nan=True, separators=(",", ":"))


def dump_json(value: Any, what: str) -> str:
    """Encodes ``value`` as compact JSON; NaN and +-Infinity are kept as such.

    Raises:
        StoreError: the value holds something JSON cannot represent.
    """
    try:
        return _ENCODER.encode(value)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what} is not JSON-serialisable: {exc}") from exc


def load_json(text: str) -> Any:
    """Decodes what `dump_json` wrote (NaN and Infinity included)."""
    return json.loads(text)
