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

from mytrack._internal.transport import ServiceClient, probe
from mytrack.errors import CommError
from mytrack_proto.address import ServiceAddress, ensure_private_dir, service_address


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
    deadline = time.monotonic() + timeout
    delay = 0.005
    while time.monotonic() < deadline:
        with _try_lock(address.lock) as locked:
            if locked:
                return probe(address, timeout=2.0) or _start(address, deadline)
        client = probe(address, timeout=1.0)
        if client is not None:
            return client
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    raise CommError(f"no mytrack service answered within {timeout:.0f}s; see {address.log}")


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


# Started by a tiny intermediate interpreter that exits at once, so the
# service is never our child (no zombie, no signal from the terminal's process
# group); it imports nothing, to keep a cold init() short.
_SPAWN = (
    "import subprocess, sys\n"
    "log = open(sys.argv[1], 'ab')\n"
    "subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log, stderr=log,"
    " start_new_session=True, close_fds=True)\n"
)


def _start(address: ServiceAddress, deadline: float) -> ServiceClient:
    subprocess.run(
        [sys.executable, "-S", "-c", _SPAWN, address.log,
         sys.executable, "-m", "mytrack_service", "start", "--home", address.home],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        check=False, timeout=max(1.0, deadline - time.monotonic()),
    )
    delay = 0.005
    while time.monotonic() < deadline:
        client = probe(address, timeout=1.0)
        if client is not None:
            return client
        time.sleep(delay)
        delay = min(delay * 2, 0.05)
    raise CommError(
        f"mytrack-service did not start within the init timeout; see {address.log}"
    )

