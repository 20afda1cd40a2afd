"""An Optuna study callback logging trials to mytrack, as optuna-integration's
``WeightsAndBiasesCallback`` logs them to W&B.

::

    import optuna
    from mytrack.integration.optuna import MytrackCallback

    callback = MytrackCallback(metric_name="accuracy", mytrack_kwargs={"project": "search"})
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=20, callbacks=[callback])

* ``as_multirun=False`` (default): one run, started with the callback; each
  finished trial is a row at step = its number, with its parameters and values
  (the run's history is the table of trials); the study's directions are in
  the config.
* ``as_multirun=True``: each trial is a run of its own (named
  ``trial/<number>/<name>``, tagged with the study's name), its parameters and
  the study's directions as config, its values in history and summary.
  Decorate the objective with ``callback.track_in_mytrack()`` to have the
  trial's run current while the objective runs (so it can log too).

With one run, an objective that logs too should use ``mytrack.log(...,
commit=False)``: its values then join the trial's row (the row at step = the
trial's number), where a committed row would move the step past it.

A trial that did not complete (pruned, failed) has no value: its row carries
its parameters and ``state`` only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import mytrack
from mytrack.errors import InvalidValueError
from mytrack.integration._support import require

_optuna = require("optuna", "optuna", "optuna")

Objective = TypeVar("Objective", bound=Callable[..., Any])


class MytrackCallback:
    """Logs each finished trial of a study (see the module's docstring).

    Args:
        metric_name: the name of the objective's value, or one name per objective
            (default ``value``; several objectives: ``value_0``, ``value_1``...).
        mytrack_kwargs: passed on to `mytrack.init` for each run started.
        as_multirun: one run per trial rather than one run for the study.
    """

    def __init__(self, metric_name: str | Sequence[str] = "value", mytrack_kwargs: dict[str, Any] | None = None,
                 as_multirun: bool = False) -> None:
        if not isinstance(metric_name, str) and not (
                isinstance(metric_name, Sequence) and all(isinstance(n, str) for n in metric_name)):
            raise InvalidValueError(f"MytrackCallback: metric_name must be a str or a list of str, got {metric_name!r}")
        self._metric_name = metric_name
        self._mytrack_kwargs = dict(mytrack_kwargs or {})
        self._as_multirun = as_multirun
        if not as_multirun:
            self._initialize_run()

    def __call__(self, study: Any, trial: Any) -> None:
        metrics = self._metrics(trial)
        directions = [direction.name for direction in study.directions]
        run = mytrack.run
        if run is None:
            run = self._initialize_run()
            if self._as_multirun:
                run.name = f"trial/{trial.number}/{run.name}"
        row = {**trial.params, **metrics}
        if self._as_multirun:
            row["trial_number"] = trial.number
        row["state"] = trial.state.name
        # Committed at once: the trial's row is complete (and an objective's commit=False values join it).
        run.log(row, step=None if self._as_multirun else trial.number, commit=True)
        if self._as_multirun:
            run.config.update({"direction": directions, **trial.params}, allow_val_change=True)
            run.tags = (*run.tags, study.study_name)
            run.finish()
        else:
            run.config.update({"direction": directions}, allow_val_change=True)

    def _metrics(self, trial: Any) -> dict[str, float]:
        values = trial.values
        if values is None:  # pruned or failed: nothing to record but its parameters
            return {}
        if isinstance(self._metric_name, str):
            names = [self._metric_name] if len(values) == 1 else [
                f"{self._metric_name}_{i}" for i in range(len(values))]
        elif len(self._metric_name) != len(values):
            raise InvalidValueError(
                f"MytrackCallback: the study has {len(values)} objective values but metric_name names "
                f"{len(self._metric_name)}; give one name per objective, or one name to number them")
        else:
            names = list(self._metric_name)
        return dict(zip(names, values, strict=True))

    def track_in_mytrack(self) -> Callable[[Objective], Objective]:
        """Decorates an objective so that a run is current while it runs (one per trial with
        ``as_multirun=True``; the study's run otherwise), and it can log with ``mytrack.log``."""

        def decorator(objective: Objective) -> Objective:
            @functools.wraps(objective)
            def wrapper(trial: Any) -> Any:
                if mytrack.run is None:
                    run = self._initialize_run()
                    run.name = f"trial/{trial.number}/{run.name}"
                return objective(trial)

            return wrapper  # type: ignore[return-value]

        return decorator

    def _initialize_run(self) -> mytrack.Run:
        return mytrack.init(**self._mytrack_kwargs)


__all__ = ["MytrackCallback"]
