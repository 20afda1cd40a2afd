"""A full disk loses nothing: records wait in the training process (log()
blocks once its buffer is full), the user is told what is full and where, and
when space returns everything logged is written, applied and readable.

The disk is a size-limited tmpfs holding the service home (WALs, SQLite,
service.log) and the run folder, filled up with a ballast file mid-run. Mounting
needs root (as in CI); elsewhere the test is skipped and the unit tests of
test_wal.py (a write failing part-way, an fsync failing) cover the rollback.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import wait_for
from tests.e2e.test_durability import Home, assert_clean_exit, stop_home, wait_marker

STEPS = 2000
PAD = 1000  # bytes of text per step: STEPS * PAD is more than the client buffers

SCRIPT = """
    import os, sys, time
    from pathlib import Path
    import mytrack

    marker, go, steps, pad = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    run = mytrack.init(project="diskfull", dir=sys.argv[5],
                       settings=mytrack.Settings(quiet=True, max_queue_entries=200))
    run.log({"i": -1})
    assert run._sender.flush(30)
    marker.with_suffix(".tmp").write_text(run.path + "\\n-")
    os.replace(marker.with_suffix(".tmp"), marker)
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for i in range(steps):
        run.log({"i": i, "text": f"{i:08d}" + "x" * pad})
    print("LOGGED", flush=True)
    run.finish()
    print("CONFIRMED", run.status().confirmed)
    print("DONE", run.path)
"""


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 MiB tmpfs, unmounted at the end; skips where mounting is not permitted."""
    mount = tmp_path / "disk"
    mount.mkdir()
    try:
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mount)],
            capture_output=True, text=True, check=False, timeout=30,
        )
    except FileNotFoundError:
        pytest.skip("cannot mount a tmpfs here: no mount command")
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {result.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def _fill(path: Path) -> int:
    """Writes zeros to ``path`` until the disk is full; returns the bytes written."""
    written = 0
    chunk = b"\0" * (1 << 16)
    with open(path, "wb", buffering=0) as f:
        while True:
            try:
                written += f.write(chunk)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
                return written


def test_a_full_disk_loses_nothing_and_says_what_is_full(small_disk: Path, tmp_path: Path) -> None:
    """The disk of the WALs and the store fills up mid-run: log() waits, one warning names the folder and "no space
    left", and once space is freed every step is applied and finish() confirms the run."""
    # The script's output files stay off the small disk; its run folder is on it.
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = {
        **os.environ, "MYTRACK_DIR": str(small_disk / "home"), "MYTRACK_SERVICE_IDLE_TIMEOUT": "120",
        "MYTRACK_BUFFER_BYTES": str(1 << 20),
    }
    env.pop("MYTRACK_SILENT", None)
    home = Home(small_disk / "home", env, workdir)
    marker, go = tmp_path / "marker", tmp_path / "go"  # off the small disk
    try:
        script = home.spawn(SCRIPT, str(marker), str(go), str(STEPS), str(PAD), str(small_disk))
        run_path, _ = wait_marker(marker, script)
        ballast = small_disk / "ballast"
        assert _fill(ballast) > 0
        go.touch()
        wait_for(lambda: "no space left" in script.err.read_text().lower() or script.poll() is not None,
                 timeout=60, message="the disk-full warning")
        assert script.poll() is None, script.output()
        # log() is held back while nothing can be written: the script is still logging.
        assert "LOGGED" not in script.out.read_text()
        ballast.unlink()
        code, stdout, stderr = script.output(timeout=180)
        assert_clean_exit(code, stdout, stderr)
        assert "CONFIRMED True" in stdout
        warnings = [line for line in stderr.splitlines() if "no space left" in line.lower()]
        assert len(warnings) == 1, stderr
        assert str(small_disk) in warnings[0]
        run = home.api().run(run_path)
        assert run.state == "finished"
        assert [r["i"] for r in run.scan_history(keys=["i"])] == [-1, *range(STEPS)]
        rows = list(run.scan_history(keys=["i", "text"]))  # the rows holding both keys
        assert [r["text"] for r in rows] == [f"{i:08d}" + "x" * PAD for i in range(STEPS)]
    finally:
        stop_home(home.path)
        log = home.path / "service.log"
        if log.exists():  # kept off the tmpfs, for a failure's post-mortem
            (tmp_path / "service.log").write_bytes(log.read_bytes())
