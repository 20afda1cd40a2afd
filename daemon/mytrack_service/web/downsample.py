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
    size = -(-n // max(1, max_points // 4))  # points per bucket (ceil): at most N/4 buckets
    finite = np.isfinite(values)
    if finite.all():  # the common case: no copy, argmin/argmax on views
        low = high = values
    else:
        low = np.where(finite, values, np.inf)
        high = np.where(finite, values, -np.inf)
    full = n // size  # whole buckets; the rest (if any) is one short bucket
    cut = full * size
    offsets = np.arange(full) * size
    picked = [
        offsets, offsets + size - 1,
        offsets + low[:cut].reshape(full, size).argmin(axis=1),
        offsets + high[:cut].reshape(full, size).argmax(axis=1),
    ]
    if cut < n:
        picked.append(np.array([cut, n - 1, cut + int(low[cut:].argmin()), cut + int(high[cut:].argmax())]))
    return np.unique(np.concatenate(picked))


def reduce_series(
    steps: NDArray[np.int64], values: NDArray[np.float64], max_points: int = MAX_POINTS,
) -> tuple[NDArray[np.int64], NDArray[np.float64], bool]:
    """(steps, values, sampled): the points :func:`bucket_indices` keeps."""
    if len(values) <= max_points:
        return steps, values, False
    keep = bucket_indices(values, max_points)
    return steps[keep], values[keep], True
