"""The search (sweeps/search/) and the configuration schema (mytrack_common.sweep_config), as the controller calls them.

Kept behind these few functions so that the controller depends on their
interface alone: validate a configuration, choose the next point, name the
trials to stop early.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mytrack_common import sweep_config
from mytrack_service.sweeps import search
from mytrack_service.sweeps.search import hyperband


class ConfigError(ValueError):
    """The sweep configuration is invalid (the message names the path)."""


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration with defaults filled; ConfigError naming the bad key."""
    try:
        checked = sweep_config.validate(config)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return checked


def trial(
    run_id: str, params: dict[str, Any], state: str, metric: float | None, history: Sequence[float],
) -> search.Trial:
    return search.Trial(run_id=run_id, params=params, state=state, metric=metric, history=history)


def next_params(config: dict[str, Any], trials: list[search.Trial], rng: np.random.Generator) -> dict[str, Any] | None:
    """The next point, or None when the search is exhausted."""
    return search.next_params(config, trials, rng)


def trials_to_stop(config: dict[str, Any], trials: list[search.Trial]) -> list[str]:
    """The run ids that early termination (hyperband) stops now."""
    return list(hyperband.trials_to_stop(config, trials))
