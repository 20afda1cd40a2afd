"""Hyperband stops the bad trials of a curve family at W&B's band boundaries and keeps the good."""

from __future__ import annotations

from typing import Any

from mytrack_common.sweep_config import hyperband_bands, validate
from mytrack_service.sweeps.search import Trial
from mytrack_service.sweeps.search.hyperband import trials_to_stop


def _config(goal: str = "minimize", **early: Any) -> dict[str, Any]:
    return validate({"method": "random", "metric": {"name": "loss", "goal": goal},
                     "early_terminate": {"type": "hyperband", **early}, "parameters": {"a": {"values": [1]}}})


def _curve(quality: float, steps: int) -> list[float]:
    # loss decays towards `quality`: the family's order is the same at every step
    return [quality + 10.0 / (step + 1) for step in range(steps)]


def test_bands_are_wandbs() -> None:
    """max_iter=27, s=3, eta=3 gives 1, 3, 9; min_iter=2, eta=2 gives 2, 4, 8, ..."""
    assert hyperband_bands(_config(max_iter=27, s=3)["early_terminate"]) == [1, 3, 9]
    assert hyperband_bands(_config(min_iter=2, eta=2)["early_terminate"])[:4] == [2, 4, 8, 16]


def test_wandbs_own_example() -> None:
    """The example of W&B's hyperband_stop_runs docstring: bands 1 and 2, threshold 8 at band 2, b stopped.

    (Its comment says c fails band 2, but W&B's rule stops only values worse than the
    threshold, and c's 8 is the threshold.)
    """
    config = _config(max_iter=5, eta=2, s=2)
    trials = [Trial("a", {}, "finished", history=[10, 9]), Trial("b", {}, "running", history=[10, 10]),
              Trial("c", {}, "running", history=[10, 8, 8]), Trial("d", {}, "running", history=[10, 7, 7]),
              Trial("e", {}, "finished", history=[10, 6, 6])]
    assert trials_to_stop(config, trials) == ["b"]


def test_the_bad_trials_are_stopped_at_the_band_and_the_good_survive() -> None:
    """9 curves at step 3 (band 3, eta 3): those worse than the 4th best (index 9 // 3) stop, none before."""
    config = _config(min_iter=3, eta=3)
    qualities = [float(q) for q in range(9)]
    before = [Trial(f"t{q}", {}, "running", history=_curve(q, 2)) for q in range(9)]
    assert trials_to_stop(config, before) == []
    at_band = [Trial(f"t{int(q)}", {}, "running", history=_curve(q, 3)) for q in qualities]
    assert sorted(trials_to_stop(config, at_band)) == [f"t{q}" for q in range(4, 9)]


def test_maximize_and_ended_trials() -> None:
    """goal maximize flips the order; ended trials set thresholds but are never stopped."""
    config = _config("maximize", min_iter=2, eta=2)
    trials = [Trial("good", {}, "finished", history=[5, 9]), Trial("best", {}, "running", history=[5, 10]),
              Trial("fine", {}, "running", history=[5, 8]),
              Trial("bad", {}, "running", history=[5, 1]), Trial("done-bad", {}, "crashed", history=[0, 0])]
    assert trials_to_stop(config, trials) == ["bad"]


def test_strict_false_compares_the_best_so_far() -> None:
    """strict: false uses the best value so far, so a curve that was once good survives."""
    trials = [Trial("a", {}, "running", history=[1, 1]), Trial("b", {}, "running", history=[0, 5]),
              Trial("c", {}, "running", history=[3, 3]), Trial("d", {}, "running", history=[2, 2])]
    assert sorted(trials_to_stop(_config(min_iter=2, eta=3), trials)) == ["b", "c"]
    assert sorted(trials_to_stop(_config(min_iter=2, eta=3, strict=False), trials)) == ["c"]


def test_no_early_terminate_stops_nothing() -> None:
    """Without early_terminate, nothing is stopped."""
    config = validate({"method": "random", "parameters": {"a": {"values": [1]}}})
    assert trials_to_stop(config, [Trial("a", {}, "running", history=[9.0] * 10)]) == []
