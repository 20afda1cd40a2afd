"""A full disk under the service, without mounting one: the WAL append and the
store write fail as they do on a full disk (ENOSPC, SQLite's "database or disk is
full"); nothing is acknowledged that was not written, nothing applied is skipped
or doubled, and each problem is reported once. Runs everywhere (no root needed);
test_disk_full.py does the same end to end on a real full tmpfs."""

from __future__ import annotations

import errno
import json
import logging
import os
import time
from pathlib import Path

import pytest

from mytrack_common import wal
from mytrack_proto import mytrack_pb2 as pb
from mytrack_service.apply.applier import Applier
from mytrack_service.ingest.live_runs import IngestError, LiveRuns, OpenRequest
from mytrack_service.store.base import Batch, RunKey, StoreError
from mytrack_service.store.memory import MemoryStore
from tests.conftest import wait_for

KEY = RunKey("me", "full", "run1")


class FullStore(MemoryStore):
    """A store whose batch writes fail, as SQLite's do on a full disk, while ``full``."""

    def __init__(self) -> None:
        super().__init__()
        self.full = False
        self.refused = 0

    def write_batch(self, batch: Batch) -> int:
        if self.full:
            self.refused += 1
            raise StoreError("write_batch failed on sqlite:///x.db: database or disk is full")
        return super().write_batch(batch)


def _records(first: int, count: int) -> list[bytes]:
    return [
        pb.Record(seq=seq, log=pb.LogBatch(
            json=json.dumps([[{"i": seq}, None, None, time.time()]]).encode(), count=1,
        )).SerializeToString()
        for seq in range(first, first + count)
    ]


def _open(tmp_path: Path, store: MemoryStore) -> LiveRuns:
    live = LiveRuns(store, str(tmp_path / "home"))
    live.open_run(OpenRequest(
        key=KEY, writer_id="w1", name="", group="", job_type="", tags=[], notes="", config={},
        resume="allow", run_dir=str(tmp_path), start_time=time.time(), pid=os.getpid(),
        host="here", sweep_id="",
    ))
    return live


def test_a_wal_append_on_a_full_disk_is_refused_rolled_back_and_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """ENOSPC part-way through a batch: the append is refused (code "full", naming the folder), nothing is acked and
    the WAL keeps only what it held, the service logs it once and status shows it; the same batch sent again once
    space returns is written and acked."""
    live = _open(tmp_path, MemoryStore())
    writer = live.writer("w1")
    assert writer is not None
    assert live.append(writer, 1, _records(1, 5)) == 5
    size = os.path.getsize(writer.wal_path)
    real_write = wal.os.write

    def half_then_full(fd: int, data: bytes | memoryview) -> int:
        if len(data) > 64:
            return real_write(fd, bytes(data)[:64])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(wal.os, "write", half_then_full)
    caplog.set_level(logging.ERROR, logger="mytrack_service.ingest")
    for _ in range(3):  # the client resends while the disk is full
        with pytest.raises(IngestError) as refused:
            live.append(writer, 6, _records(6, 5))
        assert refused.value.code == "full"
        assert "no space left on device in " + str(tmp_path) in str(refused.value)
        assert writer.max_seq == 5 and os.path.getsize(writer.wal_path) == size
    assert live.write_error == str(refused.value)  # what status shows
    assert len([r for r in caplog.records if "no space left" in r.getMessage()]) == 1
    monkeypatch.setattr(wal.os, "write", real_write)
    assert live.append(writer, 6, _records(6, 5)) == 10
    assert live.write_error == ""
    seqs = [pb.Record.FromString(e.payload).seq for e in wal.read_entries(writer.wal_path)]
    assert seqs == list(range(1, 11))
    live.close()


def test_a_full_store_is_retried_without_losing_or_doubling_and_reported_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """While the store is full the applier retries the same records (nothing applied, the error in last_error and
    logged once); once it has room every record is applied exactly once, in order."""
    store = FullStore()
    live = _open(tmp_path, store)
    writer = live.writer("w1")
    assert writer is not None
    applier = Applier(live)
    store.full = True
    caplog.set_level(logging.WARNING, logger="mytrack_service.apply.applier")
    applier.start()
    try:
        live.append(writer, 1, _records(1, 30))
        wait_for(lambda: store.refused >= 3, timeout=30, message="the applier to retry")
        assert "database or disk is full" in applier.last_error
        assert store.count_history(KEY) == 0
        live.append(writer, 31, _records(31, 30))
        store.full = False
        assert live.wait_applied("w1", 60, timeout=30)
    finally:
        applier.stop()
        live.close()
    assert [row["i"] for row in store.read_history(KEY, keys=["i"])] == list(range(1, 61))
    assert applier.last_error == ""
    full = [r for r in caplog.records if "database or disk is full" in r.getMessage()]
    assert len(full) == 1
