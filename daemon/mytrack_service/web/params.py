"""Query parameters of the JSON routes: required, optional and defaulted integers, each
refused with a 400 that names the parameter."""

from __future__ import annotations

from collections.abc import Mapping

from mytrack_service.web.responses import ApiError


def need(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise ApiError(400, f"the query parameter {name!r} is required")
    return value


def opt_int(query: Mapping[str, str], name: str) -> int | None:
    text = query.get(name)
    if text is None or text == "":
        return None
    try:
        return int(float(text))
    except (ValueError, OverflowError):
        raise ApiError(400, f"{name} must be an integer, got {text!r}") from None


def count(query: Mapping[str, str], name: str, default: int) -> int:
    """A non-negative integer (a negative one counts as 0), ``default`` when absent."""
    value = opt_int(query, name)
    return default if value is None else max(0, value)
