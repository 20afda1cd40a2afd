"""Starting the tee program, from the SDK (a tee of its own) and the service (the tee server).

The tee is started by module name, ``python -P -S -m mytrack_common.tee
FDS...``: a short command line that says what the process is, and the
interpreter reads the package's cached bytecode like any import.

Why ``-S`` with an explicit path entry: the site module (site-packages,
every ``.pth`` file, editable-install finders) costs a tee more than a third
of its start (measured in a virtual environment with an editable install:
25 ms of CPU from start to exit with it, 17 ms without), and the ranks of a
job starting at once each pay it. The tee imports nothing outside the standard library and
this package, so one entry on PYTHONPATH, the folder holding
``mytrack_common``, is all it needs, in a source checkout as in
site-packages. ``-P`` keeps the current folder off the path (a file there
named like a standard module would be imported instead). The tee's
environment has none of the caller's other PYTHON* variables (as with
``-I``, which would also drop the path entry): nothing a user sets for the
program (PYTHONSTARTUP, PYTHONINSPECT, PYTHONWARNINGS...) applies to it.

Bytecode: an installed package is compiled at install time, and a source
checkout gets its ``__pycache__`` on the tee's first start. Where neither can
be (PYTHONDONTWRITEBYTECODE set, or a read-only folder without bytecode),
the tee's bytecode goes to a private cache of its own
(``$XDG_CACHE_HOME/mytrack/bytecode``, PYTHONPYCACHEPREFIX), so that not
every tee compiles its modules again (a fifth more CPU per start).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import socket
import subprocess
import sys

import mytrack_common

MODULE = "mytrack_common.tee"
# The folder holding the mytrack_common package: the tee's one path entry.
_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(mytrack_common.__file__ or ".")))
_PACKAGE = os.path.dirname(os.path.abspath(__file__))


def command(*args: str) -> list[str]:
    """The tee's command line, with ``args`` (descriptor numbers, or ``serve`` and two)."""
    return [sys.executable, "-P", "-S", "-m", MODULE, *args]


def is_tee(cmdline: list[str]) -> bool:
    """Whether ``cmdline`` (a process's argv) is a tee's or the tee server's."""
    return cmdline[1:5] == ["-P", "-S", "-m", MODULE]


def environment() -> dict[str, str]:
    """The tee's environment: the caller's, without PYTHON* variables but the tee's own."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith("PYTHON") or key == "PYTHONHOME"}  # HOME: to find the stdlib
    env["PYTHONPATH"] = _ROOT
    env.update(_bytecode_environment())
    return env


@functools.cache
def _bytecode_environment() -> dict[str, str]:
    """Where the tee finds (or leaves) its compiled modules; see the module docstring."""
    cached = importlib.util.cache_from_source(os.path.join(_PACKAGE, "loop.py"))
    if os.path.exists(cached):  # installed (compiled at install time) or run before
        return {"PYTHONDONTWRITEBYTECODE": "1"} if sys.flags.dont_write_bytecode else {}
    if not sys.flags.dont_write_bytecode and os.access(_PACKAGE, os.W_OK):
        return {}  # written beside the source on the first start, as any import does
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                         "mytrack", "bytecode")
    try:
        os.makedirs(cache, mode=0o700, exist_ok=True)
        # Bytecode is code: a folder that others could write to would run theirs.
        usable = os.stat(cache).st_uid == os.getuid() and os.access(cache, os.W_OK)
    except OSError:
        usable = False
    return {"PYTHONPYCACHEPREFIX": cache} if usable else {}


def spawn(fds: tuple[int, ...]) -> subprocess.Popen[bytes] | None:
    """Starts a tee on ``fds`` (the six of `loop.Tee`); None if it cannot start."""
    if not sys.executable or not os.path.exists(sys.executable):
        return None
    try:
        return subprocess.Popen(
            command(*map(str, fds)), env=environment(), pass_fds=fds,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None


def start_server(listen: socket.socket) -> tuple[subprocess.Popen[bytes], int]:
    """Starts the tee server on ``listen`` (a listening unix socket).

    Returns the process and the write end of its watch pipe: the server exits
    when that end closes (the service stopped or died).
    """
    watch_r, watch_w = os.pipe()
    fds = (listen.fileno(), watch_r)
    try:
        process = subprocess.Popen(
            command("serve", *map(str, fds)), env=environment(), pass_fds=fds,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    except BaseException:
        os.close(watch_w)
        raise
    finally:
        os.close(watch_r)
    return process, watch_w


def hand_over(path: str, fds: tuple[int, ...], timeout: float = 10.0) -> int | None:
    """Passes a tee's six descriptors to the server at ``path``; the tee's pid, or None.

    None: no server answered (and nothing reads the descriptors); the caller
    starts its own tee process.
    """
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(path)
        socket.send_fds(conn, [b"tee"], list(fds))
        answer = conn.recv(32)
        return int(answer) if answer.isdigit() else None
    except (OSError, ValueError):
        return None
    finally:
        conn.close()
