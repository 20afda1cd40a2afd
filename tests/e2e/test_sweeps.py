"""Sweeps end to end: real agents in subprocesses, the controller in a real service."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack.errors import SweepConfigError
from tests.helpers import stop_service, wait_for

pytestmark = pytest.mark.usefixtures("no_current_run")

AGENT = textwrap.dedent("""
    import os, sys, time
    import mytrack

    def train():
        run = mytrack.init()
        c = run.config
        if os.environ.get("TRIAL_SLEEP"):  # a long trial: a training loop logging as it goes
            open(f"started-{run.id}", "w").close()
            end = time.monotonic() + float(os.environ["TRIAL_SLEEP"])
            while time.monotonic() < end:
                run.log({"tick": 1.0})
                time.sleep(0.1)
        run.log({"loss": c["a"] * 10 + c["b"] + c.get("c", 0) / 10})

    count = int(sys.argv[2]) if len(sys.argv) > 2 else None
    mytrack.agent(sys.argv[1], function=train, count=count)
""")
GRID = {
    "method": "grid", "metric": {"name": "loss", "goal": "minimize"},
    "parameters": {"a": {"values": [1, 2, 3, 4]}, "b": {"values": [0.5, 1.0, 2.0]}, "c": {"values": [0, 1]}},
}


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "MYTRACK_SILENT": "true", "MYTRACK_SWEEP_POLL_INTERVAL": "0.2", **extra}


def _agents(workdir: Path, path: str, n: int, env: dict[str, str] | None = None,
            count: int | None = None) -> list[subprocess.Popen[str]]:
    args = [str(count)] if count is not None else []
    return [
        subprocess.Popen([sys.executable, "-c", AGENT, path, *args], cwd=workdir, env=env or _env(),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(n)
    ]


def _wait(agents: list[subprocess.Popen[str]], timeout: float = 240) -> None:
    for agent in agents:
        _, err = agent.communicate(timeout=timeout)
        assert agent.returncode == 0, err


def _points(trials: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return sorted((t["params"]["a"], t["params"]["b"], t["params"]["c"]) for t in trials)


ALL_POINTS = sorted((a, b, c) for a in (1, 2, 3, 4) for b in (0.5, 1.0, 2.0) for c in (0, 1))


def test_bad_configuration_raises_at_sweep_naming_the_key(project: str) -> None:
    """A configuration the schema refuses raises SweepConfigError at sweep(), naming the bad key."""
    with pytest.raises(SweepConfigError, match="method"):
        mytrack.sweep({"method": "gird", "parameters": {"a": {"values": [1]}}}, project=project)
    with pytest.raises(SweepConfigError, match="parameters"):
        mytrack.sweep({"method": "grid", "parameters": {"a": {"min": "x"}}}, project=project)


def test_grid_of_24_points_with_8_agents_gives_each_point_once(project: str, workdir: Path) -> None:
    """Eight agent processes asking at once share a 24-point grid: each point runs exactly once,
    every run carries the sweep id and its values, and the sweep ends finished."""
    sweep_id = mytrack.sweep(GRID, project=project, quiet=True)
    api = mytrack.Api()
    path = f"{api.default_entity}/{project}/{sweep_id}"
    _wait(_agents(workdir, path, 8))
    sweep = api.sweep(path)
    assert _points(sweep.trials) == ALL_POINTS
    assert sweep.state == "finished" and sweep.counts == {"finished": 24}
    runs = sweep.runs
    assert len(runs) == 24 and {r.sweep_id for r in runs} == {sweep_id}
    assert sorted((r.config["a"], r.config["b"], r.config["c"]) for r in runs) == ALL_POINTS
    best = sweep.best_run()
    assert best is not None and (best.config["a"], best.config["b"], best.config["c"]) == (1, 0.5, 0)
    assert len(api.runs(f"{api.default_entity}/{project}", filters={"sweep": sweep_id})) == 24


def test_grid_across_two_services_sharing_postgres(tmp_path: Path, postgres_db: str, workdir: Path) -> None:
    """Four agents on each of two services sharing one PostgreSQL store run each grid point once."""
    homes = [tmp_path / "node0", tmp_path / "node1"]
    envs = [_env(MYTRACK_STORE=postgres_db, MYTRACK_DIR=str(home)) for home in homes]
    try:
        api = mytrack.Api(overrides={"service_dir": str(homes[0])})
        sweep_id = subprocess.run(
            [sys.executable, "-c", f"import mytrack; print(mytrack.sweep({GRID!r}, project='pg', quiet=True))"],
            env=envs[0], capture_output=True, text=True, check=True, cwd=workdir,
        ).stdout.strip()
        path = f"{api.default_entity}/pg/{sweep_id}"
        _wait([*_agents(workdir, path, 4, envs[0]), *_agents(workdir, path, 4, envs[1])])
        sweep = api.sweep(path)
        assert _points(sweep.trials) == ALL_POINTS and sweep.state == "finished"
        assert len(sweep.runs) == 24
    finally:
        for home in homes:
            stop_service(home)


def test_config_lock_warns_once_and_keeps_the_sweep_value(project: str) -> None:
    """A trial's own writes to a sweep key are ignored with one warning naming the key (W&B's
    words); init(project=...) inside the trial keeps the run in its sweep."""
    sweep_id = mytrack.sweep({"method": "grid", "parameters": {"lr": {"values": [0.1]}, "opt": {
        "parameters": {"beta": {"values": [0.9]}}}}}, project=project, quiet=True)
    seen: list[str] = []

    def train() -> None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = mytrack.init(project="elsewhere", config={"lr": 5, "other": 1})
            run.config.update({"lr": 7})
            run.config.lr = 8
        seen.extend(str(w.message) for w in caught)
        run.log({"x": 1})

    mytrack.agent(sweep_id, function=train, project=project)
    locked = [m for m in seen if "locked" in m]
    assert locked == ["Config item 'lr' was locked by 'sweep' (ignored update)."]
    assert any("ignored" in m and "project" in m for m in seen)
    api = mytrack.Api()
    (run,) = api.sweep(f"{project}/{sweep_id}").runs
    assert run.config == {"lr": 0.1, "opt": {"beta": 0.9}, "other": 1}
    assert run.sweep_id == sweep_id and run.state == "finished"
    assert "MYTRACK_SWEEP_ID" not in os.environ and mytrack.run is None  # nothing left over


def test_function_agent_runs_again_in_one_process(project: str) -> None:
    """agent() twice in one process (a notebook kernel): each call runs its own trials cleanly."""
    config = {"method": "random", "run_cap": 2, "parameters": {"a": {"values": [1, 2]}}}
    ids = []
    for _ in range(2):
        sweep_id = mytrack.sweep(config, project=project, quiet=True)
        mytrack.agent(sweep_id, function=lambda: mytrack.init().log({"loss": 1}), project=project)
        ids.append(sweep_id)
    api = mytrack.Api()
    for sweep_id in ids:
        sweep = api.sweep(f"{project}/{sweep_id}")
        assert sweep.counts == {"finished": 2} and sweep.state == "finished"


def test_command_sweep_passes_values_through_macros(project: str, workdir: Path) -> None:
    """A command trial runs ${interpreter} ${program} ${args}: the child's init() joins the trial's
    run, and its arguments carry the sampled values."""
    (workdir / "train.py").write_text(textwrap.dedent("""
        import sys, mytrack
        run = mytrack.init()
        run.summary["argv"] = " ".join(sys.argv[1:])
        run.log({"loss": run.config["lr"]})
    """))
    sweep_id = mytrack.sweep({
        "method": "grid", "program": "train.py", "metric": {"name": "loss"},
        "command": ["${env}", "${interpreter}", "${program}", "${args}"],
        "parameters": {"lr": {"values": [0.1, 0.2]}},
    }, project=project, quiet=True)
    subprocess.run([sys.executable, "-m", "mytrack.cli", "agent", "--project", project, sweep_id],
                   env=_env(), cwd=workdir, check=True, capture_output=True, timeout=120)
    runs = mytrack.Api().sweep(f"{project}/{sweep_id}").runs
    assert sorted(r.summary["argv"] for r in runs) == ["--lr=0.1", "--lr=0.2"]
    assert sorted(r.config["lr"] for r in runs) == [0.1, 0.2]


def test_agent_gives_up_after_immediate_failures_with_the_output(project: str, workdir: Path) -> None:
    """A command that fails at once, three times in a row, makes the agent give up with its output."""
    (workdir / "bad.py").write_text("import sys; print('no such dataset: /data/x'); sys.exit(3)\n")
    sweep_id = mytrack.sweep({"method": "random", "program": "bad.py", "parameters": {
        "lr": {"min": 0.0, "max": 1.0}}}, project=project, quiet=True)
    with pytest.raises(mytrack.errors.SweepError, match=r"(?s)gives up.*exit code 3.*no such dataset"):
        mytrack.agent(sweep_id, project=project)
    assert mytrack.Api().sweep(f"{project}/{sweep_id}").counts == {"failed": 3}


def test_pause_resume_and_cancel(project: str, workdir: Path) -> None:
    """A paused sweep hands out nothing (its agent waits), resumed it goes on; canceled, the agent's
    running trial is stopped and the agent ends."""
    sweep_id = mytrack.sweep({"method": "random", "parameters": {"a": {"values": [1]}, "b": {"values": [1]}}},
                             project=project, quiet=True)
    cli = [sys.executable, "-m", "mytrack.cli", "sweep", "--project", project]
    subprocess.run([*cli, "--pause", sweep_id], check=True, capture_output=True, env=_env())
    api = mytrack.Api()
    (agent,) = _agents(workdir, f"{project}/{sweep_id}", 1, _env(TRIAL_SLEEP="60"))
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            agent.wait(timeout=1.5)
        assert api.sweep(f"{project}/{sweep_id}").trials == []
        subprocess.run([*cli, "--resume", sweep_id], check=True, capture_output=True, env=_env())
        wait_for(lambda: list(workdir.glob("started-*")), timeout=60)
        subprocess.run([*cli, "--cancel", sweep_id], check=True, capture_output=True, env=_env())
        _, err = agent.communicate(timeout=90)
    finally:
        agent.kill()
    sweep = api.sweep(f"{project}/{sweep_id}")
    assert sweep.state == "canceled" and len(sweep.trials) == 1
    assert [r.state for r in sweep.runs] == ["killed"], err


def test_kill_9_of_an_agent_mid_trial(project: str, workdir: Path) -> None:
    """An agent killed with kill -9 mid-trial leaves a crashed run, counted as a crashed trial; its
    grid point is not handed out again unless `--resume --redo-crashed`."""
    config = {"method": "grid", "parameters": {"a": {"values": [1, 2]}, "b": {"values": [1]}}}
    sweep_id = mytrack.sweep(config, project=project, quiet=True)
    path = f"{project}/{sweep_id}"
    (agent,) = _agents(workdir, path, 1, _env(TRIAL_SLEEP="60"), count=1)
    wait_for(lambda: list(workdir.glob("started-*")), timeout=60)
    os.kill(agent.pid, signal.SIGKILL)
    agent.wait()
    api = mytrack.Api()
    wait_for(lambda: [t["state"] for t in api.sweep(path).trials] == ["crashed"], timeout=60)
    crashed = api.sweep(path).trials[0]["params"]
    _wait(_agents(workdir, path, 1))
    sweep = api.sweep(path)
    assert sorted(t["state"] for t in sweep.trials) == ["crashed", "finished"]
    assert sweep.state == "finished"
    subprocess.run([sys.executable, "-m", "mytrack.cli", "sweep", "--project", project, "--resume",
                    "--redo-crashed", sweep_id], check=True, capture_output=True, env=_env())
    _wait(_agents(workdir, path, 1))
    trials = api.sweep(path).trials
    assert sorted(t["state"] for t in trials) == ["finished", "finished", "redo"]
    assert [t["params"] for t in trials if t["state"] == "finished"].count(crashed) == 1


def test_sweep_continues_after_the_service_is_killed(tmp_path: Path, workdir: Path) -> None:
    """kill -9 of the service between trials: agents started again continue the grid where it was."""
    home = tmp_path / "home"
    env = _env(MYTRACK_DIR=str(home))
    api = mytrack.Api(overrides={"service_dir": str(home)})
    try:
        sweep_id = subprocess.run(
            [sys.executable, "-c", f"import mytrack; print(mytrack.sweep({GRID!r}, project='restart', quiet=True))"],
            env=env, capture_output=True, text=True, check=True, cwd=workdir,
        ).stdout.strip()
        path = f"{api.default_entity}/restart/{sweep_id}"
        _wait(_agents(workdir, path, 2, env, count=5))
        pid = int((home / "service.pid").read_text().split()[0])
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: not os.path.exists(f"/proc/{pid}"), timeout=30)
        _wait(_agents(workdir, path, 2, env))
        sweep = mytrack.Api(overrides={"service_dir": str(home)}).sweep(path)
        assert _points(sweep.trials) == ALL_POINTS and sweep.state == "finished"
    finally:
        stop_service(home)
