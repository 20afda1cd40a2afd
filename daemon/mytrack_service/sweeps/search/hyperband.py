"""Early termination by W&B's hyperband band rule (``sweeps/hyperband_stopping.py``).

The bands are iteration counts: ``max_iter / eta**k`` for k = 1..s (those at least 1),
or ``min_iter * eta**k``. At each band the threshold is the value that the best
``1/eta`` of the trials that got that far reached there (every trial's history
counts, ended ones too). A running trial is stopped when, at the last band it
passed, its value there (``strict``, the default) or its best value so far is worse
than that band's threshold. Histories are the metric at each step it was logged;
values that are not finite are left out, as W&B does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from mytrack_common.sweep_config import hyperband_bands
from mytrack_service.sweeps.search.trial import RUNNING, Trial


def trials_to_stop(config: Mapping[str, Any], trials: Sequence[Trial]) -> list[str]:
    """The run ids of the running trials hyperband stops now (none without ``early_terminate``)."""
    early_terminate = config.get("early_terminate")
    if not early_terminate:
        return []
    bands = hyperband_bands(early_terminate)
    eta = float(early_terminate["eta"])
    sign = -1.0 if config["metric"]["goal"] == "maximize" else 1.0
    histories = {trial.run_id: _history(trial, sign) for trial in trials}
    thresholds = []
    for band in bands:
        reached = sorted(history[band - 1] for history in histories.values() if len(history) >= band)
        thresholds.append(reached[int(1.0 / eta * len(reached))] if reached else math.inf)
    stop = []
    for trial in trials:
        if trial.state != RUNNING:
            continue
        history = histories[trial.run_id]
        passed = [(band, threshold) for band, threshold in zip(bands, thresholds, strict=True) if band <= len(history)]
        if not passed:
            continue
        band, threshold = passed[-1]
        value = history[band - 1] if early_terminate.get("strict", True) else min(history)
        if value > threshold:
            stop.append(trial.run_id)
    return stop


def _history(trial: Trial, sign: float) -> list[float]:
    return [sign * float(value) for value in trial.history
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)]
