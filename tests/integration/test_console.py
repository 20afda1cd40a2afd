"""Console capture: what a script prints is stored line by line, and what it shows is unchanged.

Each test runs a script in a subprocess against the session's service. The
terminal side is compared byte for byte with the same script run with
``console="off"``: through pipes (stdout and stderr apart) and through a
pseudo-terminal (both on one terminal, as a person sees them).
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import mytrack
from tests.helpers import wait_for

# Plain lines, colours, unicode, a tqdm-style progress bar on stderr, a child
# process's output and a last line without a newline. The pauses between the
# stdout and stderr parts keep their order on a shared terminal the same in
# both runs (capture reads the two streams through two channels).
SCRIPT = r"""
import json, os, subprocess, sys, time
import mytrack
run = mytrack.init(project=sys.argv[1], settings=mytrack.Settings(console=sys.argv[2]))
def pause():
    sys.stdout.flush(); sys.stderr.flush(); time.sleep(0.1)
print("plain line 1")
print("plain line 2 with \x1b[32mcolour\x1b[0m and unicode: \u2713 \u00e9")
print("tty:", sys.stdout.isatty(), sys.stderr.isatty())
pause()
for i in range(0, 101, 25):
    sys.stderr.write(f"\r{i:3d}%|{'#' * (i // 10):10s}| {i}/100")
    sys.stderr.flush()
sys.stderr.write("\n")
print("a warning on stderr", file=sys.stderr)
pause()
subprocess.run([sys.executable, "-c", "import sys; print('from a child process', sys.stdout.isatty())"])
print("windows line end\r")
sys.stdout.write("no newline at the end")
pause()
run.finish()
"""

EXPECTED_STDOUT = [
    "plain line 1",
    "plain line 2 with \x1b[32mcolour\x1b[0m and unicode: \u2713 \u00e9",
    "tty: {tty} {tty}",
    "from a child process {tty}",
    "windows line end",
    "no newline at the end",
]
EXPECTED_STDERR = ["100%|##########| 100/100", "a warning on stderr"]


def _env() -> dict[str, str]:
    return {**os.environ, "MYTRACK_SILENT": "true"}


def _script(workdir: Path, code: str) -> Path:
    path = workdir / "printer.py"
    path.write_text(textwrap.dedent(code))
    return path


def _run_piped(workdir: Path, project: str, mode: str) -> subprocess.CompletedProcess[bytes]:
    script = _script(workdir, SCRIPT)
    result = subprocess.run([sys.executable, str(script), project, mode], cwd=workdir,
                            env=_env(), capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode()
    return result


def _run_in_pty(workdir: Path, project: str, mode: str) -> bytes:
    """Runs SCRIPT with stdout and stderr on one pseudo-terminal; returns what it showed."""
    script = _script(workdir, SCRIPT)
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 123, 0, 0))
    process = subprocess.Popen([sys.executable, str(script), project, mode], cwd=workdir,
                               env=_env(), stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    shown = bytearray()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 1.0)
        if not ready:
            continue
        try:
            data = os.read(master, 65536)
        except OSError as exc:  # EIO: every writer closed the terminal
            assert exc.errno == errno.EIO
            break
        if not data:
            break
        shown += data
    os.close(master)
    assert process.wait(timeout=30) == 0, shown.decode(errors="replace")
    return bytes(shown)


def _latest_run(project: str) -> Any:
    runs = mytrack.Api().runs(project)
    assert runs, f"no run in {project}"
    return runs[0]


def _lines(run: Any, stream: str | None = None) -> list[str]:
    return [x["text"] for x in run.console() if stream is None or x["stream"] == stream]


def test_stored_log_is_exact_and_piped_output_is_unchanged(workdir: Path, project: str) -> None:
    """Captured lines (per stream, \\r collapsed, child included) are exact; stdout and stderr bytes equal those of a
    run without capture."""
    plain = _run_piped(workdir, project + "-off", "off")
    captured = _run_piped(workdir, project, "auto")
    assert captured.stdout == plain.stdout
    assert captured.stderr == plain.stderr
    assert b"from a child process" in captured.stdout
    run = _latest_run(project)
    assert _lines(run, "stdout") == [x.format(tty=False) for x in EXPECTED_STDOUT]
    assert _lines(run, "stderr") == EXPECTED_STDERR
    assert list(_latest_run(project + "-off").console()) == []
    # output.log: every line once, in order of printing within each stream.
    names = [f.name for f in run.files()]
    assert "output.log" in names
    handle = run.file("output.log").download(root=str(workdir / "dl"))
    with handle:
        text = handle.read()
    assert sorted(text.splitlines()) == sorted(_lines(run))
    assert run.file("output.log").size == len(text.encode())
    stamps = [x["_timestamp"] for x in run.console()]
    assert all(run.created_timestamp - 1 <= t <= run.updated_at + 1 for t in stamps)


@pytest.mark.parametrize("mode", ["auto", "wrap"])
def test_init_line_is_shown_but_not_captured(workdir: Path, project: str, mode: str) -> None:
    """init()'s own line reaches stderr but not the run's console log, though capture starts before it."""
    script = _script(workdir, """
        import sys, mytrack
        run = mytrack.init(project=sys.argv[1], settings=mytrack.Settings(console=sys.argv[2]))
        print("the program's line")
        run.finish()
    """)
    result = subprocess.run([sys.executable, str(script), project, mode], cwd=workdir,
                            env={**os.environ, "MYTRACK_SILENT": ""}, capture_output=True,
                            text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "the program's line\n"
    run = _latest_run(project)
    assert result.stderr.count(f"mytrack: run {run.name} ({run.path}) started") == 1
    assert _lines(run) == ["the program's line"]


def test_terminal_output_through_a_pty_is_unchanged(workdir: Path, project: str) -> None:
    """On a terminal, what the user sees (colours, \\r bar, isatty of the script and its child) is byte-identical with
    and without capture."""
    plain = _run_in_pty(workdir, project + "-off", "off")
    captured = _run_in_pty(workdir, project, "auto")
    assert captured == plain
    assert b"tty: True True" in captured  # the script still sees a terminal
    assert b"from a child process True" in captured
    run = _latest_run(project)
    assert _lines(run, "stdout") == [x.format(tty=True) for x in EXPECTED_STDOUT]
    assert _lines(run, "stderr") == EXPECTED_STDERR


def test_wrap_mode_captures_python_streams_and_leaves_output_unchanged(
    workdir: Path, project: str
) -> None:
    """console="wrap" stores what Python printed (not the child's fd output) and changes no byte of the output."""
    plain = _run_piped(workdir, project + "-off", "off")
    captured = _run_piped(workdir, project, "wrap")
    assert (captured.stdout, captured.stderr) == (plain.stdout, plain.stderr)
    run = _latest_run(project)
    expected = [x.format(tty=False) for x in EXPECTED_STDOUT if "child" not in x]
    assert _lines(run, "stdout") == expected
    assert _lines(run, "stderr") == EXPECTED_STDERR


def test_killed_run_keeps_its_last_lines(workdir: Path, project: str) -> None:
    """A run killed with SIGKILL once its lines were delivered keeps every line it printed (the run ends as
    crashed)."""
    code = f"""
        import sys, time
        import mytrack
        run = mytrack.init(project={project!r})
        for i in range(100):
            print(f"line {{i}}")
        print("the last words", file=sys.stderr, flush=True)
        sys.stdout.flush()
        time.sleep(600)  # killed by the test
    """
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], cwd=workdir, env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        api = mytrack.Api()

        def delivered() -> Any:
            runs = api.runs(project)
            if len(runs) != 1 or _lines(runs[0], "stderr") != ["the last words"]:
                return None
            return runs[0] if len(_lines(runs[0], "stdout")) == 100 else None

        wait_for(delivered, timeout=60, message="the printed lines to reach the service")
        process.kill()
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    run = wait_for(lambda: next((r for r in api.runs(project) if r.state == "crashed"), None),
                   timeout=60, message="the run to be marked crashed")
    assert _lines(run, "stdout") == [f"line {i}" for i in range(100)]
    assert _lines(run, "stderr") == ["the last words"]


@pytest.mark.timeout(300)
def test_twenty_megabytes_of_output_stream_with_bounded_memory(workdir: Path, project: str) -> None:
    """20 MB printed fast is stored whole while the process's memory grows far less than the output."""
    code = f"""
        import json, os, sys, psutil
        import mytrack
        run = mytrack.init(project={project!r})
        process = psutil.Process()
        before = process.memory_info().rss
        peak = before
        line = "x" * 99
        for i in range(200_000):
            print(line)
            if i % 5000 == 0:
                peak = max(peak, process.memory_info().rss)
        peak = max(peak, process.memory_info().rss)
        run.finish()
        sys.stderr.write(json.dumps({{"growth": peak - before, "path": run.path}}) + "\\n")
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], cwd=workdir, timeout=240,
        env={**_env(), "MYTRACK_BUFFER_BYTES": str(4 << 20)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    out = json.loads(result.stderr.decode().strip().splitlines()[-1])
    growth_mb = out["growth"] / 2**20
    # Holding the output would cost well over 40 MB (the text plus an object per line).
    print(f"memory grew {growth_mb:.1f} MB")
    assert growth_mb < 25, f"memory grew {growth_mb:.1f} MB"
    run = mytrack.Api().run(out["path"])
    log = run.file("output.log")
    assert log.size == 200_000 * 100
    last = list(run.console())[-1]
    assert (last["_line"], last["text"]) == (199_999, "x" * 99)


def test_forked_child_of_a_wrapped_run_is_not_blocked(workdir: Path, project: str) -> None:
    """After fork, a wrap capture is undone in the child: it prints freely and exits, the parent's capture goes on."""
    code = f"""
        import os, sys
        import mytrack
        run = mytrack.init(project={project!r}, settings=mytrack.Settings(console="wrap"))
        print("parent before", flush=True)
        pid = os.fork()
        if pid == 0:
            for i in range(60_000):  # more writes than a capture would queue
                sys.stdout.write("c\\n")
            sys.stdout.flush()
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent after")
        run.finish()
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=workdir,
                            env=_env(), capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout.count(b"c\n") == 60_000
    assert _lines(_latest_run(project)) == ["parent before", "parent after"]


def test_forked_child_output_reaches_the_parents_capture_in_fd_mode(
    workdir: Path, project: str
) -> None:
    """With descriptor capture a forked child (a DataLoader worker) prints through the tee process, so its lines are
    stored."""
    code = f"""
        import os, sys
        import mytrack
        run = mytrack.init(project={project!r})
        print("parent before", flush=True)
        pid = os.fork()
        if pid == 0:
            print("from the forked child", flush=True)
            os._exit(0)
        os.waitpid(pid, 0)
        print("parent after")
        run.finish()
    """
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=workdir,
                            env=_env(), capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b"parent before\nfrom the forked child\nparent after\n"
    assert _lines(_latest_run(project)) == ["parent before", "from the forked child",
                                            "parent after"]


@pytest.mark.parametrize("source", ["service", "own"])
def test_output_goes_on_when_the_tee_process_dies(
    workdir: Path, project: str, source: str, tmp_path: Path
) -> None:
    """If the tee process (forked by the service's tee server for a program that starts the service, or the program's
    own where the service runs already) is killed, the program's own thread takes over: later lines still reach
    stdout and the log."""
    code = f"""
        import json, os, signal, sys, time
        import psutil
        import mytrack
        from mytrack._internal.console import capture as console
        from mytrack_common.tee import launch
        run = mytrack.init(project={project!r})
        print("before", flush=True)
        api_run, deadline = mytrack.Api().run(run.path), time.monotonic() + 30
        while not any(line["text"] == "before" for line in api_run.console()):
            assert time.monotonic() < deadline, "'before' never reached the service"
            time.sleep(0.05)
        tee = psutil.Process(console._active[1]._redirect.helper_pid)
        assert launch.is_tee(tee.cmdline()), tee.cmdline()  # forked ones show the server's
        assert (tee.ppid() == os.getpid()) == ({source!r} == "own"), tee.ppid()
        assert psutil.Process().children() == ([tee] if {source!r} == "own" else [])
        tee.send_signal(signal.SIGKILL)
        tee.wait(10)
        for i in range(3):
            print(f"after {{i}}", flush=True)
        run.finish()
        stored = [line["text"] for line in mytrack.Api().run(run.path).console()]
        open({str(tmp_path / "stored.json")!r}, "w").write(json.dumps(stored))
    """
    env = _env()
    if source == "service":  # a home of its own: the program starts the service
        env["MYTRACK_DIR"] = str(tmp_path / "cold-home")
    else:
        mytrack.Api().projects()  # the service runs already
    try:
        result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=workdir,
                                env=env, capture_output=True, timeout=60)
    finally:
        if source == "service":
            subprocess.run([sys.executable, "-m", "mytrack_service", "--home", env["MYTRACK_DIR"],
                            "stop"], env=env, capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    assert result.stdout == b"before\nafter 0\nafter 1\nafter 2\n"
    stored = json.loads((tmp_path / "stored.json").read_text())
    assert stored == ["before", "after 0", "after 1", "after 2"]
