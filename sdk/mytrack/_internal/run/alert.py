"""``run.alert()``'s arguments: `AlertLevel` and their validation.

The alert itself is a record: the service stores it with the run, applies the
per-title rate limit (``wait_duration``) and delivers it to the webhook.
"""

from __future__ import annotations

import datetime
import enum
import math
from typing import Any

from mytrack._internal.run.values import check_text
from mytrack.errors import InvalidTypeError, InvalidValueError

MAX_TITLE = 63  # "under 64 characters"
# Seconds before another alert with the same title is sent, when not given.
DEFAULT_WAIT = 60.0


class AlertLevel(str, enum.Enum):
    """How serious an alert is."""

    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"


def check_alert(title: Any, text: Any, level: Any, wait_duration: Any) -> tuple[str, str, str, float]:
    """(title, text, level name, wait in seconds), or raises naming the bad argument."""
    if not isinstance(title, str) or not title.strip():
        raise InvalidTypeError(f"alert() title must be a non-empty string, got {title!r}")
    if len(title) > MAX_TITLE:
        raise InvalidValueError(f"alert() title must be under 64 characters, got {len(title)}")
    if not isinstance(text, str):
        raise InvalidTypeError(f"alert() text must be a string, got {type(text).__name__}")
    check_text(title, "alert() title")
    check_text(text, "alert() text")
    return title, text, _level(level), _seconds(wait_duration)


def _level(level: Any) -> str:
    if level is None:
        return AlertLevel.INFO.value
    if isinstance(level, AlertLevel):
        return level.value
    if isinstance(level, str) and level.upper() in AlertLevel.__members__:
        return level.upper()
    raise InvalidValueError(f"alert() level must be INFO, WARN, ERROR or a mytrack.AlertLevel, got {level!r}")


def _seconds(wait: Any) -> float:
    if wait is None:
        return DEFAULT_WAIT
    if isinstance(wait, datetime.timedelta):
        seconds = wait.total_seconds()
    elif isinstance(wait, int | float) and not isinstance(wait, bool):
        seconds = float(wait)
    else:
        raise InvalidTypeError(
            f"alert() wait_duration must be seconds (a number) or a timedelta, got {type(wait).__name__}"
        )
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidValueError(f"alert() wait_duration must be zero or more seconds, got {wait!r}")
    return seconds
