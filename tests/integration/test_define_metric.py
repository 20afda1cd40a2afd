"""define_metric, computed in the service: summary kinds with exact numbers,
globs (most specific wins), step_metric + step_sync, hidden, overwrite,
definitions across resume, and the combinations that are refused.

Every series includes negative values, so min/first/best cannot be confused
with max/last by accident.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack._internal.run.metric import Metric
from tests.helpers import wait_for

QUIET = mytrack.Settings(quiet=True)
META = ("_runtime", "_timestamp")
Script = Callable[..., subprocess.CompletedProcess[str]]

SERIES = [3.0, -1.5, 2.0, -4.0, 0.75]
MEAN = sum(SERIES) / len(SERIES)  # 0.05, summed in logging order as the service does
INTS = [4, -2, 7, 1, -5]


@pytest.fixture(autouse=True)
def _clean(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("MYTRACK_ENTITY", "MYTRACK_PROJECT", "MYTRACK_MODE", "MYTRACK_RUN_ID",
                 "MYTRACK_RESUME", "MYTRACK_RUN_DIR"):
        monkeypatch.delenv(name, raising=False)
    mytrack.finish()
    yield
    mytrack.finish()


def start(project: str, **kwargs: Any) -> mytrack.Run:
    return mytrack.init(project=project, settings=QUIET, **kwargs)


def settled(run: mytrack.Run, read: Callable[[Any], Any], expected: Any, timeout: float = 20) -> Any:
    """Flushes ``run`` and polls the store until ``read(ApiRun) == expected``; returns the ApiRun."""
    assert run._sender is not None and run._sender.flush(30), "records were not acked"
    api = mytrack.Api()
    last: dict[str, Any] = {}

    def probe() -> Any:
        last["run"] = api.run(run.path)
        return last["run"] if read(last["run"]) == expected else None

    try:
        return wait_for(probe, timeout=timeout, message="the store to show the change")
    except AssertionError:
        assert read(last["run"]) == expected  # fails with a diff
        raise


def user_keys(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if not k.startswith("_")}


def rows(path: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in META} for r in mytrack.Api().run(path).scan_history()]


# -- summary kinds -------------------------------------------------------------------------------


def test_every_summary_kind_gives_exact_numbers(project: str) -> None:
    """min/max/mean/last/first/best(minimize|maximize) and combinations aggregate a known series exactly."""
    run = start(project)
    kinds = {
        "k_min": {"summary": "min"},
        "k_max": {"summary": "max"},
        "k_mean": {"summary": "mean"},
        "k_last": {"summary": "last"},
        "k_first": {"summary": "first"},
        "k_best_min": {"summary": "best", "goal": "minimize"},
        "k_best_max": {"summary": "best", "goal": "maximize"},
        "k_all": {"summary": "min,max,mean,last,first"},
        "k_spaced": {"summary": " MAX , first "},
        "k_best_last": {"summary": "best,last", "goal": "maximize"},
    }
    for name, options in kinds.items():
        metric = run.define_metric(name, **options)
        assert metric.name == name
    run.define_metric("ints", summary="min,max,mean,last")
    for value, integer in zip(SERIES, INTS, strict=True):
        run.log({**{name: value for name in kinds}, "ints": integer, "plain": value})
    expected = {
        "k_min": {"min": -4.0},
        "k_max": {"max": 3.0},
        "k_mean": {"mean": MEAN},
        "k_last": {"last": 0.75},
        "k_first": {"first": 3.0},
        "k_best_min": {"best": -4.0},
        "k_best_max": {"best": 3.0},
        "k_all": {"min": -4.0, "max": 3.0, "mean": MEAN, "last": 0.75, "first": 3.0},
        "k_spaced": {"max": 3.0, "first": 3.0},
        "k_best_last": {"best": 3.0, "last": 0.75},
        "ints": {"min": -5, "max": 7, "mean": 1.0, "last": -5},
        "plain": 0.75,  # no definition: the last value
    }
    assert user_keys(dict(run.summary)) == expected  # read through the service, live
    live = settled(run, lambda r: user_keys(r.summary), expected)
    assert live.summary["_step"] == 4  # meta keys are never aggregated
    run.finish()
    stored = mytrack.Api().run(run.path)
    assert user_keys(stored.summary) == expected
    assert rows(run.path)[1] == {**{name: -1.5 for name in kinds}, "ints": -2, "plain": -1.5, "_step": 1}


def test_summary_none_removes_the_key_but_keeps_history(project: str) -> None:
    """summary="none" takes the key out of the summary (even a value from before), history keeps it."""
    run = start(project)
    run.log({"noise": 5.0, "loss": 1.0})
    assert run.summary["noise"] == 5.0
    run.define_metric("noise", summary="none")
    for value in SERIES:
        run.log({"noise": value})
    assert "noise" not in run.summary
    settled(run, lambda r: user_keys(r.summary), {"loss": 1.0})
    run.finish()
    assert [r["noise"] for r in rows(run.path)] == [5.0, *SERIES]
    assert "noise" not in mytrack.Api().run(run.path).summary


def test_summary_copy_is_accepted_with_a_deprecation_warning(project: str) -> None:
    """summary="copy" is accepted, warns DeprecationWarning and returns the Metric."""
    run = start(project)
    with pytest.warns(DeprecationWarning, match="copy"):
        metric = run.define_metric("cp", summary="copy")
    assert metric.summary == "copy"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at log time
        for value in SERIES:
            run.log({"cp": value})
    settled(run, lambda r: "cp" in r.summary, True)
    run.finish()


def test_summary_copy_keeps_the_plain_last_value(project: str) -> None:
    """summary="copy" (deprecated) behaves as W&B's: the summary holds the plain last value."""
    run = start(project)
    with pytest.warns(DeprecationWarning):
        run.define_metric("cp", summary="copy")
    for value in SERIES:
        run.log({"cp": value})
    run.finish()
    assert mytrack.Api().run(run.path).summary["cp"] == 0.75


def test_user_set_summary_overrides_an_aggregate_until_logged_again(project: str) -> None:
    """A user-set value replaces the aggregate dict until the key is logged, then aggregation continues."""
    run = start(project)
    run.define_metric("loss", summary="min,max")
    run.log({"loss": 2.0})
    run.log({"loss": -1.0})
    run.summary["loss"] = "custom"
    run.log({"other": 1})
    assert run.summary["loss"] == "custom"
    settled(run, lambda r: r.summary.get("loss"), "custom")
    run.log({"loss": 5.0})
    assert run.summary["loss"] == {"min": -1.0, "max": 5.0}
    run.finish()
    assert mytrack.Api().run(run.path).summary["loss"] == {"min": -1.0, "max": 5.0}


# -- globs ----------------------------------------------------------------------------------------------


def test_globs_apply_and_the_most_specific_definition_wins(project: str) -> None:
    """"*", "train/*", "train/deep/*" and an exact name: each key follows the most specific match."""
    run = start(project)
    run.define_metric("train/special", summary="mean")  # order of definition does not matter
    run.define_metric("*", summary="min")
    run.define_metric("train/*", summary="max")
    run.define_metric("train/deep/*", summary="first,last")
    for value in SERIES:
        run.log({"train/a": value, "train/special": value, "train/deep/x": value, "val/b": value,
                 "top": value})
    expected = {
        "train/a": {"max": 3.0},
        "train/special": {"mean": MEAN},
        "train/deep/x": {"first": 3.0, "last": 0.75},
        "val/b": {"min": -4.0},
        "top": {"min": -4.0},
    }
    assert user_keys(dict(run.summary)) == expected
    live = settled(run, lambda r: user_keys(r.summary), expected)
    assert live.summary["_step"] == 4 and isinstance(live.summary["_runtime"], float)
    run.finish()
    assert user_keys(mytrack.Api().run(run.path).summary) == expected


# -- step_metric / step_sync ---------------------------------------------------------------------------


def test_step_metric_with_step_sync_inserts_the_latest_step_value(project: str) -> None:
    """Rows logging a synced metric without its step metric get the latest step value; step_sync=False gets none."""
    run = start(project)
    epoch = run.define_metric("epoch")
    val = run.define_metric("val/*", step_metric=epoch)  # a Metric works as step_metric
    assert (val.step_metric, val.step_sync) == ("epoch", True)
    nosync = run.define_metric("nosync", step_metric="epoch", step_sync=False)
    assert (nosync.step_metric, nosync.step_sync) == ("epoch", False)
    run.log({"val/loss": 0.9})  # no epoch seen yet: nothing to insert
    run.log({"epoch": 1, "train/loss": 0.8})
    run.log({"val/loss": 0.7})  # epoch 1 inserted
    run.log({"train/loss": 0.6})  # not a synced metric
    run.log({"val/loss": 0.5, "epoch": 5})  # explicit value kept
    run.log({"nosync": -1.0})  # step_sync=False
    run.log({"val/acc": -0.4, "nosync": 2.0})  # val/acc synced: epoch 5
    run.log({"epoch": 6}, commit=False)
    run.log({"val/loss": 0.3})  # same row as epoch 6: kept
    expected = [
        {"val/loss": 0.9, "_step": 0},
        {"epoch": 1, "train/loss": 0.8, "_step": 1},
        {"val/loss": 0.7, "epoch": 1, "_step": 2},
        {"train/loss": 0.6, "_step": 3},
        {"val/loss": 0.5, "epoch": 5, "_step": 4},
        {"nosync": -1.0, "_step": 5},
        {"val/acc": -0.4, "nosync": 2.0, "epoch": 5, "_step": 6},
        {"epoch": 6, "val/loss": 0.3, "_step": 7},
    ]
    settled(run, lambda r: r.last_step, 7)
    assert rows(run.path) == expected
    assert [r for r in mytrack.Api().run(run.path).scan_history(keys=["val/loss", "epoch"])] == [
        {"_step": 2, "val/loss": 0.7, "epoch": 1},
        {"_step": 4, "val/loss": 0.5, "epoch": 5},
        {"_step": 7, "val/loss": 0.3, "epoch": 6},
    ]
    assert mytrack.Api().run(run.path).metrics == [
        {"name": "epoch"},
        {"name": "val/*", "step_metric": "epoch", "step_sync": True},
        {"name": "nosync", "step_metric": "epoch", "step_sync": False},
    ]
    run.finish()
    assert rows(run.path) == expected
    assert mytrack.Api().run(run.path).summary["epoch"] == 6


# -- hidden -------------------------------------------------------------------------------------------------


def _runs_show(path: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "mytrack.cli", "runs", "show", path],
        capture_output=True, text=True, timeout=60, check=True,
    )
    return result.stdout


def test_hidden_metric_is_stored_reported_and_left_out_of_runs_show(project: str) -> None:
    """hidden=True is stored in ApiRun.metrics, listed by hidden_keys and omitted from `runs show`'s summary."""
    run = start(project)
    run.define_metric("debug_norm", hidden=True)
    run.define_metric("shown_loss")
    run.log({"debug_norm": 12.5, "shown_loss": -0.25})
    live = settled(run, lambda r: r.hidden_keys, ["debug_norm"])
    assert live.metrics == [{"name": "debug_norm", "hidden": True}, {"name": "shown_loss"}]
    run.finish()
    stored = mytrack.Api().run(run.path)
    assert stored.hidden_keys == ["debug_norm"]
    assert user_keys(stored.summary) == {"debug_norm": 12.5, "shown_loss": -0.25}  # still stored
    assert rows(run.path) == [{"debug_norm": 12.5, "shown_loss": -0.25, "_step": 0}]
    out = _runs_show(run.path)
    summary_section = out.split("\nsummary:\n", 1)[1]
    assert "  shown_loss: -0.25" in summary_section.splitlines()
    assert "debug_norm" not in out


def test_keys_matching_a_hidden_glob_are_left_out_of_runs_show(project: str) -> None:
    """define_metric("debug/*", hidden=True) hides debug/x from `runs show`'s summary."""
    run = start(project)
    run.define_metric("debug/*", hidden=True)
    run.log({"debug/x": 1.5, "loss": 2.5})
    run.finish()
    out = _runs_show(run.path)
    assert "  loss: 2.5" in out.splitlines()
    assert "debug/x" not in out


# -- overwrite --------------------------------------------------------------------------------------------


def test_overwrite_false_merges_and_true_replaces(project: str) -> None:
    """A redefinition merges with the earlier options by default and replaces them all with overwrite=True."""
    run = start(project)
    run.define_metric("epoch")
    run.define_metric("merged", step_metric="epoch", summary="min")
    run.define_metric("merged", summary="max")  # keeps step_metric, replaces summary
    run.define_metric("replaced", step_metric="epoch", summary="min")
    run.define_metric("replaced", summary="mean", overwrite=True)  # step_metric gone
    settled(run, lambda r: r.metrics, [
        {"name": "epoch"},
        {"name": "merged", "step_metric": "epoch", "step_sync": True, "summary": "max"},
        {"name": "replaced", "summary": "mean"},
    ])
    run.log({"epoch": 3})
    for value in SERIES[:3]:
        run.log({"merged": value, "replaced": value})
    expected_summary = {"epoch": 3, "merged": {"max": 3.0}, "replaced": {"mean": sum(SERIES[:3]) / 3}}
    assert user_keys(dict(run.summary)) == expected_summary
    run.finish()
    assert rows(run.path) == [
        {"epoch": 3, "_step": 0},
        *({"merged": v, "replaced": v, "epoch": 3, "_step": i} for i, v in enumerate(SERIES[:3], 1)),
    ]
    assert user_keys(mytrack.Api().run(run.path).summary) == expected_summary


# -- resume -----------------------------------------------------------------------------------------------


def test_definitions_survive_resume_in_a_new_process(project: str, run_script: Script) -> None:
    """After a resume in a new process, old definitions still apply and aggregates continue over old+new values."""
    run_script(f"""
        import mytrack
        run = mytrack.init(project={project!r}, id="resume01", settings=mytrack.Settings(quiet=True))
        run.define_metric("epoch")
        run.define_metric("loss", summary="min,max,mean,first,last", step_metric="epoch")
        run.define_metric("acc", summary="best", goal="maximize")
        run.define_metric("hid", hidden=True)
        run.define_metric("gone", summary="none")
        run.log({{"epoch": 1, "loss": {SERIES[0]}, "acc": 0.5, "gone": 1, "hid": 0}})
        run.log({{"epoch": 2, "loss": {SERIES[1]}, "acc": -0.7}})
        run.finish()
    """)
    result = run_script(f"""
        import json, mytrack
        run = mytrack.init(project={project!r}, id="resume01", resume="must",
                           settings=mytrack.Settings(quiet=True))
        assert run.resumed
        run.log({{"loss": {SERIES[2]}, "acc": 0.6}})  # epoch 2 from the first process
        run.log({{"loss": {SERIES[3]}, "acc": 0.9, "gone": 2, "epoch": 3}})
        run.log({{"loss": {SERIES[4]}}})
        print(json.dumps(run.summary.as_dict()))
        run.finish()
    """)
    expected = {
        "epoch": 3,
        "loss": {"min": -4.0, "max": 3.0, "mean": MEAN, "first": 3.0, "last": 0.75},
        "acc": {"best": 0.9},
        "hid": 0,
    }
    live = json.loads(result.stdout.strip().splitlines()[-1])
    assert user_keys(live) == expected
    stored = mytrack.Api().run(f"{mytrack.Api().default_entity}/{project}/resume01")
    assert stored.state == "finished"
    assert user_keys(stored.summary) == expected
    assert stored.hidden_keys == ["hid"]
    assert [m["name"] for m in stored.metrics] == ["epoch", "loss", "acc", "hid", "gone"]
    assert [(r["_step"], r.get("epoch"), r.get("loss")) for r in rows(stored.path)] == [
        (0, 1, 3.0), (1, 2, -1.5), (2, 2, 2.0), (3, 3, -4.0), (4, 3, 0.75),
    ]


# -- bad input ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"summary": "min", "goal": "minimize"}, "best"),
        ({"goal": "maximize"}, "best"),
        ({"summary": "best"}, "goal"),
        ({"summary": "min,median"}, "median"),
        ({"summary": "best", "goal": "upwards"}, "upwards"),
        ({"step_metric": "loss"}, "step_metric"),
        ({"summary": "none,min"}, "none"),
    ],
)
def test_bad_combinations_raise_value_error_and_record_nothing(
    project: str, kwargs: dict[str, Any], match: str
) -> None:
    """Refused option combinations raise ValueError naming the problem; no definition reaches the store."""
    run = start(project)
    with pytest.raises(ValueError, match=match):
        run.define_metric("loss", **kwargs)
    run.log({"loss": 1.5})
    run.log({"loss": -2.5})
    assert run.summary["loss"] == -2.5  # no aggregate: nothing was defined
    run.finish()
    stored = mytrack.Api().run(run.path)
    assert stored.metrics == []
    assert stored.summary["loss"] == -2.5


@pytest.mark.parametrize(
    "kwargs",
    [{"name": 3}, {"name": ""}, {"name": "x", "hidden": "yes"}, {"name": "x", "step_sync": 1},
     {"name": "x", "summary": ["min"]}, {"name": "x", "step_metric": 5}],
)
def test_bad_option_types_raise_type_error(project: str, kwargs: dict[str, Any]) -> None:
    """Options of the wrong type raise TypeError at the call site."""
    run = start(project)
    with pytest.raises(TypeError):
        run.define_metric(**kwargs)
    run.finish()
    assert mytrack.Api().run(run.path).metrics == []


def test_define_metric_returns_the_recorded_metric(project: str) -> None:
    """define_metric() returns a Metric holding the options as recorded (goal and step_sync filled in)."""
    run = start(project)
    metric = run.define_metric("acc", step_metric="epoch", summary="best,max", goal="maximize", hidden=False)
    assert isinstance(metric, Metric)
    assert (metric.name, metric.step_metric, metric.step_sync, metric.summary, metric.goal, metric.hidden) == (
        "acc", "epoch", True, "best,max", "maximize", False,
    )
    settled(run, lambda r: r.metrics, [
        {"name": "acc", "step_metric": "epoch", "step_sync": True, "hidden": False,
         "summary": "best,max", "goal": "maximize"},
    ])
    run.finish()
