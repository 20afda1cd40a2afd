"""Many training processes at once: parallel logging and a simultaneous cold start."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import mytrack
from mytrack._internal.transport import launcher
from mytrack_common.address import service_address
from mytrack_common.tee import launch
from tests.helpers import pid_alive, wait_for

PROCESSES = 16
STEPS = 1_000
STARTERS = 32


def spawn(
    code: str, args: list[str], cwd: Path, env: dict[str, str], name: str
) -> subprocess.Popen[str]:
    """Starts a Python snippet; its stdout/stderr go to files ``name``.out/.err in cwd."""
    with open(cwd / f"{name}.out", "w") as out, open(cwd / f"{name}.err", "w") as err:
        return subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args], cwd=cwd, env=env,
            stdout=out, stderr=err, text=True,
        )


def wait_all(processes: dict[str, subprocess.Popen[str]], cwd: Path, timeout: float) -> dict[str, str]:
    """Waits for every process; returns each one's stdout, failing if one failed."""
    outputs = {}
    try:
        for name, process in processes.items():
            code = process.wait(timeout=timeout)
            stdout = (cwd / f"{name}.out").read_text()
            stderr = (cwd / f"{name}.err").read_text()
            assert code == 0, f"{name} exited with {code}:\n{stdout}\n{stderr}"
            outputs[name] = stdout
    finally:
        for process in processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return outputs


# -- 16 processes x 1,000 steps -------------------------------------------------------------

LOGGER_SCRIPT = """
    import sys
    import mytrack

    project, index, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    run = mytrack.init(project=project, name=f"proc-{index}", config={"index": index},
                       settings=mytrack.Settings(quiet=True))
    for step in range(steps):
        run.log({
            "proc": index,
            "value": index * 100_000 + step,
            "loss": 1.0 / (index * steps + step + 1),
            "tag": f"p{index}-s{step}",
            "nested": {"even": step % 2 == 0, "x": [index, step]},
        })
    run.finish()
    print(run.path)
"""


def expected_row(index: int, step: int) -> dict[str, object]:
    return {
        "proc": index,
        "value": index * 100_000 + step,
        "loss": 1.0 / (index * STEPS + step + 1),
        "tag": f"p{index}-s{step}",
        "nested": {"even": step % 2 == 0, "x": [index, step]},
        "_step": step,
    }


def test_sixteen_processes_log_to_separate_runs_and_every_value_comes_back(
    project: str, tmp_path: Path
) -> None:
    """16 processes each logging 1,000 steps to their own run through the session service: every run is finished and
    every value of every step comes back exactly."""
    env = {**os.environ, "MYTRACK_SILENT": "true"}
    processes = {
        f"logger-{i}": spawn(LOGGER_SCRIPT, [project, str(i), str(STEPS)], tmp_path, env, f"logger-{i}")
        for i in range(PROCESSES)
    }
    outputs = wait_all(processes, tmp_path, timeout=180)
    paths = {i: outputs[f"logger-{i}"].strip().splitlines()[-1] for i in range(PROCESSES)}
    assert len(set(paths.values())) == PROCESSES

    api = mytrack.Api()
    listed = {run.path: run for run in api.runs(project)}
    assert set(listed) == set(paths.values())
    for index, path in paths.items():
        run = api.run(path)
        assert run.state == "finished", path
        assert run.name == f"proc-{index}"
        assert run.config == {"index": index}
        rows = list(run.scan_history())
        assert len(rows) == STEPS, path
        for step, row in enumerate(rows):
            assert {k: v for k, v in row.items() if k not in ("_runtime", "_timestamp")} == \
                expected_row(index, step), (path, step)
        assert run.summary["value"] == index * 100_000 + STEPS - 1
        assert run.summary["tag"] == f"p{index}-s{STEPS - 1}"
        by_key = list(run.scan_history(keys=["value", "nested.even"]))
        assert by_key == [
            {"_step": s, "value": index * 100_000 + s, "nested.even": s % 2 == 0}
            for s in range(STEPS)
        ]


# -- 32 simultaneous init() calls on a cold home ---------------------------------------------------

STARTER_SCRIPT = """
    import sys, time
    from pathlib import Path
    import mytrack

    index, ready, start = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    (ready / str(index)).touch()
    deadline = time.monotonic() + 120
    while not start.exists():
        if time.monotonic() > deadline:
            sys.exit("the start file never appeared")
        time.sleep(0.002)
    run = mytrack.init(project="stampede", config={"index": index},
                       settings=mytrack.Settings(quiet=True))
    run.log({"index": index})
    run.finish()
    print(run.path)
"""


def _service_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mytrack_service", "--home", str(home), *args],
        capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.fixture
def cold_home(tmp_path: Path) -> Iterator[Path]:
    """A service home that does not exist yet; whatever service it gets is stopped at teardown."""
    home = tmp_path / "home"
    try:
        yield home
    finally:
        _service_cli(home, "stop", "--timeout", "30")
        for process in _services_of(home):
            process.send_signal(signal.SIGKILL)


def _services_of(home: Path) -> list[psutil.Process]:
    """Live `mytrack_service start` processes serving ``home``."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if "mytrack_service" in cmdline and "start" in cmdline and str(home) in cmdline:
            found.append(process)
    return found


def test_thirty_two_simultaneous_inits_on_a_cold_home_start_exactly_one_service(
    cold_home: Path, tmp_path: Path
) -> None:
    """32 processes calling init() at the same moment against a fresh MYTRACK_DIR end with exactly one service and 32
    distinct runs."""
    assert not cold_home.exists()
    ready, start = tmp_path / "ready", tmp_path / "start"
    ready.mkdir()
    env = {**os.environ, "MYTRACK_DIR": str(cold_home), "MYTRACK_SILENT": "true",
           "MYTRACK_SERVICE_IDLE_TIMEOUT": "120"}
    processes = {
        f"starter-{i}": spawn(STARTER_SCRIPT, [str(i), str(ready), str(start)], tmp_path, env,
                              f"starter-{i}")
        for i in range(STARTERS)
    }
    try:
        wait_for(lambda: len(list(ready.iterdir())) == STARTERS or
                 any(p.poll() is not None for p in processes.values()),
                 timeout=120, message="all starters to be ready")
        assert all(p.poll() is None for p in processes.values()), "a starter died early"
    except BaseException:
        for process in processes.values():
            process.kill()
            process.wait()
        raise
    start.touch()  # all 32 leave their wait loop within a couple of milliseconds
    outputs = wait_all(processes, tmp_path, timeout=180)
    paths = [outputs[f"starter-{i}"].strip().splitlines()[-1] for i in range(STARTERS)]
    assert len(set(paths)) == STARTERS

    # Exactly one service: the pid file, the status RPC and the process table agree.
    address = service_address(str(cold_home))
    pid_text = Path(address.pid).read_text()
    assert pid_text.strip().isdigit() and pid_text.count("\n") == 1
    pid = int(pid_text)
    status = _service_cli(cold_home, "status", "--json")
    assert status.returncode == 0, status.stderr
    fields = json.loads(status.stdout)
    assert fields["running"] is True and fields["pid"] == pid
    assert fields["socket"] == address.socket
    assert [p.pid for p in _services_of(cold_home)] == [pid]
    # Only one service ever started: a second one would have logged a start or a refusal.
    log = Path(address.log).read_text()
    assert log.count("starting pid=") == 1 and f"starting pid={pid} " in log
    assert "already running" not in log

    api = mytrack.Api(settings=mytrack.Settings(service_dir=str(cold_home)))
    runs = api.runs(paths[0].rsplit("/", 1)[0])
    assert sorted(r.path for r in runs) == sorted(paths)
    for index, path in enumerate(paths):
        run = api.run(path)
        assert run.state == "finished"
        assert run.config == {"index": index}
        assert list(run.scan_history(keys=["index"])) == [{"_step": 0, "index": index}]

    stop = _service_cli(cold_home, "stop")
    assert stop.returncode == 0 and f"pid {pid}" in stop.stdout
    assert not pid_alive(pid)
    assert _services_of(cold_home) == []


COLD_START_SCRIPT = """
import json, os, sys, psutil, mytrack
run = mytrack.init(project="cold", settings=mytrack.Settings(quiet=True))
service = int(open(os.path.join(os.environ["MYTRACK_DIR"], "service.pid")).read())
children = psutil.Process().children()
print(json.dumps({
    "service": service, "parent": psutil.Process(service).ppid(), "me": os.getpid(),
    "same_session": os.getsid(service) == os.getsid(0),
    "children": [[c.pid, c.status(), " ".join(c.cmdline()[-2:])] for c in children],
    "path": run.path,
}))
run.finish()
"""


def test_a_service_started_by_init_is_nobodys_child_in_a_session_of_its_own(
    cold_home: Path, tmp_path: Path
) -> None:
    """init() on a cold home starts the service outside the program's session (no terminal signals, its own scheduling
    group) and leaves no process behind: the service's tee server serves the console, so the program has no child at
    all."""
    env = {**os.environ, "MYTRACK_DIR": str(cold_home), "MYTRACK_SILENT": "true"}
    result = subprocess.run([sys.executable, "-c", COLD_START_SCRIPT], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["parent"] != seen["me"] and seen["same_session"] is False
    assert seen["children"] == []  # neither the service, nor a zombie, nor a tee process
    assert _services_of(cold_home)[0].pid == seen["service"]
    assert mytrack.Api(settings=mytrack.Settings(service_dir=str(cold_home))).run(
        seen["path"]).state == "finished"
    (tee_server,) = psutil.Process(seen["service"]).children()
    assert launch.is_tee(tee_server.cmdline()) and "serve" in tee_server.cmdline()
    assert (cold_home / "tee.sock").exists()
    assert _service_cli(cold_home, "stop").returncode == 0
    tee_server.wait(10)  # raises psutil.TimeoutExpired while it still runs
    assert not (cold_home / "tee.sock").exists()


def test_the_early_start_holds_the_lock_until_connect_has_the_service_answering(cold_home: Path) -> None:
    """start_early starts the service and holds the start lock (nobody else starts one); connect() with it returns a
    client of that service and lets the lock go; with a service running there is nothing to start."""
    starting = launcher.start_early(str(cold_home))
    assert starting is not None
    try:
        assert launcher.start_early(str(cold_home)) is None  # the lock is held: another caller starts nothing
        client = launcher.connect(str(cold_home), timeout=30.0, starting=starting)
    finally:
        starting.release()
    try:
        status = client.status(None, timeout=10)
        assert [p.pid for p in _services_of(cold_home)] == [status.pid]
    finally:
        client.close()
    assert starting.lock_fd == -1
    assert launcher.start_early(str(cold_home)) is None  # its socket answers
    free = launcher._lock_now(service_address(str(cold_home)).lock)
    assert free is not None  # connect() released the start lock
    os.close(free)


def test_an_init_that_fails_after_the_early_start_leaves_a_service_the_next_init_uses(
    cold_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """init() starts the service before it checks the config: a config it refuses raises, the lock is released and
    the next init() connects to the service that was started."""
    monkeypatch.setenv("MYTRACK_DIR", str(cold_home))
    with pytest.raises(mytrack.errors.Error):
        mytrack.init(project="early", config=42, settings=mytrack.Settings(quiet=True))  # type: ignore[arg-type]
    socket_path = service_address(str(cold_home)).socket
    wait_for(lambda: os.path.exists(socket_path), timeout=30, message="the service the failed init() started")
    client = launcher.connect(str(cold_home), timeout=30.0)
    try:
        started = client.status(None, timeout=10).pid
    finally:
        client.close()
    with mytrack.init(project="early", config={"lr": 1}, settings=mytrack.Settings(quiet=True)) as run:
        run.log({"loss": 0.5})
    assert [p.pid for p in _services_of(cold_home)] == [started]
    assert mytrack.Api(settings=mytrack.Settings(service_dir=str(cold_home))).run(run.path).summary["loss"] == 0.5
