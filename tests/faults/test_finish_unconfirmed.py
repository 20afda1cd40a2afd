"""finish() never reports success the service did not confirm (docs/reliability.md)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import wait_for
from tests.e2e.test_durability import Home, assert_clean_exit, wait_marker

# Logs 10 steps, waits until they are acked, writes the marker, waits for
# `go`, then finishes with a 3 s finish timeout and prints run.status().
SCRIPT = """
    import os, sys, time
    from pathlib import Path
    import mytrack

    marker, go = Path(sys.argv[1]), Path(sys.argv[2])
    run = mytrack.init(project="unconfirmed", settings=mytrack.Settings(finish_timeout=3))
    for i in range(10):
        run.log({"i": i})
    assert run._sender.flush(30)
    marker.with_suffix(".tmp").write_text(run.path + "\\n-")
    os.replace(marker.with_suffix(".tmp"), marker)
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    result = run.finish()
    status = run.status()
    print("RESULT", result)
    print("CONFIRMED", status.confirmed)
    print("PENDING", status.sync_items_pending)
    print("ERROR", status.last_error)
"""

CONFIRMED_SCRIPT = """
    import mytrack

    run = mytrack.init(project="confirmed")
    run.log({"i": 1})
    run.finish()
    print("CONFIRMED", run.status().confirmed, repr(run.status().last_error))
"""


def test_finish_says_what_the_service_did_not_confirm(home: Home) -> None:
    """With the store locked, the records are acked but cannot be applied: finish() returns None, prints that the run
    is NOT confirmed, and status() says confirmed=False with the reason; once the store is free the run is applied
    in full."""
    marker, go = home.workdir / "marker", home.workdir / "go"
    env = dict(home.env)
    env.pop("MYTRACK_SILENT", None)
    home.env = env
    script = home.spawn(SCRIPT, str(marker), str(go))
    run_path, _ = wait_marker(marker, script)
    # An exclusive transaction on the service's SQLite database: its writes wait.
    database = sqlite3.connect(str(Path(home.path) / "mytrack.db"), timeout=30, isolation_level=None)
    try:
        database.execute("BEGIN EXCLUSIVE")
        go.touch()
        code, stdout, stderr = script.output()
    finally:
        database.execute("ROLLBACK")
        database.close()
    assert code == 0, stderr
    assert "RESULT None" in stdout
    assert "CONFIRMED False" in stdout
    assert f"run {run_path} is NOT confirmed" in stderr
    assert "NOT confirmed" in stdout.split("ERROR", 1)[1]
    assert f"run {run_path} finished" not in stderr
    api = home.api()
    wait_for(lambda: api.run(run_path).state == "finished", timeout=60, message="the run to be applied")
    assert [r["i"] for r in api.run(run_path).scan_history(keys=["i"])] == list(range(10))


def test_a_confirmed_finish_says_so(home: Home) -> None:
    """A normal finish() leaves status().confirmed True and no error."""
    script = home.spawn(CONFIRMED_SCRIPT)
    code, stdout, stderr = script.output()
    assert_clean_exit(code, stdout, stderr)
    assert "CONFIRMED True ''" in stdout
