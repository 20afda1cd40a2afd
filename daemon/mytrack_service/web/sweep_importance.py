"""Parameter importance, as W&B's sweep page shows it: each parameter's correlation with the
metric, and its importance in a random forest fitted to predict the metric (scikit-learn,
optional: without it only the correlations are given).

Numeric parameters are columns as they are; any other value (strings, booleans, lists) is
one-hot encoded, a column per value (``opt=adam``), as W&B does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# Fewer trials with a metric than this: nothing is computed (a forest on two points says nothing).
MIN_TRIALS = 3


def feature_columns(params: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Columns of numbers from flattened parameters: numeric ones as they are (a missing
    value NaN), others one-hot per value."""
    names = sorted({name for row in params for name in row})
    columns: dict[str, list[float]] = {}
    for name in names:
        values = [row.get(name) for row in params]
        present = [v for v in values if v is not None]
        if present and all(_number(v) for v in present):
            columns[name] = [float(v) if v is not None else math.nan for v in values]
            continue
        for choice in sorted({_label(v) for v in present}):
            columns[f"{name}={choice}"] = [1.0 if _label(v) == choice else 0.0 for v in values]
    return columns


def importance(params: Sequence[Mapping[str, Any]], metric: Sequence[float]) -> list[dict[str, Any]]:
    """For each feature column: ``{"name", "correlation", "importance"}`` (either None when it
    cannot be computed), most important first (by |correlation| without scikit-learn)."""
    if len(metric) < MIN_TRIALS:
        return []
    columns = {name: col for name, col in feature_columns(params).items() if _varies(col)}
    if not columns:
        return []
    y = np.asarray(metric, dtype=float)
    out: list[dict[str, Any]] = [
        {"name": name, "correlation": _correlation(np.asarray(col), y), "importance": None}
        for name, col in columns.items()
    ]
    forest = _forest_importance(np.column_stack([np.asarray(c) for c in columns.values()]), y)
    if forest is not None:
        for row, value in zip(out, forest, strict=True):
            row["importance"] = value
        out.sort(key=lambda row: -(row["importance"] or 0.0))
    else:
        out.sort(key=lambda row: -abs(row["correlation"] or 0.0))
    return out


def _forest_importance(x: np.ndarray, y: np.ndarray) -> list[float] | None:
    try:
        from sklearn.ensemble import RandomForestRegressor
    except ImportError:
        return None
    x = np.where(np.isnan(x), np.nanmean(x, axis=0), x)  # a missing value: the column's mean
    forest = RandomForestRegressor(n_estimators=100, random_state=0, n_jobs=1)
    forest.fit(x, y)
    return [float(v) for v in forest.feature_importances_]


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    keep = ~np.isnan(x)
    if keep.sum() < 2:
        return None
    xs, ys = x[keep], y[keep]
    if np.std(xs) == 0 or np.std(ys) == 0:
        return None
    value = float(np.corrcoef(xs, ys)[0, 1])
    return value if math.isfinite(value) else None


def _varies(column: list[float]) -> bool:
    values = {v for v in column if not math.isnan(v)}
    return len(values) > 1


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _label(value: Any) -> str:
    return str(value)
