"""Min/max bucketing of chart lines (mytrack_service.web.downsample)."""

from __future__ import annotations

import numpy as np
import pytest

from mytrack_service.web.downsample import bucket_indices, reduce_series


@pytest.mark.parametrize("n", [2001, 2003, 5000, 12_345, 1_000_000])
def test_keeps_every_extreme_within_the_budget(n: int) -> None:
    """Any length: at most 2,000 ascending indices, first and last point, global min and max included."""
    rng = np.random.default_rng(n)
    values = rng.normal(size=n)
    values[n // 3], values[n // 2] = 1e9, -1e9
    keep = bucket_indices(values)
    assert len(keep) <= 2000 and np.all(np.diff(keep) > 0)
    assert keep[0] == 0 and keep[-1] == n - 1
    assert {n // 3, n // 2} <= set(keep.tolist())


def test_each_bucket_keeps_its_own_min_and_max() -> None:
    """A local extreme in every bucket survives, not only the global ones."""
    values = np.zeros(10_000)
    values[5::20] = np.arange(500) + 1.0  # one bump per 20-point bucket
    keep = set(bucket_indices(values).tolist())
    assert set(range(5, 10_000, 20)) <= keep


def test_few_points_come_back_exactly() -> None:
    """At most max_points points: every point, unsampled."""
    steps = np.arange(100, 1100)
    values = np.sin(steps / 10.0)
    out_steps, out_values, sampled = reduce_series(steps, values)
    assert not sampled and out_steps.tolist() == steps.tolist() and out_values.tolist() == values.tolist()


def test_nan_and_infinities_never_win_a_bucket() -> None:
    """Non-finite values are ignored for min/max; a finite spike next to them is still kept."""
    values = np.ones(8000)
    values[100:200] = np.nan
    values[300] = np.inf
    values[301] = 50.0
    keep = bucket_indices(values, max_points=400)
    assert 301 in keep.tolist() and 300 not in keep.tolist()
