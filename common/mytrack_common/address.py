"""Where a service home keeps its socket, lock, pid and log files.

Shared by the SDK (to find or start the service) and the service (to listen).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

# sun_path holds 108 bytes on Linux; keep a margin.
_MAX_SOCKET_PATH = 100
# The most one gRPC message may carry: a batch of records or a history page.
# Batches and pages are cut near 4 MiB; this is for the one log() call that is
# larger by itself (a 100 MB array logged as a list), which must get through.
MAX_MESSAGE_BYTES = 1024 * 1024 * 1024


@dataclass(frozen=True)
class ServiceAddress:
    home: str
    socket: str
    tee: str  # the tee server's socket (console capture; mytrack_common.tee)
    lock: str  # held while a process starts the service
    pid: str  # holds the service's pid; flock'ed by the live service
    log: str

    @property
    def target(self) -> str:
        """The gRPC target for this service."""
        return f"unix://{self.socket}"


def service_address(home: str) -> ServiceAddress:
    """The files of the service living in ``home`` (MYTRACK_DIR).

    The socket is ``home/service.sock`` unless that path is too long for a unix
    socket; then it lives in a private per-user folder under /tmp, named by a
    hash of ``home`` so that each home still has its own service.
    """
    home = os.path.abspath(os.path.expanduser(home))
    socket = os.path.join(home, "service.sock")
    tee = os.path.join(home, "tee.sock")
    if len(socket.encode()) > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(home.encode()).hexdigest()[:16]
        socket = os.path.join(short_socket_dir(), f"{digest}.sock")
        tee = os.path.join(short_socket_dir(), f"{digest}.tee.sock")
    return ServiceAddress(
        home=home,
        socket=socket,
        tee=tee,
        lock=os.path.join(home, "service.lock"),
        pid=os.path.join(home, "service.pid"),
        log=os.path.join(home, "service.log"),
    )


def short_socket_dir() -> str:
    return os.path.join("/tmp", f"mytrack-{os.getuid()}")


def ensure_private_dir(path: str) -> None:
    """Creates ``path`` (0700) if needed and tightens an existing one to 0700."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    if os.stat(path).st_mode & 0o077:
        os.chmod(path, 0o700)


GRPC_OPTIONS = [
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
]
