"""`Metric`: what ``run.define_metric()`` returns, and the validation of its options."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

from mytrack._internal.run.values import check_text
from mytrack.errors import InvalidTypeError, InvalidValueError

SUMMARY_KINDS = ("min", "max", "mean", "last", "first", "best", "copy", "none")
GOALS = ("minimize", "maximize")


@dataclass(frozen=True)
class Metric:
    """One define_metric() call, as recorded."""

    name: str
    step_metric: str | None = None
    step_sync: bool | None = None
    hidden: bool | None = None
    summary: str | None = None
    goal: str | None = None
    overwrite: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def make_metric(
    name: Any,
    step_metric: Any = None,
    step_sync: Any = None,
    hidden: Any = None,
    summary: Any = None,
    goal: Any = None,
    overwrite: Any = None,
) -> Metric:
    """Checks define_metric()'s arguments; errors name the argument."""
    if not isinstance(name, str) or not name:
        raise InvalidTypeError(f"define_metric() name must be a non-empty string, got {name!r}")
    check_text(name, "define_metric() name", key=True)
    if isinstance(step_metric, Metric):
        step_metric = step_metric.name
    if step_metric is not None:
        if not isinstance(step_metric, str) or not step_metric:
            raise InvalidTypeError(f"step_metric must be a metric name, got {step_metric!r}")
        check_text(step_metric, "step_metric", key=True)
        if step_metric == name:
            raise InvalidValueError(f"metric {name!r} cannot be its own step_metric")
        if step_sync is None:
            step_sync = True
    for option, value in (("step_sync", step_sync), ("hidden", hidden), ("overwrite", overwrite)):
        if value is not None and type(value) is not bool:
            raise InvalidTypeError(f"{option} must be True, False or None, got {value!r}")
    kinds = _summary_kinds(summary)
    if goal is not None:
        goal = {"min": "minimize", "max": "maximize"}.get(goal, goal)
        if goal not in GOALS:
            raise InvalidValueError(f"goal must be 'minimize' or 'maximize', got {goal!r}")
        if "best" not in kinds:
            raise InvalidValueError(f"goal={goal!r} needs 'best' in summary (metric {name!r})")
    elif "best" in kinds:
        raise InvalidValueError(f"summary 'best' of metric {name!r} needs goal='minimize' or 'maximize'")
    return Metric(
        name=name, step_metric=step_metric, step_sync=step_sync, hidden=hidden,
        summary=",".join(kinds) if kinds else None, goal=goal, overwrite=overwrite,
    )


def _summary_kinds(summary: Any) -> list[str]:
    if summary is None:
        return []
    if not isinstance(summary, str):
        raise InvalidTypeError(f"summary must be a comma-separated string, got {summary!r}")
    kinds = [k.strip().lower() for k in summary.split(",") if k.strip()]
    for kind in kinds:
        if kind not in SUMMARY_KINDS:
            raise InvalidValueError(
                f"unknown summary kind {kind!r}; expected any of {', '.join(SUMMARY_KINDS)}"
            )
    if "copy" in kinds:
        warnings.warn("define_metric(summary='copy') is deprecated; use 'last'",
                      DeprecationWarning, stacklevel=3)
    if "none" in kinds and len(kinds) > 1:
        raise InvalidValueError("summary 'none' cannot be combined with other kinds")
    return kinds
