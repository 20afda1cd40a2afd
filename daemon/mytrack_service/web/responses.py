"""What the web endpoints return, and the errors they raise, independent of the server."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    """A request the UI refuses: answered with ``status`` and a JSON ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Response:
    status: int = 200
    content_type: str = "application/json"
    body: bytes = b""
    # A streamed body (file downloads); ``length`` is then its size in bytes.
    stream: Iterable[bytes] | None = None
    length: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


def jsonable(value: Any) -> Any:
    """``value`` with NaN and infinities as the strings "NaN", "Infinity", "-Infinity"
    (JSON has no such numbers and the browser's JSON.parse refuses them)."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def json_response(value: Any, status: int = 200, clean: bool = True) -> Response:
    """A JSON response; ``clean=False`` when ``value`` is known to hold only finite numbers."""
    body = json.dumps(jsonable(value) if clean else value, separators=(",", ":"),
                      allow_nan=False, default=str)
    return Response(status=status, body=body.encode())


def error_response(status: int, message: str) -> Response:
    return json_response({"error": message}, status)
