"""Fixtures shared by every test level.

The whole session talks to one real service living in a temporary
MYTRACK_DIR (started by the SDK on first use, stopped at the end), so tests
exercise the real socket, WAL and SQLite store. Each test logs into its own
project (named after the test) so tests never see each other's runs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def mytrack_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private service home for the session; the service is stopped at the end."""
    home = tmp_path_factory.mktemp("mytrack-home")
    saved = {k: os.environ.get(k) for k in ("MYTRACK_DIR", "MYTRACK_SERVICE_IDLE_TIMEOUT")}
    os.environ["MYTRACK_DIR"] = str(home)
    os.environ["MYTRACK_SERVICE_IDLE_TIMEOUT"] = "120"
    yield home
    stop_service(home)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def stop_service(home: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "mytrack_service", "--home", str(home), "stop"],
        capture_output=True, check=False, timeout=120,
    )


@pytest.fixture
def project(request: pytest.FixtureRequest) -> str:
    """A project name unique to the test."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", request.node.name)[:100]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test's working directory (run folders are created under it)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def run_script(workdir: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs a Python snippet in a fresh interpreter, in the test's workdir."""

    def run(code: str, timeout: float = 120, env: dict[str, str] | None = None,
            check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)], cwd=workdir, text=True,
            capture_output=True, timeout=timeout, env={**os.environ, **(env or {})},
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        return result

    return run


def wait_for(predicate: Callable[[], object], timeout: float = 30.0, interval: float = 0.02,
             message: str = "condition") -> object:
    """Polls ``predicate`` until it returns something truthy, or fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message}")
        time.sleep(interval)


from tests.pg_fixtures import postgres_db, postgres_url  # noqa: F401
from tests.s3_fixtures import s3_endpoint  # noqa: F401


def wait_for_console_tee(path: Path, timeout: float = 10.0) -> None:
    """Waits until no console tee process (issue 10) still holds ``path`` open.

    A script whose output is captured writes through a small tee process that
    forwards it; after ``os._exit()`` the last lines may land in ``path`` a
    moment after the script itself is gone.
    """
    import psutil

    from mytrack_common.tee import launch

    target = str(Path(path).resolve())

    def tees() -> list[int]:
        held = []
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if not launch.is_tee(cmdline):
                continue
            try:
                if any(f.path == target for f in process.open_files()):
                    held.append(process.pid)
            except psutil.Error:
                continue
        return held

    wait_for(lambda: not tees(), timeout=timeout, message=f"the console tee to release {path}")
