"""Durability end to end: kill -9 and SIGTERM of the service, torn WAL tails.

Every test that kills or stops a service uses its own fresh service home
(``tmp_path / "home"``), handed to the subprocesses through MYTRACK_DIR, so the
session's service is never touched; the fixture stops whatever service is left
in that home at the end.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mytrack_common import wal
from mytrack_common.address import service_address
from tests.helpers import ServiceHome, pid_alive, stop_home, wait_for

# -- helpers ----------------------------------------------------------------------


class Home(ServiceHome):
    def spawn(self, code: str, *args: str) -> Script:
        """Starts a Python snippet in the background; its output goes to files in workdir."""
        index = len(list(self.workdir.glob("script-*.out")))
        out, err = self.workdir / f"script-{index}.out", self.workdir / f"script-{index}.err"
        with open(out, "w") as stdout, open(err, "w") as stderr:
            process = subprocess.Popen(
                [sys.executable, "-c", textwrap.dedent(code), *args], cwd=self.workdir,
                env=self.env, stdout=stdout, stderr=stderr, text=True,
            )
        return Script(process, out, err)


@dataclass
class Script:
    process: subprocess.Popen[str]
    out: Path
    err: Path

    def poll(self) -> int | None:
        return self.process.poll()

    def output(self, timeout: float = 120) -> tuple[int | None, str, str]:
        """Waits for the script; returns (exit code or None on timeout, stdout, stderr)."""
        try:
            code: int | None = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        return code, self.out.read_text(), self.err.read_text()


def assert_clean_exit(code: int | None, stdout: str, stderr: str) -> None:
    """The script exited 0 with no traceback and every record acknowledged."""
    assert code == 0, f"script exited with {code}:\n{stdout}\n{stderr}"
    assert "Traceback" not in stderr, stderr
    assert "were not acknowledged" not in stderr, stderr


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Home]:
    """A fresh, private service home; its service is stopped at teardown."""
    path = tmp_path / "home"
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {
        **os.environ, "MYTRACK_DIR": str(path), "MYTRACK_SILENT": "true",
        "MYTRACK_SERVICE_IDLE_TIMEOUT": "120",
    }
    try:
        yield Home(path, env, workdir)
    finally:
        stop_home(path)


def assert_exact_history(home: Home, path: str, steps: int) -> None:
    """The run finished with steps 0..steps-1 exactly once, each row's "i" equal to _step."""
    api = home.api()
    # finish() waits for the store; the wait only matters when finish() failed early.
    wait_for(lambda: api.run(path).state != "running", timeout=30, message="the run to end")
    run = api.run(path)
    assert run.state == "finished"
    rows = list(run.scan_history())
    assert [r["_step"] for r in rows] == list(range(steps))
    assert [r["i"] for r in rows] == list(range(steps))
    assert run.summary["i"] == steps - 1
    keyed = list(run.scan_history(keys=["i"]))
    assert keyed == [{"_step": s, "i": s} for s in range(steps)]


# The script logs {"i": step} for steps 0..first-1, writes `marker` with the run's
# path and its WAL file, waits for the file `go`, logs up to `total`, finishes.
PAUSING_SCRIPT = """
    import glob, os, sys, time
    from pathlib import Path
    import mytrack

    marker, go, first, total = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    run = mytrack.init(project="durability", settings=mytrack.Settings(quiet=True))
    for step in range(first):
        run.log({"i": step})
    if len(sys.argv) > 5 and sys.argv[5] == "flush":
        assert run._sender.flush(60)
    # The service keeps the writer's WAL in the run folder (or in MYTRACK_DIR/wal).
    pattern = f"*{run._writer_id}.wal"
    (wal_path,) = [
        *glob.glob(os.path.join(os.getcwd(), "**", pattern), recursive=True),
        *glob.glob(os.path.join(os.environ["MYTRACK_DIR"], "**", pattern), recursive=True),
    ]
    marker.with_suffix(".tmp").write_text(run.path + "\\n" + wal_path)
    os.replace(marker.with_suffix(".tmp"), marker)
    deadline = time.monotonic() + 120
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit("the test never created the go file")
        time.sleep(0.005)
    for step in range(first, total):
        run.log({"i": step})
    run.finish()
    print("DONE", run.path)
"""


def wait_marker(marker: Path, process: Script) -> tuple[str, str]:
    """Waits for the script's marker file; returns (run path, WAL path)."""
    wait_for(lambda: marker.exists() or process.poll() is not None, timeout=60,
             message="the script's marker file")
    assert process.poll() is None, f"the script ended early: {process.output()}"
    run_path, wal_path = marker.read_text().split("\n")
    return run_path, wal_path


# -- kill -9 / SIGTERM in the middle of a run ----------------------------------------------


def kill_and_wait(pid: int, signum: int, timeout: float = 30) -> None:
    os.kill(pid, signum)
    wait_for(lambda: not pid_alive(pid), timeout=timeout, message=f"service {pid} to exit")


def test_sigkill_of_the_service_mid_run_loses_and_duplicates_nothing(home: Home) -> None:
    """kill -9 of the service after 5,000 of 10,000 logged steps: the run finishes with exactly steps 0..9999."""
    marker, go = home.workdir / "marker", home.workdir / "go"
    script = home.spawn(PAUSING_SCRIPT, str(marker), str(go), "5000", "10000")
    run_path, _ = wait_marker(marker, script)
    old_pid = home.pid()
    assert old_pid is not None and pid_alive(old_pid)
    kill_and_wait(old_pid, signal.SIGKILL)
    go.touch()
    code, stdout, stderr = script.output()
    new_pid = home.pid()
    assert new_pid is not None and new_pid != old_pid and pid_alive(new_pid)
    assert_exact_history(home, run_path, 10_000)
    assert_clean_exit(code, stdout, stderr)
    assert f"DONE {run_path}" in stdout


ACKED_THEN_KILLED_SCRIPT = """
    import os, signal, sys, time
    from pathlib import Path
    import psutil
    import mytrack
    from mytrack_common.address import service_address

    marker = Path(sys.argv[1])
    run = mytrack.init(project="durability", settings=mytrack.Settings(quiet=True))
    marker.write_text(run.path)
    for step in range(20_000):
        run.log({"i": step})
    assert run._sender.flush(60)
    status = run._client.status(writer_id=run._writer_id)
    # Usually nothing is applied yet here: the kill hits acked, unapplied records.
    print("ACKED", status.writer_acked_seq, "APPLIED", status.writer_applied_seq, flush=True)
    pid = int(Path(service_address(os.environ["MYTRACK_DIR"]).pid).read_text())
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "the service did not die"
        time.sleep(0.005)
    print("KILLED", pid, flush=True)
    run.finish()
    print("DONE", run.path)
"""


def test_sigkill_after_acks_before_apply_replays_the_wal_exactly_once(home: Home) -> None:
    """Records acked (fsync'ed in the WAL) but possibly not applied when the service is killed are applied exactly once
    by the next service."""
    marker = home.workdir / "marker"
    code, stdout, stderr = home.spawn(ACKED_THEN_KILLED_SCRIPT, str(marker)).output()
    assert "KILLED" in stdout, stderr
    killed = int(stdout.split("KILLED ")[1].split()[0])
    assert home.pid() not in (None, killed)
    assert_exact_history(home, marker.read_text(), 20_000)
    assert_clean_exit(code, stdout, stderr)


def test_finish_returns_normally_after_the_service_was_restarted(home: Home) -> None:
    """finish() after the sender reconnected to a restarted service returns without raising."""
    marker = home.workdir / "marker"
    code, stdout, stderr = home.spawn(ACKED_THEN_KILLED_SCRIPT, str(marker)).output()
    assert code == 0, stderr
    assert "Traceback" not in stderr


# With the default 30 s, a slow reconnect would cost the suite half a minute.
RECONNECT_TIMEOUT_ENV = {"MYTRACK_INIT_TIMEOUT": "6"}


def test_sigterm_of_the_service_mid_run_reconnects_and_keeps_everything(home: Home) -> None:
    """SIGTERM stops the service gracefully mid-run; the client reconnects to a new service promptly and the run
    finishes with every step."""
    home.env.update(RECONNECT_TIMEOUT_ENV)
    marker, go = home.workdir / "marker", home.workdir / "go"
    script = home.spawn(PAUSING_SCRIPT, str(marker), str(go), "3000", "6000")
    run_path, _ = wait_marker(marker, script)
    old_pid = home.pid()
    assert old_pid is not None and pid_alive(old_pid)
    kill_and_wait(old_pid, signal.SIGTERM)
    log = Path(service_address(str(home.path)).log).read_text()
    assert f"starting pid={old_pid}" in log
    assert "stopping: draining streams" in log
    go.touch()
    started = time.monotonic()
    code, stdout, stderr = script.output()
    took = time.monotonic() - started
    new_pid = home.pid()
    assert new_pid is not None and new_pid != old_pid and pid_alive(new_pid)
    assert_exact_history(home, run_path, 6_000)
    assert took < 5, f"reconnecting after a graceful stop took {took:.1f}s"
    assert_clean_exit(code, stdout, stderr)
    assert f"DONE {run_path}" in stdout


def test_torn_tail_of_a_live_run_wal_is_cut_and_the_rest_applied(home: Home) -> None:
    """After kill -9, a torn entry appended to a run's WAL is cut by the next service and every real record is applied
    once."""
    marker, go = home.workdir / "marker", home.workdir / "go"
    script = home.spawn(PAUSING_SCRIPT, str(marker), str(go), "2000", "4000", "flush")
    run_path, wal_path = wait_marker(marker, script)
    old_pid = home.pid()
    assert old_pid is not None
    kill_and_wait(old_pid, signal.SIGKILL)
    valid = [e.payload for e in wal.read_entries(wal_path)]
    assert valid and wal.valid_end(wal_path)[0] == os.path.getsize(wal_path)
    # A torn write: the header of a 1,000-byte entry and 10 bytes of its payload.
    with open(wal_path, "ab") as f:
        f.write(wal.encode_entry(b"x" * 1000)[:18])
    go.touch()
    code, stdout, stderr = script.output()
    entries = [e.payload for e in wal.read_entries(wal_path)]
    assert entries[: len(valid)] == valid
    assert len(entries) > len(valid)  # the records logged after the kill follow the cut
    assert wal.valid_end(wal_path)[0] == os.path.getsize(wal_path)
    assert_exact_history(home, run_path, 4_000)
    assert_clean_exit(code, stdout, stderr)


# -- the WAL framing itself ------------------------------------------------------------------

PAYLOADS = [b"first", b"", b"\x00" * 300, bytes(range(256)), b"last entry"]


def _torn_partial_header(data: bytes) -> bytes:
    return data[:5]


def _torn_partial_payload(data: bytes) -> bytes:
    return data[:-3]


def _torn_bad_crc(data: bytes) -> bytes:
    return data[:4] + bytes([data[4] ^ 0xFF]) + data[5:]


def _torn_garbage(data: bytes) -> bytes:
    return b"\xde\xad\xbe\xef garbage that is not an entry"


def _torn_huge_length(data: bytes) -> bytes:
    return (wal.MAX_ENTRY_BYTES + 1).to_bytes(4, "little") + data[4:]


@pytest.mark.parametrize(
    "tear",
    [_torn_partial_header, _torn_partial_payload, _torn_bad_crc, _torn_garbage, _torn_huge_length],
    ids=["partial-header", "partial-payload", "bad-crc", "garbage", "huge-length"],
)
def test_torn_wal_tail_is_ignored_by_readers_and_cut_by_the_writer(tmp_path: Path, tear) -> None:
    """read_entries returns exactly the valid entries before a torn tail, and reopening WalWriter truncates the file to
    their end."""
    path = str(tmp_path / "run.wal")
    writer = wal.WalWriter(path)
    writer.append(PAYLOADS[:2])
    size = writer.append(PAYLOADS[2:])
    writer.close()
    assert os.path.getsize(path) == size
    expected_end = len(wal.MAGIC) + sum(8 + len(p) for p in PAYLOADS)
    assert size == expected_end
    with open(path, "ab") as f:
        f.write(tear(wal.encode_entry(b"the entry that was being written")))
    assert os.path.getsize(path) > expected_end

    entries = list(wal.read_entries(path))
    assert [e.payload for e in entries] == PAYLOADS
    assert entries[-1].end == expected_end
    assert wal.valid_end(path) == (expected_end, PAYLOADS[-1])

    reopened = wal.WalWriter(path)
    assert os.path.getsize(path) == expected_end
    assert reopened.size == expected_end
    assert reopened.last_payload == PAYLOADS[-1]
    reopened.append([b"after the cut"])
    reopened.close()
    assert [e.payload for e in wal.read_entries(path)] == [*PAYLOADS, b"after the cut"]


def test_wal_read_from_an_offset_and_with_a_limit(tmp_path: Path) -> None:
    """read_entries resumes from an entry's end offset and stops after `limit` entries."""
    path = str(tmp_path / "run.wal")
    writer = wal.WalWriter(path)
    writer.append(PAYLOADS)
    writer.close()
    entries = list(wal.read_entries(path))
    assert [e.payload for e in wal.read_entries(path, start=entries[1].end)] == PAYLOADS[2:]
    assert [e.payload for e in wal.read_entries(path, limit=2)] == PAYLOADS[:2]
    assert [e.offset for e in entries[1:]] == [e.end for e in entries[:-1]]


def test_a_file_without_the_magic_is_refused(tmp_path: Path) -> None:
    """A file that does not start with the WAL magic raises WalFormatError instead of being misread."""
    path = tmp_path / "not.wal"
    path.write_bytes(b"NOTAWAL!" + wal.encode_entry(b"payload"))
    with pytest.raises(wal.WalFormatError):
        list(wal.read_entries(str(path)))
