"""Curve math for ``mytrack.plot`` in NumPy (no scikit-learn): the same points
as scikit-learn's ``precision_recall_curve`` and ``roc_curve(drop_intermediate=False)``.
"""

from __future__ import annotations

from typing import Any


def binary_counts(truth: Any, scores: Any) -> tuple[Any, Any, Any]:
    """(true positives, false positives, threshold) at each distinct score, highest first.

    At threshold t everything scoring >= t is predicted positive.
    """
    import numpy as np

    order = np.argsort(scores, kind="mergesort")[::-1]
    scores, truth = scores[order], truth[order].astype(np.float64)
    last_of_each = np.r_[np.where(np.diff(scores))[0], truth.size - 1]
    tps = np.cumsum(truth)[last_of_each]
    fps = 1 + last_of_each - tps
    return tps, fps, scores[last_of_each]


def precision_recall(truth: Any, scores: Any) -> tuple[Any, Any, Any]:
    """(precision, recall, thresholds): recall decreasing, ending at (precision 1, recall 0).

    Recall is NaN when there is no positive example.
    """
    import numpy as np

    tps, fps, thresholds = binary_counts(truth, scores)
    precision = tps / (tps + fps)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], thresholds[::-1]


def roc(truth: Any, scores: Any) -> tuple[Any, Any, Any]:
    """(false positive rate, true positive rate, thresholds), from (0, 0) up.

    A rate is NaN when its class has no example.
    """
    import numpy as np

    tps, fps, thresholds = binary_counts(truth, scores)
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    with np.errstate(invalid="ignore", divide="ignore"):
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
    return fpr, tpr, np.r_[np.inf, thresholds]


def thin(count: int, limit: int) -> Any:
    """Indices of at most ``limit`` evenly spread points out of ``count``, ends kept."""
    import numpy as np

    if count <= limit:
        return np.arange(count)
    return np.unique(np.linspace(0, count - 1, limit).round().astype(np.int64))
