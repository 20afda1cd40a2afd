"""The search methods: which parameters a sweep's next trial gets, and which trials to stop.

`suggest` is pure: it reads the (validated) configuration, every trial so far and the
sweep's search state, keeps nothing between calls, and returns what a stateful search
(Optuna's CMA-ES) wants kept with the new trial and the sweep, so the service can answer
any agent from what its store holds. `Trial.params` are nested as in ``run.config``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mytrack_service.sweeps.search.grid import next_grid_params
from mytrack_service.sweeps.search.random_search import next_random_params
from mytrack_service.sweeps.search.trial import STATES, Suggestion, Trial

__all__ = ["STATES", "Suggestion", "Trial", "next_params", "suggest"]


def next_params(config: Mapping[str, Any], trials: Sequence[Trial],
                rng: np.random.Generator) -> dict[str, Any] | None:
    """The next trial's parameters (nested as in ``run.config``), or None when the search is
    exhausted: `suggest` without the search's state."""
    suggestion = suggest(config, trials, rng)
    return None if suggestion is None else suggestion.params


def suggest(config: Mapping[str, Any], trials: Sequence[Trial], rng: np.random.Generator,
            sweep_state: Mapping[str, Any] | None = None) -> Suggestion | None:
    """The next trial's parameters and the search's state, or None when the search is exhausted.

    Args:
        config: a configuration as `mytrack_common.sweep_config.validate` returns it.
        trials: every trial of the sweep the search should know about. Grid and random
            without replacement do not repeat a point any of them has; leave a trial
            out to have its point tried again.
        rng: the randomness (random draws, bayes' candidates, Optuna's seed).
        sweep_state: the last suggestion's ``sweep_state`` (None at the first).

    ``run_cap`` is not applied here: the caller counts trials.
    """
    method = config["method"]
    if method == "custom":
        from mytrack_service.sweeps.search.optuna_search import next_optuna_params

        return next_optuna_params(config, trials, rng, sweep_state)
    params: dict[str, Any] | None
    if method == "grid":
        params = next_grid_params(config, trials)
    elif method == "random":
        params = next_random_params(config, trials, rng)
    elif method == "bayes":
        from mytrack_service.sweeps.search.bayes import next_bayes_params

        params = next_bayes_params(config, trials, rng)
    else:
        raise ValueError(f"method: expected 'grid', 'random', 'bayes' or 'custom', got {method!r}")
    return None if params is None else Suggestion(params)
