"""Grid search: every point of the grid once, in a fixed order."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mytrack_service.sweeps.search.space import Space
from mytrack_service.sweeps.search.trial import Trial


def next_grid_params(config: Mapping[str, Any], trials: Sequence[Trial]) -> dict[str, Any] | None:
    """The first grid point no trial has, or None when every point has one.

    Every trial counts, whatever its state: a crashed point is tried again only when the
    caller leaves its trial out. A value that comes back as 3.0 for 3 is the same point.
    """
    space = Space(config)
    seen = space.seen(trials)
    for point in space.grid():
        if space.key(point) not in seen:
            return space.params(point)
    return None
