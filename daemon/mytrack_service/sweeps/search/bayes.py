"""Bayesian search as W&B does it: expected improvement over a Gaussian process in CDF space.

Each searchable parameter is mapped to [0, 1] by its distribution's CDF, so a
log-uniform learning rate and a categorical optimizer are searched on the same
footing. The process is scikit-learn's ``GaussianProcessRegressor`` (Matern 5/2
kernel with one length scale per parameter, times a constant; normalized values).
Trials still running count as W&B counts them: each is given the value the process
predicts for it (a "kriging believer"), so parallel agents are not all sent to the
same place. The acquisition is maximized over random candidates, candidates near
the best points so far, and a gradient polish of the best few (scipy's L-BFGS-B).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mytrack_common.sweep_config import SweepConfigError
from mytrack_service.sweeps.search.observations import Observations, observations
from mytrack_service.sweeps.search.random_search import draw
from mytrack_service.sweeps.search.space import Space
from mytrack_service.sweeps.search.trial import Trial

_RANDOM_CANDIDATES = 2000
_LOCAL_CANDIDATES = 1000
_POLISHED = 3
# W&B fits at most this many points (the process is cubic in them).
_MAX_POINTS = 200


def next_bayes_params(config: Mapping[str, Any], trials: Sequence[Trial],
                      rng: np.random.Generator) -> dict[str, Any]:
    """The point with the highest expected improvement (a random one before two measurements)."""
    space = Space(config)
    seen = observations(config, space, trials)
    if len(seen.y) < 2:
        return space.params(draw(space, rng))
    x = _suggest(seen, rng)
    point = []
    coordinates = iter(x)
    for dist in space.distributions:
        point.append(dist.ppf(float(np.clip(next(coordinates), 1e-9, 1 - 1e-9))) if dist.searchable
                     else dist.ppf(0.5))
    return space.params(tuple(point))


def _suggest(seen: Observations, rng: np.random.Generator) -> np.ndarray:
    try:
        from scipy import optimize, stats
        from sklearn.gaussian_process import GaussianProcessRegressor
        from sklearn.gaussian_process.kernels import ConstantKernel, Matern
    except ImportError:
        raise SweepConfigError("method", "'bayes' needs scikit-learn (pip install 'mytrack[sweeps]')") from None
    x, y = seen.x, seen.y
    if len(y) > _MAX_POINTS:
        keep = rng.choice(len(y), size=_MAX_POINTS, replace=False)
        x, y = x[keep], y[keep]
    dimension = x.shape[1]
    kernel = ConstantKernel(1.0, (1e-3, 1e3)) * Matern(length_scale=np.full(dimension, 0.5),
                                                      length_scale_bounds=(1e-2, 1e2), nu=2.5)
    gp = GaussianProcessRegressor(kernel=kernel, alpha=1e-6, normalize_y=True, n_restarts_optimizer=2,
                                  random_state=int(rng.integers(2**31)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence notes from the kernel's fit
        gp.fit(x, y)
        best = float(np.min(y))
        if len(seen.pending):
            # Running trials get the predicted value, with the kernel as fitted.
            believed = gp.predict(seen.pending)
            gp = GaussianProcessRegressor(kernel=gp.kernel_, alpha=1e-6, normalize_y=True, optimizer=None)
            gp.fit(np.vstack([x, seen.pending]), np.concatenate([y, believed]))

    def negative_ei(points: np.ndarray) -> np.ndarray:
        mean, std = gp.predict(np.atleast_2d(points), return_std=True)
        std = np.maximum(std, 1e-12)
        z = (best - mean) / std
        return np.asarray(-((best - mean) * stats.norm.cdf(z) + std * stats.norm.pdf(z)))

    order = np.argsort(y)[:5]
    local = x[rng.choice(order, size=_LOCAL_CANDIDATES)] + rng.normal(0.0, 0.05, (_LOCAL_CANDIDATES, dimension))
    candidates = np.clip(np.vstack([rng.random((_RANDOM_CANDIDATES, dimension)), local]), 0.0, 1.0)
    scores = negative_ei(candidates)
    best_x, best_score = candidates[int(np.argmin(scores))], float(np.min(scores))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for start in candidates[np.argsort(scores)[:_POLISHED]]:
            result = optimize.minimize(lambda p: float(negative_ei(p)[0]), start, method="L-BFGS-B",
                                       bounds=[(0.0, 1.0)] * dimension, options={"maxiter": 50})
            if result.success and float(result.fun) < best_score:
                best_x, best_score = np.asarray(result.x), float(result.fun)
    return np.asarray(best_x)
