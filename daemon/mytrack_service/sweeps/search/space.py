"""A configuration's search space: its distributions in a fixed order, and trials' points in it."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from mytrack_common.sweep_config import leaves, lookup, nest
from mytrack_service.sweeps.search.canonical import canonical
from mytrack_service.sweeps.search.distributions import Distribution
from mytrack_service.sweeps.search.trial import Trial

Point = tuple[Any, ...]


class Space:
    """The leaves of ``config["parameters"]`` (validated), sorted by path as W&B sorts them."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.distributions = [Distribution(leaf) for leaf in leaves(config["parameters"])]

    @property
    def searchable(self) -> list[Distribution]:
        return [dist for dist in self.distributions if dist.searchable]

    def params(self, point: Point) -> dict[str, Any]:
        """A point (one value per distribution, in order) as a trial's nested params."""
        return nest({dist.path: value for dist, value in zip(self.distributions, point, strict=True)})

    def key(self, point: Point) -> tuple[str, ...]:
        """The point's identity: 1 and 1.0 are one point."""
        return tuple(canonical(value) for value in point)

    def trial_point(self, trial: Trial) -> Point:
        """The trial's values in order (`mytrack_common.sweep_config.MISSING` where absent)."""
        return tuple(lookup(trial.params, dist.path) for dist in self.distributions)

    def seen(self, trials: Sequence[Trial]) -> set[tuple[str, ...]]:
        """The keys of every trial's point."""
        return {self.key(self.trial_point(trial)) for trial in trials}

    def grid(self) -> Iterator[Point]:
        """Every point of a finite space once, in a fixed order (the last parameter varies fastest)."""
        return itertools.product(*(dist.values() for dist in self.distributions))

    def weight(self, point: Point) -> float:
        """The probability of drawing ``point`` at random (finite spaces)."""
        weight = 1.0
        for dist, value in zip(self.distributions, point, strict=True):
            weight *= dist.weight(value)
        return weight
