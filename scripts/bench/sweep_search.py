"""Search methods on standard test functions: best value after 30 trials, over 10 seeds.

Prints, for Branin (2 parameters, minimum 0.397887) and Hartmann-6 (6 parameters,
minimum -3.32237), the best value each method found after 30 sequential trials
for each seed, and the median over seeds: random search, bayes (this package's
Gaussian process), and Optuna's TPESampler through ``method: custom`` for reference.

Usage: python scripts/bench/sweep_search.py [--trials 30] [--seeds 10]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from mytrack_common.sweep_config import validate
from mytrack_service.sweeps.search import Trial, next_params

_A = np.array([[10, 3, 17, 3.5, 1.7, 8], [0.05, 10, 17, 0.1, 8, 14],
               [3, 3.5, 1.7, 10, 17, 8], [17, 8, 0.05, 10, 0.1, 14]])
_P = 1e-4 * np.array([[1312, 1696, 5569, 124, 8283, 5886], [2329, 4135, 8307, 3736, 1004, 9991],
                      [2348, 1451, 3522, 2883, 3047, 6650], [4047, 8828, 8732, 5743, 1091, 381]])
_ALPHA = np.array([1.0, 1.2, 3.0, 3.2])


def branin(p: dict[str, Any]) -> float:
    x1, x2 = p["x1"], p["x2"]
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


def hartmann6(p: dict[str, Any]) -> float:
    x = np.array([p[f"x{i}"] for i in range(1, 7)])
    return float(-np.sum(_ALPHA * np.exp(-np.sum(_A * (x - _P) ** 2, axis=1))))


PROBLEMS: dict[str, tuple[Callable[[dict[str, Any]], float], dict[str, Any]]] = {
    "branin": (branin, {"x1": {"min": -5.0, "max": 10.0}, "x2": {"min": 0.0, "max": 15.0}}),
    "hartmann6": (hartmann6, {f"x{i}": {"min": 0.0, "max": 1.0} for i in range(1, 7)}),
}
METHODS: dict[str, dict[str, Any]] = {
    "random": {"method": "random"},
    "bayes": {"method": "bayes"},
    "optuna-tpe": {"method": "custom", "scheduler": {"engine": "optuna"}},
}


def best_after(function: Callable[[dict[str, Any]], float], config: dict[str, Any], trials: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    done: list[Trial] = []
    for index in range(trials):
        params = next_params(config, done, rng)
        assert params is not None
        done.append(Trial(f"t{index}", params, "finished", function(params)))
    return min(float(trial.metric) for trial in done if trial.metric is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", type=int, default=10)
    args = parser.parse_args()
    for problem, (function, parameters) in PROBLEMS.items():
        print(f"{problem}: best value after {args.trials} trials (lower is better)")
        for method, base in METHODS.items():
            config = validate({**base, "metric": {"name": "y", "goal": "minimize"}, "parameters": parameters})
            started = time.perf_counter()
            results = [best_after(function, config, args.trials, seed) for seed in range(args.seeds)]
            per_call = (time.perf_counter() - started) / (args.trials * args.seeds) * 1000
            seeds = " ".join(f"{value:.4f}" for value in results)
            print(f"  {method:<11} median {statistics.median(results):.4f}   per seed: {seeds}   "
                  f"({per_call:.0f} ms per suggestion)")


if __name__ == "__main__":
    main()
