"""Search methods and early termination through the controller, with real agents in subprocesses."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import mytrack
from tests.helpers import wait_for

pytestmark = pytest.mark.usefixtures("no_current_run")

# A synthetic family of learning curves: loss_t = q + 1/(t+1), logged every 0.15 s.
CURVE_AGENT = textwrap.dedent("""
    import sys, time
    import mytrack

    def train():
        run = mytrack.init()
        for t in range(12):
            run.log({"loss": run.config["q"] + 1.0 / (t + 1)})
            time.sleep(0.15)

    mytrack.agent(sys.argv[1], function=train, count=int(sys.argv[2]))
""")
# The command trial ignores SIGTERM: the agent must SIGKILL it after term_timeout.
CURVE_PROGRAM = textwrap.dedent("""
    import pathlib, signal, time
    import mytrack

    run = mytrack.init()
    signal.signal(signal.SIGTERM, lambda *_: pathlib.Path("got-sigterm").touch())
    for t in range(200):
        run.log({"loss": run.config["q"] + 1.0 / (t + 1)})
        time.sleep(0.15)
    pathlib.Path("ran-to-the-end").touch()
""")
COMMAND_AGENT = "import sys, mytrack; mytrack.agent(sys.argv[1], count=1, term_timeout=1.0)"


def _env() -> dict[str, str]:
    return {**os.environ, "MYTRACK_SILENT": "true", "MYTRACK_SWEEP_POLL_INTERVAL": "0.2"}


def _run(args: list[str], cwd: Path, timeout: float = 240) -> None:
    done = subprocess.run(args, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]


def test_hyperband_stops_the_bad_curves_at_band_boundaries(project: str, workdir: Path) -> None:
    """early_terminate hyperband (min_iter 3, eta 3: bands at 3 and 9 iterations): the two good
    curves run their 12 steps and finish; the bad function trials are stopped once past the band
    of 3 (their runs end killed, the trials stopped); the bad command trial gets SIGTERM, ignores
    it, and is SIGKILLed after term_timeout: its run ends killed too, not crashed."""
    (workdir / "curve.py").write_text(CURVE_PROGRAM)
    sweep_id = mytrack.sweep({
        "method": "grid", "program": "curve.py", "metric": {"name": "loss", "goal": "minimize"},
        "early_terminate": {"type": "hyperband", "min_iter": 3, "eta": 3},
        "parameters": {"q": {"values": [0.5, 0.0, 3.0, 2.0, 5.0]}},
    }, project=project, quiet=True)
    path = f"{project}/{sweep_id}"
    _run([sys.executable, "-c", CURVE_AGENT, path, "4"], workdir)
    _run([sys.executable, "-c", COMMAND_AGENT, path], workdir, timeout=120)
    api = mytrack.Api()
    sweep = api.sweep(path)
    # The SIGKILLed trial's run ends when the service sees its process gone.
    wait_for(lambda: all(r.state != "running" for r in api.sweep(path).runs), timeout=60)
    trials = {t["params"]["q"]: t for t in sweep.trials}
    runs = {r.id: r for r in api.sweep(path).runs}
    assert {q: t["state"] for q, t in trials.items()} == {
        0.5: "finished", 0.0: "finished", 3.0: "stopped", 2.0: "stopped", 5.0: "stopped"}
    for q, trial in trials.items():
        run = runs[trial["run_id"]]
        steps = len(list(run.scan_history(keys=["loss"])))
        if trial["state"] == "finished":
            assert run.state == "finished" and steps == 12
        else:
            assert run.state == "killed", (q, run.state)
            assert 3 <= steps < (12 if q != 5.0 else 200), (q, steps)
    assert (workdir / "got-sigterm").exists() and not (workdir / "ran-to-the-end").exists()
    _run([sys.executable, "-c", CURVE_AGENT, path, "1"], workdir)  # finds the grid exhausted
    assert api.sweep(path).state == "finished"


SEARCH_AGENT = textwrap.dedent("""
    import sys
    import mytrack

    def train():
        run = mytrack.init()
        x, y = run.config["x"], run.config["y"]
        run.log({"loss": (x - 0.3) ** 2 + (y - 0.7) ** 2, "seen": {"x": x, "y": y}})

    mytrack.agent(sys.argv[1], function=train)  # until run_cap
""")
SPACE = {"x": {"min": 0.0, "max": 1.0}, "y": {"min": 0.0, "max": 1.0}}


@pytest.mark.parametrize(("method", "extra", "agents"), [
    ("bayes", {}, 2),
    ("custom", {"scheduler": {"engine": "optuna", "settings": {"sampler": {
        "type": "TPESampler", "args": {"n_startup_trials": 4, "seed": 1}}}}}, 1),
    ("custom", {"scheduler": {"engine": "optuna", "settings": {"sampler": {
        "type": "CmaEsSampler", "args": {"seed": 1}}}}}, 1),
], ids=["bayes", "optuna-tpe", "optuna-cmaes"])
def test_model_based_search_through_the_controller(
    project: str, workdir: Path, method: str, extra: dict[str, Any], agents: int,
) -> None:
    """bayes (two agents at once) and Optuna's TPE and CMA-ES samplers: each trial's run.config is
    the point the search chose (with the metrics of the trials before it), the last trials are
    better than the first ones, and best_run() is the best. CMA-ES (6 points a generation here)
    goes on from generation to generation although the service rebuilds its study for each ask."""
    trials = 25 if "CmaEsSampler" in str(extra) else 16
    sweep_id = mytrack.sweep({"method": method, "run_cap": trials, "metric": {"name": "loss", "goal": "minimize"},
                              "parameters": SPACE, **extra}, project=project, quiet=True)
    path = f"{project}/{sweep_id}"
    procs = [subprocess.Popen([sys.executable, "-c", SEARCH_AGENT, path], cwd=workdir, env=_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(agents)]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
    sweep = mytrack.Api().sweep(path)
    assert sweep.state == "finished" and sweep.counts == {"finished": trials}
    runs = {r.id: r for r in sweep.runs}
    by_seq = sorted(sweep.trials, key=lambda t: t["seq"])
    for trial in by_seq:  # the values the script saw are the ones the search handed out
        run = runs[trial["run_id"]]
        assert run.config == trial["params"] == run.summary["seen"]
        assert trial["metric"] == pytest.approx(run.summary["loss"])
    losses = [t["metric"] for t in by_seq]
    best = sweep.best_run()
    assert best is not None and best.summary["loss"] == pytest.approx(min(losses))
    # The search moves to where the metric is good: its last trials beat its first ones.
    assert statistics.median(losses[-6:]) < statistics.median(losses[:6]), losses
    assert min(losses) < 0.02, losses  # a random point does this 6 % of the time
