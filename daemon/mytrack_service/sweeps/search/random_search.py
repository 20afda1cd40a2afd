"""Random search: each parameter drawn from its distribution, with or without replacement."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mytrack_service.sweeps.search.space import Point, Space
from mytrack_service.sweeps.search.trial import Trial

# Draws tried before listing the points left (when most of a finite space is used up).
_REJECTION_TRIES = 64
# Points listed at most to choose among the ones left; past that, the first ones found.
_MAX_LISTED = 200_000


def next_random_params(config: Mapping[str, Any], trials: Sequence[Trial],
                       rng: np.random.Generator) -> dict[str, Any] | None:
    """A random point; None only without replacement, once every point has a trial."""
    space = Space(config)
    if config.get("random", {}).get("replacement", True):
        return space.params(draw(space, rng))
    seen = space.seen(trials)
    for _ in range(_REJECTION_TRIES):
        point = draw(space, rng)
        if space.key(point) not in seen:
            return space.params(point)
    left = [point for point in itertools.islice(space.grid(), _MAX_LISTED * 4) if space.key(point) not in seen]
    left = left[:_MAX_LISTED]
    if not left:
        return None
    weights = np.array([space.weight(point) for point in left])
    chosen = rng.choice(len(left), p=weights / weights.sum()) if weights.sum() > 0 else rng.integers(len(left))
    return space.params(left[int(chosen)])


def draw(space: Space, rng: np.random.Generator) -> Point:
    """One value from each distribution, independently."""
    return tuple(dist.sample(rng) for dist in space.distributions)
