"""W&B's names on the read API that scripts written for W&B use.

``api.runs(path, order="+summary_metrics.loss")`` (W&B's sort spelling),
``run.url``, and ``run.created_at`` as W&B's ISO-8601 UTC string
(``"2024-05-01T12:00:00Z"``; the number stays in ``created_timestamp``).
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mytrack.errors import InvalidValueError

if TYPE_CHECKING:
    from mytrack.api import ApiRun

# W&B's spellings of run fields in ``order`` -> ApiRun attributes.
_FIELDS = {
    "created_at": "created_timestamp", "createdAt": "created_timestamp",
    "updated_at": "updated_at", "updatedAt": "updated_at", "heartbeat_at": "heartbeat_at",
    "heartbeatAt": "heartbeat_at", "name": "name", "display_name": "name", "displayName": "name",
    "state": "state", "runtime": "runtime", "group": "group", "job_type": "job_type",
    "jobType": "job_type", "id": "id",
}


def iso_utc(timestamp: float) -> str:
    """W&B's form of a run's time: seconds since the epoch as ``YYYY-MM-DDTHH:MM:SSZ``."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def sort_runs(runs: Sequence[ApiRun], order: str) -> list[ApiRun]:
    """``runs`` in W&B's ``order``: ``[+|-]field``, the field a run attribute
    (``created_at``, ``name``...), ``summary_metrics.KEY`` or ``config.KEY``.
    Runs without the value come last, either way.

    Raises:
        InvalidValueError: an order that names no field.
    """
    descending = order.startswith("-")
    field = order.lstrip("+-")
    if not field:
        raise InvalidValueError(f"order must be '[+|-]field', got {order!r}")
    found = [(run, _value(run, field)) for run in runs]
    present = [(run, value) for run, value in found if value is not None]
    missing = [run for run, value in found if value is None]
    present.sort(key=lambda pair: _sort_key(pair[1]), reverse=descending)
    return [run for run, _ in present] + missing


def _value(run: ApiRun, field: str) -> Any:
    source, _, key = field.partition(".")
    if source in ("summary_metrics", "summary") and key:
        return _dig(run.summary, key)
    if source == "config" and key:
        return _dig(run.config, key)
    attribute = _FIELDS.get(field)
    if attribute is None:
        raise InvalidValueError(
            f"cannot order runs by {field!r}: use summary_metrics.KEY, config.KEY or one of "
            f"{', '.join(sorted(_FIELDS))}"
        )
    return getattr(run, attribute, None)


def _dig(data: Any, dotted: str) -> Any:
    if isinstance(data, dict) and dotted in data:
        return data[dotted]
    for part in dotted.split("."):
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    if isinstance(data, dict) and "value" in data and len(data) <= 2:
        return data["value"]  # W&B's {"value": v, "desc": ...} config form
    return data


def _sort_key(value: Any) -> tuple[int, Any]:
    # Numbers before strings, so mixed columns sort instead of raising.
    if isinstance(value, bool | int | float):
        return (0, value if not (isinstance(value, float) and math.isnan(value)) else math.inf)
    return (1, str(value))


class ApiRunWandbNames:
    """Mixed into `ApiRun`."""

    entity: str
    project: str
    id: str

    @property
    def url(self) -> str | None:
        """The run's page in the service's web UI (with its token); None when it serves none."""
        from mytrack._internal.transport import webui

        api: Any = getattr(self, "_api")  # noqa: B009 - set by ApiRun
        if not hasattr(api, "_web_address"):
            api._web_address = webui.web_address(api._rpc())
        web = api._web_address
        return None if web is None else web.page(self.entity, self.project, "runs", self.id)
