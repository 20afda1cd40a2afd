"""Each parameter distribution of W&B's sweeps: sampling, CDF and PPF, domain, listed values.

The meanings are W&B's (``sweeps/params.py``): a value is drawn as ``ppf(u)`` of a
uniform ``u``; ``q_*`` round to a multiple of ``q`` with NumPy's rounding (half to
even) and give ints when ``q`` is an int; ``log_uniform`` and ``inv_log_uniform``
take natural-log exponents, the ``*_values`` forms the values themselves. Bayes
search works in CDF space: `Distribution.cdf` maps a value into [0, 1] and
`Distribution.ppf` back. A discrete value maps to the middle of its step of the CDF,
so ``ppf(cdf(v)) == v``.

Only ``beta`` needs SciPy (its quantile function has no closed form): the others
are closed forms or the standard library's `statistics.NormalDist`, so the
service starts without importing SciPy (about 0.7 s) and grid and random sweeps
work without the ``sweeps`` extra.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

from mytrack_common.sweep_config import Leaf
from mytrack_service.sweeps.search.canonical import canonical

# Relative slack for bounds checks of values computed through exp/log.
_TOLERANCE = 1e-9


class Distribution:
    """One parameter leaf of a validated configuration, with the operations search needs."""

    def __init__(self, leaf: Leaf) -> None:
        self.leaf = leaf
        self.kind = leaf.distribution
        spec = leaf.spec
        self._spec = spec
        self._q = spec.get("q", 1.0)
        self._continuous = self._make_continuous()
        if self.kind in ("categorical", "categorical_w_probabilities"):
            values = list(spec["values"])
            self._values = values
            if self.kind == "categorical":
                self._probabilities = np.full(len(values), 1.0 / len(values))
            else:
                self._probabilities = np.asarray(spec["probabilities"], dtype=float)
                self._probabilities = self._probabilities / self._probabilities.sum()
            self._cumulative = np.cumsum(self._probabilities)
            self._index: dict[str, int] = {}
            for index, value in enumerate(values):
                self._index.setdefault(canonical(value), index)

    @property
    def path(self) -> tuple[str, ...]:
        return self.leaf.path

    @property
    def searchable(self) -> bool:
        """Whether the parameter varies (a constant is not part of the search space)."""
        return self.kind != "constant"

    def _make_continuous(self) -> _Continuous | None:
        """The continuous distribution behind a continuous (or quantized continuous) kind."""
        spec, kind = self._spec, self.kind
        base = kind[2:] if kind.startswith("q_") else kind
        if base in ("uniform",):
            return _Uniform(spec["min"], spec["max"])
        if base in ("log_uniform", "inv_log_uniform"):
            low, high = spec["min"], spec["max"]
            return _Log(_Uniform(low, high)) if base == "log_uniform" else _Log(_Uniform(-high, -low))
        if base in ("log_uniform_values", "inv_log_uniform_values"):
            return _Log(_Uniform(math.log(spec["min"]), math.log(spec["max"])))
        if base == "normal":
            return _Normal(spec["mu"], spec["sigma"])
        if base == "log_normal":
            return _Log(_Normal(spec["mu"], spec["sigma"]))
        if base == "beta":
            return _Beta(spec["a"], spec["b"], self.leaf.name)
        return None

    # -- sampling ---------------------------------------------------------------------------

    def sample(self, rng: np.random.Generator) -> Any:
        """One value drawn from the distribution."""
        u = rng.random()
        while u == 0.0:  # ppf(0) is -inf for unbounded kinds
            u = rng.random()
        return self.ppf(u)

    def ppf(self, u: float) -> Any:
        """The value at quantile ``u`` (0 < u < 1), as a plain Python value."""
        kind, spec = self.kind, self._spec
        if kind == "constant":
            return spec["value"]
        if kind in ("categorical", "categorical_w_probabilities"):
            index = int(np.searchsorted(self._cumulative, u, side="right"))
            return self._values[min(index, len(self._values) - 1)]
        if kind == "int_uniform":
            # The smallest k whose CDF, (k - min + 1) / n, reaches u.
            low, high = int(spec["min"]), int(spec["max"])
            return low + min(high - low, max(0, math.ceil(u * (high - low + 1)) - 1))
        # inv_log_uniform: W&B's exp(-uniform.ppf(1 - u)) is the log-uniform's ppf(u).
        assert self._continuous is not None
        value = float(self._continuous.ppf(u))
        return self._quantize(value) if kind.startswith("q_") else value

    def _quantize(self, value: float) -> Any:
        q = self._q
        rounded = float(np.round(value / q) * q)
        return int(rounded) if isinstance(q, int) and not isinstance(q, bool) else rounded

    # -- CDF space (bayes) -------------------------------------------------------------------

    def cdf(self, value: Any) -> float:
        """Where ``value`` sits in [0, 1]; NaN for a value the distribution cannot give."""
        kind = self.kind
        if kind in ("categorical", "categorical_w_probabilities"):
            index = self._index.get(canonical(value))
            if index is None:
                return math.nan
            return float(self._cumulative[index] - self._probabilities[index] / 2)
        if kind == "int_uniform":
            low, high = int(self._spec["min"]), int(self._spec["max"])
            return (float(value) - low + 0.5) / (high - low + 1)
        if kind == "constant":
            return 0.5
        try:
            number = float(value)
        except (TypeError, ValueError):
            return math.nan
        assert self._continuous is not None
        return float(np.clip(float(self._continuous.cdf(number)), 0.0, 1.0))

    # -- domain ----------------------------------------------------------------------------

    def contains(self, value: Any) -> bool:
        """Whether ``value`` is one the distribution can give."""
        kind, spec = self.kind, self._spec
        if kind == "constant":
            return canonical(value) == canonical(spec["value"])
        if kind in ("categorical", "categorical_w_probabilities"):
            return canonical(value) in self._index
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            return False
        if kind == "int_uniform":
            return isinstance(value, int) and spec["min"] <= value <= spec["max"]
        if kind.startswith("q_"):
            q = self._q
            if not math.isclose(value / q, round(value / q), abs_tol=1e-6):
                return False
            low, high = self.bounds()
            return _at_least(value, self._quantize_bound(low)) and _at_least(self._quantize_bound(high), value)
        low, high = self.bounds()
        return _at_least(value, low) and _at_least(high, value)

    def bounds(self) -> tuple[float, float]:
        """The continuous law's support (before quantization); infinite for unbounded kinds."""
        assert self._continuous is not None
        low, high = self._continuous.support()
        return float(low), float(high)

    def _quantize_bound(self, bound: float) -> float:
        return bound if math.isinf(bound) else float(self._quantize(bound))

    # -- listing (grid, sampling without replacement) ------------------------------------------

    def values(self) -> list[Any]:
        """Every value, in order, each point once (1 and 1.0 are one); finite kinds only."""
        kind, spec = self.kind, self._spec
        if kind == "constant":
            return [spec["value"]]
        if kind in ("categorical", "categorical_w_probabilities"):
            return _unique(self._values)
        if kind == "int_uniform":
            return list(range(spec["min"], spec["max"] + 1))
        if kind == "q_uniform":
            q = self._q
            first, last = int(np.round(spec["min"] / q)), int(np.round(spec["max"] / q))
            return _unique([self._quantize(step * q) for step in range(first, last + 1)])
        raise ValueError(f"{self.leaf.name}: a {kind} parameter has no list of values")

    def weight(self, value: Any) -> float:
        """The probability of drawing ``value`` (finite kinds)."""
        kind, spec = self.kind, self._spec
        if kind == "constant":
            return 1.0
        if kind in ("categorical", "categorical_w_probabilities"):
            key = canonical(value)
            return float(sum(p for v, p in zip(self._values, self._probabilities, strict=True) if canonical(v) == key))
        if kind == "int_uniform":
            return 1.0 / (int(spec["max"]) - int(spec["min"]) + 1)
        if kind == "q_uniform":
            q = self._q
            assert self._continuous is not None
            return float(self._continuous.cdf(value + q / 2)) - float(self._continuous.cdf(value - q / 2))
        raise ValueError(f"{self.leaf.name}: a {kind} parameter has no list of values")


def _at_least(value: float, bound: float) -> bool:
    """``value >= bound``, with slack for values computed through exp and log."""
    return math.isinf(bound) or value >= bound - _TOLERANCE * max(1.0, abs(bound))


def _unique(values: Sequence[Any]) -> list[Any]:
    seen: set[str] = set()
    unique = []
    for value in values:
        key = canonical(value)
        if key not in seen:
            seen.add(key)
            unique.append(value)
    return unique


# -- the continuous distributions ------------------------------------------------------------


class _Continuous:
    def ppf(self, u: float) -> float:
        raise NotImplementedError

    def cdf(self, x: float) -> float:
        raise NotImplementedError

    def support(self) -> tuple[float, float]:
        raise NotImplementedError


class _Uniform(_Continuous):
    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = float(low), float(high)

    def ppf(self, u: float) -> float:
        return self.low + u * (self.high - self.low)

    def cdf(self, x: float) -> float:
        return min(1.0, max(0.0, (x - self.low) / (self.high - self.low)))

    def support(self) -> tuple[float, float]:
        return self.low, self.high


class _Normal(_Continuous):
    def __init__(self, mu: float, sigma: float) -> None:
        self._dist = NormalDist(float(mu), float(sigma))

    def ppf(self, u: float) -> float:
        return self._dist.inv_cdf(u)

    def cdf(self, x: float) -> float:
        return self._dist.cdf(x)

    def support(self) -> tuple[float, float]:
        return -math.inf, math.inf


class _Log(_Continuous):
    """exp(X) for the distribution X of the exponent."""

    def __init__(self, exponent: _Continuous) -> None:
        self._exponent = exponent

    def ppf(self, u: float) -> float:
        return math.exp(self._exponent.ppf(u))

    def cdf(self, x: float) -> float:
        return 0.0 if x <= 0 else self._exponent.cdf(math.log(x))

    def support(self) -> tuple[float, float]:
        low, high = self._exponent.support()
        return math.exp(low) if math.isfinite(low) else 0.0, math.exp(high) if math.isfinite(high) else math.inf


class _Beta(_Continuous):
    def __init__(self, a: float, b: float, name: str) -> None:
        try:
            from scipy import stats
        except ImportError:
            from mytrack_common.sweep_config import SweepConfigError

            raise SweepConfigError(
                f"parameters.{name}", "a beta or q_beta parameter needs SciPy: pip install 'mytrack[sweeps]'"
            ) from None
        self._dist = stats.beta(a=a, b=b)

    def ppf(self, u: float) -> float:
        return float(self._dist.ppf(u))

    def cdf(self, x: float) -> float:
        return float(self._dist.cdf(x))

    def support(self) -> tuple[float, float]:
        return 0.0, 1.0
