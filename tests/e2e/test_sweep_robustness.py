"""Sweep robustness through a real service: nested locked values, best_run on a nested metric,
`--stop` waiting for the running trial, and sweeps finished when their last trial ended."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

import mytrack
from tests.helpers import wait_for

pytestmark = pytest.mark.usefixtures("no_current_run")


def _env() -> dict[str, str]:
    return {**os.environ, "MYTRACK_SILENT": "true", "MYTRACK_SWEEP_POLL_INTERVAL": "0.2"}


def test_nested_sweep_values_merge_into_the_scripts_config_and_stay_locked(project: str) -> None:
    """W&B's merge_locked: init(config={"opt": {"beta": 0.5, "eps": 1e-8}}) keeps eps and takes the
    sweep's beta (one warning naming opt.beta); later writes to opt are ignored."""
    sweep_id = mytrack.sweep({"method": "grid", "parameters": {"opt": {"parameters": {
        "beta": {"values": [0.9]}}}}}, project=project, quiet=True)
    seen: list[str] = []

    def train() -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = mytrack.init(config={"opt": {"beta": 0.5, "eps": 1e-8}, "other": 1})
            run.config.update({"opt": {"beta": 0.1}})
            run.config["opt"] = {"eps": 3}
        seen.extend(str(w.message) for w in caught if "locked" in str(w.message))
        run.log({"x": 1})

    mytrack.agent(sweep_id, function=train, project=project)
    assert seen == ["Config item 'opt.beta' was locked by 'sweep' (ignored update)."]
    (run,) = mytrack.Api().sweep(f"{project}/{sweep_id}").runs
    assert run.config == {"opt": {"beta": 0.9, "eps": 1e-8}, "other": 1}


def test_best_run_reads_a_nested_summary_metric(project: str) -> None:
    """metric.name "val.loss" is the nested summary value {"val": {"loss": ...}}."""
    sweep_id = mytrack.sweep({"method": "grid", "metric": {"name": "val.loss", "goal": "minimize"},
                              "parameters": {"a": {"values": [3, 1, 2]}}}, project=project, quiet=True)
    mytrack.agent(sweep_id, function=lambda: mytrack.init().log({"val": {"loss": mytrack.config.a}}),
                  project=project)
    sweep = mytrack.Api().sweep(f"{project}/{sweep_id}")
    best = sweep.best_run()
    assert best is not None and best.config["a"] == 1
    assert sorted(t["metric"] for t in sweep.trials) == [1, 2, 3]


def test_stop_is_stopping_until_the_running_trial_ends(project: str, workdir: Path) -> None:
    """`mytrack sweep --stop` while a trial runs: the sweep is "stopping" and the trial goes on;
    when it finished, the sweep is "finished" and the agent ended without another trial."""
    agent = textwrap.dedent("""
        import os, sys, time, mytrack
        def train():
            run = mytrack.init()
            open("started", "w").close()
            while not os.path.exists("go"):
                time.sleep(0.05)
            run.log({"loss": 1.0})
        mytrack.agent(sys.argv[1], function=train)
    """)
    sweep_id = mytrack.sweep({"method": "random", "parameters": {"a": {"min": 0.0, "max": 1.0}}},
                             project=project, quiet=True)
    proc = subprocess.Popen([sys.executable, "-c", agent, f"{project}/{sweep_id}"], cwd=workdir, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: (workdir / "started").exists(), timeout=60)
        stopped = subprocess.run([sys.executable, "-m", "mytrack.cli", "sweep", "--project", project, "--stop",
                                  sweep_id], env=_env(), capture_output=True, text=True, check=True)
        assert "is stopping" in stopped.stdout
        api = mytrack.Api()
        assert api.sweep(f"{project}/{sweep_id}").state == "stopping"
        (workdir / "go").touch()
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    finally:
        proc.kill()
    sweep = api.sweep(f"{project}/{sweep_id}")
    assert sweep.state == "finished" and sweep.counts == {"finished": 1}


COUNTED_AGENT = "import sys, mytrack; mytrack.agent(sys.argv[1], count=int(sys.argv[2]){function})"


def test_a_sweep_whose_search_is_over_is_finished_when_its_agents_exit(project: str, workdir: Path) -> None:
    """Agents told to run exactly the grid's points (two command agents at once), or exactly
    run_cap trials (a function agent), never ask for a trial that is not there: the sweep is
    finished as soon as they exited, read at once, not when some agent next asks."""
    (workdir / "train.py").write_text("import mytrack\nmytrack.init().log({'loss': mytrack.config.a})\n")
    grid = mytrack.sweep({"method": "grid", "program": "train.py", "metric": {"name": "loss"},
                          "parameters": {"a": {"values": [1, 2, 3, 4]}}}, project=project, quiet=True)
    capped = mytrack.sweep({"method": "random", "run_cap": 2, "metric": {"name": "loss"},
                            "parameters": {"a": {"min": 0.0, "max": 1.0}}}, project=project, quiet=True)
    function = ", function=lambda: mytrack.init().log({'loss': mytrack.config.a})"
    procs = [subprocess.Popen([sys.executable, "-c", COUNTED_AGENT.format(function=""), f"{project}/{grid}", "2"],
                              cwd=workdir, env=_env(), stderr=subprocess.PIPE, text=True) for _ in range(2)]
    procs.append(subprocess.Popen([sys.executable, "-c", COUNTED_AGENT.format(function=function),
                                   f"{project}/{capped}", "2"], cwd=workdir, env=_env(), stderr=subprocess.PIPE,
                                  text=True))
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err[-3000:]
    api = mytrack.Api()
    for sweep_id, trials in ((grid, 4), (capped, 2)):
        sweep = api.sweep(f"{project}/{sweep_id}")
        assert (sweep.state, sweep.counts) == ("finished", {"finished": trials})
