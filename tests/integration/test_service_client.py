"""The typed service client against the real service: plain values back, mytrack errors only."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import mytrack
from mytrack._internal.transport import launcher
from mytrack._internal.transport.client import ServiceClient
from mytrack._internal.transport.service_types import RunInfo, RunKey, ServiceStatus, SyncResult
from mytrack.errors import CommError, RunNotFoundError

QUIET = mytrack.Settings(quiet=True)


@pytest.fixture
def client(workdir: Path) -> Iterator[ServiceClient]:
    """A client of the session's service, closed after the test."""
    opened = launcher.connect(os.environ["MYTRACK_DIR"], timeout=30.0)
    yield opened
    opened.close()


def test_typed_calls_return_plain_values_of_a_finished_run(client: ServiceClient, project: str) -> None:
    """get_run, sync, status, list_runs, scan_history and list_files answer with dataclasses and bytes."""
    with mytrack.init(project=project, config={"lr": 0.5}, settings=QUIET) as run:
        for step in range(3):
            run.log({"loss": 1.0 / (step + 1)})
        run.summary["best"] = 7
        key = RunKey(run.entity, project, run.id)
    assert run._sender is not None
    writer_id, last_seq = run._writer_id, run._sender.last_seq
    assert last_seq >= 3  # at least a log batch, the summary change and the exit record

    info = client.get_run(key)
    assert isinstance(info, RunInfo) and info.key == key
    assert info.state == "finished"
    assert json.loads(info.config_json) == {"lr": 0.5}
    assert json.loads(info.summary_json)["best"] == 7

    synced = client.sync(key, writer_id, last_seq, timeout=5.0)
    assert isinstance(synced, SyncResult)
    assert (synced.timed_out, synced.history_rows, synced.run.key) == (False, 3, key)

    status = client.status(key, timeout=10)
    assert isinstance(status, ServiceStatus) and status.pid > 0
    assert status.files_pending == 0

    assert key in [found.key for found in client.list_runs(run.entity, project)]
    assert [found.key for found in client.list_runs(run.entity, project, {"state": "running"})] == []

    rows = [row for page in client.scan_history(key, keys=["loss"]) for row in json.loads(page)]
    assert [(row["_step"], row["loss"]) for row in rows] == [(0, 1.0), (1, 0.5), (2, 1.0 / 3)]

    names = {f.name for f in client.list_files(key)}
    assert "requirements.txt" in names


def test_unknown_run_and_closed_channel_raise_mytrack_errors(client: ServiceClient, project: str) -> None:
    """A missing run is RunNotFoundError and a closed client CommError, never a grpc exception."""
    missing = RunKey("nobody", project, "nosuchrun")
    with pytest.raises(RunNotFoundError):
        client.get_run(missing)
    with pytest.raises(RunNotFoundError):
        list(client.scan_history(missing))
    client.close()
    with pytest.raises(CommError, match="closed"):
        client.get_run(missing)
