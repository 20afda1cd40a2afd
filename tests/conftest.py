"""Fixtures shared by every test level.

The whole session talks to one real service living in a temporary
MYTRACK_DIR (started by the SDK on first use, stopped at the end), so tests
exercise the real socket, WAL and SQLite store. Each test logs into its own
project (named after the test) so tests never see each other's runs.
Plain helper functions live in ``tests/helpers.py``.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import mytrack
from tests.helpers import stop_service, wait_for
from tests.pg_fixtures import postgres_db, postgres_url  # noqa: F401 - fixtures
from tests.s3_fixtures import s3_endpoint  # noqa: F401 - a fixture

REPO = Path(__file__).resolve().parent.parent

# Variables that choose a run's identity or mode: a developer's shell may set
# them, and a test that inherited one would log somewhere else.
IDENTITY_VARIABLES = ("MYTRACK_ENTITY", "MYTRACK_PROJECT", "MYTRACK_RUN_DIR", "MYTRACK_MODE",
                      "MYTRACK_RUN_ID", "MYTRACK_NAME", "MYTRACK_RESUME")


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="session", autouse=True)
def mytrack_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private service home for the session; the service is stopped at the end."""
    home = tmp_path_factory.mktemp("mytrack-home")
    saved = {k: os.environ.get(k) for k in ("MYTRACK_DIR", "MYTRACK_SERVICE_IDLE_TIMEOUT", "MYTRACK_UI_PORT")}
    os.environ["MYTRACK_DIR"] = str(home)
    os.environ["MYTRACK_SERVICE_IDLE_TIMEOUT"] = "120"
    # Not the default 6017: a developer's own service may serve its UI there.
    os.environ["MYTRACK_UI_PORT"] = str(_free_port())
    yield home
    stop_service(home)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def no_current_run(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The test starts and ends without a current run in this process, in its own workdir.

    Identity variables are cleared and init()'s console lines silenced
    (MYTRACK_SILENT); a module that reads those lines deletes MYTRACK_SILENT
    after this fixture. Modules use it with
    ``pytestmark = pytest.mark.usefixtures("no_current_run")``.
    """
    for name in IDENTITY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MYTRACK_SILENT", "true")
    mytrack.finish()
    yield
    mytrack.finish()


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
