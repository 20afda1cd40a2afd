"""The search methods: which parameters a sweep's next trial gets, and which trials to stop.

`next_params` is pure: it reads the (validated) configuration and every trial so far,
and keeps no state between calls, so the service can answer any agent from what its
store holds. `Trial.params` are nested as in ``run.config``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mytrack_service.sweeps.search.grid import next_grid_params
from mytrack_service.sweeps.search.random_search import next_random_params
from mytrack_service.sweeps.search.trial import STATES, Trial

__all__ = ["STATES", "Trial", "next_params"]


def next_params(config: Mapping[str, Any], trials: Sequence[Trial],
                rng: np.random.Generator) -> dict[str, Any] | None:
    """The next trial's parameters (nested as in ``run.config``), or None when the search is exhausted.

    Args:
        config: a configuration as `mytrack_common.sweep_config.validate` returns it.
        trials: every trial of the sweep the search should know about. Grid and random
            without replacement do not repeat a point any of them has; leave a trial
            out to have its point tried again.
        rng: the randomness (random draws, bayes' candidates, Optuna's seed).

    ``run_cap`` is not applied here: the caller counts trials.
    """
    method = config["method"]
    if method == "grid":
        return next_grid_params(config, trials)
    if method == "random":
        return next_random_params(config, trials, rng)
    if method == "bayes":
        from mytrack_service.sweeps.search.bayes import next_bayes_params

        return next_bayes_params(config, trials, rng)
    if method == "custom":
        from mytrack_service.sweeps.search.optuna_search import next_optuna_params

        return next_optuna_params(config, trials, rng)
    raise ValueError(f"method: expected 'grid', 'random', 'bayes' or 'custom', got {method!r}")
