"""The tee server: forks a tee for each client that passes it a tee's descriptors.

It runs in the service's care (`launch.start_server`) as a small
single-threaded process. Each connection passes the six descriptors of a
tee (SCM_RIGHTS); a forked child answers its pid and returns them, to run
`loop.Tee` on them. Forking this small process costs a fraction of a
millisecond where starting an interpreter costs over ten, and 64 ranks of a
job starting together would each start one.
"""

from __future__ import annotations

import os
import select
import signal
import socket

_TEE_FDS = 6


def serve(listen_fd: int, watch_fd: int) -> tuple[int, ...]:
    """Serves connections on ``listen_fd``; in a forked child, returns its tee's descriptors.

    The server itself never returns: it exits when ``watch_fd`` (the read end
    of a pipe whose write end only the service holds) reports its end, that
    is when the service stopped or died.
    """
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    server = socket.socket(fileno=listen_fd)
    while True:
        ready, _, _ = select.select([listen_fd, watch_fd], [], [])
        if watch_fd in ready:
            os._exit(0)
        try:
            conn, _ = server.accept()
        except OSError:
            continue
        fds = _fork_for(conn)
        if fds is not None:  # in the child
            server.close()
            os.close(watch_fd)
            return fds


def _fork_for(conn: socket.socket) -> tuple[int, ...] | None:
    """Forks a tee for the client on ``conn``; its descriptors in the child, None here."""
    fds: list[int] = []
    child = False
    try:
        conn.settimeout(5.0)
        _, fds, _, _ = socket.recv_fds(conn, 16, _TEE_FDS)
        child = len(fds) == _TEE_FDS and os.fork() == 0
    except OSError:
        pass
    if child:
        try:
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            os.setsid()  # the client's terminal signals and its group's end are not ours
            conn.sendall(str(os.getpid()).encode())
            conn.close()
        except OSError:  # the client gave up waiting: it serves its pipes itself
            os._exit(0)
        return tuple(fds)
    for fd in fds:
        os.close(fd)
    conn.close()
    return None
