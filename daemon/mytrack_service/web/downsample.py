"""Min/max bucketing: at most ~N points per line, extremes kept.

The points of the visible range are cut into N/4 buckets of consecutive
points; each bucket keeps its first, lowest, highest and last point, in step
order. A spike of one step among a million survives (it is its bucket's
minimum or maximum), unlike random sampling, and a range holding at most N
points comes back exactly. NaN and infinite values never win a bucket's
min/max; they are kept only as a bucket's first or last point.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

MAX_POINTS = 2000


def bucket_indices(values: NDArray[np.float64], max_points: int = MAX_POINTS) -> NDArray[np.intp]:
    """Indices (ascending) of the points to draw; all of them when few enough."""
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, max_points // 4)
    size = -(-n // buckets)  # ceil: the last bucket may be short
    buckets = -(-n // size)
    padded = buckets * size
    finite = np.isfinite(values)
    low = np.full(padded, np.inf)
    high = np.full(padded, -np.inf)
    low[:n] = np.where(finite, values, np.inf)
    high[:n] = np.where(finite, values, -np.inf)
    offsets = np.arange(buckets) * size
    mins = offsets + low.reshape(buckets, size).argmin(axis=1)
    maxs = offsets + high.reshape(buckets, size).argmax(axis=1)
    firsts = offsets
    lasts = np.minimum(offsets + size - 1, n - 1)
    picked = np.concatenate([firsts, mins, maxs, lasts])
    return np.unique(np.minimum(picked, n - 1))


def reduce_series(
    steps: NDArray[np.int64], values: NDArray[np.float64], max_points: int = MAX_POINTS,
) -> tuple[NDArray[np.int64], NDArray[np.float64], bool]:
    """(steps, values, sampled): the points :func:`bucket_indices` keeps."""
    if len(values) <= max_points:
        return steps, values, False
    keep = bucket_indices(values, max_points)
    return steps[keep], values[keep], True
