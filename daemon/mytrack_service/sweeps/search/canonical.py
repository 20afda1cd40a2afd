"""One key per parameter value, so that 1 and 1.0 (or {"a": 2.0} and {"a": 2}) are one point.

W&B hashes values the same way (an integer-valued float is its int) because a
value comes back from a run's config in whatever form JSON or YAML gave it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any


def canonical(value: Any) -> str:
    """A string equal for values that are the same point."""
    return json.dumps(_normal(value), sort_keys=True, default=repr, allow_nan=True)


def _normal(value: Any) -> Any:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else value
    if isinstance(value, int):
        return value
    if isinstance(value, Mapping):
        return {str(key): _normal(item) for key, item in value.items()}
    if isinstance(value, Sequence):
        return [_normal(item) for item in value]
    # numpy scalars and the like
    item = getattr(value, "item", None)
    return _normal(item()) if callable(item) else repr(value)
