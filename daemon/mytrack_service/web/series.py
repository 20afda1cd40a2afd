"""One chart line as the run page asks for it: an x axis, smoothing, a step range, min/max buckets.

    GET /api/runs/E/P/ID/history?key=K[&x=X][&smoothing=W&smoothing_type=ema|time]
                                 [&min_step=&max_step=][&points=2000][&robust=1]

``x`` is ``_step`` (default), ``_runtime`` (relative time, seconds), ``_timestamp``
(wall time, seconds since the epoch) or any logged numeric key (``epoch``); a
point is drawn where both the key and its x were logged at the same step.

Smoothing runs over the whole line (the smoothed value at a step depends on
every earlier point, so a zoomed range is cut from the line smoothed from its
start), then both lines are reduced with the same min/max buckets: each bucket
keeps the first, last, lowest and highest point of the raw line *and* of the
smoothed one, so neither loses its extremes and the two stay aligned point by
point. ``robust=1`` adds ``y_robust``: a y range from the 1st to the 99th
percentile of every point of the range (not of the reduced ones, where
extremes are over-represented), widened by a tenth each way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mytrack_service.store.base import MetadataStore, RunKey
from mytrack_service.web.downsample import MAX_POINTS, bucket_indices
from mytrack_service.web.params import need, opt_int
from mytrack_service.web.responses import ApiError
from mytrack_service.web.smoothing import KINDS, smooth

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

TIME_AXES = {"_runtime": "relative time (s)", "_timestamp": "wall time"}
ROBUST_PERCENTILES = (1.0, 99.0)


def chart_line(store: MetadataStore, key: RunKey, query: Mapping[str, str]) -> dict[str, Any]:
    """The JSON of one chart line (see the module's docstring)."""
    import numpy as np

    name = need(query, "key")
    x = query.get("x") or "_step"
    low, high = opt_int(query, "min_step"), opt_int(query, "max_step")
    points = min(10_000, max(8, opt_int(query, "points") or MAX_POINTS))
    weight, kind = _smoothing(query)
    if store.get_run(key) is None:
        raise ApiError(404, f"run {key.path} not found")
    # Smoothing needs the line from its first point; a plain zoom reads only its range.
    steps, ys = store.read_series(key, name, None if weight else low, None if weight else high)
    xs = None
    if x != "_step":
        x_steps, x_values = store.read_series(key, x, None if weight else low, None if weight else high)
        if len(x_steps) == len(steps) and np.array_equal(x_steps, steps):
            xs = x_values  # logged together at every step (the common case): nothing to join
        else:
            at = np.minimum(np.searchsorted(x_steps, steps), max(len(x_steps) - 1, 0))
            both = (x_steps[at] == steps) if len(x_steps) else np.zeros(len(steps), bool)
            steps, ys, xs = steps[both], ys[both], x_values[at[both]]
    smoothed = None
    if weight:
        # The time-weighted kind decays with the drawn x: the steps themselves on a step axis.
        smoothed = smooth(ys, weight, kind, steps.astype(np.float64) if xs is None else xs)
        if low is not None or high is not None:
            inside = np.ones(len(steps), bool)
            if low is not None:
                inside &= steps >= low
            if high is not None:
                inside &= steps <= high
            steps, ys, smoothed = steps[inside], ys[inside], smoothed[inside]
            xs = None if xs is None else xs[inside]
    total = len(steps)
    keep = _keep(ys, smoothed, points)
    answer: dict[str, Any] = {
        "key": name, "x": x, "total": total, "sampled": len(keep) < total,
        "steps": steps[keep].tolist(), "y": _finite(ys[keep]),
        "xs": None if xs is None else _finite(xs[keep]),
        "smoothing": weight, "smoothing_type": kind if weight else "",
        "smoothed": None if smoothed is None else _finite(smoothed[keep]),
    }
    if query.get("robust") == "1":
        answer["y_robust"] = robust_range(ys if smoothed is None else smoothed)
    return answer


def _keep(ys: NDArray[np.float64], smoothed: NDArray[np.float64] | None, points: int) -> NDArray[np.intp]:
    import numpy as np

    if smoothed is None:
        return bucket_indices(ys, points)
    # Half the budget each: the union of both lines' buckets stays within `points`.
    return np.union1d(bucket_indices(ys, max(8, points // 2)), bucket_indices(smoothed, max(8, points // 2)))


def robust_range(values: NDArray[np.float64]) -> list[float] | None:
    """[low, high] around the 1st-99th percentiles of the finite values; None when there is none."""
    import numpy as np

    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return None
    low, high = (float(v) for v in np.percentile(finite, ROBUST_PERCENTILES))
    pad = (high - low) * 0.1
    if pad == 0:
        pad = abs(low) * 0.1 or 1.0
    return [low - pad, high + pad]


def _smoothing(query: Mapping[str, str]) -> tuple[float, str]:
    text = query.get("smoothing") or "0"
    try:
        weight = float(text)
    except ValueError:
        raise ApiError(400, f"smoothing must be a number in [0, 1), got {text!r}") from None
    if not (0.0 <= weight < 1.0):
        raise ApiError(400, f"smoothing must be in [0, 1), got {text!r}")
    kind = query.get("smoothing_type") or "ema"
    if kind not in KINDS:
        raise ApiError(400, f"smoothing_type must be one of {', '.join(KINDS)}, got {kind!r}")
    return weight, kind


def _finite(values: NDArray[np.float64]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]
