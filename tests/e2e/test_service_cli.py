"""The `mytrack-service` and `mytrack` commands, run as real processes.

Tests that start or stop services use a fresh home (``tmp_path / "home"``)
passed through MYTRACK_DIR / --home, and stop its service at teardown; the
`mytrack` CLI tests read a run logged through the session's service.
"""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import mytrack
from mytrack_common.address import ServiceAddress, service_address
from tests.conftest import wait_for_console_tee
from tests.helpers import ServiceHome, pid_alive, wait_for

_BIN = Path(sys.executable).parent


def _command(script: str, module: str) -> list[str]:
    """The installed console script next to this interpreter, else `python -m module`."""
    path = _BIN / script
    return [str(path)] if path.exists() else [sys.executable, "-m", module]


SERVICE = _command("mytrack-service", "mytrack_service")
MYTRACK = _command("mytrack", "mytrack.cli")


def services_of(home: Path) -> list[int]:
    """Pids of the live `mytrack_service start` processes serving ``home``."""
    pids = []
    for process in psutil.process_iter(["cmdline", "status"]):
        cmdline = process.info["cmdline"] or []
        if process.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        if "mytrack_service" in cmdline and "start" in cmdline and str(home) in cmdline:
            pids.append(process.pid)
    return pids


class Home(ServiceHome):
    @property
    def address(self) -> ServiceAddress:
        return service_address(str(self.path))

    def service(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Runs `mytrack-service ARGS` for this home (through MYTRACK_DIR)."""
        return subprocess.run(
            [*SERVICE, *args], env=self.env, cwd=self.workdir, capture_output=True, text=True,
            timeout=timeout, check=False,
        )

    def status(self) -> dict[str, object]:
        result = self.service("status", "--json")
        fields: dict[str, object] = json.loads(result.stdout)
        assert result.returncode == (0 if fields["running"] else 3), result.stderr
        return fields

    def spawn(self, code: str, *args: str) -> subprocess.Popen[str]:
        """A Python snippet in the background, with this home; output to files in workdir."""
        out_path, err_path = self.workdir / "script.out", self.workdir / "script.err"
        with open(out_path, "w") as out, open(err_path, "w") as err:
            return subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(code), *args], cwd=self.workdir,
                env=self.env, stdout=out, stderr=err, text=True,
            )

    def finished(self, process: subprocess.Popen[str], timeout: float = 60) -> str:
        """Waits for a spawned script; returns its stdout, failing on a non-zero exit."""
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        wait_for_console_tee(self.workdir / "script.out")  # the last lines may trail the exit
        stdout = (self.workdir / "script.out").read_text()
        stderr = (self.workdir / "script.err").read_text()
        assert code == 0, f"script exited with {code}:\n{stdout}\n{stderr}"
        return stdout


def _make_home(tmp_path: Path, **env: str) -> Home:
    workdir = tmp_path / "work"
    workdir.mkdir()
    path = tmp_path / "home"
    full_env = {**os.environ, "MYTRACK_DIR": str(path), "MYTRACK_SILENT": "true",
                "MYTRACK_SERVICE_IDLE_TIMEOUT": "120", **env}
    return Home(path, full_env, workdir)


def _teardown(home: Home) -> None:
    home.service("stop", "--timeout", "30")
    for pid in services_of(home.path):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    """A fresh service home (not created yet); its service is stopped at teardown."""
    made = _make_home(tmp_path)
    try:
        yield made
    finally:
        _teardown(made)


@pytest.fixture
def idle_home(tmp_path: Path) -> Iterator[Home]:
    """A fresh home whose service exits after 2 s with no open run."""
    made = _make_home(tmp_path, MYTRACK_SERVICE_IDLE_TIMEOUT="2")
    try:
        yield made
    finally:
        _teardown(made)


def _text_status(stdout: str) -> dict[str, str]:
    fields = {}
    for line in stdout.splitlines():
        name, _, value = line.partition(" ")
        fields[name] = value.strip()
    return fields


# A script that opens a run, logs `steps` steps ({"i": step}), waits until every
# record is acked, writes `marker` (run path and the number of acked records),
# waits for the file `go` and finishes the run.
OPEN_RUN_SCRIPT = """
    import os, sys, time
    from pathlib import Path
    import mytrack

    marker, go, steps = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    run = mytrack.init(project="cli", settings=mytrack.Settings(quiet=True))
    for step in range(steps):
        run.log({"i": step})
    assert run._sender.flush(60)
    marker.with_suffix(".tmp").write_text(f"{run.path} {run._sender.stats.records_acked}")
    os.replace(marker.with_suffix(".tmp"), marker)
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit("the test never created the go file")
        time.sleep(0.005)
    run.finish()
    print("DONE", run.path)
"""


def _wait_marker(marker: Path, process: subprocess.Popen[str]) -> list[str]:
    wait_for(lambda: marker.exists() or process.poll() is not None, timeout=60,
             message="the script's marker")
    if process.poll() is not None:
        err = (marker.parent / "script.err").read_text()
        raise AssertionError(f"the script ended before writing its marker:\n{err}")
    return marker.read_text().split()


# -- start / status / stop ----------------------------------------------------------------


def test_start_detach_status_and_stop(home: Home) -> None:
    """start --detach starts one background service (private home and socket, a log file), status reports it in text and
    JSON, stop ends it."""
    before = home.service("status")
    assert before.returncode == 3 and before.stdout.strip() == "mytrack-service is not running"
    assert home.status() == {"running": False}

    started = home.service("start", "--detach")
    assert started.returncode == 0, started.stderr
    pid = home.pid()
    assert pid is not None and pid_alive(pid)
    socket = home.address.socket
    assert started.stdout.strip() == f"mytrack-service running: pid {pid}, socket {socket}"
    assert services_of(home.path) == [pid]

    assert stat.S_IMODE(os.stat(home.path).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(socket).st_mode)
    assert stat.S_IMODE(os.stat(socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(socket)).st_mode) == 0o700
    log = Path(home.address.log)
    assert log.parent == home.path
    lines = log.read_text().splitlines()
    assert any(f"starting pid={pid} home={home.path}" in line for line in lines)
    assert any(f"listening on {socket}" in line for line in lines)

    text = home.service("status")
    assert text.returncode == 0, text.stderr
    fields = _text_status(text.stdout)
    assert fields["running"] == "True"
    assert fields["pid"] == str(pid)
    assert fields["socket"] == socket
    assert float(fields["uptime"]) >= 0
    assert fields["active_runs"] == "0"
    assert fields["records_received"] == "0"
    as_json = home.status()
    assert as_json["pid"] == pid and as_json["socket"] == socket
    assert as_json["active_runs"] == 0 and as_json["records_received"] == 0
    assert isinstance(as_json["uptime"], float) and as_json["uptime"] >= float(fields["uptime"])

    stopped = home.service("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert stopped.stdout.strip() == f"mytrack-service (pid {pid}) stopped"
    assert not pid_alive(pid)
    assert not os.path.exists(socket)
    assert home.pid() is None  # the pid file is emptied
    assert log.read_text().splitlines()[-1].endswith("mytrack_service: stopped")
    assert home.status() == {"running": False}
    again = home.service("stop")
    assert again.returncode == 0 and again.stdout.strip() == "mytrack-service is not running"


def test_status_counts_open_runs_and_received_records(home: Home) -> None:
    """status reports one active run while a run is open, records_received at least the records the client had acked
    (console and environment records may follow), and zero active runs after finish."""
    marker, go = home.workdir / "marker", home.workdir / "go"
    script = home.spawn(OPEN_RUN_SCRIPT, str(marker), str(go), "25")
    try:
        _, acked = _wait_marker(marker, script)
        fields = home.status()
        assert fields["running"] is True and fields["pid"] == home.pid()
        assert fields["active_runs"] == 1
        assert int(acked) >= 1
        assert fields["records_received"] >= int(acked)
        text = _text_status(home.service("status").stdout)
        assert text["active_runs"] == "1" and int(text["records_received"]) >= int(acked)
    finally:
        go.touch()
    assert "DONE" in home.finished(script)
    after = home.status()
    assert after["active_runs"] == 0
    assert after["records_received"] > int(acked)  # the exit record arrived too
    assert after["records_applied"] == after["records_received"]


def test_stop_applies_every_acked_record_before_exiting(home: Home) -> None:
    """A graceful stop applies everything it acked: after a restart every row is there and the new service had nothing
    left to apply."""
    code = """
        import os
        import mytrack

        run = mytrack.init(project="cli", settings=mytrack.Settings(quiet=True))
        for step in range(3_000):
            run.log({"i": step, "sq": step * step, "s": f"row {step}"})
        assert run._sender.flush(60)
        print(run.path, flush=True)
        os._exit(0)  # no finish(): only the service holds the data now
    """
    path = home.finished(home.spawn(code)).strip()
    pid = home.pid()
    assert pid is not None
    stopped = home.service("stop")
    assert stopped.returncode == 0 and f"(pid {pid}) stopped" in stopped.stdout
    assert not pid_alive(pid)
    assert "unapplied" not in Path(home.address.log).read_text()

    assert home.service("start", "--detach").returncode == 0
    api = mytrack.Api(settings=mytrack.Settings(service_dir=str(home.path)))
    rows = list(api.run(path).scan_history(keys=["i", "sq", "s"]))
    assert rows == [{"_step": s, "i": s, "sq": s * s, "s": f"row {s}"} for s in range(3_000)]
    assert home.status()["records_applied"] == 0  # nothing was left in the WAL


def test_service_exits_by_itself_after_the_idle_timeout_but_not_while_a_run_is_open(
    idle_home: Home,
) -> None:
    """With MYTRACK_SERVICE_IDLE_TIMEOUT=2 the service outlives the timeout while a run is open and exits gracefully
    once none is."""
    home = idle_home
    marker, go = home.workdir / "marker", home.workdir / "go"
    script = home.spawn(OPEN_RUN_SCRIPT, str(marker), str(go), "5")  # starts the service
    try:
        _wait_marker(marker, script)
        pid = home.pid()
        assert pid is not None
        # Well past the idle timeout (the service checks it every 0.5 s), the run keeps it alive.
        wait_for(lambda: float(home.status().get("uptime", 0)) >= 3.5, timeout=30,
                 message="the service to be up for 3.5 s")
        assert pid_alive(pid) and home.status()["active_runs"] == 1
    finally:
        go.touch()
    assert "DONE" in home.finished(script)
    wait_for(lambda: not pid_alive(pid), timeout=20, message="the idle service to exit")
    log = Path(home.address.log).read_text()
    assert "no open run for" in log
    assert log.splitlines()[-1].endswith("mytrack_service: stopped")
    assert not os.path.exists(home.address.socket)
    assert home.pid() is None


def test_a_second_service_on_the_same_home_is_refused(home: Home) -> None:
    """Starting a service on a home whose service runs fails (foreground) or reports the running one (--detach), never
    leaving a second process."""
    assert home.service("start", "--detach").returncode == 0
    pid = home.pid()
    assert pid is not None

    foreground = home.service("start", timeout=30)
    assert foreground.returncode == 1
    assert f"already running for {home.path}" in foreground.stderr
    assert home.pid() == pid

    detached = home.service("start", "--detach")
    assert detached.returncode == 0, detached.stderr
    assert f"running: pid {pid}," in detached.stdout
    # The extra process started by --detach gives up on the pid lock and exits.
    wait_for(lambda: "already running" in Path(home.address.log).read_text(), timeout=30,
             message="the extra service to give up")
    wait_for(lambda: services_of(home.path) == [pid], timeout=30,
             message="only the first service to remain")
    assert home.pid() == pid and home.status()["pid"] == pid


# -- the `mytrack` CLI on a real run -------------------------------------------------------------

SMALL_RUN = """
    import sys
    import mytrack

    run = mytrack.init(project=sys.argv[1], name="tiny-run", tags=["t1", "t2"],
                       config={"lr": 0.01, "arch": {"layers": 3}},
                       settings=mytrack.Settings(quiet=True))
    run.log({"a": 1, "b": 0.5, "c": "x"})
    run.log({"a": 2, "b": 0.25})
    run.log({"a": 3, "c": "z"})
    run.log({"a": 4, "b": 0.125, "nested": {"d": 7}})
    run.finish()
    print(run.path)
"""


@pytest.fixture
def small_run(project: str, workdir: Path) -> str:
    """The path of a finished 4-step run in the session service."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(SMALL_RUN), project], cwd=workdir,
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def mytrack_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MYTRACK, *args], capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "COLUMNS": "200"},
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_history_csv_with_keys_prints_exactly_the_rows_holding_them(small_run: str) -> None:
    """`mytrack history PATH --keys a,b --format csv` prints the header _step,a,b and the rows that have both keys."""
    out = _ok(mytrack_cli("history", small_run, "--keys", "a,b", "--format", "csv"))
    assert out.splitlines() == ["_step,a,b", "0,1,0.5", "1,2,0.25", "3,4,0.125"]
    assert _ok(mytrack_cli("history", small_run, "--keys", "a,b")) == out  # csv is the default


def test_history_jsonl_prints_one_json_object_per_step(small_run: str) -> None:
    """`mytrack history --format jsonl` prints one JSON row per step, with and without --keys."""
    out = _ok(mytrack_cli("history", small_run, "--keys", "a,b", "--format", "jsonl"))
    assert [json.loads(line) for line in out.splitlines()] == [
        {"_step": 0, "a": 1, "b": 0.5}, {"_step": 1, "a": 2, "b": 0.25},
        {"_step": 3, "a": 4, "b": 0.125},
    ]
    everything = _ok(mytrack_cli("history", small_run, "--format", "jsonl"))
    rows = [json.loads(line) for line in everything.splitlines()]
    assert [{k: v for k, v in r.items() if k not in ("_runtime", "_timestamp")} for r in rows] == [
        {"_step": 0, "a": 1, "b": 0.5, "c": "x"},
        {"_step": 1, "a": 2, "b": 0.25},
        {"_step": 2, "a": 3, "c": "z"},
        {"_step": 3, "a": 4, "b": 0.125, "nested": {"d": 7}},
    ]
    assert all(isinstance(r["_runtime"], float) and isinstance(r["_timestamp"], float) for r in rows)


def test_history_csv_of_every_key_flattens_nested_keys_and_leaves_gaps_empty(small_run: str) -> None:
    """`mytrack history PATH` exports every step with one column per (dotted) key and empty cells for keys a step
    lacks."""
    out = _ok(mytrack_cli("history", small_run))
    assert out.splitlines()[0] == "_step,_runtime,_timestamp,a,b,c,nested.d"
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [{k: v for k, v in r.items() if k not in ("_runtime", "_timestamp")} for r in rows] == [
        {"_step": "0", "a": "1", "b": "0.5", "c": "x", "nested.d": ""},
        {"_step": "1", "a": "2", "b": "0.25", "c": "", "nested.d": ""},
        {"_step": "2", "a": "3", "b": "", "c": "z", "nested.d": ""},
        {"_step": "3", "a": "4", "b": "0.125", "c": "", "nested.d": "7"},
    ]
    assert all(float(r["_timestamp"]) > 0 and float(r["_runtime"]) >= 0 for r in rows)


def test_runs_ls_lists_the_run_of_a_project(small_run: str) -> None:
    """`mytrack runs ls [ENTITY/]PROJECT` prints a table row with the run's path, name, state, steps and tags."""
    entity, project, _ = small_run.split("/")
    for target in (project, f"{entity}/{project}"):
        lines = _ok(mytrack_cli("runs", "ls", target)).splitlines()
        assert lines[0].split() == [
            "path", "name", "state", "created", "runtime", "steps", "group", "tags",
        ]
        (row,) = [line for line in lines[1:-1] if line.strip()]
        cells = row.split()
        assert cells[:3] == [small_run, "tiny-run", "finished"]
        assert cells[-2:] == ["4", "t1,t2"]
        assert lines[-1] == "1 run(s)"
    everything = _ok(mytrack_cli("runs", "ls"))
    assert small_run in everything


def test_runs_show_prints_state_config_and_summary(small_run: str) -> None:
    """`mytrack runs show PATH` prints the run's fields, its flattened config and its summary."""
    lines = _ok(mytrack_cli("runs", "show", small_run)).splitlines()
    assert f"path       {small_run}" in lines
    assert "name       tiny-run" in lines
    assert "state      finished" in lines
    assert "exit code  0" in lines
    assert "steps      4" in lines
    assert "tags       t1, t2" in lines
    config = lines[lines.index("config:") + 1: lines.index("summary:")]
    assert [line for line in config if line] == ["  arch.layers: 3", "  lr: 0.01"]
    end = lines.index("metadata:") if "metadata:" in lines else len(lines)
    summary = lines[lines.index("summary:") + 1: end]
    assert [line for line in summary if line and not line.startswith("  _")] == [
        "  a: 4", "  b: 0.125", '  c: "z"', "  nested.d: 7",
    ]
    assert "  _step: 3" in summary


def test_cli_reports_a_missing_run_as_an_error(small_run: str) -> None:
    """`mytrack runs show` and `mytrack history` on a run that does not exist exit 1 with a one-line error."""
    missing = small_run.rsplit("/", 1)[0] + "/doesnotexist"
    for args in (("runs", "show", missing), ("history", missing)):
        result = mytrack_cli(*args)
        assert result.returncode == 1
        assert result.stderr.strip() == f"mytrack: error: run {missing} not found"
        assert result.stdout == ""
