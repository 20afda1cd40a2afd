"""A bad log() call inside a LogBatch record is quarantined alone: the good calls sent
in the same record are applied, the bad ones kept aside with a message naming the call.

The SDK sends the calls made within a few milliseconds as one record, so a
record-wide quarantine used to throw good calls away with a bad one. These
tests put batches past the SDK's checks (as an older SDK or another client
could): hypothesis mixes bad calls into a batch of good ones, the applier runs
on a real WAL and the in-memory store, and a real service checks the same
end to end.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mytrack
from mytrack._internal.transport import encode
from mytrack._internal.transport.launcher import connect
from mytrack_service.apply.applier import Applier
from mytrack_service.apply.assembly import RunAssembly
from mytrack_service.apply.decode import LogCall
from mytrack_service.ingest.live_runs import LiveRuns, OpenRequest, WriterSession
from mytrack_service.store.base import RunKey
from mytrack_service.store.memory import MemoryStore

QUIET = mytrack.Settings(quiet=True)
WRITER = "0123456789abcdef"

SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
BAD_TEXT = st.builds(lambda a, s, b: a + s + b, st.text(max_size=3), SURROGATE, st.text(max_size=3))
NUL_KEY = st.builds(lambda a, b: f"{a}\x00{b}", st.text(max_size=3), st.text(max_size=3))
GOOD_VALUE = st.one_of(st.integers(-1000, 1000), st.text(max_size=5), st.booleans())
# One call past the SDK's checks, as (data, step, commit, timestamp): each is refused.
BAD_CALLS = st.one_of(
    st.builds(lambda k, v: ({k: v}, None, None, 1.0), BAD_TEXT, GOOD_VALUE),  # key: lone surrogate
    st.builds(lambda v: ({"s": v}, None, None, 1.0), BAD_TEXT),  # value: lone surrogate
    st.builds(lambda v: ({"n": {"deep": [v]}}, None, None, 1.0), BAD_TEXT),  # nested value
    st.builds(lambda k: ({"n": {k: 1}}, None, None, 1.0), st.one_of(BAD_TEXT, NUL_KEY)),  # nested key
    st.builds(lambda k: ({k: 1}, None, None, 1.0), NUL_KEY),  # NUL in a key
    st.builds(lambda d: (d, None, None, 1.0), st.one_of(st.integers(), st.text(), st.lists(st.integers()))),
    st.builds(lambda s: ({"x": 1}, s, None, 1.0), st.one_of(st.text(), st.floats(), st.booleans())),
    st.builds(lambda c: ({"x": 1}, None, c, 1.0), st.one_of(st.text(), st.integers(2))),
    st.builds(lambda t: ({"x": 1}, None, None, t), st.one_of(st.text(), st.none(), st.booleans())),
)


def _open_writer(live_runs: LiveRuns, run_dir: Path) -> WriterSession:
    run_dir.mkdir()
    live_runs.open_run(OpenRequest(
        key=RunKey("e", "p", "r1"), writer_id=WRITER, name="n", group="", job_type="",
        tags=[], notes="", config={}, resume="", run_dir=str(run_dir), start_time=time.time(),
        pid=os.getpid(), host=socket.gethostname(), sweep_id="",
    ))
    writer = live_runs.writer(WRITER)
    assert writer is not None
    return writer


def _apply_all(applier: Applier, writer: WriterSession, seq: int) -> None:
    deadline = time.monotonic() + 20
    while writer.applied_seq < seq:
        assert time.monotonic() < deadline, "the applier did not get through the batch"
        applier.cycle()


def _batch_with(bad: list[tuple[int, Any]], good: int) -> tuple[list[Any], list[int]]:
    """``good`` calls {"x": i} with each bad call inserted at its place; the bad calls' indexes."""
    entries: list[Any] = [({"x": i}, None, None, 1.0 + i) for i in range(good)]
    for place, call in sorted(bad, key=lambda item: item[0], reverse=True):
        entries.insert(min(place, len(entries)), call)
    return entries, [i for i, e in enumerate(entries) if not _is_good(e)]


def _is_good(entry: Any) -> bool:
    data = entry[0]
    return isinstance(data, dict) and list(data) == ["x"] and entry[1:3] == (None, None) \
        and isinstance(entry[3], float)


@settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(bad=st.lists(st.tuples(st.integers(0, 12), BAD_CALLS), min_size=1, max_size=4),
       good=st.integers(0, 10))
def test_bad_calls_in_a_batch_are_quarantined_alone_and_the_good_calls_applied(
    bad: list[tuple[int, Any]], good: int,
) -> None:
    """For any bad calls mixed into a batch, every good call of the record is a row, in
    order, and each bad call is in the run's metadata and the quarantine file by index."""
    entries, bad_indexes = _batch_with(bad, good)
    with tempfile.TemporaryDirectory() as tmp:
        live_runs = LiveRuns(MemoryStore(), tmp)
        writer = _open_writer(live_runs, Path(tmp) / "run")
        live_runs.append(writer, 1, [encode.log_batch(1, entries), encode.log_batch(2, [({"x": 99}, None, None, 9.0)])])
        applier = Applier(live_runs)
        _apply_all(applier, writer, 2)

        rows = list(live_runs.store.read_history(writer.key))
        assert [row["x"] for row in rows] == [*range(good), 99]
        run = live_runs.store.get_run(writer.key)
        assert run is not None and run.metadata["quarantined_count"] == len(bad_indexes)
        listed = run.metadata["quarantined_records"]
        assert [item["call"] for item in listed] == bad_indexes[-20:]
        assert all(f"log() call {item['call']} of the record" in item["error"] for item in listed)
        [kept] = (Path(tmp) / "run").glob("*.wal.quarantine")
        lines = [json.loads(line) for line in kept.read_text().splitlines()]
        assert [line["call"] for line in lines] == bad_indexes
        for line, index in zip(lines, bad_indexes, strict=True):
            # The call itself is kept, and it is the call that was refused.
            kept_call = json.loads(base64.b64decode(line["payload"]))
            assert json.dumps(kept_call) == json.dumps(list(entries[index]))


def test_a_call_the_assembly_fails_on_is_quarantined_alone_and_skipped_after_a_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A call whose handling raises is set aside by its index; the batch is redone without
    it, and a new applier (a restarted service) skips that call again, not the record."""
    original = RunAssembly._log

    def failing(self: RunAssembly, call: LogCall) -> None:
        if "boom" in call.data:
            raise RuntimeError("a bug in the assembly")
        original(self, call)

    monkeypatch.setattr(RunAssembly, "_log", failing)
    live_runs = LiveRuns(MemoryStore(), str(tmp_path))
    writer = _open_writer(live_runs, tmp_path / "run")
    calls: list[Any] = [({"x": 0}, None, None, 1.0), ({"boom": 1}, None, None, 2.0), ({"x": 2}, None, None, 3.0)]
    live_runs.append(writer, 1, [encode.log_batch(1, calls)])
    _apply_all(Applier(live_runs), writer, 1)

    assert [row["x"] for row in live_runs.store.read_history(writer.key)] == [0, 2]
    run = live_runs.store.get_run(writer.key)
    assert run is not None
    [listed] = run.metadata["quarantined_records"]
    assert listed["call"] == 1 and "RuntimeError: a bug in the assembly" in listed["error"]
    # A restarted service reads the quarantine file: the call, not the record, is skipped.
    fresh = Applier(live_runs)
    assert fresh.quarantine.calls(writer.wal_path, listed["offset"]) == {1}
    assert not fresh.quarantine.contains(writer.wal_path, listed["offset"])


@pytest.fixture
def _no_current_run(workdir: Path) -> Iterator[None]:
    mytrack.finish()
    yield
    mytrack.finish()


@pytest.mark.usefixtures("_no_current_run")
def test_a_real_service_applies_the_good_calls_of_a_batch_holding_bad_ones(project: str) -> None:
    """End to end: a batch of five calls, two of them bad, sent with the rows around it;
    the three good calls and the rows around them are read back, the run finishes, and
    the two bad calls are reported by index in the run's metadata and status."""
    run = mytrack.init(project=project, settings=QUIET)
    run.log({"x": -1})
    calls: list[Any] = [({"x": 0}, None, None, 1.0), ({"\udcff": 1}, None, None, 1.0), ({"x": 1}, None, None, 1.0),
                        ({"a\x00b": 1}, None, None, 1.0), ({"x": 2}, None, None, 1.0)]
    run._enqueue(encode.Control(lambda seq: encode.log_batch(seq, calls)))
    run.log({"x": 3})
    run.finish()

    api_run = mytrack.Api().run(run.path)
    assert [row["x"] for row in api_run.scan_history()] == [-1, 0, 1, 2, 3]
    assert api_run.state == "finished"
    assert api_run.metadata["quarantined_count"] == 2
    listed = api_run.metadata["quarantined_records"]
    assert [item["call"] for item in listed] == [1, 3]
    assert "not valid Unicode" in listed[0]["error"] and "NUL" in listed[1]["error"]
    home = Path(mytrack.Settings().resolve().service_dir or "")
    mine = connect(str(home), timeout=30).status(RunKey(run.entity, run.project, run.id))
    assert "log() call 3 of the record" in mine.last_error
