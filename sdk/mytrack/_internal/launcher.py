"""Finds the service of a home folder, starting one when none answers.

Starting happens under an exclusive file lock, so that 64 ranks calling
``init()`` together end with one service: the first takes the lock and starts
it, the others wait on the lock and then find it answering.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from mytrack._internal.transport import ServiceClient, ping
from mytrack.errors import CommError
from mytrack_proto.address import ServiceAddress, ensure_private_dir, service_address


def connect(home: str, timeout: float = 30.0) -> ServiceClient:
    """A client for the service of ``home``, started if needed.

    Raises:
        CommError: no service answered within ``timeout`` seconds.
    """
    address = service_address(home)
    if ping(address, timeout=2.0) is not None:
        return ServiceClient(address)
    ensure_private_dir(address.home)
    deadline = time.monotonic() + timeout
    with _locked(address.lock, deadline):
        if ping(address, timeout=2.0) is None:
            _start(address, deadline)
    return ServiceClient(address)


@contextmanager
def _locked(path: str, deadline: float) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CommError(f"timed out waiting for the service start lock {path}") from None
                time.sleep(0.01)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _start(address: ServiceAddress, deadline: float) -> None:
    # The intermediate `start --detach` process starts the service in a new
    # session and exits at once, so the service is never our child (no zombie,
    # no signal from the terminal's process group).
    subprocess.run(
        [sys.executable, "-m", "mytrack_service", "start", "--detach", "--no-wait",
         "--home", address.home],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        check=False, timeout=max(1.0, deadline - time.monotonic()),
    )
    delay = 0.005
    while time.monotonic() < deadline:
        if ping(address, timeout=1.0) is not None:
            return
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    raise CommError(
        f"mytrack-service did not start within the init timeout; see {address.log}"
    )

