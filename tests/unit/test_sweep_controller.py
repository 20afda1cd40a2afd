"""The sweep controller on the in-memory store, with a fake clock: no service, no agents.

A trial's run is what the SDK would have made of it: a run row in the store (created by the
trial's init(), its state and summary written as the applier writes them).
"""

from __future__ import annotations

from typing import Any

import pytest

from mytrack_service.store.base import Batch, RunKey, RunRow
from mytrack_service.store.memory import MemoryStore
from mytrack_service.sweeps.controller import SweepController, SweepError

GRID = {"method": "grid", "metric": {"name": "loss", "goal": "minimize"},
        "parameters": {"a": {"values": [1, 2]}, "b": {"values": ["x", "y"]}}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctl(store: MemoryStore, clock: Clock) -> SweepController:
    return SweepController(store, clock=clock, pending_lease=60.0)


def _create(ctl: SweepController, config: dict[str, Any]) -> str:
    return str(ctl.create({"entity": "e", "project": "p", "config": config})["id"])


def _next(ctl: SweepController, sweep_id: str) -> dict[str, Any]:
    return ctl.next_trial({"sweep_id": sweep_id, "agent_id": "agent-1"})


def _start(store: MemoryStore, trial: dict[str, Any]) -> RunKey:
    """The trial's init(): its run exists, running."""
    key = RunKey("e", "p", trial["run_id"])
    store.create_run(RunRow(key, state="running", config=trial["params"], sweep_id="s"))
    return key


def _end(store: MemoryStore, key: RunKey, state: str, loss: float | None = None,
         history: list[float] | None = None) -> None:
    rows = [(step, {"loss": value, "_step": step, "_runtime": 0.0, "_timestamp": 0.0})
            for step, value in enumerate(history or [])]
    fields: dict[str, Any] = {"state": state}
    if loss is not None:
        fields["summary"] = {"loss": loss}
    store.write_batch(Batch(key, rows, fields))


def _states(ctl: SweepController, sweep_id: str) -> list[str]:
    return [t["state"] for t in sorted(ctl.get({"sweep_id": sweep_id})["trials"], key=lambda t: t["seq"])]


def test_next_trial_hands_out_each_grid_point_once_then_finishes(ctl: SweepController) -> None:
    """Grid: four calls give the four points in order, the fifth finds the sweep finished."""
    sweep_id = _create(ctl, GRID)
    points = [_next(ctl, sweep_id)["params"] for _ in range(4)]
    assert points == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]
    assert _next(ctl, sweep_id) == {"status": "finished"}
    assert ctl.get({"sweep_id": sweep_id})["state"] == "finished"


def test_run_cap_counts_trials_whatever_their_end(ctl: SweepController, store: MemoryStore) -> None:
    """run_cap 2: a failed trial counts; the third request finds the sweep finished."""
    sweep_id = _create(ctl, {**GRID, "method": "random", "run_cap": 2})
    first = _next(ctl, sweep_id)
    _end(store, _start(store, first), "failed")
    _next(ctl, sweep_id)
    assert _next(ctl, sweep_id)["status"] == "finished"
    assert len(ctl.get({"sweep_id": sweep_id})["trials"]) == 2


def test_trial_states_follow_their_runs(ctl: SweepController, store: MemoryStore) -> None:
    """pending until init(), then the run's state; a preempted run counts as crashed."""
    sweep_id = _create(ctl, GRID)
    trials = [_next(ctl, sweep_id) for _ in range(4)]
    assert _states(ctl, sweep_id) == ["pending"] * 4
    keys = [_start(store, t) for t in trials[:3]]
    _end(store, keys[0], "finished", 0.5)
    _end(store, keys[1], "preempted")
    assert _states(ctl, sweep_id) == ["finished", "crashed", "running", "pending"]
    doc = ctl.get({"sweep_id": sweep_id})
    assert doc["counts"] == {"finished": 1, "crashed": 1, "running": 1, "pending": 1}
    assert doc["trials"][0]["metric"] == 0.5


def test_pause_and_resume(ctl: SweepController) -> None:
    """Paused: no trial is handed out (the agent is told "paused"); resumed: trials again."""
    sweep_id = _create(ctl, GRID)
    assert ctl.update({"sweep_id": sweep_id, "command": "pause"})["state"] == "paused"
    assert _next(ctl, sweep_id) == {"status": "paused"}
    with pytest.raises(SweepError, match="is paused: cannot pause"):
        ctl.update({"sweep_id": sweep_id, "command": "pause"})
    assert ctl.update({"sweep_id": sweep_id, "command": "resume"})["state"] == "running"
    assert _next(ctl, sweep_id)["status"] == "trial"


def test_stop_is_stopping_until_the_running_trials_end(ctl: SweepController, store: MemoryStore) -> None:
    """--stop with a trial running: "stopping" (no new trials, the running one goes on), then
    "finished" once it ended."""
    sweep_id = _create(ctl, GRID)
    key = _start(store, _next(ctl, sweep_id))
    assert ctl.update({"sweep_id": sweep_id, "command": "stop"})["state"] == "stopping"
    assert _next(ctl, sweep_id) == {"status": "stopping"}
    assert ctl.check({"sweep_id": sweep_id, "run_id": key.run_id})["stop"] is False
    _end(store, key, "finished", 1.0)
    assert ctl.get({"sweep_id": sweep_id})["state"] == "finished"
    assert _next(ctl, sweep_id) == {"status": "finished"}


def test_stop_without_running_trials_finishes_at_once(ctl: SweepController) -> None:
    sweep_id = _create(ctl, GRID)
    assert ctl.update({"sweep_id": sweep_id, "command": "stop"})["state"] == "finished"


def test_cancel_tells_agents_to_stop_their_trials(ctl: SweepController, store: MemoryStore) -> None:
    sweep_id = _create(ctl, GRID)
    key = _start(store, _next(ctl, sweep_id))
    ctl.update({"sweep_id": sweep_id, "command": "cancel"})
    answer = ctl.check({"sweep_id": sweep_id, "run_id": key.run_id})
    assert answer["stop"] is True and "canceled" in answer["reason"]
    assert _next(ctl, sweep_id) == {"status": "canceled"}


def test_redo_crashed_hands_the_crashed_point_out_again(ctl: SweepController, store: MemoryStore) -> None:
    """A crashed grid point is not handed out again, unless --resume --redo-crashed."""
    sweep_id = _create(ctl, {**GRID, "parameters": {"a": {"values": [1, 2]}}})
    first = _next(ctl, sweep_id)
    _end(store, _start(store, first), "crashed")
    second = _next(ctl, sweep_id)
    _end(store, _start(store, second), "finished", 1.0)
    assert _next(ctl, sweep_id)["status"] == "finished"
    doc = ctl.update({"sweep_id": sweep_id, "command": "resume", "redo_crashed": True})
    assert doc["state"] == "running" and doc["counts"] == {"redo": 1, "finished": 1}
    again = _next(ctl, sweep_id)
    assert again["params"] == first["params"] and again["run_id"] != first["run_id"]
    assert _next(ctl, sweep_id)["status"] == "finished"


def test_a_pending_trial_whose_agent_went_silent_becomes_crashed(
    ctl: SweepController, clock: Clock,
) -> None:
    """The agent died before its trial's init(): once the lease ran out the trial is crashed
    (and its grid point is not handed out again)."""
    sweep_id = _create(ctl, {**GRID, "parameters": {"a": {"values": [1, 2]}}})
    trial = _next(ctl, sweep_id)
    clock.now += 59
    assert _states(ctl, sweep_id) == ["pending"]
    clock.now += 2
    assert _states(ctl, sweep_id) == ["crashed"]
    assert _next(ctl, sweep_id)["params"] != trial["params"]
    assert _states(ctl, sweep_id) == ["crashed", "pending"]


def test_an_agent_asking_about_its_pending_trial_renews_its_lease(
    ctl: SweepController, clock: Clock,
) -> None:
    """A command trial slow to reach init(): its agent's stop checks keep it pending."""
    sweep_id = _create(ctl, GRID)
    trial = _next(ctl, sweep_id)
    for _ in range(5):
        clock.now += 50
        assert ctl.check({"sweep_id": sweep_id, "run_id": trial["run_id"]})["stop"] is False
    assert _states(ctl, sweep_id) == ["pending"]


def test_report_of_a_trial_that_never_started_marks_it_failed(ctl: SweepController) -> None:
    sweep_id = _create(ctl, GRID)
    trial = _next(ctl, sweep_id)
    ctl.report({"sweep_id": sweep_id, "run_id": trial["run_id"]})
    assert _states(ctl, sweep_id) == ["failed"]


def test_hyperband_check_stops_the_worse_trial_at_a_band(ctl: SweepController, store: MemoryStore) -> None:
    """Hyperband (min_iter 2, eta 2): at the band of 2 iterations the threshold is the value at
    index floor(3 / 2) of the three trials' sorted values (1.0); the trial worse than it is
    stopped (recorded as stopped), the others are not."""
    config = {"method": "random", "metric": {"name": "loss", "goal": "minimize"},
              "early_terminate": {"type": "hyperband", "min_iter": 2, "eta": 2},
              "parameters": {"a": {"min": 0.0, "max": 1.0}}}
    sweep_id = _create(ctl, config)
    good, middle, bad = (_start(store, _next(ctl, sweep_id)) for _ in range(3))
    _end(store, good, "running", history=[1.0, 0.5])
    _end(store, middle, "finished", 1.0, history=[2.0, 1.0])
    _end(store, bad, "running", history=[5.0, 4.0])
    assert ctl.check({"sweep_id": sweep_id, "run_id": good.run_id})["stop"] is False
    answer = ctl.check({"sweep_id": sweep_id, "run_id": bad.run_id})
    assert answer["stop"] is True and "hyperband" in answer["reason"]
    assert _states(ctl, sweep_id) == ["running", "finished", "stopped"]


CMAES = {"method": "custom", "metric": {"name": "loss", "goal": "minimize"},
         "parameters": {"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}},
         "scheduler": {"engine": "optuna", "settings": {"sampler": {"type": "CmaEsSampler", "args": {"seed": 1}}}}}


def test_cmaes_goes_on_from_generation_to_generation(ctl: SweepController, store: MemoryStore) -> None:
    """CmaEsSampler through the controller (a study rebuilt for each ask): each trial keeps the
    generation Optuna gave it and, once a generation is told, the pickled optimizer; later
    trials belong to later generations (6 points each for 2 parameters), the sweep keeps a
    study state, and the later generations' points are better than the first one's."""
    pytest.importorskip("cmaes")
    sweep_id = _create(ctl, CMAES)
    losses = []
    for _ in range(31):
        trial = _next(ctl, sweep_id)
        loss = (trial["params"]["x"] - 0.3) ** 2 + (trial["params"]["y"] - 0.7) ** 2
        losses.append(loss)
        _end(store, _start(store, trial), "finished", loss)
    with store.sweeps() as tx:
        rows = tx.trials(sweep_id)
    generations = [row.search_state.get("cma:generation") for row in rows]
    assert generations == [None] + [g for g in range(5) for _ in range(6)], generations
    told = [row.seq for row in rows if any(key.startswith("cma:optimizer") for key in row.search_state)]
    assert told == [7, 13, 19, 25], told  # the first trial of each generation after the first
    first, last = sorted(losses[1:7]), sorted(losses[25:31])
    assert last[3] < first[3], losses  # the medians


def test_cmaes_takes_running_trials_as_its_generation(ctl: SweepController, store: MemoryStore) -> None:
    """Trials still running count in their generation: asked again meanwhile, CMA-ES does not
    start a new generation before the running ones ended."""
    pytest.importorskip("cmaes")
    sweep_id = _create(ctl, CMAES)
    _end(store, _start(store, _next(ctl, sweep_id)), "finished", 1.0)
    running = [_next(ctl, sweep_id) for _ in range(8)]
    with store.sweeps() as tx:
        generations = [row.search_state.get("cma:generation") for row in tx.trials(sweep_id)]
    assert generations == [None] + [0] * 8  # nothing completed: the same generation
    assert len({(t["params"]["x"], t["params"]["y"]) for t in running}) == 8


@pytest.mark.parametrize("args", [{}, {"scramble": True}], ids=["sobol", "scrambled"])
def test_qmc_goes_on_along_its_sequence(ctl: SweepController, store: MemoryStore, args: dict[str, Any]) -> None:
    """QMCSampler keeps its place in the sequence in the study's attributes, kept with the sweep:
    after its random first trial the points are Sobol's (0, 1/2, 1/4, 3/4...; scrambled: one
    sequence whose seed is kept, so its points are as spread out)."""
    config = {**CMAES, "parameters": {"x": {"min": 0.0, "max": 1.0}},
              "scheduler": {"engine": "optuna", "settings": {"sampler": {"type": "QMCSampler", "args": args}}}}
    sweep_id = _create(ctl, config)
    xs = []
    for _ in range(9):
        trial = _next(ctl, sweep_id)
        xs.append(trial["params"]["x"])
        _end(store, _start(store, trial), "finished", 1.0)
    # A Sobol sequence: each eighth of [0, 1] holds exactly one of its first 8 points (a new
    # sequence at each ask would give its first point each time).
    assert sorted(int(x * 8) for x in xs[1:]) == list(range(8)), xs
    if not args:
        assert xs[1:3] == [0.0, 0.5]
    else:
        with store.sweeps() as tx:
            row = tx.sweep(sweep_id)
        assert row is not None and isinstance(row.search_state["mytrack:qmc_seed"], int)


def test_exhausted_grid_finishes_when_its_last_trial_ends(ctl: SweepController, store: MemoryStore) -> None:
    """Every grid point handed out: the sweep stays running while a trial runs, and is finished as
    soon as the last one ended (read by get(), or on the agent's report), without a next request."""
    sweep_id = _create(ctl, GRID)
    keys = [_start(store, _next(ctl, sweep_id)) for _ in range(4)]
    for key in keys[:3]:
        _end(store, key, "finished", 1.0)
    assert ctl.get({"sweep_id": sweep_id})["state"] == "running"
    _end(store, keys[3], "crashed")
    assert ctl.get({"sweep_id": sweep_id})["state"] == "finished"

    other = _create(ctl, {**GRID, "parameters": {"a": {"values": [1]}}})
    key = _start(store, _next(ctl, other))
    _end(store, key, "failed")
    ctl.report({"sweep_id": other, "run_id": key.run_id})
    with store.sweeps() as tx:
        row = tx.sweep(other)
    assert row is not None and row.state == "finished"


def test_run_cap_reached_finishes_when_its_last_trial_ends(ctl: SweepController, store: MemoryStore) -> None:
    """run_cap 2 of a random search: finished once both trials ended, not before."""
    sweep_id = _create(ctl, {**GRID, "method": "random", "run_cap": 2})
    first, second = (_start(store, _next(ctl, sweep_id)) for _ in range(2))
    _end(store, first, "finished", 1.0)
    assert ctl.get({"sweep_id": sweep_id})["state"] == "running"
    _end(store, second, "killed")
    assert ctl.get({"sweep_id": sweep_id})["state"] == "finished"


def test_a_met_metric_target_ends_the_sweep(ctl: SweepController, store: MemoryStore) -> None:
    """metric.target (goal maximize): once a trial reaches it no new trial is handed out; the sweep
    is stopping while another runs, finished when it ended."""
    config = {"method": "random", "metric": {"name": "acc", "goal": "maximize", "target": 0.9},
              "parameters": {"a": {"min": 0.0, "max": 1.0}}}
    sweep_id = _create(ctl, config)
    low, high, other = (_start(store, _next(ctl, sweep_id)) for _ in range(3))
    store.write_batch(Batch(low, [], {"state": "finished", "summary": {"acc": 0.5}}))
    assert _next(ctl, sweep_id)["status"] == "trial"
    store.write_batch(Batch(high, [], {"state": "finished", "summary": {"acc": 0.95}}))
    assert _next(ctl, sweep_id) == {"status": "stopping"}
    assert ctl.get({"sweep_id": sweep_id})["state"] == "stopping"
    _end(store, other, "finished")
    assert ctl.get({"sweep_id": sweep_id})["state"] == "stopping"  # the fourth trial, still pending
    with store.sweeps() as tx:
        pending = [row.run_id for row in tx.trials(sweep_id) if row.state == "pending"]
    ctl.report({"sweep_id": sweep_id, "run_id": pending[0]})  # its agent never started it
    assert ctl.get({"sweep_id": sweep_id})["state"] == "finished"


def test_bad_requests_are_refused_with_a_code(ctl: SweepController) -> None:
    with pytest.raises(SweepError) as exc:
        _next(ctl, "nosuch")
    assert exc.value.code == "not_found"
    with pytest.raises(SweepError) as exc:
        ctl.create({"entity": "e", "project": "p", "config": {"method": "grid"}})
    assert exc.value.code == "invalid" and "parameters" in str(exc.value)
    sweep_id = _create(ctl, GRID)
    with pytest.raises(SweepError, match="unknown sweep command 'halt'"):
        ctl.update({"sweep_id": sweep_id, "command": "halt"})


def test_a_method_whose_package_the_service_lacks_is_refused_when_created(
    ctl: SweepController, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """bayes without scikit-learn in the service's environment: refused at sweep(), naming the extra,
    not at the first trial the search would have to suggest."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "sklearn" else real(name, *a))
    config = {"method": "bayes", "metric": {"name": "loss"}, "parameters": {"lr": {"min": 0.0, "max": 1.0}}}
    with pytest.raises(SweepError, match=r"needs scikit-learn.*mytrack\[sweeps\]") as caught:
        _create(ctl, config)
    assert caught.value.code == "invalid"


def test_a_search_that_cannot_run_is_an_invalid_request_not_an_internal_error(
    ctl: SweepController, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A configuration error found only when the search runs (a sampler's bad arguments) comes back
    as the sweep's error, and no trial is handed out."""
    from mytrack_common.sweep_config import SweepConfigError
    from mytrack_service.sweeps import search

    sweep_id = _create(ctl, {"method": "random", "parameters": {"lr": {"min": 0.0, "max": 1.0}}})

    def broken(*args: Any, **kwargs: Any) -> None:
        raise SweepConfigError("scheduler.settings.sampler.args", "unexpected argument 'n_startup'")

    monkeypatch.setattr(search, "suggest", broken)
    with pytest.raises(SweepError, match="cannot suggest a trial: .*n_startup") as caught:
        _next(ctl, sweep_id)
    assert caught.value.code == "invalid"
    monkeypatch.undo()
    assert "params" in _next(ctl, sweep_id)
