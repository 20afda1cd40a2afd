"""A sweep configuration's parameters as a flat list of leaves, each with its distribution.

Nested parameters (``{"opt": {"parameters": {"beta": {...}}}}``) are leaves with a
path (``("opt", "beta")``); the value a trial gets is nested the same way in its
config (``{"opt": {"beta": 0.9}}``), as W&B does.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# Distributions whose values can be listed, so a grid (or sampling without
# replacement) can go through them; W&B's grid takes the same ones.
GRID_DISTRIBUTIONS = frozenset({"constant", "categorical", "int_uniform", "q_uniform"})
FINITE_DISTRIBUTIONS = GRID_DISTRIBUTIONS | {"categorical_w_probabilities"}


@dataclass(frozen=True)
class Leaf:
    """One parameter that takes a value: its path of names and its (filled) definition."""

    path: tuple[str, ...]
    spec: Mapping[str, Any]

    @property
    def name(self) -> str:
        """The dotted name W&B puts on a command line for it (``opt.beta``)."""
        return ".".join(self.path)

    @property
    def distribution(self) -> str:
        return str(self.spec["distribution"])


def infer_distribution(spec: Mapping[str, Any]) -> str:
    """The distribution a parameter definition means, read from its keys when not named.

    Returns ``"dict"`` for nested parameters.
    """
    if "distribution" in spec:
        return str(spec["distribution"])
    if "parameters" in spec:
        return "dict"
    if "values" in spec:
        return "categorical_w_probabilities" if "probabilities" in spec else "categorical"
    if "value" in spec:
        return "constant"
    ints = all(isinstance(spec.get(key), int) and not isinstance(spec.get(key), bool) for key in ("min", "max"))
    return "int_uniform" if ints else "uniform"


def leaves(parameters: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[Leaf]:
    """Every leaf of a (validated) ``parameters`` section, sorted by name at each level."""
    for name in sorted(parameters):
        spec = parameters[name]
        if "parameters" in spec and "distribution" not in spec:
            yield from leaves(spec["parameters"], (*prefix, name))
        else:
            yield Leaf((*prefix, name), spec)


def nest(values: Mapping[tuple[str, ...], Any]) -> dict[str, Any]:
    """``{("opt", "beta"): 0.9}`` as ``{"opt": {"beta": 0.9}}``."""
    nested: dict[str, Any] = {}
    for path, value in values.items():
        level = nested
        for name in path[:-1]:
            level = level.setdefault(name, {})
        level[path[-1]] = value
    return nested


_MISSING = object()


def lookup(params: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """The value at ``path`` in a trial's nested params; `MISSING` when absent."""
    level: Any = params
    for name in path:
        if not isinstance(level, Mapping) or name not in level:
            return _MISSING
        level = level[name]
    return level


MISSING = _MISSING
