"""The `MetadataStore` contract, run against every store implementation.

Each entry of `STORE_FACTORIES` builds an empty store; add one to run the whole
suite against another backend. PostgreSQL runs on a fresh database per test,
from the ``postgres_db`` fixture (tests/pg_fixtures.py: the server that
``MYTRACK_TEST_POSTGRES`` names, or a throwaway one).
"""

from __future__ import annotations

import json
import math
import sqlite3
import struct
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mytrack_service.store.base import (
    Batch,
    ConsoleLine,
    FileRow,
    MetadataStore,
    ProjectRow,
    RunExistsError,
    RunKey,
    RunRow,
    StoreError,
    WriterPosition,
    WriterRow,
)
from mytrack_service.store.blocks import RowBlock, block_texts
from mytrack_service.store.chunks import CHUNK
from mytrack_service.store.memory import MemoryStore
from mytrack_service.store.migrations import LATEST
from mytrack_service.store.registry import default_store_uri, open_store
from mytrack_service.store.rows import encode_row
from mytrack_service.store.sql import SqlStore

StoreFactory = Callable[[Path, pytest.FixtureRequest], MetadataStore]
KEY = RunKey("alice", "mnist", "run00001")


def _memory(_tmp: Path, _request: pytest.FixtureRequest) -> MetadataStore:
    return MemoryStore()


def _sqlite(tmp: Path, _request: pytest.FixtureRequest) -> MetadataStore:
    return SqlStore(f"sqlite:///{tmp}/store.db")


def _postgres(_tmp: Path, request: pytest.FixtureRequest) -> MetadataStore:
    return open_store(request.getfixturevalue("postgres_db"))


STORE_FACTORIES: list[Any] = [
    pytest.param(_memory, id="memory"),
    pytest.param(_sqlite, id="sqlite"),
    pytest.param(_postgres, id="postgres"),
]


@pytest.fixture(params=STORE_FACTORIES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MetadataStore]:
    factory: StoreFactory = request.param
    opened = factory(tmp_path, request)
    yield opened
    opened.close()


@pytest.fixture
def run_store(store: MetadataStore) -> MetadataStore:
    store.create_run(RunRow(key=KEY, created_at=100.0, updated_at=100.0))
    return store


def write(store: MetadataStore, rows: dict[int, dict[str, Any]], key: RunKey = KEY) -> None:
    store.write_batch(Batch(key, [(step, {"_step": step, **row}) for step, row in rows.items()]))


def steps_of(rows: Any) -> list[int]:
    return [row["_step"] for row in rows]


# -- runs ---------------------------------------------------------------------


def test_create_and_get_run_round_trips_every_field(store: MetadataStore) -> None:
    """A created run comes back field for field, JSON fields included."""
    run = RunRow(
        key=KEY, name="brisk-owl-3", state="running", group="g", job_type="train",
        tags=["a", "b"], notes="n", config={"lr": 0.1, "opt": {"name": "adam"}, "bad": math.inf},
        summary={"loss": 0.5}, created_at=1.5, updated_at=2.5, heartbeat_at=3.5, runtime=4.5,
        last_step=7, exit_code=None, run_dir="/tmp/r", host="h", pid=4242, sweep_id="s",
        metadata={"gpu": "H100"}, service_state={"step": 8, "pending": {"x": 1}},
    )
    store.create_run(run)
    assert store.get_run(KEY) == run


def test_get_run_of_unknown_key_is_none(store: MetadataStore) -> None:
    """get_run answers None, not an error, for a run that does not exist."""
    assert store.get_run(KEY) is None


def test_create_run_twice_raises_run_exists(run_store: MetadataStore) -> None:
    """A second create_run for the same key raises RunExistsError and keeps the first."""
    with pytest.raises(RunExistsError):
        run_store.create_run(RunRow(key=KEY, name="other"))
    assert run_store.get_run(KEY).name == ""  # type: ignore[union-attr]


def test_update_run_sets_only_given_fields(run_store: MetadataStore) -> None:
    """update_run changes the named fields and leaves the others as they were."""
    run_store.update_run(KEY, {"state": "finished", "exit_code": 0, "summary": {"acc": 0.9}})
    run = run_store.get_run(KEY)
    assert run is not None
    assert (run.state, run.exit_code, run.summary) == ("finished", 0, {"acc": 0.9})
    assert (run.created_at, run.name, run.config) == (100.0, "", {})


def test_update_run_rejects_unknown_field_and_unknown_run(run_store: MetadataStore) -> None:
    """A field outside RUN_FIELDS is a ValueError; a missing run is a StoreError."""
    with pytest.raises(ValueError, match="created_at"):
        run_store.update_run(KEY, {"created_at": 5.0})
    with pytest.raises(StoreError):
        run_store.update_run(RunKey("alice", "mnist", "nope"), {"state": "failed"})


def test_list_runs_newest_first_and_filtered(store: MetadataStore) -> None:
    """list_runs orders by created_at descending (ties: later created first) and filters."""
    for run_id, project, created in [("a", "p1", 1.0), ("b", "p1", 3.0), ("c", "p2", 2.0), ("d", "p1", 2.0)]:
        store.create_run(RunRow(key=RunKey("e", project, run_id), created_at=created))
    store.create_run(RunRow(key=RunKey("f", "p1", "z"), created_at=9.0))
    assert [r.key.run_id for r in store.list_runs()] == ["z", "b", "d", "c", "a"]
    assert [r.key.run_id for r in store.list_runs("e", "p1")] == ["b", "d", "a"]
    assert [r.key.run_id for r in store.list_runs(entity="e")] == ["b", "d", "c", "a"]
    assert store.list_runs("nobody", "p1") == []


def test_list_projects_counts_runs_and_last_activity(store: MetadataStore) -> None:
    """list_projects gives each project's run count and latest updated_at, most recent first."""
    for run_id, project, updated in [("a", "p1", 5.0), ("b", "p1", 7.0), ("c", "p2", 9.0)]:
        store.create_run(RunRow(key=RunKey("e", project, run_id), updated_at=updated))
    assert store.list_projects() == [ProjectRow("e", "p2", 1, 9.0), ProjectRow("e", "p1", 2, 7.0)]


def test_project_activity_and_runs_updated_since(store: MetadataStore) -> None:
    """project_activity gives one project's count and latest updated_at; list_runs(updated_since) its changed runs."""
    for run_id, project, created, updated in [("a", "p1", 1.0, 5.0), ("b", "p1", 2.0, 7.0), ("c", "p2", 3.0, 9.0)]:
        store.create_run(RunRow(key=RunKey("e", project, run_id), created_at=created, updated_at=updated))
    assert store.project_activity("e", "p1") == ProjectRow("e", "p1", 2, 7.0)
    assert store.project_activity("e", "none") == ProjectRow("e", "none", 0, 0.0)
    assert [r.key.run_id for r in store.list_runs("e", "p1", updated_since=7.0)] == ["b"]
    assert [r.key.run_id for r in store.list_runs("e", "p1", updated_since=0.0)] == ["b", "a"]
    store.update_run(RunKey("e", "p1", "a"), {"updated_at": 8.0, "notes": "n"})
    assert [(r.key.run_id, r.notes) for r in store.list_runs("e", "p1", updated_since=7.5)] == [("a", "n")]
    assert store.project_activity("e", "p1").last_activity == 8.0


# -- writers ------------------------------------------------------------------


def test_writers_register_get_list_and_replace(run_store: MetadataStore) -> None:
    """register_writer inserts or replaces by writer_id; list_writers hides closed ones by default."""
    run_store.register_writer(WriterRow("w2", KEY, "/wal/2"))
    run_store.register_writer(WriterRow("w1", KEY, "/wal/1", applied_offset=5))
    run_store.register_writer(WriterRow("w1", KEY, "/wal/1b", applied_offset=9, closed=True))
    assert run_store.get_writer("w1") == WriterRow("w1", KEY, "/wal/1b", 9, 0, True)
    assert run_store.get_writer("nope") is None
    assert [w.writer_id for w in run_store.list_writers()] == ["w2"]
    assert [w.writer_id for w in run_store.list_writers(include_closed=True)] == ["w1", "w2"]


def test_write_batch_applies_positions_and_run_fields(run_store: MetadataStore) -> None:
    """write_batch records writer positions (closed too) and sets the run fields it carries."""
    run_store.register_writer(WriterRow("w1", KEY, "/wal/1"))
    run_store.register_writer(WriterRow("w2", KEY, "/wal/2"))
    run_store.write_batch(Batch(
        KEY, [(0, {"_step": 0, "x": 1})], {"last_step": 0, "service_state": {"step": 1}},
        [WriterPosition("w1", 128, 3), WriterPosition("w2", 64, 2, closed=True)],
    ))
    assert run_store.get_writer("w1") == WriterRow("w1", KEY, "/wal/1", 128, 3, False)
    assert run_store.get_writer("w2") == WriterRow("w2", KEY, "/wal/2", 64, 2, True)
    assert [w.writer_id for w in run_store.list_writers()] == ["w1"]
    run = run_store.get_run(KEY)
    assert run is not None and (run.last_step, run.service_state) == (0, {"step": 1})


def test_write_batch_for_unknown_run_leaves_nothing(run_store: MetadataStore) -> None:
    """A batch for a run that does not exist fails whole: no rows, no positions."""
    run_store.register_writer(WriterRow("w1", KEY, "/wal/1"))
    missing = RunKey("alice", "mnist", "ghost")
    with pytest.raises(StoreError):
        run_store.write_batch(Batch(missing, [(0, {"x": 1})], {}, [WriterPosition("w1", 10, 1)]))
    assert run_store.get_writer("w1") == WriterRow("w1", KEY, "/wal/1", 0, 0, False)
    assert run_store.count_history(missing) == 0


def test_write_batch_failing_midway_rolls_back(run_store: MetadataStore) -> None:
    """A batch whose last part fails (unknown writer) leaves rows, fields and positions untouched."""
    write(run_store, {0: {"x": 1.0}})
    run_store.register_writer(WriterRow("w1", KEY, "/wal/1"))
    batch = Batch(
        KEY, [(0, {"_step": 0, "x": 2.0}), (1, {"_step": 1, "x": 3.0})], {"last_step": 1},
        [WriterPosition("w1", 10, 1), WriterPosition("ghost", 20, 2)],
    )
    with pytest.raises(StoreError, match="ghost"):
        run_store.write_batch(batch)
    assert list(run_store.read_history(KEY)) == [{"_step": 0, "x": 1.0}]
    assert list(run_store.read_history(KEY, keys=["x"])) == [{"_step": 0, "x": 1.0}]
    assert run_store.get_run(KEY).last_step == -1  # type: ignore[union-attr]
    assert run_store.get_writer("w1").applied_offset == 0  # type: ignore[union-attr]


def test_write_batch_rejects_unknown_run_field(run_store: MetadataStore) -> None:
    """Batch.run_fields outside RUN_FIELDS is a ValueError and writes nothing."""
    with pytest.raises(ValueError, match="key"):
        run_store.write_batch(Batch(KEY, [(0, {"x": 1})], {"key": "oops"}))
    assert run_store.count_history(KEY) == 0


# -- history ------------------------------------------------------------------

SPECIAL = {
    "nan": math.nan, "inf": math.inf, "ninf": -math.inf, "none": None, "s": "héllo ✓",
    "t": True, "f": False, "big": 2**70, "neg": -(2**63), "zero": 0.0, "tiny": 5e-324,
    "nested": {"a": {"b": [1, 2.5, "x"]}}, "img": {"_type": "image-file", "path": "m/1.png"},
    "empty": {}, "list": [math.nan, None],
}


def test_history_rows_round_trip_special_values(run_store: MetadataStore) -> None:
    """Full rows come back with NaN, +-inf, None, strings, bools, big ints and nesting intact."""
    write(run_store, {0: SPECIAL})
    (row,) = run_store.read_history(KEY)
    assert math.isnan(row.pop("nan")) and math.isnan(row["list"][0])
    assert row.pop("list")[1:] == [None]
    expected = {k: v for k, v in SPECIAL.items() if k not in ("nan", "list")}
    assert row == {"_step": 0, **expected}
    assert type(row["big"]) is int and type(row["t"]) is bool


def test_keyed_read_of_special_values(run_store: MetadataStore) -> None:
    """Keyed reads return the same exact values, nested leaves and _type dicts included."""
    write(run_store, {3: SPECIAL})
    (row,) = run_store.read_history(KEY, keys=["nan", "ninf", "big", "none", "nested.a.b", "img"])
    assert math.isnan(row.pop("nan"))
    assert row == {
        "_step": 3, "ninf": -math.inf, "big": 2**70, "none": None,
        "nested.a.b": [1, 2.5, "x"], "img": {"_type": "image-file", "path": "m/1.png"},
    }
    assert list(run_store.read_history(KEY, keys=["img.path"])) == []
    assert list(run_store.read_history(KEY, keys=["empty"])) == []


def test_read_history_step_range(run_store: MetadataStore) -> None:
    """min_step and max_step are inclusive bounds for full and keyed reads."""
    write(run_store, {s: {"x": s * 2} for s in range(0, 20, 2)})
    assert steps_of(run_store.read_history(KEY, min_step=4, max_step=10)) == [4, 6, 8, 10]
    assert steps_of(run_store.read_history(KEY, keys=["x"], min_step=5, max_step=11)) == [6, 8, 10]
    assert steps_of(run_store.read_history(KEY, min_step=15)) == [16, 18]
    assert steps_of(run_store.read_history(KEY, keys=["x"], max_step=3)) == [0, 2]
    assert list(run_store.read_history(KEY, min_step=30)) == []


def test_keys_select_rows_holding_every_key(run_store: MetadataStore) -> None:
    """With keys, only rows holding all of them come back, reduced to _step and those keys."""
    write(run_store, {
        0: {"loss": 1.0, "val": {"acc": 0.1}},
        1: {"loss": 0.9},
        2: {"loss": 0.8, "val": {"acc": 0.3, "top5": 0.9}},
        3: {"val": {"acc": 0.4}},
    })
    assert list(run_store.read_history(KEY, keys=["loss", "val.acc"])) == [
        {"_step": 0, "loss": 1.0, "val.acc": 0.1},
        {"_step": 2, "loss": 0.8, "val.acc": 0.3},
    ]
    assert steps_of(run_store.read_history(KEY, keys=["val.acc"])) == [0, 2, 3]
    assert list(run_store.read_history(KEY, keys=["val.top5", "val.top5"])) == [
        {"_step": 2, "val.top5": 0.9}
    ]
    assert list(run_store.read_history(KEY, keys=["nope"])) == []
    assert list(run_store.read_history(KEY, keys=["val"])) == []  # a dict is not a leaf


def test_flat_dotted_key_is_found(run_store: MetadataStore) -> None:
    """A top-level key containing dots ("acc.top1") is read by that same name."""
    write(run_store, {0: {"acc.top1": 0.7}, 1: {"acc": {"top1": 0.8}}})
    assert list(run_store.read_history(KEY, keys=["acc.top1"])) == [
        {"_step": 0, "acc.top1": 0.7}, {"_step": 1, "acc.top1": 0.8},
    ]
    assert list(run_store.read_history(KEY, min_step=0, max_step=0)) == [{"_step": 0, "acc.top1": 0.7}]


def test_reserved_keys_are_readable(run_store: MetadataStore) -> None:
    """_step, _runtime and _timestamp can be read like any key."""
    write(run_store, {5: {"_runtime": 1.5, "_timestamp": 1e9, "x": 1}, 6: {"x": 2}})
    assert list(run_store.read_history(KEY, keys=["_runtime", "_timestamp"])) == [
        {"_step": 5, "_runtime": 1.5, "_timestamp": 1e9}
    ]
    assert list(run_store.read_history(KEY, keys=["_step"])) == [{"_step": 5}, {"_step": 6}]


def test_empty_keys_list_gives_every_step(run_store: MetadataStore) -> None:
    """keys=[] is the vacuous selection: every step in range, each as {"_step": s}."""
    write(run_store, {1: {"x": 1}, 4: {"y": 2}})
    assert list(run_store.read_history(KEY, keys=[])) == [{"_step": 1}, {"_step": 4}]


def test_rewriting_a_step_replaces_its_values(run_store: MetadataStore) -> None:
    """A step written again replaces the old row; keys it no longer holds disappear."""
    write(run_store, {0: {"a": 1, "b": 1}, 1: {"a": 2, "b": 2}, 2: {"a": 3, "b": 3}})
    write(run_store, {1: {"a": 20, "c": 7}})
    assert list(run_store.read_history(KEY))[1] == {"_step": 1, "a": 20, "c": 7}
    assert list(run_store.read_history(KEY, keys=["a"])) == [
        {"_step": 0, "a": 1}, {"_step": 1, "a": 20}, {"_step": 2, "a": 3},
    ]
    assert steps_of(run_store.read_history(KEY, keys=["b"])) == [0, 2]
    assert list(run_store.read_history(KEY, keys=["c"])) == [{"_step": 1, "c": 7}]
    assert run_store.count_history(KEY) == 3


def test_rewrite_removing_a_keys_only_value(run_store: MetadataStore) -> None:
    """When a rewrite drops the only value a key had, keyed reads of it are empty."""
    write(run_store, {0: {"a": 1, "only": 5}})
    write(run_store, {0: {"a": 2}})
    assert list(run_store.read_history(KEY, keys=["only"])) == []
    assert list(run_store.read_history(KEY, keys=["a"])) == [{"_step": 0, "a": 2}]


def test_repeated_step_within_a_batch_keeps_the_last(run_store: MetadataStore) -> None:
    """Of two rows for one step in a single batch, the later one is stored."""
    run_store.write_batch(Batch(KEY, [(0, {"_step": 0, "x": 1}), (0, {"_step": 0, "y": 2})]))
    assert list(run_store.read_history(KEY)) == [{"_step": 0, "y": 2}]
    assert list(run_store.read_history(KEY, keys=["x"])) == []


def test_history_across_chunk_boundaries(run_store: MetadataStore) -> None:
    """Rows spanning many chunks, written in batches that straddle them, read back in step order."""
    steps = [s for s in range(0, 5001) if s % 7 != 3] + [CHUNK * 40, CHUNK * 40 + 1]
    expected = {s: {"_step": s, "m": {"v": s * 0.5}, **({"odd": s} if s % 2 else {})} for s in steps}
    for start in range(0, len(steps), 1500):
        part = steps[start:start + 1500]
        run_store.write_batch(Batch(KEY, [(s, expected[s]) for s in part]))
    assert list(run_store.read_history(KEY)) == [expected[s] for s in steps]
    assert list(run_store.read_history(KEY, keys=["m.v"])) == [
        {"_step": s, "m.v": s * 0.5} for s in steps
    ]
    lo, hi = CHUNK - 5, 3 * CHUNK + 5
    assert list(run_store.read_history(KEY, keys=["odd", "m.v"], min_step=lo, max_step=hi)) == [
        {"_step": s, "odd": s, "m.v": s * 0.5} for s in steps if lo <= s <= hi and s % 2
    ]
    assert run_store.count_history(KEY) == len(steps)


def _block(keys: tuple[str, ...], first: int, n: int, scale: float = 1.0) -> RowBlock:
    values = [scale * (step + j / 10) for step in range(first, first + n) for j in range(len(keys))]
    if n > 3:
        values[len(keys) * 3] = math.nan  # exact bits, NaN included
    return RowBlock(keys, first, struct.pack(f"<{len(values)}d", *values),
                    [0.5 * i for i in range(n)], [1e9 + i for i in range(n)])


def _same_rows(a: list[dict[str, Any]], b: list[dict[str, Any]]) -> bool:
    return json.dumps(a) == json.dumps(b)  # NaN == NaN, key order and types compared


def test_row_blocks_read_back_as_the_rows_they_hold(run_store: MetadataStore) -> None:
    """Blocks (the columnar path) and rows mixed in batches, across chunk boundaries,
    including a block that rewrites steps: read back exactly as the same rows would."""
    keys = ("loss", "acc.top1")
    first = _block(keys, 0, CHUNK + 10)
    rows = [(s, {"loss": float(s), "text": f"row {s}", "_step": s}) for s in range(CHUNK + 10, CHUNK + 20)]
    second = _block(keys, CHUNK + 20, 2 * CHUNK)
    rewrite = _block(keys, 5, 3, scale=-1.0)
    run_store.write_batch(Batch(KEY, rows[:4], blocks=[first]))
    run_store.write_batch(Batch(KEY, rows[4:], blocks=[second]))
    run_store.write_batch(Batch(KEY, blocks=[rewrite]))
    by_step = dict([*first.rows(), *rows, *second.rows()]) | dict(rewrite.rows())
    expected = [by_step[s] for s in sorted(by_step)]
    assert _same_rows(list(run_store.read_history(KEY)), expected)
    for wanted in (["loss"], ["acc.top1", "_runtime"], ["text", "loss"]):
        want = [{"_step": r["_step"], **{k: r[k] for k in wanted}}
                for r in expected if all(k in r for k in wanted)]
        assert _same_rows(list(run_store.read_history(KEY, keys=wanted)), want)
    assert run_store.count_history(KEY) == len(expected)


def test_block_rows_are_stored_like_encoded_rows() -> None:
    block = _block(("a", "b"), 7, 5)
    for (pk, step, text), (row_step, row) in zip(block_texts(1, block), block.rows(), strict=True):
        assert (pk, step) == (1, row_step)
        assert text == encode_row(row, "row")


def test_rewriting_steps_in_an_earlier_chunk(run_store: MetadataStore) -> None:
    """A later batch that rewrites and back-fills steps inside older chunks keeps step order."""
    write(run_store, {s: {"x": s} for s in range(0, 3000, 2)})
    write(run_store, {s: {"x": -s} for s in range(1, 2100, 10)} | {1500: {"y": 1}})
    got = list(run_store.read_history(KEY, keys=["x"]))
    want = {s: s for s in range(0, 3000, 2)} | {s: -s for s in range(1, 2100, 10)}
    del want[1500]
    assert got == [{"_step": s, "x": want[s]} for s in sorted(want)]
    assert steps_of(run_store.read_history(KEY)) == sorted(set(want) | {1500})


def test_history_of_unknown_run_is_empty(store: MetadataStore) -> None:
    """Reading or counting the history of a run that does not exist gives nothing."""
    assert list(store.read_history(KEY)) == []
    assert list(store.read_history(KEY, keys=["x"])) == []
    assert store.count_history(KEY) == 0


def test_history_is_per_run(run_store: MetadataStore) -> None:
    """Rows written to one run never appear in another's history."""
    other = RunKey("alice", "mnist", "run00002")
    run_store.create_run(RunRow(key=other))
    write(run_store, {0: {"x": 1}})
    write(run_store, {0: {"x": 2}, 1: {"x": 3}}, key=other)
    assert list(run_store.read_history(KEY, keys=["x"])) == [{"_step": 0, "x": 1}]
    assert (run_store.count_history(KEY), run_store.count_history(other)) == (1, 2)


def test_concurrent_batches_from_threads(store: MetadataStore) -> None:
    """Batches written from several threads at once all land, each run's rows intact."""
    keys = [RunKey("e", "p", f"r{i}") for i in range(4)]
    for key in keys:
        store.create_run(RunRow(key=key))
    errors: list[BaseException] = []

    def worker(key: RunKey) -> None:
        try:
            for start in range(0, 2000, 100):
                write(store, {s: {"x": s} for s in range(start, start + 100)}, key=key)
                store.update_run(key, {"last_step": start + 99})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for key in keys:
        assert steps_of(store.read_history(key, keys=["x"])) == list(range(2000))
        assert store.get_run(key).last_step == 1999  # type: ignore[union-attr]


# -- files and streams ----------------------------------------------------------


def test_files_index_round_trips_and_keeps_upload_fields(run_store: MetadataStore) -> None:
    """Indexed files come back field for field; re-indexing keeps what uploads recorded."""
    saved = FileRow(KEY, "ckpt/model.pt", path="/r/model.pt", policy="end", size=2**40)
    run_store.write_batch(Batch(KEY, files=[saved, FileRow(KEY, "a.txt", path="/r/a.txt")]))
    assert run_store.get_file(KEY, "ckpt/model.pt") == saved
    run_store.update_file(KEY, "a.txt", {"pending": False, "digest": "d1", "uploads": 1})
    assert [f.name for f in run_store.list_files(KEY, pending=True)] == ["ckpt/model.pt"]
    assert [f.name for f in run_store.list_files(pending=False)] == ["a.txt"]
    run_store.write_batch(Batch(KEY, files=[FileRow(KEY, "a.txt", path="/r/b.txt", policy="live")]))
    again = run_store.get_file(KEY, "a.txt")
    assert again is not None
    assert (again.path, again.policy, again.pending, again.digest, again.uploads) == (
        "/r/b.txt", "live", True, "d1", 1,
    )
    with pytest.raises(StoreError):
        run_store.update_file(KEY, "missing", {"pending": False})


def test_console_lines_are_numbered_across_batches(run_store: MetadataStore) -> None:
    """Console lines are numbered per run from 0, in order, and filtered by label and range."""
    first = [ConsoleLine(1.0, "stdout", "héllo", "rank-0"), ConsoleLine(2.0, "stderr", "warn")]
    run_store.write_batch(Batch(KEY, console=first))
    run_store.write_batch(Batch(KEY, console=[ConsoleLine(3.0, "stdout", "bye", "rank-0")]))
    lines = list(run_store.read_console(KEY))
    assert [(x["_line"], x["text"], x["stream"]) for x in lines] == [
        (0, "héllo", "stdout"), (1, "warn", "stderr"), (2, "bye", "stdout"),
    ]
    assert [x["_line"] for x in run_store.read_console(KEY, label="rank-0")] == [0, 2]
    assert [x["_line"] for x in run_store.read_console(KEY, min_line=1, max_line=1)] == [1]


def test_system_samples_by_time_and_keys(run_store: MetadataStore) -> None:
    """System samples come back ordered by time, filtered by range, label and keys."""
    run_store.append_system(KEY, [
        {"_timestamp": 2.0, "_runtime": 1.0, "_label": "a", "system/cpu": 50.0},
        {"_timestamp": 1.0, "_runtime": 0.0, "_label": "b", "system/cpu": 10.0, "system/gpu": 3},
    ])
    assert [s["_timestamp"] for s in run_store.read_system(KEY)] == [1.0, 2.0]
    assert list(run_store.read_system(KEY, keys=["system/gpu"])) == [
        {"_timestamp": 1.0, "_runtime": 0.0, "_label": "b", "system/gpu": 3}
    ]
    assert [s["_label"] for s in run_store.read_system(KEY, min_time=1.5)] == ["a"]
    assert [s["_label"] for s in run_store.read_system(KEY, label="b")] == ["b"]
    with pytest.raises(StoreError):
        run_store.append_system(RunKey("alice", "mnist", "nope"), [{"_timestamp": 1.0}])


def test_system_samples_of_a_batch_commit_with_it(run_store: MetadataStore) -> None:
    """Samples carried in a Batch (an import) are stored with its transaction, beside appended ones."""
    run_store.append_system(KEY, [{"_timestamp": 3.0, "_runtime": 2.0, "_label": "", "system/cpu": 1.0}])
    run_store.write_batch(Batch(KEY, system=[
        {"_timestamp": 1.0, "_runtime": 0.0, "_label": "", "system/wandb.cpu": 7.5},
        {"_timestamp": 2.0, "_runtime": 1.0, "_label": "", "system/proc.threads": 4},
    ]))
    assert [sorted(k for k in s if not k.startswith("_")) for s in run_store.read_system(KEY)] == [
        ["system/wandb.cpu"], ["system/proc.threads"], ["system/cpu"]]
    with pytest.raises(StoreError):  # the whole batch fails: nothing of it is kept
        run_store.write_batch(Batch(RunKey("alice", "mnist", "nope"), system=[{"_timestamp": 1.0}]))


# -- SQLite specifics and the registry -----------------------------------------


def test_sqlite_file_is_in_wal_mode_with_schema_version(tmp_path: Path) -> None:
    """The SQLite database uses WAL journaling and records schema version 1."""
    SqlStore(f"sqlite:///{tmp_path}/s.db").close()
    with sqlite3.connect(tmp_path / "s.db") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(LATEST,)]


def test_sqlite_reopen_keeps_data(tmp_path: Path) -> None:
    """A second SqlStore on the same file sees what the first wrote."""
    url = f"sqlite:///{tmp_path}/s.db"
    first = SqlStore(url)
    first.create_run(RunRow(key=KEY))
    write(first, {0: {"x": 1}})
    first.close()
    second = SqlStore(url)
    assert list(second.read_history(KEY, keys=["x"])) == [{"_step": 0, "x": 1}]
    second.close()


def test_driver_errors_become_store_errors(tmp_path: Path) -> None:
    """A file that is not a database raises StoreError naming the operation."""
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not an sqlite database" * 100)
    with pytest.raises(StoreError, match="opening the store"):
        SqlStore(f"sqlite:///{path}")


def test_open_store_by_scheme(tmp_path: Path) -> None:
    """open_store picks the implementation from the URI scheme."""
    assert isinstance(open_store("memory://"), MemoryStore)
    sql = open_store(default_store_uri(str(tmp_path)))
    assert isinstance(sql, SqlStore) and (tmp_path / "mytrack.db").exists()
    sql.close()
    assert default_store_uri("/home/u/.mytrack") == "sqlite:////home/u/.mytrack/mytrack.db"


def test_open_store_unknown_scheme_lists_valid_ones() -> None:
    """An unknown scheme is a ValueError that names the valid schemes and hides the password."""
    with pytest.raises(ValueError, match="sqlite://, postgresql://, memory://") as info:
        open_store("mysql://bob:s3cret@db/x")
    assert "s3cret" not in str(info.value)


def test_open_store_postgresql_uses_psycopg_and_hides_password(postgres_db: str) -> None:
    """postgresql:// opens a SqlStore through psycopg; a bad password never shows in errors."""
    opened = open_store(postgres_db)
    assert isinstance(opened, SqlStore) and "+psycopg" in repr(opened)
    opened.close()
    wrong = postgres_db.replace("postgresql://postgres@", "postgresql://postgres:s3cret@", 1)
    wrong = wrong.rsplit("/", 1)[0] + "/no_such_database"
    with pytest.raises(StoreError) as info:
        open_store(wrong)
    assert "s3cret" not in str(info.value) and "no_such_database" in str(info.value)


def test_postgres_without_driver_says_what_to_install() -> None:
    """Without psycopg, a postgresql:// URI asks for mytrack[postgres] and hides the password."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("psycopg is installed")
    with pytest.raises(StoreError, match=r"mytrack\[postgres\]") as info:
        open_store("postgresql://bob:s3cret@localhost/db")
    assert "s3cret" not in str(info.value)
