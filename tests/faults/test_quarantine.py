"""A record the service cannot apply is quarantined: kept aside, reported, skipped; the run goes on.

The SDK refuses such records at the call, so these tests put them on the wire
past its checks (as an older SDK or another client could), then check that
every record before and after the bad one is in the store, that the run
finishes, and that the bad record is reported and kept beside the WAL.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack._internal.transport import encode
from mytrack._internal.transport.launcher import connect
from mytrack_proto import mytrack_pb2 as pb

QUIET = mytrack.Settings(quiet=True)


@pytest.fixture(autouse=True)
def _no_current_run(workdir: Path) -> Iterator[None]:
    mytrack.finish()
    yield
    mytrack.finish()


def _rows(path: str) -> list[dict[str, Any]]:
    rows = mytrack.Api().run(path).scan_history()
    return [{k: v for k, v in row.items() if not k.startswith("_") or k == "_step"} for row in rows]


def _quarantine_files(run: mytrack.Run) -> list[Path]:
    folder = Path(run.dir)
    while not list(folder.glob(f"run-{run.id}-*.wal")) and folder != folder.parent:
        folder = folder.parent
    return sorted(folder.glob(f"run-{run.id}-*.wal.quarantine"))


def test_lone_surrogate_summary_record_is_quarantined_and_later_records_applied(project: str) -> None:
    """A JSON record holding a lone surrogate (which the store cannot encode) is
    skipped; the rows before and after it and the run's end are applied."""
    run = mytrack.init(project=project, settings=QUIET)
    run.log({"good": 0})
    # Past the SDK's check: the JSON escapes the surrogate, so the wire takes it.
    run._enqueue(encode.summary_record({"\udcff": 1}))
    run.log({"good": 1})
    run.summary["after"] = "yes"
    run.finish()

    assert _rows(run.path) == [{"good": 0, "_step": 0}, {"good": 1, "_step": 1}]
    api_run = mytrack.Api().run(run.path)
    assert api_run.state == "finished"
    assert api_run.summary["after"] == "yes"
    assert api_run.metadata["quarantined_count"] == 1
    [listed] = api_run.metadata["quarantined_records"]
    assert "not valid Unicode" in listed["error"]


def test_quarantined_record_is_kept_with_its_bytes_and_reported_in_status(project: str) -> None:
    """The bad record's bytes and error are in ``<wal>.quarantine``, and status names it."""
    run = mytrack.init(project=project, settings=QUIET)
    run._enqueue(encode.config_record({"k\udcffk": 1}))
    run.log({"good": 0})
    run.finish()

    assert _rows(run.path) == [{"good": 0, "_step": 0}]
    [kept] = _quarantine_files(run)  # beside the writer's WAL, in the run folder
    assert kept.name.endswith(".wal.quarantine") and kept.stat().st_mode & 0o077 == 0
    [entry] = [json.loads(line) for line in kept.read_text().splitlines()]
    assert b"k\\udcffk" in base64.b64decode(entry["payload"])
    assert "not valid Unicode" in entry["error"]
    home = Path(mytrack.Settings().resolve().service_dir or "")
    client = connect(str(home), timeout=30)
    status: pb.StatusResponse = client.call("Status", pb.StatusRequest())
    assert "quarantined" in status.last_error


def test_record_the_assembly_fails_on_is_quarantined_and_the_batch_redone(project: str) -> None:
    """A record whose handling raises (here a define_metric of a malformed
    definition) is skipped; the rows logged in the same batch around it are kept."""
    run = mytrack.init(project=project, settings=QUIET)
    run.log({"good": 0})
    run._enqueue(encode.metric_record({"summary": "max"}))  # no name: a KeyError
    run.log({"good": 1})
    run.finish()

    assert _rows(run.path) == [{"good": 0, "_step": 0}, {"good": 1, "_step": 1}]
    api_run = mytrack.Api().run(run.path)
    assert api_run.state == "finished"
    assert api_run.metadata["quarantined_count"] == 1
    assert "cannot apply" in api_run.metadata["quarantined_records"][0]["error"]
