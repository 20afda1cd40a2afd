"""A trial's state and metric as the search sees them, from its row and its run."""

from __future__ import annotations

import math
from typing import Any

from mytrack_service.store.base import RunRow
from mytrack_service.store.sweep_model import TrialRow

# The trial state of each run state. A preempted run did not end on its own: crashed.
_FROM_RUN = {
    "running": "running", "preempting": "running", "finished": "finished", "failed": "failed",
    "crashed": "crashed", "killed": "killed", "preempted": "crashed",
}
# States a trial never leaves (a redo trial is out of the sweep's count).
FINAL = frozenset({"finished", "failed", "crashed", "killed", "stopped", "redo"})


def state_from_run(row: TrialRow, run: RunRow | None) -> str:
    """The trial's state now: a stopped trial stays stopped; otherwise its run's."""
    if row.state in FINAL or run is None:
        return row.state
    return _FROM_RUN.get(run.state, "running")


def metric_value(summary: dict[str, Any], name: str) -> float | None:
    """The summary's value of ``name`` (a key, or a dotted path into nested dicts) as a
    finite float; None when missing or not a number."""
    value: Any = summary.get(name)
    if value is None and "." in name:
        value = summary
        for part in name.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, dict):  # define_metric summaries: {"min": ..} are not W&B's shape
        value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def metric_name(config: dict[str, Any]) -> str:
    metric = config.get("metric") or {}
    return str(metric.get("name", "")) if isinstance(metric, dict) else ""
