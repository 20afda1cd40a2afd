"""mytrack.integration.optuna.MytrackCallback with a real Optuna study."""

from __future__ import annotations

import pytest

import mytrack

optuna = pytest.importorskip("optuna")

from mytrack.integration.optuna import MytrackCallback  # noqa: E402
from tests.integrations.helpers import only_run  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_current_run")
optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial: optuna.Trial) -> float:
    x = trial.suggest_float("x", -10, 10)
    if trial.number == 2:
        raise optuna.TrialPruned()
    return (x - 2) ** 2


def test_one_run_for_the_study(project: str) -> None:
    """One run: a row per trial at step = its number with params, value and state (a pruned trial
    without a value), the directions in config; an objective's commit=False values join its row."""
    callback = MytrackCallback(metric_name="loss", mytrack_kwargs={"project": project, "name": "study"})

    @callback.track_in_mytrack()
    def logged(trial: optuna.Trial) -> float:
        value = objective(trial)
        mytrack.log({"inner": trial.number}, commit=False)
        return value

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(logged, n_trials=4, callbacks=[callback])
    mytrack.finish()

    run = only_run(project)
    assert run.name == "study" and run.config == {"direction": ["MINIMIZE"]}
    rows = list(run.scan_history())
    assert [(r["_step"], r["state"]) for r in rows] == [(0, "COMPLETE"), (1, "COMPLETE"), (2, "PRUNED"),
                                                        (3, "COMPLETE")]
    for trial, row in zip(study.trials, rows, strict=True):
        assert row["x"] == trial.params["x"] and row.get("loss") == trial.value
    assert [r.get("inner") for r in rows] == [0, 1, None, 3]


def test_a_run_per_trial(project: str) -> None:
    """as_multirun=True: each trial a run named trial/<n>/..., tagged with the study, params in
    config, both objectives' values (value_0, value_1) in the summary; the objective logs into it."""
    callback = MytrackCallback(mytrack_kwargs={"project": project}, as_multirun=True)
    assert mytrack.run is None

    @callback.track_in_mytrack()
    def two(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_int("x", 0, 5)
        mytrack.log({"inside": x})
        return float(x), float(-x)

    study = optuna.create_study(study_name="pareto", directions=["minimize", "maximize"])
    study.optimize(two, n_trials=3, callbacks=[callback])
    assert mytrack.run is None

    runs = sorted(mytrack.Api().runs(project), key=lambda r: r.name)
    assert [r.name.split("/")[:2] for r in runs] == [["trial", "0"], ["trial", "1"], ["trial", "2"]]
    for number, run in enumerate(runs):
        x = study.trials[number].params["x"]
        assert run.tags == ["pareto"] and run.state == "finished"
        assert run.config == {"direction": ["MINIMIZE", "MAXIMIZE"], "x": x}
        assert (run.summary["value_0"], run.summary["value_1"], run.summary["trial_number"]) == (x, -x, number)
        assert [r.get("inside") for r in run.scan_history()] == [x, None]


def test_metric_names_must_match_the_objectives(project: str) -> None:
    """Two names for one objective is an InvalidValueError naming metric_name."""
    callback = MytrackCallback(metric_name=["a", "b"], mytrack_kwargs={"project": project})
    study = optuna.create_study()
    with pytest.raises(mytrack.errors.InvalidValueError, match="metric_name"):
        study.optimize(lambda t: t.suggest_float("x", 0, 1), n_trials=1, callbacks=[callback])
