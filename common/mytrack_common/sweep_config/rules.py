"""The rules of a sweep configuration that its JSON schema cannot say.

Each raises `SweepConfigError` naming the key: bounds in order, probabilities that
sum to 1, parameters a grid can list, the sections a method needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mytrack_common.sweep_config.errors import SweepConfigError
from mytrack_common.sweep_config.parameters import FINITE_DISTRIBUTIONS, GRID_DISTRIBUTIONS, Leaf, leaves
from mytrack_common.sweep_config.schema import format_path

# Optuna's samplers that take the search space from the trials' distributions alone.
_OPTUNA_HINT = "an Optuna sampler class name such as 'TPESampler', 'GPSampler' or 'CmaEsSampler'"


def check_rules(config: Mapping[str, Any]) -> None:
    """Raises `SweepConfigError` for the first rule ``config`` (schema-valid, filled) breaks."""
    method = config["method"]
    if "parameters" not in config:
        raise SweepConfigError("parameters", "is required")
    params = list(leaves(config["parameters"]))
    for leaf in params:
        _check_leaf(leaf)
    if "metrics" in config:
        raise SweepConfigError("metrics", "several objectives are not supported; use 'metric'")
    if method == "grid":
        for leaf in params:
            if leaf.distribution not in GRID_DISTRIBUTIONS:
                raise SweepConfigError(
                    _path(leaf), "grid search needs parameters it can list ('values' without probabilities, "
                    f"'value', int_uniform or q_uniform), got {leaf.distribution!r}")
    if method in ("bayes", "custom"):
        if "metric" not in config:
            raise SweepConfigError("metric", f"is required by method {method!r}")
        if all(leaf.distribution == "constant" for leaf in params):
            raise SweepConfigError("parameters", f"method {method!r} needs at least one parameter that varies")
    if "early_terminate" in config:
        if "metric" not in config:
            raise SweepConfigError("metric", "is required by early_terminate")
        _check_hyperband(config["early_terminate"])
    _check_random(config, params)
    _check_scheduler(config)


def _path(leaf: Leaf, key: str | None = None) -> str:
    parts: list[str] = []
    for name in leaf.path:
        parts += ["parameters", name]
    return format_path(parts + ([key] if key else []))


def _check_leaf(leaf: Leaf) -> None:
    spec = leaf.spec
    if "min" in spec and "max" in spec and not spec["min"] < spec["max"]:
        raise SweepConfigError(_path(leaf, "min"), f"expected a value less than max ({spec['max']}), got {spec['min']}")
    if leaf.distribution == "categorical_w_probabilities":
        values, probabilities = spec["values"], spec["probabilities"]
        if len(values) != len(probabilities):
            raise SweepConfigError(_path(leaf, "probabilities"),
                                   f"expected {len(values)} probabilities (one per value), got {len(probabilities)}")
        if not math.isclose(sum(probabilities), 1.0, abs_tol=1e-6):
            raise SweepConfigError(_path(leaf, "probabilities"), f"expected a sum of 1, got {sum(probabilities)}")


def hyperband_bands(early_terminate: Mapping[str, Any]) -> list[int]:
    """The iterations (1-based) at which hyperband compares trials, as W&B computes them."""
    eta = float(early_terminate["eta"])
    if "max_iter" in early_terminate:
        band = float(early_terminate["max_iter"])
        bands = []
        for _ in range(int(early_terminate["s"])):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        return sorted(bands)
    band = float(early_terminate["min_iter"])
    bands = []
    # W&B lists 100 bands; past 2**62 no run gets there.
    for _ in range(100):
        if band > 2**62:
            break
        bands.append(int(band))
        band *= eta
    return bands


def _check_hyperband(early_terminate: Mapping[str, Any]) -> None:
    if not hyperband_bands(early_terminate):
        raise SweepConfigError("early_terminate.max_iter",
                               "max_iter / eta is below 1, so there is no band: raise max_iter or lower eta")


def _check_random(config: Mapping[str, Any], params: list[Leaf]) -> None:
    if config.get("random", {}).get("replacement", True):
        return
    if config["method"] != "random":
        raise SweepConfigError("random.replacement", f"applies to method 'random' only, not {config['method']!r}")
    for leaf in params:
        if leaf.distribution not in FINITE_DISTRIBUTIONS:
            raise SweepConfigError(_path(leaf), "sampling without replacement needs parameters with finitely many "
                                   f"values ('values', 'value', int_uniform or q_uniform), got {leaf.distribution!r}")


def _check_scheduler(config: Mapping[str, Any]) -> None:
    scheduler = config.get("scheduler")
    if config["method"] == "custom" and scheduler is None:
        raise SweepConfigError("scheduler", "is required by method 'custom' (scheduler: {engine: optuna})")
    if scheduler is None:
        return
    if config["method"] != "custom":
        raise SweepConfigError("scheduler", f"needs method 'custom', not {config['method']!r}")
    if scheduler["engine"] != "optuna":
        raise SweepConfigError("scheduler.engine", f"only 'optuna' is supported, got {scheduler['engine']!r}")
    for key in ("source", "optimizer", "search_space"):
        if key in scheduler:
            raise SweepConfigError(f"scheduler.{key}", "is not supported; name a sampler in "
                                   "scheduler.settings.sampler.type")
    sampler = scheduler["settings"]["sampler"]["type"]
    try:
        import optuna
    except ImportError:  # the service checks again where it runs the sampler
        return
    if not isinstance(getattr(optuna.samplers, sampler, None), type):
        raise SweepConfigError("scheduler.settings.sampler.type", f"expected {_OPTUNA_HINT}, got {sampler!r}")
