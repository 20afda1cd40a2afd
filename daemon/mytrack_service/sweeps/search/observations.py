"""The (point, value) pairs bayes search fits, built from the trials as W&B builds them.

A finished (or early-stopped) trial gives its metric: the summary value, else the best
of its history. A failed, crashed or killed trial gets a value per ``metric.impute``:
``worst`` (W&B's default: the worst value any ended trial reached), ``best`` (its own
best) or ``latest`` (its last); 0 when there is none, as W&B does. A pending or running
trial is a point being tried, unless ``metric.impute_while_running`` gives it a value.
Values are negated for ``goal: maximize``, so the search always minimizes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mytrack_service.sweeps.search.space import Space
from mytrack_service.sweeps.search.trial import BROKEN, LIVE, RUNNING, Trial

# W&B's value for a trial with nothing to impute from.
_FAILED_VALUE = 0.0


@dataclass(frozen=True)
class Observations:
    """Points in the searchable parameters' CDF space: measured (with values) and being tried."""

    x: np.ndarray  # (n, d)
    y: np.ndarray  # (n,), to minimize
    pending: np.ndarray  # (m, d)


def observations(config: Mapping[str, Any], space: Space, trials: Sequence[Trial]) -> Observations:
    """What the trials say, for the Gaussian process."""
    metric = config["metric"]
    sign = -1.0 if metric["goal"] == "maximize" else 1.0
    impute = metric.get("impute", "worst")
    while_running = metric.get("impute_while_running", "false")
    worst = _worst(trials, sign)
    xs: list[list[float]] = []
    ys: list[float] = []
    pending: list[list[float]] = []
    dists = space.searchable
    for trial in trials:
        point = [dist.cdf(value) for dist, value in zip(dists, _values(space, trial), strict=True)]
        if any(math.isnan(coordinate) for coordinate in point):
            continue  # a value outside the space (the configuration changed): it says nothing here
        if trial.state in LIVE and not (trial.state == RUNNING and while_running != "false"):
            pending.append(point)
            continue
        if trial.state in BROKEN:
            value = worst if impute == "worst" else _imputed(trial, impute, sign)
        else:
            measured = _measured(trial, sign)
            if measured is None:
                strategy = while_running if trial.state in LIVE else impute
                measured = worst if strategy == "worst" else _imputed(trial, strategy, sign)
            value = measured
        xs.append(point)
        ys.append(value if math.isfinite(value) else worst)
    dimension = len(dists)
    return Observations(np.asarray(xs, dtype=float).reshape(-1, dimension), np.asarray(ys, dtype=float),
                        np.asarray(pending, dtype=float).reshape(-1, dimension))


def _values(space: Space, trial: Trial) -> list[Any]:
    point = space.trial_point(trial)
    return [value for dist, value in zip(space.distributions, point, strict=True) if dist.searchable]


def _series(trial: Trial, sign: float) -> list[float]:
    """The trial's finite metric values, signed to minimize (history, else the summary)."""
    values = [float(v) for v in trial.history if _finite(v)]
    if not values and _finite(trial.metric):
        values = [float(trial.metric)]  # type: ignore[arg-type]
    return [sign * value for value in values]


def _measured(trial: Trial, sign: float) -> float | None:
    if _finite(trial.metric):
        return sign * float(trial.metric)  # type: ignore[arg-type]
    series = _series(trial, sign)
    return min(series) if series else None


def _imputed(trial: Trial, strategy: str, sign: float) -> float:
    series = _series(trial, sign)
    if not series:
        return _FAILED_VALUE
    return min(series) if strategy == "best" else series[-1]


def _worst(trials: Sequence[Trial], sign: float) -> float:
    worst = -math.inf
    for trial in trials:
        if trial.state not in LIVE:
            series = _series(trial, sign)
            if series:
                worst = max(worst, max(series))
    return worst if math.isfinite(worst) else _FAILED_VALUE


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
