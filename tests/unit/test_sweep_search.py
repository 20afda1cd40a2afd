"""next_params: grid once per point, random without replacement, bayes, Optuna samplers, domains."""

from __future__ import annotations

import importlib.util
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mytrack_common.sweep_config import leaves, lookup, validate
from mytrack_service.sweeps.search import Trial, next_params
from mytrack_service.sweeps.search.distributions import Distribution


def _run_out(config: dict[str, Any], limit: int = 1000) -> list[dict[str, Any]]:
    trials: list[Trial] = []
    rng = np.random.default_rng(0)
    while (params := next_params(config, trials, rng)) is not None:
        trials.append(Trial(f"t{len(trials)}", params, "finished"))
        assert len(trials) <= limit
    return [trial.params for trial in trials]


def test_grid_gives_every_point_once_then_none() -> None:
    """3 x 2 x 3 points (values, int_uniform, nested q_uniform), each once, 1 and 1.0 one value."""
    config = validate({"method": "grid", "parameters": {
        "a": {"values": [1, 1.0, 2, "x"]}, "b": {"min": 1, "max": 2},
        "opt": {"parameters": {"q": {"distribution": "q_uniform", "min": 0, "max": 1, "q": 0.5}}}}})
    points = _run_out(config)
    keys = {(repr(float(p["a"])) if p["a"] != "x" else "x", p["b"], p["opt"]["q"]) for p in points}
    assert len(points) == 18 == len(keys)
    assert {p["opt"]["q"] for p in points} == {0.0, 0.5, 1.0}


def test_grid_treats_integer_valued_floats_in_trials_as_the_same_point() -> None:
    """A trial whose config came back as 2.0 for 2 (JSON/YAML) counts as that point."""
    config = validate({"method": "grid", "parameters": {"a": {"values": [1, 2]}, "c": {"value": {"k": 3}}}})
    trials = [Trial("x", {"a": 1.0, "c": {"k": 3.0}}, "crashed")]
    assert next_params(config, trials, np.random.default_rng()) == {"a": 2, "c": {"k": 3}}
    trials.append(Trial("y", {"a": 2.0, "c": {"k": 3}}, "running"))
    assert next_params(config, trials, np.random.default_rng()) is None


def test_grid_redoes_a_point_only_when_its_trial_is_left_out() -> None:
    """Crashed trials count as done; leaving one out of `trials` gets its point again."""
    config = validate({"method": "grid", "parameters": {"a": {"values": [1, 2]}}})
    trials = [Trial("x", {"a": 1}, "crashed"), Trial("y", {"a": 2}, "finished")]
    assert next_params(config, trials, np.random.default_rng()) is None
    assert next_params(config, trials[1:], np.random.default_rng()) == {"a": 1}


def test_random_without_replacement_exhausts_the_space() -> None:
    """random.replacement false: every point of a 3 x 4 space once, then None."""
    config = validate({"method": "random", "random": {"replacement": False}, "parameters": {
        "a": {"values": ["x", "y", "z"], "probabilities": [0.8, 0.1, 0.1]}, "b": {"min": 0, "max": 3}}})
    points = _run_out(config)
    assert len(points) == 12 == len({(p["a"], p["b"]) for p in points})


def test_random_with_replacement_repeats() -> None:
    """By default random search draws independently (points can repeat) and never ends."""
    config = validate({"method": "random", "parameters": {"a": {"values": [1, 2]}}})
    trials: list[Trial] = []
    rng = np.random.default_rng(1)
    for index in range(20):
        params = next_params(config, trials, rng)
        assert params is not None
        trials.append(Trial(str(index), params))
    assert len({t.params["a"] for t in trials}) == 2


def _quadratic(params: dict[str, Any]) -> float:
    return (params["x"] - 0.3) ** 2 + (params["y"] - 0.7) ** 2


BAYES = {"method": "bayes", "metric": {"name": "loss"},
         "parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}, "c": {"value": 5}}}


def test_bayes_returns_valid_points_and_improves() -> None:
    """Bayes points are in the space and, on a bowl, get within 0.01 of its minimum in 15 trials."""
    config = validate(BAYES)
    trials: list[Trial] = []
    rng = np.random.default_rng(3)
    for index in range(15):
        params = next_params(config, trials, rng)
        assert params is not None and params["c"] == 5 and 0 <= params["x"] <= 1 and 0 <= params["y"] <= 1
        trials.append(Trial(str(index), params, "finished", _quadratic(params)))
    assert min(t.metric for t in trials if t.metric is not None) < 0.01


def test_bayes_imputes_failed_trials_per_metric_impute() -> None:
    """A crashed trial is imputed 'worst' by default (so bayes stays away); 'best' uses its own history."""
    from mytrack_service.sweeps.search.observations import observations
    from mytrack_service.sweeps.search.space import Space

    trials = [Trial("a", {"x": 0.1, "y": 0.1}, "finished", 1.0), Trial("b", {"x": 0.5, "y": 0.5}, "finished", 4.0),
              Trial("c", {"x": 0.9, "y": 0.9}, "crashed", None, history=[3.0, 0.5]),
              Trial("d", {"x": 0.2, "y": 0.2}, "running")]
    for impute, expected in (("worst", 4.0), ("best", 0.5), ("latest", 0.5)):
        config = validate({**BAYES, "metric": {"name": "loss", "impute": impute}})
        seen = observations(config, Space(config), trials)
        assert list(seen.y) == [1.0, 4.0, expected]
        assert len(seen.pending) == 1
    maximize = validate({**BAYES, "metric": {"name": "loss", "goal": "maximize"}})
    # the worst (lowest) value any ended trial reached is the crashed trial's own 0.5
    assert list(observations(maximize, Space(maximize), trials).y) == [-1.0, -4.0, -0.5]


def _optuna_config(sampler: str) -> dict[str, Any]:
    return validate({**BAYES, "method": "custom", "scheduler": {
        "engine": "optuna", "settings": {"sampler": {"type": sampler, "args": {"n_startup_trials": 3}}}},
        "parameters": {**BAYES["parameters"], "o": {"values": ["a", [1, 2]]}, "n": {"distribution": "normal"}}})


@pytest.mark.parametrize("sampler", ["TPESampler", "CmaEsSampler"])
def test_optuna_samplers_through_ask_and_tell(sampler: str) -> None:
    """Any Optuna sampler by name: valid points, and the study is rebuilt from the trials each call."""
    if sampler == "CmaEsSampler" and importlib.util.find_spec("cmaes") is None:
        pytest.skip("CmaEsSampler needs the cmaes package, which is not installed")
    config = _optuna_config(sampler)
    trials: list[Trial] = []
    rng = np.random.default_rng(5)
    for index in range(12):
        params = next_params(config, trials, rng)
        assert params is not None and params["o"] in ("a", [1, 2]) and params["c"] == 5
        state = "failed" if index == 4 else "running" if index == 11 else "finished"
        trials.append(Trial(str(index), params, state, _quadratic(params) if state == "finished" else None))
    assert next_params(config, trials, rng) is not None


def test_optuna_sampler_with_missing_dependency_is_a_config_error() -> None:
    """A sampler whose package is missing says which package, at the sampler's key."""
    if importlib.util.find_spec("cmaes") is not None:
        pytest.skip("cmaes is installed")
    from mytrack_common.sweep_config import SweepConfigError

    config = _optuna_config("CmaEsSampler")
    trials = [Trial(str(i), {"x": 0.1 * i, "y": 0.5, "c": 5, "o": "a", "n": 0.0}, "finished", float(i))
              for i in range(5)]
    with pytest.raises(SweepConfigError, match="cmaes"):
        next_params(config, trials, np.random.default_rng())


_DISTRIBUTIONS = st.sampled_from([
    {"min": -3, "max": 4}, {"min": 0.5, "max": 2.0}, {"values": [1, "a", None]},
    {"values": [1, 2], "probabilities": [0.25, 0.75]}, {"value": 7},
    {"distribution": "q_uniform", "min": 0.0, "max": 3.0, "q": 0.5},
    {"distribution": "log_uniform", "min": -3.0, "max": 1.0},
    {"distribution": "log_uniform_values", "min": 0.01, "max": 1.0},
    {"distribution": "inv_log_uniform", "min": 0.0, "max": 3.0},
    {"distribution": "inv_log_uniform_values", "min": 0.1, "max": 10.0},
    {"distribution": "q_log_uniform", "min": 0.0, "max": 3.0, "q": 1},
    {"distribution": "q_log_uniform_values", "min": 1.0, "max": 50.0, "q": 2},
    {"distribution": "normal", "mu": 1.0, "sigma": 2.0}, {"distribution": "q_normal", "q": 0.25},
    {"distribution": "log_normal"}, {"distribution": "q_log_normal", "q": 0.5},
    {"distribution": "beta", "a": 0.5, "b": 2.0}, {"distribution": "q_beta", "q": 0.2},
])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parameters=st.dictionaries(st.sampled_from(["a", "b", "c"]), _DISTRIBUTIONS, min_size=1, max_size=3),
       nested=st.booleans(), method=st.sampled_from(["random", "bayes"]), seed=st.integers(0, 2**16))
def test_any_valid_config_yields_params_inside_the_declared_domain(
        parameters: dict[str, Any], nested: bool, method: str, seed: int) -> None:
    """Whatever the (valid) configuration, every value is one its distribution can give."""
    params_section: dict[str, Any] = {"outer": {"parameters": parameters}} if nested else parameters
    if method == "bayes" and all("value" in spec for spec in parameters.values()):
        method = "random"
    config = validate({"method": method, "metric": {"name": "m"}, "parameters": params_section})
    dists = [Distribution(leaf) for leaf in leaves(config["parameters"])]
    rng = np.random.default_rng(seed)
    trials: list[Trial] = []
    for index in range(4 if method == "bayes" else 2):
        params = next_params(config, trials, rng)
        assert params is not None
        for dist in dists:
            assert dist.contains(lookup(params, dist.path)), (dist.leaf.name, lookup(params, dist.path))
        trials.append(Trial(str(index), params, "finished", float(rng.random())))
