"""The search (sweeps/search/) and the configuration schema (mytrack_common.sweep_config), as the controller calls them.

Kept behind these few functions so that the controller depends on their
interface alone: validate a configuration, choose the next point, name the
trials to stop early.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mytrack_common import sweep_config
from mytrack_service.sweeps import search
from mytrack_service.sweeps.search import hyperband


class ConfigError(ValueError):
    """The sweep configuration is invalid (the message names the path)."""


# What each method needs besides the core install, checked when a sweep is created
# (in the service, which runs the search): not at its third trial.
_NEEDS = {"bayes": ("sklearn", "scikit-learn"), "custom": ("optuna", "optuna")}


def validate(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration with defaults filled; ConfigError naming the bad key, or the
    package its method needs that the service's environment lacks."""
    try:
        checked = sweep_config.validate(config)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    module, package = _NEEDS.get(str(checked.get("method")), ("", ""))
    if module and importlib.util.find_spec(module) is None:
        raise ConfigError(f"method: {checked['method']!r} needs {package}, which the mytrack service's "
                          "environment lacks: pip install 'mytrack[sweeps]' where the service runs")
    return checked


def trial(
    run_id: str, params: dict[str, Any], state: str, metric: float | None, history: Sequence[float],
    search_state: Mapping[str, Any] | None = None,
) -> search.Trial:
    return search.Trial(run_id=run_id, params=params, state=state, metric=metric, history=history,
                        search_state=search_state or {})


def suggest(config: dict[str, Any], trials: list[search.Trial], rng: np.random.Generator,
            sweep_state: Mapping[str, Any] | None = None) -> search.Suggestion | None:
    """The next point with what the search keeps for later, or None when the search is
    exhausted; ConfigError when the search cannot run (a sampler's bad arguments)."""
    try:
        return search.suggest(config, trials, rng, sweep_state)
    except ValueError as exc:  # SweepConfigError: the configuration, found out at its first use
        raise ConfigError(str(exc)) from None


def exhausted(config: dict[str, Any], trials: list[search.Trial]) -> bool:
    """Whether no trial is left to hand out: a grid (or a random search without
    replacement) all of whose points have a trial. Only those can be known without
    asking a search for a point, which bayes and Optuna never run out of."""
    if config.get("method") == "grid" or (
            config.get("method") == "random" and (config.get("random") or {}).get("replacement") is False):
        return search.next_params(config, trials, np.random.default_rng(0)) is None
    return False


def trials_to_stop(config: dict[str, Any], trials: list[search.Trial]) -> list[str]:
    """The run ids that early termination (hyperband) stops now."""
    return list(hyperband.trials_to_stop(config, trials))
