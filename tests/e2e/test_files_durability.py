"""Saved files end to end: big uploads, uploads that outlive finish() and the service.

Each test uses its own fresh service home (MYTRACK_DIR pointed at
``tmp_path / "home"`` for the test), so that killing or starving that service
never touches the session's; the fixture stops it (or kills it) at the end.

A named pipe (FIFO) stands in for a file whose upload cannot finish yet: the
file is saved while it is a regular file, then replaced by a FIFO, so the
service's upload blocks in open() until the test writes into the pipe (or
replaces it by a regular file). That makes "uploads still pending" a fact the
test controls, not a race against a fast disk.
"""

from __future__ import annotations

import errno
import hashlib
import os
import pty
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import pytest

import mytrack
from mytrack_service.outbound import transfers as transfers_module
from tests.helpers import ServiceHome, pid_alive, sha, stop_home, wait_for

MiB = 2**20


# -- helpers ---------------------------------------------------------------------------------


@dataclass
class Home(ServiceHome):
    fifos: list[Path] = field(default_factory=list)

    def files(self, run_path: str) -> dict[str, Any]:
        return {f.name: f for f in mytrack.Api().run(run_path).files()}

    def wait_digest(self, run_path: str, name: str, digest: str, timeout: float = 30) -> Any:
        return wait_for(lambda: (f := self.files(run_path).get(name)) is not None
                        and f.digest == digest and f,
                        timeout=timeout, message=f"{name} uploaded with digest {digest[:12]}")

    def block(self, path: Path) -> None:
        """Replaces the (already saved) file by a FIFO: its upload blocks until fed."""
        path.unlink()
        os.mkfifo(path)
        self.fifos.append(path)

    def feed(self, path: Path, data: bytes, timeout: float = 30) -> None:
        """Writes ``data`` into a FIFO whose reader (an upload) is waiting, then closes it."""
        fd = wait_for(lambda: open_writer(path), timeout=timeout,
                      message=f"an upload to open {path.name}")
        os.set_blocking(fd, True)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def release(self) -> None:
        """Gives every FIFO still waited on an end of file, so no upload stays blocked."""
        for path in self.fifos:
            if path.exists() and path.is_fifo():
                fd = open_writer(path)
                if fd is not None:
                    os.close(fd)


def open_writer(path: Path) -> int | None:
    """A non-blocking writer on a FIFO, or None while nobody reads it."""
    try:
        return os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return None
        raise


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Home]:
    """A fresh service home for this test (MYTRACK_DIR), the cwd in a work folder next to it."""
    path, work = tmp_path / "home", tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("MYTRACK_DIR", str(path))
    monkeypatch.setenv("MYTRACK_SILENT", "true")
    monkeypatch.chdir(work)
    mytrack.finish()
    result = Home(path, dict(os.environ), work)
    try:
        yield result
    finally:
        mytrack.finish()
        result.release()
        stop_home(path, timeout=20)


class RssSampler:
    """Samples a process's RSS every 10 ms in a thread; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            self.samples += 1
            self._stop.wait(0.01)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.baseline


def write_random(path: Path, size: int) -> str:
    """Writes ``size`` random bytes (1 MiB chunks, no sparse holes); returns their sha256."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for _ in range(size // MiB):
            chunk = os.urandom(MiB)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def file_sha(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


BIG = 1024 * MiB  # the "1 GB file uploaded with bounded memory"


# -- tests -----------------------------------------------------------------------------------


def test_large_file_uploads_and_downloads_with_bounded_service_memory(home: Home) -> None:
    """A 1 GiB file is uploaded and downloaded back byte for byte while the service's RSS grows by less than 100 MB."""
    source = home.workdir / "big.bin"
    expected = write_random(source, BIG)
    run = mytrack.init(project="big-file", settings=mytrack.Settings(quiet=True))
    pid = home.pid()
    assert pid is not None
    with RssSampler(pid) as sampler:
        run.save("big.bin", policy="now")
        found = home.wait_digest(run.path, "big.bin", expected, timeout=120)
        upload_growth = sampler.growth
        path = run.path
        run.finish()
        handle = mytrack.Api().run(path).file("big.bin").download(root=str(home.workdir / "dl"))
        handle.close()
    try:
        assert found.size == BIG
        assert file_sha(Path(handle.name)) == expected
        assert sampler.samples > 10
        assert upload_growth < 100 * MiB, f"service RSS grew {upload_growth / MiB:.0f} MiB"
        assert sampler.growth < 100 * MiB, f"service RSS grew {sampler.growth / MiB:.0f} MiB"
        blobs = [p for p in (home.path / "blobs").rglob(expected) if p.is_file()]
        assert len(blobs) == 1 and blobs[0].stat().st_size == BIG
    finally:
        for big in (source, Path(handle.name)):
            big.unlink(missing_ok=True)


def test_service_killed_with_uploads_pending_completes_them_after_restart(home: Home) -> None:
    """kill -9 of the service while "end" uploads are pending: the restarted service uploads every one with the right
    digest."""
    names = ["ckpt-a.bin", "ckpt-b.bin"]
    for name in names:
        (home.workdir / name).write_bytes(b"placeholder")
    regular = os.urandom(8 * MiB)
    (home.workdir / "regular.bin").write_bytes(regular)
    run = mytrack.init(project="kill-pending",
                       settings=mytrack.Settings(quiet=True, finish_timeout=1))
    run.save("*.bin", policy="end")
    for name in names:
        home.block(home.workdir / name)
    path = run.path
    started = time.monotonic()
    run.finish()
    assert time.monotonic() - started < 5
    before = home.files(path)
    assert [before[n].digest for n in names] == ["", ""]
    assert mytrack.Api().run(path).state == "finished"

    old_pid = home.pid()
    assert old_pid is not None
    os.kill(old_pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(old_pid), timeout=30, message="the service to die")
    finals = {name: f"final content of {name}".encode() for name in names}
    for name, data in finals.items():
        (home.workdir / name).unlink()
        (home.workdir / name).write_bytes(data)

    # Any call restarts the service; it finds the pending uploads in the store.
    for name, data in finals.items():
        home.wait_digest(path, name, sha(data))
    home.wait_digest(path, "regular.bin", sha(regular))
    new_pid = home.pid()
    assert new_pid is not None and new_pid != old_pid and pid_alive(new_pid)
    after = home.files(path)
    assert {n: (f.uploads, f.size) for n, f in after.items() if n in finals} == {
        n: (1, len(d)) for n, d in finals.items()}
    assert (after["regular.bin"].uploads, after["regular.bin"].size) == (1, 8 * MiB)
    with mytrack.restore("ckpt-b.bin", run_path=path, root=str(home.workdir / "back")) as handle:
        assert handle.read() == "final content of ckpt-b.bin"


def test_finish_returns_within_its_timeout_and_blocked_uploads_complete_later(home: Home) -> None:
    """With every upload worker blocked, finish(finish_timeout=2) returns in time, another run's status counts its
    queued file and bytes, and all uploads complete once unblocked."""
    workers = transfers_module._WORKERS
    names = [f"slow-{i}.bin" for i in range(workers)]
    for name in names:
        (home.workdir / name).write_bytes(b"placeholder")
    first = mytrack.init(project="blocked", settings=mytrack.Settings(quiet=True, finish_timeout=2))
    first.save("slow-*.bin", policy="end")
    for name in names:
        home.block(home.workdir / name)
    started = time.monotonic()
    first.finish()
    took = time.monotonic() - started
    assert 1.5 <= took < 4.5, took
    assert [home.files(first.path)[n].digest for n in names] == [""] * workers

    # Every worker now waits on a FIFO: a second run's "now" file has to queue.
    queued = os.urandom(12_345)
    (home.workdir / "queued.bin").write_bytes(queued)
    second = mytrack.init(project="blocked", settings=mytrack.Settings(quiet=True))
    second.save("queued.bin", policy="now")

    def counted() -> bool:
        # The run's own environment files (requirements.txt) may be queued as well.
        listed = home.files(second.path)
        waiting = [n for n, f in listed.items() if not f.digest and f.policy != "end"]
        expected = (len(waiting), sum((Path(second.dir) / n).stat().st_size for n in waiting))
        status = second.status()
        return "queued.bin" in waiting and (status.files_pending, status.bytes_pending) == expected

    wait_for(counted, timeout=20, message="status() to count the queued file and its bytes")
    status = second.status()
    assert status.files_pending >= 1 and status.bytes_pending >= 12_345
    assert home.files(second.path)["queued.bin"].digest == ""

    contents = {name: f"slow upload {name}".encode() for name in names}
    for name, data in contents.items():
        home.feed(home.workdir / name, data)
    for name, data in contents.items():
        home.wait_digest(first.path, name, sha(data))
    home.wait_digest(second.path, "queued.bin", sha(queued))
    wait_for(lambda: second.status().files_pending == 0, timeout=20,
             message="nothing pending for the second run")
    assert second.status().bytes_pending == 0
    second.finish()


FINISH_WITH_BLOCKED_UPLOAD = """
    import os, sys, time
    import mytrack

    open("blocked.bin", "wb").write(b"placeholder")
    run = mytrack.init(project="progress", settings=mytrack.Settings(quiet=False, finish_timeout=4))
    run.save("blocked.bin", policy="end")
    os.unlink("blocked.bin")
    os.mkfifo("blocked.bin")
    started = time.monotonic()
    run.finish()
    print(f"FINISHED {run.path} in {time.monotonic() - started:.2f}", flush=True)
"""


def test_finish_shows_upload_progress_on_a_terminal_and_returns(home: Home) -> None:
    """On a terminal, finish() with a blocked upload shows a rich progress line after 2 s, says what is left, and
    returns at its timeout."""
    main, child = pty.openpty()
    env = {**os.environ, "MYTRACK_SILENT": "false", "TERM": "xterm", "COLUMNS": "120"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(FINISH_WITH_BLOCKED_UPLOAD)], cwd=home.workdir,
        env=env, stdin=child, stdout=child, stderr=child, close_fds=True,
    )
    os.close(child)
    home.fifos.append(home.workdir / "blocked.bin")
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed its end
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert process.wait(timeout=60) == 0
    text = b"".join(chunks).decode(errors="replace")
    assert re.search(r"mytrack: uploading \d file\(s\), [0-9.]+ MiB \(retries: 0\)", text), text
    assert re.search(r"mytrack: 1 file\(s\) \([0-9.]+ MiB\) still uploading", text), text
    (line,) = [ln for ln in text.splitlines() if ln.startswith("FINISHED ")]
    _, run_path, _, took = line.split()
    assert 3.5 <= float(took) < 7, took

    home.feed(home.workdir / "blocked.bin", b"arrives after the process ended")
    home.wait_digest(run_path, "blocked.bin", sha(b"arrives after the process ended"))
