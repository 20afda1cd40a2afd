"""PostgreSQL for the tests: a database on a shared server, or a throwaway server.

``postgres_url`` (session) names a fresh database ``mytrack_test_<random>``,
dropped at the end. It lives on the server that ``MYTRACK_TEST_POSTGRES``
names (e.g. ``postgresql://postgres@127.0.0.1:5432/test``, any database the
user may connect to and create databases from); when that is unset or
unreachable, on a throwaway server started from the installed binaries
(`PgServer`). When neither works the tests skip, except under ``CI=true``,
where they fail: CI installs what they need, so a skip there hides a broken
setup. ``postgres_db`` gives a test its own fresh database on that server.

URLs are plain ``postgresql://`` (the registry adds the psycopg driver).
"""

from __future__ import annotations

import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import pytest

_ENV = "MYTRACK_TEST_POSTGRES"
_START_TIMEOUT_S = 60


def unavailable(reason: str) -> NoReturn:
    """Skips the test, or fails it under CI=true, where PostgreSQL must be there."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required under CI=true: {reason}", pytrace=False)
    pytest.skip(f"no PostgreSQL: {reason}")


def free_port() -> int:
    """A TCP port free right now on 127.0.0.1 (postgres cannot bind port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """A private PostgreSQL cluster in a temporary folder, trust auth, own port.

    PostgreSQL refuses to run as root, so under root the cluster folder is
    handed to the ``postgres`` user and the binaries run as that user.
    """

    def __init__(self) -> None:
        # Not under pytest's tmp_path: that is 0700 root, unreadable to postgres.
        self.root = Path(tempfile.mkdtemp(prefix="mytrack-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._as_postgres = os.geteuid() == 0
        if self._as_postgres:
            try:
                shutil.chown(self.root, "postgres", "postgres")
            except LookupError:
                shutil.rmtree(self.root, ignore_errors=True)
                raise

    @property
    def url(self) -> str:
        """The admin URL (database ``postgres``)."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "--no-sync")

    def start(self) -> None:
        """Starts the server and waits until it is up; a restart keeps the port."""
        if self.port:
            self._start()
            return
        for attempt in range(3):  # the free port may be taken before postgres binds it
            self.port = free_port()
            try:
                self._start()
                return
            except RuntimeError:
                if attempt == 2:
                    raise

    def _start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-t", str(_START_TIMEOUT_S), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-t", str(_START_TIMEOUT_S),
                  "-w", "stop")

    def destroy(self) -> None:
        """Stops the server if it runs and deletes its folder."""
        if (self.data / "postmaster.pid").exists():
            try:
                self.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, *argv: str) -> None:
        command = list(argv)
        if self._as_postgres:
            command = (["runuser", "-u", "postgres", "--", *argv] if shutil.which("runuser")
                       else ["su", "postgres", "-s", "/bin/sh", "-c", shlex.join(argv)])
        result = subprocess.run(command, capture_output=True, text=True,
                                timeout=_START_TIMEOUT_S + 30)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{argv[0]} failed: {result.stderr.strip()}\n{log}")


@contextmanager
def throwaway_server(why: str = "") -> Iterator[PgServer]:
    """A started `PgServer`, destroyed on exit; unavailable() when it cannot start.

    Args:
        why: what was tried before, prefixed to the reason when it cannot start.
    """
    if not (shutil.which("initdb") and shutil.which("pg_ctl")):
        unavailable(f"{why}initdb and pg_ctl are not on PATH")
    try:
        server = PgServer()
    except LookupError as exc:  # root, but no postgres user to run the server as
        unavailable(f"{why}cannot start a throwaway server: {exc}")
    try:
        try:
            server.init()
            server.start()
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            unavailable(f"{why}cannot start a throwaway server: {exc}")
        yield server
    finally:
        server.destroy()


def admin(url: str, *statements: str) -> None:
    """Runs statements outside a transaction (CREATE/DROP DATABASE need that)."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        for statement in statements:
            conn.execute(statement)


def with_database(url: str, name: str) -> str:
    """``url`` naming the database ``name`` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server of ``server_url``; dropped on exit."""
    name = f"mytrack_test_{secrets.token_hex(6)}"
    # template0: template1 may be in use by a concurrent CREATE DATABASE.
    admin(server_url, f"CREATE DATABASE {name} TEMPLATE template0")
    try:
        yield with_database(server_url, name)
    finally:
        # FORCE: a store a test forgot to close must not keep the database alive.
        admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the session (see the module docstring)."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed: pip install 'mytrack[postgres]'")
    with ExitStack() as stack:
        server_url, problem = _shared_server()
        if server_url is None:
            server_url = stack.enter_context(throwaway_server(f"{problem}; ")).url
        yield stack.enter_context(fresh_database(server_url))


def _shared_server() -> tuple[str | None, str]:
    """The server MYTRACK_TEST_POSTGRES names if it answers, else (None, why not)."""
    url = os.environ.get(_ENV)
    if not url:
        return None, f"{_ENV} is not set"
    try:
        admin(url, "SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure: try a throwaway server
        detail = " ".join(str(exc).split())
        return None, f"{_ENV} does not answer ({type(exc).__name__}: {detail})"
    return url, ""


@pytest.fixture
def postgres_db(postgres_url: str) -> Iterator[str]:
    """A fresh database of its own for one test, on the session's server."""
    with fresh_database(postgres_url) as url:
        yield url
