"""A record the service cannot apply is quarantined: kept aside, reported, skipped; the run goes on.

The SDK refuses such records at the call, so these tests put them on the wire
past its checks (as an older SDK or another client could), then check that
every record before and after the bad one is in the store, that the run
finishes, and that the bad record is reported and kept beside the WAL.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack import errors
from mytrack._internal.transport import encode
from mytrack._internal.transport.launcher import connect
from mytrack_service.apply.applier import Applier, _refused_value
from mytrack_service.ingest.live_runs import LiveRuns, OpenRequest, WriterSession
from mytrack_service.store.base import Batch, RunKey, StoreError
from mytrack_service.store.memory import MemoryStore

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


def test_issue_reproduction_lone_surrogate_key_is_refused_at_the_call(project: str) -> None:
    """``run.log({"\\udcff": 1})`` raises InvalidKeyError naming UTF-8; the rows around
    it are applied, and the run finishes (it used to stay running with 0 rows)."""
    run = mytrack.init(project=project, settings=QUIET)
    run.log({"good": 0})
    with pytest.raises(errors.InvalidKeyError, match="UTF-8"):
        run.log({"\udcff": 1})
    with pytest.raises(errors.InvalidValueError, match="UTF-8"):
        run.log({"text": "a\ud800b"})
    with pytest.raises(errors.InvalidKeyError, match="UTF-8"):
        run.config["\udcff"] = 1
    with pytest.raises(errors.InvalidValueError, match="UTF-8"):
        run.summary["s"] = "\udcff"
    with pytest.raises(errors.InvalidValueError, match="UTF-8"):
        run.tags = ("ok", "\udcff")
    with pytest.raises(errors.InvalidValueError, match="UTF-8"):
        run.name = "\udcff"
    run.log({"good": 1})
    run.finish()

    assert _rows(run.path) == [{"good": 0, "_step": 0}, {"good": 1, "_step": 1}]
    api_run = mytrack.Api().run(run.path)
    assert api_run.state == "finished" and "quarantined_count" not in api_run.metadata


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
    status = client.status()
    assert "quarantined" in status.last_error  # the service's status: the latest of any run
    key = RunKey(entity=run.entity, project=run.project, run_id=run.id)
    mine = client.status(key)
    assert "this run" in mine.last_error and "quarantined" in mine.last_error
    other = RunKey(entity=run.entity, project=run.project, run_id="someotherrun")
    theirs = client.status(other)
    assert "quarantined" not in theirs.last_error  # another run's status is not this one's


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


class _PoisonedStore(MemoryStore):
    """Refuses, like a store that cannot encode a value, any batch that holds "poison"
    anywhere (rows, or the run's fields, where the assembly's snapshot keeps a pending row)."""

    def write_batch(self, batch: Batch) -> int:
        if "poison" in repr(batch):
            raise ValueError("the store cannot take this value")
        return super().write_batch(batch)


def _open_writer(live_runs: LiveRuns, tmp_path: Path) -> WriterSession:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    live_runs.open_run(OpenRequest(
        key=RunKey("e", "p", "r1"), writer_id="0123456789abcdef", name="n", group="", job_type="",
        tags=[], notes="", config={}, resume="", run_dir=str(run_dir), start_time=time.time(),
        pid=os.getpid(), host=socket.gethostname(), sweep_id="",
    ))
    writer = live_runs.writer("0123456789abcdef")
    assert writer is not None
    return writer


def test_a_batch_the_store_refuses_is_applied_record_by_record_and_the_bad_record_quarantined(
    tmp_path: Path,
) -> None:
    """The store's refusal cannot name its record: the applier goes one record per
    batch, pins the bad one, quarantines it, and applies all the others."""
    live_runs = LiveRuns(_PoisonedStore(), str(tmp_path))
    writer = _open_writer(live_runs, tmp_path)
    key, run_dir = writer.key, tmp_path / "run"
    values: list[Any] = [0, 1, "poison", 3, 4]
    records = [encode.log_batch(seq, [({"x": v}, step, None, time.time())])
               for seq, (step, v) in enumerate(enumerate(values), 1)]
    live_runs.append(writer, 1, records)
    applier = Applier(live_runs)
    deadline = time.monotonic() + 10
    while writer.applied_seq < len(values) and time.monotonic() < deadline:
        try:
            applier.cycle()
        except ValueError:
            pass  # the first, whole batch: refused, then applied record by record

    rows = list(live_runs.store.read_history(key))
    # Step 4 stays the pending row (no later step or exit commits it): all else is applied.
    assert writer.applied_seq == len(values)
    assert [(row["_step"], row["x"]) for row in rows] == [(0, 0), (1, 1), (3, 3)]
    run = live_runs.store.get_run(key)
    assert run is not None and run.metadata["quarantined_count"] == 1
    assert "store refused" in run.metadata["quarantined_records"][0]["error"]
    [kept] = list(run_dir.glob("*.wal.quarantine"))
    assert b"poison" in base64.b64decode(json.loads(kept.read_text())["payload"])


class _BrokenStore(MemoryStore):
    """Refuses every batch with rows: the fault is the store's, not a record's."""

    def write_batch(self, batch: Batch) -> int:
        if batch.rows:
            raise ValueError("the store is broken")
        return super().write_batch(batch)


def test_a_store_that_refuses_every_record_is_retried_not_used_to_quarantine_the_run(
    tmp_path: Path,
) -> None:
    """After a few refused records in a row the applier stops quarantining: the rest stay
    in the WAL, unapplied, to be retried once the store takes them."""
    live_runs = LiveRuns(_BrokenStore(), str(tmp_path))
    writer = _open_writer(live_runs, tmp_path)
    live_runs.append(writer, 1, [encode.log_batch(seq, [({"x": seq}, seq, None, time.time())])
                                 for seq in range(1, 11)])
    applier = Applier(live_runs)
    for _ in range(40):
        try:
            applier.cycle()
        except ValueError:
            pass
    assert applier.quarantine.count == 3
    assert writer.applied_seq == 1  # the first record (no row yet) is all that committed
    assert "refuses every record" in applier.last_error


def test_a_quarantined_artifact_call_answers_its_caller_with_the_failure_at_once(project: str) -> None:
    """An artifact record the service cannot apply fails the SDK's wait with the reason,
    instead of leaving it to wait out its timeout."""
    run = mytrack.init(project=project, settings=QUIET)
    calls = run._artifact_calls("log_artifact()")
    # Past the SDK's checks: an action the service cannot take (its data is malformed).
    client_id = calls._send("log", {"type": "t", "entries": []})  # no name: a KeyError
    started = time.monotonic()
    with pytest.raises(errors.ArtifactError, match="could not apply"):
        result = calls._outcome(client_id, timeout=30)
        if not result.get("ok"):
            raise errors.ArtifactError(str(result.get("error")))
    assert time.monotonic() - started < 10
    run.log({"good": 0})
    run.finish()
    assert mytrack.Api().run(run.path).state == "finished"


def _chained(error: BaseException) -> StoreError:
    try:
        try:
            raise error
        except BaseException as exc:
            raise StoreError("write_batch failed") from exc
    except StoreError as store_error:
        return store_error


def test_store_errors_that_refuse_a_value_are_told_from_outages() -> None:
    """A refused value (DB-API DataError, an encoding or type error) is pinned and
    quarantined; an outage (locked, unreachable, disk) is retried, never quarantined."""

    class DataError(Exception):  # psycopg's and sqlite3's name for it (PEP 249)
        pass

    assert _refused_value(_chained(DataError("PostgreSQL text fields cannot contain NUL")))
    assert _refused_value(_chained(UnicodeEncodeError("utf-8", "\udcff", 0, 1, "surrogates")))
    assert _refused_value(_chained(TypeError("not JSON serializable")))
    assert not _refused_value(_chained(sqlite3.OperationalError("database is locked")))
    assert not _refused_value(_chained(ConnectionRefusedError("connection refused")))
    assert not _refused_value(StoreError("no run e/p/r"))


def test_a_nul_in_a_key_is_refused_at_the_call_and_in_a_value_kept(project: str) -> None:
    """PostgreSQL cannot keep NUL in a name: a key with one raises; a value keeps it."""
    run = mytrack.init(project=project, settings=QUIET)
    with pytest.raises(errors.InvalidKeyError, match="NUL"):
        run.log({"a\x00b": 1})
    with pytest.raises(errors.InvalidKeyError, match="NUL"):
        run.config["c\x00"] = 1
    run.log({"text": "a\x00b"})
    run.finish()
    assert _rows(run.path) == [{"text": "a\x00b", "_step": 0}]
