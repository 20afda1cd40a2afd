"""Finds the service of a home folder, starting one when none answers.

Starting happens under an exclusive file lock, so that 64 ranks calling
``init()`` together end with one service: the first takes the lock and starts
it, the others wait on the lock and then find it answering.

``init()`` starts the service first of all (`start_early`), before it
prepares the run, and connects once the run is ready: the service starts
meanwhile. On a small machine where 64 ranks start together, each rank gets a
sliver of the CPU, and the few milliseconds of preparation before a rank
reached the start took 150-200 ms of wall time, which every rank then waited.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from mytrack._internal.transport.client import ServiceClient, probe
from mytrack.errors import CommError
from mytrack_common.address import ServiceAddress, ensure_private_dir, service_address

# Services that may die while starting before init() gives up (a service
# that cannot start at all must not be restarted until the timeout).
_MAX_DEAD_STARTS = 3
_ZOMBIE_CHECK_SECONDS = 1.0


@dataclass
class Starting:
    """A service this process started ahead of `connect` (`start_early`): the
    start lock, held until `connect` has it answering, and the starter process."""

    lock_fd: int
    starter: subprocess.Popen[bytes]

    def release(self) -> None:
        """Lets the start lock go (idempotent); `connect` does it once the service answers."""
        if self.lock_fd >= 0:
            os.close(self.lock_fd)
            self.lock_fd = -1
        self.starter.poll()  # reaps the starter, which exits at once (--fork)


def start_early(home: str) -> Starting | None:
    """Starts the service of ``home`` now if none runs and no other process starts one.

    Returns None when a socket is there (a service answers, or a dead one's
    socket: `connect` finds out) or another process holds the start lock; else
    the `Starting` to hand to `connect`, which waits for it.
    """
    address = service_address(home)
    if os.path.exists(address.socket):
        return None
    try:
        ensure_private_dir(address.home)
        fd = _lock_now(address.lock)
        if fd is None:
            return None
    except OSError:
        return None  # connect() tries again and says what is wrong
    try:
        return Starting(fd, _spawn(address))
    except OSError:
        os.close(fd)
        return None


def connect(home: str, timeout: float = 30.0, starting: Starting | None = None) -> ServiceClient:
    """A client for the service of ``home``, started if needed.

    Only the process that gets the start lock starts a service; the others do
    not queue on the lock but poll for the service to answer (taking the lock
    themselves only if its holder gives up), so 64 ranks starting together
    each return as soon as the service is up. ``starting``: the service this
    process started with `start_early`; waited for first, its lock released.

    Raises:
        CommError: no service answered within ``timeout`` seconds.
    """
    address = service_address(home)
    if starting is None:
        client = probe(address, timeout=2.0)
        if client is not None:
            return client
    ensure_private_dir(address.home)
    # gRPC sets itself up with its first channel (a few ms of CPU): done now,
    # while the service starts, not once it answers and every rank wants it.
    unused = [ServiceClient(address)]
    deadline = time.monotonic() + timeout

    died: list[int] = []  # pids of services that died while starting

    def start_if_free() -> ServiceClient | None:
        nonlocal starting
        if len(died) >= _MAX_DEAD_STARTS:
            raise CommError(
                f"mytrack-service died while starting {len(died)} times; see {address.log}"
            )
        if starting is not None:
            ours, starting = starting, None
            try:
                return _wait_started(address, deadline, unused, died, ours.starter)
            finally:
                ours.release()
        with _try_lock(address.lock) as locked:
            if locked:
                return probe(address, 2.0, unused) or _start(address, deadline, unused, died)
        return None

    try:
        client = _poll(address, deadline, unused, start_if_free)
    finally:
        for spare in unused:
            spare.close()
        if starting is not None:
            starting.release()
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
    fd = _lock_now(path)
    try:
        yield fd is not None
    finally:
        if fd is not None:
            os.close(fd)  # closing releases the lock


def _lock_now(path: str) -> int | None:
    """A descriptor holding the start lock, if it is free now; closing it releases the lock."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _start(
    address: ServiceAddress, deadline: float, unused: list[ServiceClient], died: list[int]
) -> ServiceClient | None:
    """Starts a service and waits for it to answer (`_wait_started`)."""
    return _wait_started(address, deadline, unused, died, _spawn(address))


def _spawn(address: ServiceAddress) -> subprocess.Popen[bytes]:
    """Starts the service's starter process; the service forks from it."""
    # The service starts in a session of its own: no signal from the terminal's
    # process group, and a scheduling group of its own (Linux autogroups), so 64
    # ranks busy starting do not slow its start. With --fork its first process
    # exits at once (reaped below) and the service is never our child.
    with open(address.log, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "mytrack_service", "--fork", "start", "--home", address.home],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            close_fds=True,
        )


def _wait_started(
    address: ServiceAddress, deadline: float, unused: list[ServiceClient], died: list[int],
    starter: subprocess.Popen[bytes],
) -> ServiceClient | None:
    """Waits for the service ``starter`` started to answer.

    Returns None, at once, if the service dies before answering (killed while
    it starts): the caller starts another instead of waiting out the timeout.
    """
    # The session's process group is named by the starter's pid and the forked
    # service stays in it: when no live process is left in the group, the
    # service is gone, whatever killed it.
    watch = _GroupWatch(starter.pid)

    def dead() -> ServiceClient | None:
        if starter.poll() is not None and not watch.alive():
            raise _DiedStarting
        return None

    try:
        client = _poll(address, deadline, unused, dead)
    except _DiedStarting:
        died.append(starter.pid)
        return probe(address, 1.0, unused)  # it may have answered just before it died
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


class _DiedStarting(Exception):
    """The service being started died before it answered."""


class _GroupWatch:
    """Whether a process group still has a live (not zombie) member.

    ``killpg(0)`` is cheap but counts zombies, which an init that does not
    reap (some containers) leaves behind; psutil tells them apart, so it is
    asked too, but only once a second and not in the first: its scan of the
    process table costs the starting service CPU (64 ranks starting on two
    cores felt it), and a service that starts normally answers before then.
    """

    def __init__(self, pgid: int) -> None:
        self.pgid = pgid
        self._checked = time.monotonic()

    def alive(self) -> bool:
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        now = time.monotonic()
        if now - self._checked < _ZOMBIE_CHECK_SECONDS:
            return True
        self._checked = now
        return self._live_member()

    def _live_member(self) -> bool:
        import psutil  # only on this rare path

        for process in psutil.process_iter(["status"]):
            try:
                if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == self.pgid:
                    return True
            except (ProcessLookupError, psutil.Error):
                continue
        return False
