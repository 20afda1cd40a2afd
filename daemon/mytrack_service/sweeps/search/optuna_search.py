"""``method: custom`` with ``scheduler.engine: optuna``: any Optuna sampler, through ask and tell.

The service keeps no Optuna object between asks: each call builds an in-memory study
from the trials, in the order they were handed out (``optuna.trial.create_trial`` and
``Study.add_trial``; pending and running ones as RUNNING trials, which samplers such as
TPE's ``constant_liar`` take into account) and asks it for one more. What samplers keep
in the study between asks is kept in the store and given back: each trial's system
attributes (CMA-ES's ``cma:generation`` and its pickled optimizer, ``cma:optimizer:N``)
with the trial, the study's system attributes with the sweep. So a stateful sampler
such as ``CmaEsSampler`` goes on from generation to generation.

Parameters go to Optuna as its own distributions where one means the same: int_uniform
(``IntDistribution``), uniform, log_uniform(_values) and inv_log_uniform(_values)
(``FloatDistribution``, ``log=True`` for the log ones), values (``CategoricalDistribution``
of the values' indices, so any JSON value can be a choice; ``probabilities`` are not
used by Optuna). The others (the normal, beta and quantized kinds) are searched as
their CDF, a float in (0, 1), and turned into a value by the distribution's PPF.
A finished or early-stopped trial is COMPLETE with its metric; one without a metric,
and a failed, crashed or killed one, is FAIL.
"""

from __future__ import annotations

import inspect
import json
import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np

from mytrack_common.sweep_config import SweepConfigError
from mytrack_service.sweeps.search.distributions import Distribution
from mytrack_service.sweeps.search.space import Space
from mytrack_service.sweeps.search.trial import LIVE, Suggestion, Trial

_EDGE = 1e-9  # CDF-space parameters stay inside (0, 1), where every PPF is finite
_DIRECT = {"uniform", "log_uniform", "log_uniform_values", "inv_log_uniform", "inv_log_uniform_values"}


def next_optuna_params(config: Mapping[str, Any], trials: Sequence[Trial], rng: np.random.Generator,
                       sweep_state: Mapping[str, Any] | None = None) -> Suggestion:
    """The parameters the configured Optuna sampler asks for next, with the system
    attributes it gave the asked trial and the study (to pass back in later calls)."""
    try:
        import optuna
    except ImportError:
        raise SweepConfigError("scheduler.engine", "'optuna' needs Optuna (pip install 'mytrack[sweeps]')") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    space = Space(config)
    dists = space.searchable
    distributions = {dist.leaf.name: _optuna_distribution(optuna, dist) for dist in dists}
    direction: Literal["minimize", "maximize"] = "maximize" if config["metric"]["goal"] == "maximize" else "minimize"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Optuna's ExperimentalWarning for newer samplers
        sampler, kept = _sampler(optuna, config, rng, len(trials), sweep_state or {})
        storage = optuna.storages.InMemoryStorage()
        study = optuna.create_study(storage=storage, direction=direction, sampler=sampler)
        study_id = storage.get_study_id_from_name(study.study_name)
        for key, value in {**(sweep_state or {}), **kept}.items():
            storage.set_study_system_attr(study_id, key, value)
        try:
            for trial in trials:
                values = _optuna_values(space, dists, trial)
                if values is not None:
                    study.add_trial(_frozen(optuna, trial, values, distributions))
            asked = study.ask(distributions)
        except ImportError as exc:  # a sampler's own dependency (CmaEsSampler: cmaes)
            raise SweepConfigError("scheduler.settings.sampler.type",
                                   f"this sampler needs the package {exc.name!r}, which is not installed") from None
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, asked.number)
        trial_attrs = _json_only(storage.get_trial_system_attrs(trial_id))
        study_attrs = _json_only(storage.get_study_system_attrs(study_id))
    chosen = {dist.leaf.name: asked.params[dist.leaf.name] for dist in dists}
    point = tuple(_value(dist, chosen[dist.leaf.name]) if dist.searchable else dist.ppf(0.5)
                  for dist in space.distributions)
    return Suggestion(space.params(point), trial_attrs, study_attrs)


def _frozen(optuna: Any, trial: Trial, values: dict[str, Any], distributions: dict[str, Any]) -> Any:
    """The trial as Optuna's: COMPLETE with its metric, RUNNING while live, else FAIL;
    with the system attributes the sampler gave it when it was asked."""
    if trial.state in LIVE:
        state, value = optuna.trial.TrialState.RUNNING, None
    elif trial.state in ("finished", "stopped") and _finite(trial.metric):
        state, value = optuna.trial.TrialState.COMPLETE, float(trial.metric)  # type: ignore[arg-type]
    else:
        state, value = optuna.trial.TrialState.FAIL, None
    return optuna.trial.create_trial(params=values, distributions=distributions, value=value, state=state,
                                     system_attrs=dict(trial.search_state))


def _json_only(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The attributes the store can keep (Optuna's own RDB storage needs JSON too)."""
    kept = {}
    for key, value in attrs.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        kept[key] = value
    return kept


# A scrambled QMC sequence is named by its seed (Optuna keeps the sequence's position in
# the study under that name): the seed must stay the same from ask to ask.
_QMC_SEED = "mytrack:qmc_seed"


def _sampler(optuna: Any, config: Mapping[str, Any], rng: np.random.Generator, asked: int,
             sweep_state: Mapping[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The configured sampler, and study attributes to keep. The study is built anew for
    each ask, so a ``seed`` the configuration gives becomes ``seed + asked`` (else every
    ask would draw the same random point); without one, a random seed. A scrambled
    ``QMCSampler`` keeps one seed for the sweep (in the study's attributes); its
    independent sampler gets the changing one."""
    settings = config["scheduler"]["settings"]["sampler"]
    name, args = settings["type"], dict(settings.get("args", {}))
    cls = getattr(optuna.samplers, name, None)
    if not isinstance(cls, type):
        raise SweepConfigError("scheduler.settings.sampler.type", f"expected an Optuna sampler name, got {name!r}")
    kept: dict[str, Any] = {}
    if "seed" in inspect.signature(cls).parameters:
        seed = args.get("seed")
        if cls is optuna.samplers.QMCSampler and args.get("scramble"):
            if not isinstance(seed, int):
                stored = sweep_state.get(_QMC_SEED)
                seed = stored if isinstance(stored, int) else int(rng.integers(2**31))
            kept[_QMC_SEED] = seed
            args["independent_sampler"] = optuna.samplers.RandomSampler(seed=(seed + asked) % 2**31)
        args["seed"] = seed if kept else (
            (seed + asked) % 2**31 if isinstance(seed, int) else int(rng.integers(2**31)))
    try:
        return cls(**args), kept
    except (TypeError, ValueError) as exc:
        raise SweepConfigError("scheduler.settings.sampler.args", f"{name} refused them: {exc}") from None


def _optuna_distribution(optuna: Any, dist: Distribution) -> Any:
    spec = dist.leaf.spec
    if dist.kind == "int_uniform":
        return optuna.distributions.IntDistribution(spec["min"], spec["max"])
    if dist.kind in ("categorical", "categorical_w_probabilities"):
        return optuna.distributions.CategoricalDistribution(list(range(len(dist.values()))))
    if dist.kind in _DIRECT:
        low, high = dist.bounds()
        return optuna.distributions.FloatDistribution(low, high, log=dist.kind != "uniform")
    return optuna.distributions.FloatDistribution(_EDGE, 1 - _EDGE)


def _optuna_values(space: Space, dists: list[Distribution], trial: Trial) -> dict[str, Any] | None:
    """The trial's values as Optuna's parameters; None when one is not in the space."""
    values: dict[str, Any] = {}
    point = dict(zip((dist.path for dist in space.distributions), space.trial_point(trial), strict=True))
    for dist in dists:
        value = point[dist.path]
        if not dist.contains(value):
            return None
        if dist.kind in ("categorical", "categorical_w_probabilities"):
            values[dist.leaf.name] = dist.values().index(next(v for v in dist.values() if dist.contains(v)
                                                              and dist.cdf(v) == dist.cdf(value)))
        elif dist.kind == "int_uniform":
            values[dist.leaf.name] = int(value)
        elif dist.kind in _DIRECT:
            low, high = dist.bounds()
            values[dist.leaf.name] = min(max(float(value), low), high)
        else:
            values[dist.leaf.name] = min(max(dist.cdf(value), _EDGE), 1 - _EDGE)
    return values


def _value(dist: Distribution, chosen: Any) -> Any:
    if dist.kind in ("categorical", "categorical_w_probabilities"):
        return dist.values()[int(chosen)]
    if dist.kind == "int_uniform":
        return int(chosen)
    if dist.kind in _DIRECT:
        return float(chosen)
    return dist.ppf(float(chosen))


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
