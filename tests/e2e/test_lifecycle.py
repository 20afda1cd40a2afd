"""Run lifecycle end to end: each final state reached by a real script in a subprocess.

kill -9 -> crashed, SIGTERM/SIGINT (with and without a user handler) -> killed,
mark_preempting() then death -> preempted, ``mytrack runs stop`` -> killed, an
uncaught exception -> failed; fork-safety with DataLoader-style workers and
with children SIGTERMed right after fork(); finish() returning within its
timeout when the service is frozen; output printed just before os._exit().

Scripts that only kill the *training* process talk to the session's service.
The test that freezes the service uses a fresh home of its own, stopped at
teardown. Scripts append a JSON line to a file when they are ready and wait
for a ``go`` file where the test must act in the middle.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack_common.address import service_address
from tests.conftest import wait_for_console_tee
from tests.helpers import pid_alive, wait_for

META = ("_runtime", "_timestamp")

# Every script starts with this: helpers to announce readiness and wait for the test.
PRELUDE = """
import json, os, signal, sys, time
from pathlib import Path
import mytrack

def ready(**fields):
    # A file, not stdout: console capture forwards stdout from a thread, so a line
    # printed just before os._exit() or SIGKILL may never reach the test.
    with open(os.environ["READY_FILE"], "a") as f:
        f.write(json.dumps(fields) + "\\n")

def wait_go(name="go"):
    deadline = time.monotonic() + 60
    while not Path(name).exists():
        if time.monotonic() > deadline:
            sys.exit("the test never created " + name)
        time.sleep(0.005)
"""


# -- helpers ----------------------------------------------------------------------


@dataclass
class Script:
    process: subprocess.Popen[str]
    out: Path
    err: Path
    ready_file: Path

    def lines(self) -> list[dict[str, Any]]:
        """The complete JSON lines the script has passed to ready() so far."""
        text = self.ready_file.read_text() if self.ready_file.exists() else ""
        return [json.loads(line) for line in text.split("\n")[:-1]]

    def wait_line(self, count: int = 1, timeout: float = 30) -> dict[str, Any]:
        """Waits until the script has printed ``count`` JSON lines; returns the last."""
        wait_for(lambda: len(self.lines()) >= count or self.process.poll() is not None,
                 timeout=timeout, message=f"JSON line {count} of the script")
        lines = self.lines()
        assert len(lines) >= count, f"the script ended early:\n{self.stdout()}\n{self.stderr()}"
        return lines[count - 1]

    def wait(self, timeout: float = 30) -> int:
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError(
                f"the script did not end within {timeout}s:\n{self.stdout()}\n{self.stderr()}"
            ) from None

    def stdout(self) -> str:
        return self.out.read_text()

    def stderr(self) -> str:
        return self.err.read_text()


@pytest.fixture
def spawn(workdir: Path) -> Iterator[Any]:
    """Starts scripts in the background in workdir; kills any left running at teardown."""
    started: list[Script] = []

    def start(code: str, *args: str, env: dict[str, str] | None = None) -> Script:
        index = len(started)
        out, err = workdir / f"script-{index}.out", workdir / f"script-{index}.err"
        ready_file = workdir / f"script-{index}.ready"
        with open(out, "w") as stdout, open(err, "w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-c", PRELUDE + textwrap.dedent(code), *args], cwd=workdir,
                env={**os.environ, "MYTRACK_SILENT": "true", "READY_FILE": str(ready_file),
                     **(env or {})},
                stdout=stdout, stderr=stderr, text=True,
            )
        script = Script(process, out, err, ready_file)
        started.append(script)
        return script

    yield start
    for script in started:
        if script.process.poll() is None:
            script.process.kill()
            script.process.wait()


def api_run(path: str) -> Any:
    return mytrack.Api().run(path)


def state_of(path: str) -> str:
    state: str = api_run(path).state
    return state


def rows(path: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in META} for r in api_run(path).scan_history()]


def assert_steps(path: str, count: int) -> None:
    """The run's history is exactly {"i": s, "_step": s} for s in 0..count-1."""
    assert rows(path) == [{"i": s, "_step": s} for s in range(count)]


# -- crashed --------------------------------------------------------------------------

CRASH_SCRIPT = """
run = mytrack.init(project=sys.argv[1])
for i in range(1000):
    run.log({"i": i})
assert run._sender.flush(30)
ready(path=run.path, acked=run._sender.acked_seq)
i = 1000
while True:  # keeps logging until killed
    run.log({"i": i})
    i += 1
    time.sleep(0.001)
"""


def test_kill_9_of_the_training_process_ends_the_run_crashed_with_every_acked_row(
    spawn: Any, project: str
) -> None:
    """kill -9 of the training process: the run is "crashed" within 5 s and every acked row (and only whole rows) is
    stored."""
    script = spawn(CRASH_SCRIPT, project)
    ready = script.wait_line()
    assert ready["acked"] >= 1
    assert state_of(ready["path"]) == "running"
    script.process.kill()
    script.wait()
    wait_for(lambda: state_of(ready["path"]) == "crashed", timeout=30,
             message="the run to be marked crashed")
    stored = rows(ready["path"])
    # The 1,000 flushed rows are there; rows logged after the flush may or may not be.
    assert len(stored) >= 1000
    assert stored == [{"i": s, "_step": s} for s in range(len(stored))]


EARLY_CRASH_SCRIPT = """
run = mytrack.init(project=sys.argv[1], settings=mytrack.Settings(quiet=True))
ready(path=run.path)
os.kill(os.getpid(), 9)  # before a single record reached the service
"""


def test_kill_9_right_after_init_ends_the_run_crashed(spawn: Any, project: str) -> None:
    """A process killed before it sent any record: its WAL holds only the header,
    and the run still ends "crashed" (it once stayed "running")."""
    script = spawn(EARLY_CRASH_SCRIPT, project)
    path = script.wait_line()["path"]
    assert script.wait() == -signal.SIGKILL
    wait_for(lambda: state_of(path) == "crashed", timeout=30, message="the run to be marked crashed")
    assert rows(path) == []


# -- killed by a signal ---------------------------------------------------------------------

SIGNAL_SCRIPT = """
signum = getattr(signal, sys.argv[2])
if sys.argv[3] == "handler":
    def handler(received, frame):
        Path("marker").write_text(str(received))
        sys.exit(128 + received)
    signal.signal(signum, handler)  # installed BEFORE init()
run = mytrack.init(project=sys.argv[1])
for i in range(500):
    run.log({"i": i})  # not flushed: the signal path must deliver them
ready(path=run.path)
time.sleep(60)
print("NOT INTERRUPTED", flush=True)
"""


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("handler", ["default", "handler"])
def test_signal_to_the_training_process_kills_the_run_and_flushes_it(
    spawn: Any, project: str, workdir: Path, signame: str, handler: str
) -> None:
    """SIGTERM/SIGINT ends the run "killed" with every row logged before it; a user handler installed before init()
    still runs and decides the exit."""
    signum = getattr(signal, signame)
    script = spawn(SIGNAL_SCRIPT, project, signame, handler)
    path = script.wait_line()["path"]
    script.process.send_signal(signum)
    code = script.wait(timeout=10)
    assert "NOT INTERRUPTED" not in script.stdout()
    stored = api_run(path)
    assert stored.state == "killed", script.stderr()
    assert stored.exit_code != 0
    assert_steps(path, 500)
    marker = workdir / "marker"
    if handler == "handler":
        assert marker.read_text() == str(int(signum))
        assert code == 128 + signum, script.stderr()  # the user's sys.exit() decided
    else:
        assert not marker.exists()
        # Default behaviour preserved: SIGTERM terminates; SIGINT raises
        # KeyboardInterrupt, which CPython turns into death by SIGINT.
        assert code == -signum, script.stderr()
        if signum == signal.SIGINT:
            assert "KeyboardInterrupt" in script.stderr()


# -- preempting / preempted ---------------------------------------------------------------

PREEMPT_SCRIPT = """
run = mytrack.init(project=sys.argv[1])
for i in range(100):
    run.log({"i": i})
run.mark_preempting()
ready(path=run.path)
wait_go()  # keeps running while the test looks at the state
for i in range(100, 200):
    run.log({"i": i})
assert run._sender.flush(30)
ready(flushed=True)
if sys.argv[2] == "os._exit":
    os._exit(1)
time.sleep(60)  # killed -9 by the test
"""


@pytest.mark.parametrize("death", ["os._exit", "kill -9"])
def test_mark_preempting_is_visible_at_once_and_death_then_gives_preempted(
    spawn: Any, project: str, workdir: Path, death: str
) -> None:
    """After mark_preempting() the store says "preempting" while the process lives (it waits for the test); dying
    without finish() then gives "preempted" with all rows."""
    script = spawn(PREEMPT_SCRIPT, project, death)
    path = script.wait_line()["path"]
    wait_for(lambda: state_of(path) == "preempting", timeout=30,
             message="the run to be preempting")
    assert script.process.poll() is None  # still training
    (workdir / "go").touch()
    script.wait_line(2)
    if death == "kill -9":
        assert state_of(path) == "preempting"
        script.process.kill()
    code = script.wait(timeout=10)
    assert code == (1 if death == "os._exit" else -signal.SIGKILL)
    wait_for(lambda: state_of(path) == "preempted", timeout=30,
             message="the run to be marked preempted")
    assert_steps(path, 200)


# -- stopped from the CLI ---------------------------------------------------------------------

SLEEPING_SCRIPT = """
run = mytrack.init(project=sys.argv[1])
for i in range(100):
    run.log({"i": i})
ready(path=run.path)
time.sleep(60)
print("NOT INTERRUPTED", flush=True)
"""


def test_runs_stop_from_the_cli_interrupts_a_sleeping_script_and_kills_the_run(
    spawn: Any, project: str
) -> None:
    """`mytrack runs stop PATH` wakes a script blocked in time.sleep(60) within seconds; the run ends "killed" with its
    data."""
    script = spawn(SLEEPING_SCRIPT, project)
    path = script.wait_line()["path"]
    started = time.monotonic()
    cli = subprocess.run(
        [sys.executable, "-m", "mytrack.cli", "runs", "stop", path],
        capture_output=True, text=True, timeout=30,
    )
    assert cli.returncode == 0, cli.stderr
    assert f"asked the process of {path} to stop" in cli.stdout
    script.wait(timeout=8)
    assert time.monotonic() - started < 8
    assert "NOT INTERRUPTED" not in script.stdout()
    assert "KeyboardInterrupt" in script.stderr()
    stored = api_run(path)
    assert stored.state == "killed"
    assert stored.exit_code != 0
    assert_steps(path, 100)
    # Stopping a run that has no live process any more says so and changes nothing.
    again = subprocess.run(
        [sys.executable, "-m", "mytrack.cli", "runs", "stop", path],
        capture_output=True, text=True, timeout=30,
    )
    assert again.returncode == 0, again.stderr
    assert f"{path} has no live process; its state is killed" in again.stdout


# -- failed ---------------------------------------------------------------------------------

FAILING_SCRIPT = """
run = mytrack.init(project=sys.argv[1])
ready(path=run.path)
for i in range(20):
    run.log({"i": i})
raise RuntimeError("boom at step 20")
"""


def test_uncaught_exception_at_exit_fails_the_run_with_exit_code_1(
    spawn: Any, project: str
) -> None:
    """An uncaught exception ends the interpreter with code 1 and the run "failed" (exit code 1) with every row."""
    script = spawn(FAILING_SCRIPT, project)
    code = script.wait(timeout=30)
    path = script.wait_line()["path"]
    assert code == 1
    assert "RuntimeError: boom at step 20" in script.stderr()
    stored = api_run(path)
    assert (stored.state, stored.exit_code) == ("failed", 1)
    assert_steps(path, 20)


# -- fork ----------------------------------------------------------------------------------

FORK_SCRIPT = """
import multiprocessing
from mytrack import errors

run = mytrack.init(project=sys.argv[1])
run.log({"before_fork": 1})

def compute(i):  # a DataLoader-style worker: computes, returns to the parent
    return {"i": i, "sq": i * i, "name": "item-%d" % i, "pid": os.getpid()}

def log_in_child(i):
    try:
        if i % 2:
            run.log({"child": i})
        else:
            mytrack.log({"child": i})
    except errors.UsageError as exc:
        return [type(exc).__name__, str(exc), os.getpid()]
    except BaseException as exc:
        return [type(exc).__name__, str(exc), os.getpid()]
    return ["no error", "", os.getpid()]

pool = multiprocessing.get_context("fork").Pool(4)
pids = set()
for item in pool.imap(compute, range(300), chunksize=7):
    pids.add(item.pop("pid"))
    run.log(item)
refused = pool.map(log_in_child, range(4))
# Shut down as DataLoader does (sentinel + join), not with terminate(): see the
# separate test of SIGTERM right after fork.
pool.close()
pool.join()
run.log({"after_fork": 1})
run.finish()
ready(path=run.path, pids=len(pids), refused=refused, parent=os.getpid())
"""


def test_forked_workers_feed_the_parent_and_a_child_log_is_refused_clearly(
    spawn: Any, project: str
) -> None:
    """Fork-started pool workers return values the parent logs intact; run.log()/mytrack.log() in a child raise
    UsageError and the parent's run is unaffected."""
    script = spawn(FORK_SCRIPT, project)
    assert script.wait(timeout=30) == 0, script.stderr()
    out = script.wait_line()
    assert "Traceback" not in script.stderr()
    assert out["pids"] >= 1
    assert len(out["refused"]) == 4
    for kind, message, pid in out["refused"]:
        assert kind == "UsageError", message
        assert pid != out["parent"]
        assert "forked child process" in message and out["path"] in message
    stored = api_run(out["path"])
    assert stored.state == "finished"
    expected = (
        [{"before_fork": 1, "_step": 0}]
        + [{"i": i, "sq": i * i, "name": f"item-{i}", "_step": i + 1} for i in range(300)]
        + [{"after_fork": 1, "_step": 301}]
    )
    assert rows(out["path"]) == expected
    assert "child" not in stored.summary


# -- finish() never hangs ------------------------------------------------------------------

FROZEN_SERVICE_SCRIPT = """
run = mytrack.init(project="frozen", settings=mytrack.Settings(finish_timeout=3))
for i in range(100):
    run.log({"i": i})
assert run._sender.flush(30)
ready(path=run.path)
wait_go()  # the test freezes the service
for i in range(100, 200):
    run.log({"i": i})
started = time.monotonic()
run.finish()
ready(finish_seconds=time.monotonic() - started)
"""


@pytest.fixture
def fresh_home(tmp_path: Path) -> Iterator[Path]:
    """A private service home; its service is resumed (if frozen) and stopped at teardown."""
    home = tmp_path / "home"
    yield home
    pid_file = Path(service_address(str(home)).pid)
    text = pid_file.read_text().strip() if pid_file.exists() else ""
    if text and pid_alive(int(text)):
        os.kill(int(text), signal.SIGCONT)
    subprocess.run(
        [sys.executable, "-m", "mytrack_service", "--home", str(home), "stop", "--timeout", "20"],
        capture_output=True, check=False, timeout=60,
    )
    if text and pid_alive(int(text)):
        os.kill(int(text), signal.SIGKILL)


def test_finish_returns_within_its_timeout_when_the_service_is_frozen(
    spawn: Any, fresh_home: Path, workdir: Path
) -> None:
    """With the service SIGSTOPped, finish() under finish_timeout=3 returns within 3-8 s and says records were not
    acknowledged."""
    script = spawn(FROZEN_SERVICE_SCRIPT, env={"MYTRACK_DIR": str(fresh_home)})
    script.wait_line()
    service_pid = int(Path(service_address(str(fresh_home)).pid).read_text().strip())
    assert pid_alive(service_pid)
    os.kill(service_pid, signal.SIGSTOP)
    try:
        (workdir / "go").touch()
        started = time.monotonic()
        code = script.wait(timeout=20)
        elapsed = time.monotonic() - started
    finally:
        os.kill(service_pid, signal.SIGCONT)
    assert code == 0, script.stderr()
    finish_seconds = script.wait_line(2)["finish_seconds"]
    assert 2.5 <= finish_seconds <= 8, finish_seconds
    assert elapsed <= 10  # and the interpreter exits promptly after it
    assert "were not acknowledged by the service within 3s" in script.stderr()


# Forks children that block in sem_wait (as a pool worker does on the inqueue lock)
# and SIGTERMs each one at once, as Pool.terminate() can do to a worker still starting.
# The fork happens in the main thread, or in another thread (as multiprocessing's
# worker-handler thread does when it replaces workers, e.g. with maxtasksperchild).
EARLY_SIGTERM_SCRIPT = """
import multiprocessing, threading
run = mytrack.init(project=sys.argv[1])
run.log({"i": 0})
outcomes = []

def trial():
    lock = multiprocessing.get_context("fork").Lock()
    lock.acquire()
    pid = os.fork()
    if pid == 0:
        lock.acquire()  # blocks forever unless a signal ends the child
        os._exit(0)
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 0.5  # SIG_DFL kills in microseconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            outcomes.append(os.WTERMSIG(status) if os.WIFSIGNALED(status) else -1)
            return
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    outcomes.append("survived SIGTERM")

for _ in range(8):
    if sys.argv[2] == "main thread":
        trial()
    else:
        thread = threading.Thread(target=trial)
        thread.start()
        thread.join()
run.finish()
ready(path=run.path, outcomes=outcomes)
"""


@pytest.mark.parametrize("forker", [
    "main thread",
    "other thread",
])
def test_a_forked_child_sigtermed_at_once_dies_as_it_would_without_mytrack(
    spawn: Any, project: str, forker: str
) -> None:
    """A child forked after init() (from any thread) and sent SIGTERM at once dies of SIGTERM, as with SIG_DFL, so
    Pool.terminate() never hangs."""
    script = spawn(EARLY_SIGTERM_SCRIPT, project, forker)
    assert script.wait(timeout=60) == 0, script.stderr()
    out = script.wait_line()
    assert out["outcomes"] == [int(signal.SIGTERM)] * 8
    assert_steps(out["path"], 1)


# -- output at a hard exit --------------------------------------------------------------

LAST_WORDS_SCRIPT = """
run = mytrack.init(project=sys.argv[1])
run.log({"i": 0})
run.mark_preempting()
print("checkpoint saved; exiting for preemption", flush=True)
os._exit(3)
"""


def test_a_line_printed_just_before_os_exit_still_reaches_stdout(
    spawn: Any, project: str
) -> None:
    """A line printed with flush=True right before os._exit() (a preemption handler's last words) reaches the real
    stdout."""
    outputs = []
    for _ in range(4):
        script = spawn(LAST_WORDS_SCRIPT, project)
        assert script.wait(timeout=30) == 3, script.stderr()
        wait_for_console_tee(script.out)  # it forwards the last words, maybe just after the exit
        outputs.append(script.stdout())
    assert outputs == ["checkpoint saved; exiting for preemption\n"] * 4
