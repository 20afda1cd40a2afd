"""Run lifecycle: context manager, finish states, exit hooks, module-level API,
console lines, reinit policies, disabled mode and run properties.

Exit behaviour and console output are checked in fresh interpreters (the
``run_script`` fixture); the rest runs in-process against the session's service.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack import errors
from mytrack_common.address import service_address

QUIET = mytrack.Settings(quiet=True)
META = ("_runtime", "_timestamp")
Script = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(autouse=True)
def _console_lines_shown(no_current_run: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests read init()'s and finish()'s console lines: MYTRACK_SILENT unset."""
    monkeypatch.delenv("MYTRACK_SILENT", raising=False)


def api_run(path: str) -> Any:
    return mytrack.Api().run(path)


def history(path: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in META} for row in api_run(path).scan_history()]


def last_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in stdout:\n{result.stdout}\n{result.stderr}"
    out: dict[str, Any] = json.loads(lines[-1])
    return out


# -- finishing -----------------------------------------------------------------------


def test_context_manager_finishes_the_run(project: str) -> None:
    """Leaving a `with mytrack.init()` block normally finishes the run (state finished, exit 0)."""
    with mytrack.init(project=project, settings=QUIET) as run:
        assert mytrack.run is run
        run.log({"a": 1})
        run.log({"a": 2})
    assert mytrack.run is None
    stored = api_run(run.path)
    assert (stored.state, stored.exit_code) == ("finished", 0)
    assert history(run.path) == [{"a": 1, "_step": 0}, {"a": 2, "_step": 1}]
    with pytest.raises(errors.RunFinishedError):
        run.log({"a": 3})


def test_exception_in_with_block_fails_the_run_and_propagates(project: str) -> None:
    """An exception escaping the with block propagates and leaves the run failed with exit code 1."""
    with pytest.raises(RuntimeError, match="boom"):
        with mytrack.init(project=project, settings=QUIET) as run:
            run.log({"a": 1})
            run.log({"b": 2}, commit=False)
            raise RuntimeError("boom")
    assert mytrack.run is None
    stored = api_run(run.path)
    assert (stored.state, stored.exit_code) == ("failed", 1)
    assert history(run.path) == [{"a": 1, "_step": 0}, {"b": 2, "_step": 1}]


def test_keyboard_interrupt_in_with_block_kills_the_run(project: str) -> None:
    """A KeyboardInterrupt escaping the with block propagates and leaves the run killed."""
    with pytest.raises(KeyboardInterrupt):
        with mytrack.init(project=project, settings=QUIET) as run:
            run.log({"a": 1})
            raise KeyboardInterrupt
    stored = api_run(run.path)
    assert stored.state == "killed"
    assert stored.exit_code != 0
    assert history(run.path) == [{"a": 1, "_step": 0}]


@pytest.mark.parametrize(("exit_code", "state"), [(None, "finished"), (0, "finished"),
                                                  (3, "failed"), (1, "failed")])
def test_finish_exit_code_sets_the_state(project: str, exit_code: int | None, state: str) -> None:
    """finish(exit_code=0 or None) gives finished; a non-zero exit code gives failed with that code."""
    run = mytrack.init(project=project, settings=QUIET)
    run.log({"a": 1})
    run.finish(exit_code=exit_code)
    stored = api_run(run.path)
    assert (stored.state, stored.exit_code) == (state, exit_code or 0)
    assert history(run.path) == [{"a": 1, "_step": 0}]
    run.finish(exit_code=5)  # already finished: no effect
    assert (api_run(run.path).state, api_run(run.path).exit_code) == (state, exit_code or 0)


_EXIT_SCRIPT = """
import json, sys, mytrack
run = mytrack.init(project={project!r}, settings=mytrack.Settings(quiet=True))
print(json.dumps({{"path": run.path}}), flush=True)
for i in range({steps}):
    run.log({{"i": i, "sq": i * i}})
run.log({{"tail": True}}, commit=False)
{ending}
"""


@pytest.mark.parametrize(
    ("ending", "returncode", "state", "exit_code"),
    [
        ("pass", 0, "finished", 0),
        ("raise ValueError('boom at exit')", 1, "failed", 1),
        ("sys.exit(3)", 3, "failed", 3),
        ("sys.exit(0)", 0, "finished", 0),
    ],
    ids=["normal-exit", "uncaught-exception", "sys-exit-3", "sys-exit-0"],
)
def test_interpreter_exit_without_finish_finishes_the_run(
    project: str, run_script: Script, ending: str, returncode: int, state: str, exit_code: int
) -> None:
    """Exiting without finish() ends the run through the atexit hook, with every step and the right state."""
    steps = 200
    result = run_script(
        _EXIT_SCRIPT.format(project=project, steps=steps, ending=ending), check=False
    )
    assert result.returncode == returncode, result.stderr
    if "raise" in ending:
        assert "ValueError: boom at exit" in result.stderr  # the original excepthook still ran
    path = last_json(result)["path"]
    stored = api_run(path)
    assert (stored.state, stored.exit_code) == (state, exit_code)
    rows = history(path)
    assert rows == [{"i": i, "sq": i * i, "_step": i} for i in range(steps)] + [
        {"tail": True, "_step": steps}
    ]


# -- module-level API ------------------------------------------------------------------


def test_module_level_run_log_finish_act_on_the_current_run(project: str) -> None:
    """mytrack.run/log/config/summary/finish act on the current run; mytrack.run is None after finish."""
    assert mytrack.run is None
    run = mytrack.init(project=project, config={"lr": 0.1}, settings=QUIET)
    assert mytrack.run is run
    assert mytrack.config is run.config
    assert mytrack.summary is run.summary
    mytrack.log({"a": 1})
    mytrack.log({"b": 2}, commit=False)
    mytrack.log({"c": 3}, step=1)
    mytrack.log({"d": 4}, step=5, commit=True)
    mytrack.config["batch"] = 32
    mytrack.summary["best"] = 0.75
    assert mytrack.summary["d"] == 4
    mytrack.finish(exit_code=0)
    assert mytrack.run is None
    assert mytrack.config is None and mytrack.summary is None
    with pytest.raises(errors.PreInitError):
        mytrack.log({"e": 5})
    mytrack.finish()  # no current run: nothing to do
    stored = api_run(run.path)
    assert stored.state == "finished"
    assert stored.config == {"lr": 0.1, "batch": 32}
    assert stored.summary["best"] == 0.75
    assert history(run.path) == [
        {"a": 1, "_step": 0},
        {"b": 2, "c": 3, "_step": 1},
        {"d": 4, "_step": 5},
    ]


# -- console lines -------------------------------------------------------------------------

_CONSOLE_SCRIPT = """
import json, mytrack
settings = mytrack.Settings(quiet=True) if {quiet_setting} else None
run = mytrack.init(project={project!r}, settings=settings)
for i in range(3):
    run.log({{"loss": 1.0 / (i + 1), "acc": i * 0.25}})
run.finish()
print(json.dumps({{"path": run.path, "name": run.name}}))
"""


def test_init_and_finish_print_one_line_each(project: str, run_script: Script) -> None:
    """init() prints one stderr line naming the run and how to look at it; finish() one with the step count."""
    result = run_script(
        _CONSOLE_SCRIPT.format(project=project, quiet_setting=False), env={"MYTRACK_SILENT": ""}
    )
    out = last_json(result)
    path, name = out["path"], out["name"]
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, result.stderr
    started, finished = lines
    assert path in started and name in started
    assert "started" in started
    match = re.search(r"see it with: (mytrack [^;]+?)\s*$", started)
    assert match, started
    command = shlex.split(match.group(1))
    assert command[:3] == ["mytrack", "runs", "show"] and command[3] == path
    assert path in finished and "finished" in finished
    assert re.search(r"\b3 steps\b", finished), finished
    assert "loss=0.3333" in finished and "acc=0.5" in finished
    # The command printed by init() really shows the run.
    shown = subprocess.run(
        [sys.executable, "-m", "mytrack.cli", *command[1:]], capture_output=True, text=True,
        timeout=60, check=False,
    )
    assert shown.returncode == 0, shown.stderr
    assert "finished" in shown.stdout and "loss" in shown.stdout


@pytest.mark.parametrize(("env", "quiet_setting"), [({"MYTRACK_SILENT": "true"}, False),
                                                    ({"MYTRACK_SILENT": ""}, True)],
                         ids=["MYTRACK_SILENT", "Settings-quiet"])
def test_silent_settings_suppress_both_lines(
    project: str, run_script: Script, env: dict[str, str], quiet_setting: bool
) -> None:
    """MYTRACK_SILENT=true or Settings(quiet=True) silences both the init and the finish line."""
    result = run_script(_CONSOLE_SCRIPT.format(project=project, quiet_setting=quiet_setting), env=env)
    assert result.stderr == ""
    path = last_json(result)["path"]
    assert api_run(path).state == "finished"
    assert len(history(path)) == 3


# -- reinit ---------------------------------------------------------------------------------


def test_second_init_finishes_the_previous_run(project: str) -> None:
    """A second init() finishes the previous run (state finished) and becomes the current run."""
    first = mytrack.init(project=project, settings=QUIET)
    first.log({"a": 1})
    first.log({"a": 2}, commit=False)
    second = mytrack.init(project=project, settings=QUIET)
    assert second is not first and second.id != first.id
    assert mytrack.run is second
    stored = api_run(first.path)
    assert (stored.state, stored.exit_code) == ("finished", 0)
    assert history(first.path) == [{"a": 1, "_step": 0}, {"a": 2, "_step": 1}]
    with pytest.raises(errors.RunFinishedError):
        first.log({"a": 3})
    second.log({"b": 1})
    assert api_run(second.path).state == "running"
    second.finish()
    assert history(second.path) == [{"b": 1, "_step": 0}]


def test_reinit_create_new_keeps_both_runs_live(project: str) -> None:
    """reinit="create_new" keeps both runs running, and each logs its own independent history."""
    first = mytrack.init(project=project, settings=QUIET)
    second = mytrack.init(project=project, reinit="create_new", settings=QUIET)
    assert second is not first and second.id != first.id
    for i in range(5):
        first.log({"x": i})
        second.log({"y": i * 10}, commit=False)
        second.log({"z": -i})
    first.log({"x": 100}, step=50, commit=True)
    assert api_run(first.path).state == "running"
    assert api_run(second.path).state == "running"
    second.finish()
    assert api_run(second.path).state == "finished"
    assert api_run(first.path).state == "running"
    first.log({"x": 101})
    first.finish()
    assert api_run(first.path).state == "finished"
    assert history(first.path) == [{"x": i, "_step": i} for i in range(5)] + [
        {"x": 100, "_step": 50}, {"x": 101, "_step": 51},
    ]
    assert history(second.path) == [{"y": i * 10, "z": -i, "_step": i} for i in range(5)]


def test_reinit_return_previous_returns_the_same_run(project: str) -> None:
    """reinit="return_previous" returns the live run itself, which keeps running."""
    first = mytrack.init(project=project, settings=QUIET)
    first.log({"a": 1})
    again = mytrack.init(project=project, reinit="return_previous", settings=QUIET)
    assert again is first
    assert mytrack.run is first
    again.log({"a": 2})
    assert api_run(first.path).state == "running"
    first.finish()
    assert history(first.path) == [{"a": 1, "_step": 0}, {"a": 2, "_step": 1}]
    assert len(mytrack.Api().runs(project)) == 1


# -- disabled mode --------------------------------------------------------------------------


def test_disabled_mode_accepts_everything_and_touches_nothing(
    run_script: Script, workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """mode="disabled" accepts log/finish/config/summary calls, starts no service and writes no files."""
    home = tmp_path_factory.mktemp("disabled") / "fresh-home"
    address = service_address(str(home))
    result = run_script(
        """
        import json, mytrack
        run = mytrack.init(project="p", mode="disabled", config={"lr": 0.1})
        assert mytrack.run is run
        run.log({"a": 1})
        run.log({"a": 2}, step=10)
        run.log({"b": object()}, commit=False)
        mytrack.log({"c": 3})
        run.config["batch"] = 32
        run.config.update({"depth": 4})
        mytrack.config["extra"] = True
        run.summary["best"] = 1.0
        run.summary.update({"x": 2})
        with mytrack.init(mode="disabled") as inner:
            inner.log({"d": 4})
        run.finish()
        run.finish(exit_code=2)
        run.log({"after": 1})
        print(json.dumps({
            "disabled": run.disabled, "lr": run.config["lr"], "batch": run.config.batch,
            "depth": run.config["depth"], "id": run.id, "project": run.project,
            "entity": run.entity, "name": run.name, "run_is_none": mytrack.run is None,
        }))
        """,
        env={"MYTRACK_DIR": str(home)},
    )
    out = last_json(result)
    assert out["disabled"] is True
    assert (out["lr"], out["batch"], out["depth"]) == (0.1, 32, 4)
    assert re.fullmatch(r"[a-z0-9]{8}", out["id"])
    assert (out["project"], out["entity"]) == ("p", getpass.getuser())
    assert re.fullmatch(r"[a-z]+-[a-z]+-\d+", out["name"])
    assert result.stderr == ""
    assert not home.exists()
    assert not os.path.exists(address.socket)
    assert not os.path.exists(address.pid)
    assert list(workdir.iterdir()) == []


def test_disabled_mode_uses_default_identity(project: str) -> None:
    """A disabled run gets the defaults: entity = OS user, project "uncategorized", generated id/name."""
    run = mytrack.init(mode="disabled")
    assert run.disabled is True
    assert run.entity == getpass.getuser()
    assert run.project == "uncategorized"
    assert run.path == f"{run.entity}/uncategorized/{run.id}"
    run.log({"a": 1})
    run.finish()
    assert mytrack.run is None


# -- properties ------------------------------------------------------------------------------


def test_run_properties(project: str, workdir: Path) -> None:
    """id/name/entity/project/path/dir/start_time/resumed/config are what init() was given."""
    before = time.time()
    run = mytrack.init(
        entity="team-x", project=project, name="my-run", id="props001", group="grp",
        job_type="training", tags=["t1", "t2"], notes="some notes",
        config={"lr": 0.1, "layers": [64, 32], "nested": {"a": 1}}, settings=QUIET,
    )
    after = time.time()
    try:
        assert run.id == "props001"
        assert run.name == "my-run"
        assert run.entity == "team-x"
        assert run.project == project
        assert run.path == f"team-x/{project}/props001"
        assert (run.group, run.job_type, run.tags, run.notes) == (
            "grp", "training", ("t1", "t2"), "some notes",
        )
        assert before <= run.start_time <= after
        assert run.resumed is False
        assert run.disabled is False and run.offline is False
        assert run.config["lr"] == 0.1 and run.config.lr == 0.1
        assert run.config["layers"] == [64, 32]
        assert run.config["nested"] == {"a": 1}
        assert dict(run.config.items()) == {"lr": 0.1, "layers": [64, 32], "nested": {"a": 1}}
        stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(run.start_time))
        # As in W&B, run.dir is the run folder's files/ (where saved files live).
        assert run.dir == str(workdir / "mytrack-runs" / f"run-{stamp}-props001" / "files")
        assert re.fullmatch(r"run-\d{8}_\d{6}-props001", Path(run.dir).parent.name)
        assert Path(run.dir).is_dir() and Path(run.dir).name == "files"
        stored = api_run(run.path)
        assert (stored.id, stored.name, stored.entity, stored.project) == (
            "props001", "my-run", "team-x", project,
        )
        assert stored.config == {"lr": 0.1, "layers": [64, 32], "nested": {"a": 1}}
        assert (stored.group, stored.job_type, stored.tags, stored.notes) == (
            "grp", "training", ["t1", "t2"], "some notes",
        )
        assert stored.state == "running"
    finally:
        run.finish()


def test_run_default_identity_and_explicit_dir(project: str, workdir: Path) -> None:
    """Defaults: entity = OS user, 8-char base-36 id, adjective-noun-N name; dir= places the run folder."""
    target = workdir / "elsewhere"
    run = mytrack.init(project=project, dir=str(target), settings=QUIET)
    try:
        assert run.entity == getpass.getuser()
        assert re.fullmatch(r"[a-z0-9]{8}", run.id)
        assert re.fullmatch(r"[a-z]+-[a-z]+-\d+", run.name)
        assert run.path == f"{getpass.getuser()}/{project}/{run.id}"
        assert Path(run.dir).parent.parent == target / "mytrack-runs"
        assert re.fullmatch(rf"run-\d{{8}}_\d{{6}}-{run.id}", Path(run.dir).parent.name)
        assert Path(run.dir).is_dir() and Path(run.dir).name == "files"
        assert not (workdir / "mytrack-runs").exists()
        assert api_run(run.path).name == run.name
    finally:
        run.finish()
    other = mytrack.init(project=project, settings=QUIET)
    other.finish()
    assert other.id != run.id
