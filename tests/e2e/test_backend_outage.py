"""The PostgreSQL store goes away mid-run and comes back: nothing is lost or blocked.

The test starts its own throwaway PostgreSQL server (tests/pg_fixtures.py), so
that stopping it harms no one else, and a service in a fresh MYTRACK_DIR whose
MYTRACK_STORE points at it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mytrack
from tests.helpers import stop_service, wait_for
from tests.pg_fixtures import PgServer, admin, throwaway_server, unavailable, with_database

OUTAGE_SECONDS = 3.0  # at least this long down, while the script keeps logging
SLOW_LOG_SECONDS = 1.0  # log() taking longer than this counts as blocking

# Logs {"i": step} in a loop until the file `stop` exists, then finishes. About
# every 0.1 s it replaces `progress` with the run's path, the steps logged, the
# records the service acked (run.status()) and the slowest log() call so far.
SCRIPT = """
    import json, os, sys, time
    from pathlib import Path
    import mytrack

    progress, stop = Path(sys.argv[1]), Path(sys.argv[2])
    run = mytrack.init(project="outage", settings=mytrack.Settings(quiet=True))
    step, slowest, reported = 0, 0.0, 0.0
    while not stop.exists():
        started = time.monotonic()
        run.log({"i": step})
        slowest = max(slowest, time.monotonic() - started)
        step += 1
        if time.monotonic() - reported > 0.1:
            status = run.status()
            report = {"path": run.path, "steps": step, "acked": status.records_acked,
                      "slowest": slowest, "error": status.last_error}
            progress.with_suffix(".tmp").write_text(json.dumps(report))
            os.replace(progress.with_suffix(".tmp"), progress)
            reported = time.monotonic()
        time.sleep(0.002)
    run.finish()
    print(json.dumps({"path": run.path, "steps": step, "slowest": slowest}))
"""


@pytest.fixture
def pg() -> Iterator[PgServer]:
    """A PostgreSQL server of this test's own, with an empty database ``mytrack``."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed: pip install 'mytrack[postgres]'")
    with throwaway_server() as server:
        admin(server.url, "CREATE DATABASE mytrack")
        yield server


@pytest.fixture
def home(tmp_path: Path, pg: PgServer) -> Iterator[Path]:
    """A fresh service home whose store is ``pg``; its service is stopped before ``pg``."""
    path = tmp_path / "home"
    try:
        yield path
    finally:
        stop_service(path)


def read_progress(progress: Path) -> dict[str, Any]:
    try:
        report: dict[str, Any] = json.loads(progress.read_text())
    except FileNotFoundError:
        return {}
    return report


def service_status(home: Path) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "mytrack_service", "--home", str(home), "status", "--json"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    status: dict[str, Any] = json.loads(result.stdout or "{}")
    return status


def test_postgres_outage_loses_and_blocks_nothing(tmp_path: Path, pg: PgServer, home: Path) -> None:
    """With PostgreSQL stopped mid-run, log() goes on, the service acks into its WAL and
    reports the error; once PostgreSQL is back the run ends finished with every step once."""
    progress, stop = tmp_path / "progress.json", tmp_path / "stop"
    store = with_database(pg.url, "mytrack")
    env = {**os.environ, "MYTRACK_DIR": str(home), "MYTRACK_STORE": store,
           "MYTRACK_SILENT": "true", "MYTRACK_SERVICE_IDLE_TIMEOUT": "120"}
    script = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(progress), str(stop)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: read_progress(progress).get("acked", 0) >= 50 or script.poll() is not None,
                 timeout=60, message="the script to log and be acked")
        assert script.poll() is None, script.communicate()
        assert service_status(home)["last_error"] == ""

        pg.stop("fast")
        down_since = time.monotonic()
        acked_at_stop = read_progress(progress)["acked"]
        wait_for(lambda: service_status(home).get("last_error"), timeout=30,
                 message="the service to report the store error")
        wait_for(lambda: read_progress(progress)["acked"] > acked_at_stop + 200, timeout=30,
                 message="acks to go on while PostgreSQL is down")
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        assert script.poll() is None, script.communicate()
        assert read_progress(progress)["acked"] > acked_at_stop + 200
        pg.start()
        stop.touch()
        stdout, stderr = script.communicate(timeout=120)
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
    assert script.returncode == 0, f"{stdout}\n{stderr}"
    assert "Traceback" not in stderr, stderr
    result = json.loads(stdout.strip().splitlines()[-1])
    assert result["slowest"] < SLOW_LOG_SECONDS, "log() blocked while the store was down"

    api = mytrack.Api(settings=mytrack.Settings(service_dir=str(home)))
    wait_for(lambda: api.run(result["path"]).state != "running", timeout=60,
             message="the run to end")
    run = api.run(result["path"])
    assert run.state == "finished"
    steps = result["steps"]
    assert [(r["_step"], r["i"]) for r in run.scan_history()] == [(s, s) for s in range(steps)]
    assert run.summary["i"] == steps - 1
