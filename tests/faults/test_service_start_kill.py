"""kill -9 of a service while it starts: the client that started it notices
within about a second and starts another, so init() still succeeds."""

from __future__ import annotations

import os
import signal
import time

import psutil

from mytrack_common.address import service_address
from tests.e2e.test_durability import Home, assert_clean_exit

SCRIPT = """
    import time
    import mytrack

    started = time.monotonic()
    run = mytrack.init(project="start-kill", settings=mytrack.Settings(quiet=True))
    took = time.monotonic() - started
    for i in range(100):
        run.log({"i": i})
    run.finish()
    print("INIT", took)
    print("DONE", run.path)
"""


def _starting_services(home: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if "mytrack_service" in cmdline and "start" in cmdline and home in cmdline:
            found.append(process)
    return found


def test_a_service_killed_while_it_starts_costs_init_a_few_seconds_not_the_timeout(
    home: Home,
) -> None:
    """The first service init() starts is killed with SIGKILL before it listens; init() starts another and succeeds in
    well under its 30 s timeout, and the run keeps every step."""
    socket = service_address(str(home.path)).socket
    script = home.spawn(SCRIPT)
    killed: list[int] = []
    deadline = time.monotonic() + 30
    while not killed and time.monotonic() < deadline and script.poll() is None:
        for process in _starting_services(str(home.path)):
            if not os.path.exists(socket):  # still starting: not yet listening
                try:
                    os.kill(process.pid, signal.SIGKILL)
                    killed.append(process.pid)
                except ProcessLookupError:
                    pass
        time.sleep(0.002)  # a poll interval, not a wait for the outcome
    assert killed, "no starting service was seen"
    code, stdout, stderr = script.output(timeout=60)
    assert_clean_exit(code, stdout, stderr)
    took = float(stdout.split("INIT ")[1].split()[0])
    print(f"init() took {took:.2f}s with {len(killed)} starting service(s) killed")
    assert took < 8, f"init() took {took:.1f}s after the starting service was killed"
    pid = home.pid()
    assert pid is not None and pid not in killed
    run_path = stdout.split("DONE ")[1].split()[0]
    rows = list(home.api().run(run_path).scan_history(keys=["i"]))
    assert [r["i"] for r in rows] == list(range(100))
