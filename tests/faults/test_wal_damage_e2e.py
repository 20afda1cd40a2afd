"""WAL damage through the real service: a flipped byte in the middle of a
closed run's WAL costs that one record, and is reported everywhere."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mytrack_common import wal
from mytrack_common.address import service_address
from mytrack_service.apply.decode import LogCall, LogColumns, decode
from tests.e2e.test_durability import Home, assert_clean_exit, stop_home

STEPS = 60

# Each step flushed on its own, so that each is one record (one WAL entry).
SCRIPT = """
    import os, sys
    import mytrack

    run = mytrack.init(project="damage", settings=mytrack.Settings(quiet=True))
    for i in range(int(sys.argv[1])):
        run.log({"i": i})
        assert run._sender.flush(30)
    run.finish()
    print(run.path)
    print(os.path.dirname(run.dir))  # run.dir is the run folder's files/
"""


def _logged_values(payload: bytes) -> list[int]:
    """The "i" values of the log calls in one WAL entry."""
    values = []
    for event in decode(payload)[1]:
        calls = event.calls() if isinstance(event, LogColumns) else [event]
        values += [int(c.data["i"]) for c in calls if isinstance(c, LogCall) and "i" in c.data]
    return values


def test_flipped_byte_in_a_closed_runs_wal_costs_one_record_and_is_reported(
    home: Home, tmp_path: Path
) -> None:
    """A byte flipped in a middle entry of a finished run's WAL, then applied by a service with a fresh store (mytrack
    sync): every other step is applied, and the damage is in service.log, status, the run's metadata and a kept-
    aside file."""
    script = home.spawn(SCRIPT, str(STEPS))
    code, stdout, stderr = script.output()
    assert_clean_exit(code, stdout, stderr)
    run_path, run_dir = stdout.split()[-2:]
    stop_home(home.path)
    (wal_path,) = Path(run_dir).glob("run-*.wal")
    entries = list(wal.read_entries(str(wal_path)))
    logs = [(e, _logged_values(e.payload)) for e in entries]
    logs = [(e, values) for e, values in logs if values]
    damaged, lost = logs[len(logs) // 2]
    data = bytearray(wal_path.read_bytes())
    data[(damaged.offset + damaged.end) // 2] ^= 0x40
    wal_path.write_bytes(bytes(data))

    # A second service with its own store applies the WAL as it stands now.
    fresh = tmp_path / "home2"
    env = {**home.env, "MYTRACK_DIR": str(fresh)}
    try:
        result = subprocess.run(
            [sys.executable, "-c", "from mytrack.cli import main; raise SystemExit(main())",
             "sync", run_dir],
            env=env, capture_output=True, text=True, timeout=120, cwd=home.workdir,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        status = subprocess.run(
            [sys.executable, "-m", "mytrack_service", "--home", str(fresh), "status", "--json"],
            env=env, capture_output=True, text=True, timeout=60,
        )
        import mytrack

        api = mytrack.Api(settings=mytrack.Settings(service_dir=str(fresh)))
        run = api.run(run_path)
        values = [row["i"] for row in run.scan_history(keys=["i"])]
    finally:
        stop_home(fresh)
    assert values == [i for i in range(STEPS) if i not in lost]
    assert len(lost) >= 1
    reports = run.metadata["wal_damage"]
    assert [(r["offset"], r["end"]) for r in reports] == [(damaged.offset, damaged.end)]
    kept = Path(reports[0]["kept"])
    assert kept.read_bytes() == bytes(data[damaged.offset:damaged.end])
    assert "WAL damage" in json.loads(status.stdout)["last_error"]
    log = Path(service_address(str(fresh)).log).read_text()
    assert f"bytes {damaged.offset}..{damaged.end} of {wal_path}" in log
    assert os.path.exists(wal_path)  # never deleted
