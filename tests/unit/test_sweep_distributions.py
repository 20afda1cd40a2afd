"""Each sweep distribution's samples follow W&B's law for it, with its quantization and bounds.

The reference CDFs are written here from W&B's definitions (``sweeps/params.py``),
independently of the code under test; seeds are fixed, so a test cannot flake.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from scipy import stats

from mytrack_common.sweep_config import leaves, validate
from mytrack_service.sweeps.search.distributions import Distribution

N = 2000
P_MIN = 0.001


def _dist(spec: dict[str, Any]) -> Distribution:
    config = validate({"method": "random", "parameters": {"p": spec}})
    return Distribution(next(leaves(config["parameters"])))


def _samples(spec: dict[str, Any], seed: int = 7) -> list[Any]:
    dist = _dist(spec)
    rng = np.random.default_rng(seed)
    return [dist.sample(rng) for _ in range(N)]


def _log_uniform_cdf(low: float, high: float) -> Callable[[Any], Any]:
    return lambda x: np.clip((np.log(x) - low) / (high - low), 0, 1)


CONTINUOUS: dict[str, tuple[dict[str, Any], Callable[[Any], Any]]] = {
    "uniform": ({"min": -2.0, "max": 3.0}, stats.uniform(-2, 5).cdf),
    "log_uniform": ({"distribution": "log_uniform", "min": -5.0, "max": 1.0}, _log_uniform_cdf(-5, 1)),
    "log_uniform_values": ({"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1},
                           _log_uniform_cdf(math.log(1e-4), math.log(0.1))),
    # exp(-uniform(min, max)): P(X <= x) = P(U >= -log x)
    "inv_log_uniform": ({"distribution": "inv_log_uniform", "min": 0.0, "max": 4.0},
                        lambda x: np.clip((4.0 + np.log(x)) / 4.0, 0, 1)),
    "inv_log_uniform_values": ({"distribution": "inv_log_uniform_values", "min": 0.01, "max": 10.0},
                               lambda x: 1 - np.clip((np.log(1 / x) + np.log(10.0)) / np.log(1000.0), 0, 1)),
    "normal": ({"distribution": "normal", "mu": 3.0, "sigma": 2.0}, stats.norm(3, 2).cdf),
    "log_normal": ({"distribution": "log_normal", "mu": 1.0, "sigma": 0.5}, stats.lognorm(s=0.5, scale=math.e).cdf),
    "beta": ({"distribution": "beta", "a": 2.0, "b": 5.0}, stats.beta(2, 5).cdf),
}


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_continuous_samples_follow_the_reference_cdf(name: str) -> None:
    """Kolmogorov-Smirnov of 2000 samples against W&B's law: p > 0.001."""
    spec, cdf = CONTINUOUS[name]
    samples = _samples(spec)
    assert all(isinstance(value, float) for value in samples)
    assert stats.kstest(samples, cdf).pvalue > P_MIN


def test_the_ks_check_can_fail() -> None:
    """The same check refuses samples of another law (so the tests above can fail)."""
    samples = _samples({"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1})
    assert stats.kstest(samples, stats.uniform(1e-4, 0.1).cdf).pvalue < P_MIN


def _chi_square(samples: list[Any], pmf: Callable[[Any], float]) -> float:
    counts = Counter(samples)
    observed, expected = [], []
    for value, count in counts.items():
        if N * pmf(value) >= 5:
            observed.append(count)
            expected.append(N * pmf(value))
    observed.append(N - sum(observed))
    expected.append(N - sum(expected))
    if expected[-1] < 1e-9:
        observed, expected = observed[:-1], expected[:-1]
    return float(stats.chisquare(observed, expected).pvalue)


def _rounded_pmf(cdf: Callable[[float], float], q: float) -> Callable[[Any], float]:
    return lambda value: float(cdf(value + q / 2) - cdf(value - q / 2))


QUANTIZED: dict[str, tuple[dict[str, Any], Callable[[float], float], float]] = {
    "q_uniform": ({"distribution": "q_uniform", "min": 0.0, "max": 10.0, "q": 2}, stats.uniform(0, 10).cdf, 2),
    "q_log_uniform": ({"distribution": "q_log_uniform", "min": 0.0, "max": 4.0, "q": 5},
                      lambda x: float(np.clip((np.log(max(x, 1e-300)) - 0) / 4, 0, 1)), 5),
    "q_log_uniform_values": ({"distribution": "q_log_uniform_values", "min": 1.0, "max": 100.0, "q": 10},
                             lambda x: float(np.clip(np.log(max(x, 1e-300)) / np.log(100), 0, 1)), 10),
    "q_normal": ({"distribution": "q_normal", "mu": 0.0, "sigma": 3.0, "q": 1.5}, stats.norm(0, 3).cdf, 1.5),
    "q_log_normal": ({"distribution": "q_log_normal", "mu": 2.0, "sigma": 0.4, "q": 2},
                     stats.lognorm(s=0.4, scale=math.exp(2)).cdf, 2),
    "q_beta": ({"distribution": "q_beta", "a": 2.0, "b": 2.0, "q": 0.1}, stats.beta(2, 2).cdf, 0.1),
}


@pytest.mark.parametrize("name", sorted(QUANTIZED))
def test_quantized_samples_are_multiples_of_q_with_the_reference_masses(name: str) -> None:
    """Every sample is round(x / q) * q of the continuous law; chi-square of the masses: p > 0.001."""
    spec, cdf, q = QUANTIZED[name]
    samples = _samples(spec)
    dist = _dist(spec)
    for value in samples:
        assert math.isclose(value / q, round(value / q), abs_tol=1e-6)
        assert dist.contains(value)
    if isinstance(spec["q"], int):
        assert all(isinstance(value, int) for value in samples)
    assert _chi_square(samples, _rounded_pmf(cdf, q)) > P_MIN


def test_categorical_values_are_equally_likely() -> None:
    """values: uniform over the list (chi-square p > 0.001), any JSON value allowed."""
    samples = _samples({"values": ["a", 1, None, [1, 2]]})
    assert _chi_square([repr(value) for value in samples], lambda value: 0.25) > P_MIN


def test_categorical_probabilities_are_honoured() -> None:
    """values with probabilities: each drawn with its probability; a zero one never."""
    probabilities = {"a": 0.1, "b": 0.6, "c": 0.3, "z": 0.0}
    samples = _samples({"values": list(probabilities), "probabilities": list(probabilities.values())})
    assert "z" not in samples
    assert _chi_square(samples, lambda value: probabilities[value]) > P_MIN
    assert _chi_square(samples, lambda value: 0.25 if value != "z" else 0.25) < P_MIN


def test_int_uniform_includes_both_bounds() -> None:
    """int_uniform: ints from min to max, max included (W&B's randint(min, max + 1))."""
    samples = _samples({"min": -2, "max": 3})
    assert set(samples) == {-2, -1, 0, 1, 2, 3}
    assert all(type(value) is int for value in samples)
    assert _chi_square(samples, lambda value: 1 / 6) > P_MIN


def test_constant_is_always_its_value() -> None:
    """value: every draw is the constant."""
    assert set(map(repr, _samples({"value": {"a": 1}}))) == {"{'a': 1}"}


@pytest.mark.parametrize("name", sorted(CONTINUOUS))
def test_bounded_samples_stay_in_bounds_and_ppf_inverts_cdf(name: str) -> None:
    """Samples lie in the declared domain, and ppf(cdf(x)) == x."""
    spec, _ = CONTINUOUS[name]
    dist = _dist(spec)
    samples = _samples(spec, seed=11)[:200]
    for value in samples:
        assert dist.contains(value)
        assert math.isclose(dist.ppf(dist.cdf(value)), value, rel_tol=1e-6, abs_tol=1e-9)


def test_discrete_cdf_points_map_back_to_their_value() -> None:
    """A categorical or int value's CDF point gives the same value back (bayes relies on it)."""
    for spec in ({"values": ["x", "y", "z"]}, {"values": [1, 2], "probabilities": [0.9, 0.1]}, {"min": 1, "max": 9}):
        dist = _dist(spec)
        for value in dist.values():
            assert dist.ppf(dist.cdf(value)) == value
