"""Helpers shared by tests of every level, written once here.

Fixtures live in ``conftest.py``; this module holds the plain functions and
classes that tests import: polling with a deadline (never a bare sleep),
stopping a service home, checking a pid, hashing bytes, and the base of the
private service homes that end-to-end tests start, kill and restart.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

import mytrack
from mytrack_common.address import service_address


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


def sha(data: bytes) -> str:
    """The sha256 hex digest, the name blobs and file records use."""
    return hashlib.sha256(data).hexdigest()


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs; a zombie (dead, not yet reaped by its parent) does not."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def service_pid(home: Path) -> int | None:
    """The pid written in the home's pid file (None when empty or absent)."""
    try:
        text = Path(service_address(str(home)).pid).read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text else None


def stop_service(home: Path) -> None:
    """Asks the service of ``home`` to stop (nothing happens when none runs)."""
    subprocess.run(
        [sys.executable, "-m", "mytrack_service", "--home", str(home), "stop"],
        capture_output=True, check=False, timeout=120,
    )


def stop_home(home: Path, timeout: float = 30) -> None:
    """Stops the service of ``home`` gracefully, or kills it if it does not stop.

    Tests that kill or starve a service use this at teardown: a service left
    running would hold its home's files and a core for the rest of the suite.
    """
    subprocess.run(
        [sys.executable, "-m", "mytrack_service", "--home", str(home), "stop", "--timeout", str(timeout)],
        capture_output=True, check=False, timeout=60,
    )
    pid = service_pid(home)
    if pid is not None and pid_alive(pid):
        os.kill(pid, signal.SIGKILL)


@dataclass
class ServiceHome:
    """A private service home (MYTRACK_DIR) for a test that starts, kills or restarts its service.

    Attributes:
        path: the home folder (the service creates it on first start).
        env: the environment for scripts that use this home.
        workdir: where those scripts run and write their output.
    """

    path: Path
    env: dict[str, str]
    workdir: Path

    def pid(self) -> int | None:
        """The pid written in the home's pid file (None when empty or absent)."""
        return service_pid(self.path)

    def api(self) -> mytrack.Api:
        """The read API on this home's service."""
        return mytrack.Api(settings=mytrack.Settings(service_dir=str(self.path)))

