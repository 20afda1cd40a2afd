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
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from mytrack._internal.transport.client import ServiceClient, probe
from mytrack.errors import CommError
from mytrack_common.address import ServiceAddress, ensure_private_dir, service_address


def connect(home: str, timeout: float = 30.0) -> ServiceClient:
    """A client for the service of ``home``, started if needed.

    Only the process that gets the start lock starts a service; the others do
    not queue on the lock but poll for the service to answer (taking the lock
    themselves only if its holder gives up), so 64 ranks starting together
    each return as soon as the service is up.

    Raises:
        CommError: no service answered within ``timeout`` seconds.
    """
    address = service_address(home)
    client = probe(address, timeout=2.0)
    if client is not None:
        return client
    ensure_private_dir(address.home)
    # gRPC sets itself up with its first channel (a few ms of CPU): done now,
    # while the service starts, not once it answers and every rank wants it.
    unused = [ServiceClient(address)]
    deadline = time.monotonic() + timeout

    def start_if_free() -> ServiceClient | None:
        with _try_lock(address.lock) as locked:
            if locked:
                return probe(address, 2.0, unused) or _start(address, deadline, unused)
        return None

    try:
        client = _poll(address, deadline, unused, start_if_free)
    finally:
        for spare in unused:
            spare.close()
    if client is None:
        raise CommError(f"no mytrack service answered within {timeout:.0f}s; see {address.log}")
    return client


def _poll(
    address: ServiceAddress, deadline: float, unused: list[ServiceClient],
    first: Callable[[], ServiceClient | None],
) -> ServiceClient | None:
    """Probes, backing off, until the service answers (or ``first``, run at each turn, does)."""
    delay = 0.005
    while time.monotonic() < deadline:
        client = first() or probe(address, 1.0, unused)
        if client is not None:
            return client
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    return None


@contextmanager
def _try_lock(path: str) -> Iterator[bool]:
    """The start lock if free now (True), without waiting for it (False)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # closing releases the lock


def _start(address: ServiceAddress, deadline: float, unused: list[ServiceClient]) -> ServiceClient:
    # The service starts in a session of its own: no signal from the terminal's
    # process group, and a scheduling group of its own (Linux autogroups), so 64
    # ranks busy starting do not slow its start. With --fork its first process
    # exits at once (reaped below) and the service is never our child.
    with open(address.log, "ab") as log:
        starter = subprocess.Popen(
            [sys.executable, "-m", "mytrack_service", "--fork", "start", "--home", address.home],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            close_fds=True,
        )
    try:
        client = _poll(address, deadline, unused, lambda: None if starter.poll() else None)
    finally:
        try:
            starter.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    if client is None:
        raise CommError(
            f"mytrack-service did not start within the init timeout; see {address.log}"
        )
    return client
