"""The sweep part of the `MetadataStore` contract, on every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import threading

import pytest

from mytrack_service.store.base import MetadataStore, RunKey, RunRow, StoreError
from mytrack_service.store.sweep_model import SweepExistsError, SweepRow, TrialRow
from tests.integration.test_store_contract import store  # noqa: F401 - a fixture


def sweep_row(sweep_id: str = "sw000001", created: float = 1.0, project: str = "mnist") -> SweepRow:
    return SweepRow(sweep_id, "alice", project, name="first", config={"method": "grid", "p": [1, 2]},
                    created_at=created, updated_at=created)


def test_sweep_round_trips_and_updates(store: MetadataStore) -> None:  # noqa: F811
    """A sweep comes back as inserted (tuples as lists); update_sweep sets only the given fields."""
    with store.sweeps(write=True) as tx:
        tx.insert_sweep(sweep_row())
    with store.sweeps() as tx:
        assert tx.sweep("sw000001") == sweep_row()
        assert tx.sweep("nope") is None
    with store.sweeps(write=True) as tx:
        tx.update_sweep("sw000001", {"state": "paused", "updated_at": 5.0, "config": {"a": (1,)}})
    with store.sweeps() as tx:
        row = tx.sweep("sw000001")
    assert row is not None and (row.state, row.updated_at, row.config, row.name) == ("paused", 5.0, {"a": [1]}, "first")


def test_sweep_ids_are_unique_and_unknown_fields_refused(store: MetadataStore) -> None:  # noqa: F811
    """A taken id raises SweepExistsError; unknown fields raise ValueError; an unknown sweep StoreError."""
    with store.sweeps(write=True) as tx:
        tx.insert_sweep(sweep_row())
    with pytest.raises(SweepExistsError), store.sweeps(write=True) as tx:
        tx.insert_sweep(sweep_row())
    with pytest.raises(ValueError, match="entity"), store.sweeps(write=True) as tx:
        tx.update_sweep("sw000001", {"entity": "x"})
    with pytest.raises(StoreError), store.sweeps(write=True) as tx:
        tx.update_sweep("nope", {"state": "paused"})


def test_sweeps_listed_newest_first_by_project(store: MetadataStore) -> None:  # noqa: F811
    """sweeps() filters by entity/project and orders newest first."""
    with store.sweeps(write=True) as tx:
        tx.insert_sweep(sweep_row("a", 1.0))
        tx.insert_sweep(sweep_row("b", 2.0))
        tx.insert_sweep(sweep_row("c", 3.0, project="other"))
    with store.sweeps() as tx:
        assert [s.sweep_id for s in tx.sweeps("alice", "mnist")] == ["b", "a"]
        assert [s.sweep_id for s in tx.sweeps(None, None)] == ["c", "b", "a"]


def test_trials_in_seq_order_and_updated(store: MetadataStore) -> None:  # noqa: F811
    """Trials come back by seq with their params; a duplicate run id or seq is refused."""
    with store.sweeps(write=True) as tx:
        tx.insert_sweep(sweep_row())
        tx.insert_trial(TrialRow("sw000001", "r2", 1, {"lr": 0.2, "n": {"a": 1}}, created_at=2.0))
        tx.insert_trial(TrialRow("sw000001", "r1", 0, {"lr": 0.1}, agent_id="ag", created_at=1.0))
    with pytest.raises(StoreError), store.sweeps(write=True) as tx:
        tx.insert_trial(TrialRow("sw000001", "r3", 1, {}))
    with store.sweeps(write=True) as tx:
        tx.update_trial("sw000001", "r2", {"state": "finished", "updated_at": 9.0})
    with store.sweeps() as tx:
        trials = tx.trials("sw000001")
    assert [(t.run_id, t.seq, t.state, t.agent_id) for t in trials] == [
        ("r1", 0, "pending", "ag"), ("r2", 1, "finished", "")]
    assert trials[1].params == {"lr": 0.2, "n": {"a": 1}} and trials[1].updated_at == 9.0


def test_search_state_kept_with_sweeps_and_trials(store: MetadataStore) -> None:  # noqa: F811
    """search_state (JSON) comes back with the sweep and the trial; empty unless given; the
    sweep's is updatable, NaN kept; a value JSON cannot hold is refused with StoreError."""
    with store.sweeps(write=True) as tx:
        tx.insert_sweep(sweep_row())
        tx.insert_trial(TrialRow("sw000001", "r1", 0, {"x": 1}))
        tx.insert_trial(TrialRow("sw000001", "r2", 1, {"x": 2},
                                 search_state={"cma:generation": 3, "cma:optimizer:0": "ab" * 3000}))
    with store.sweeps(write=True) as tx:
        assert tx.sweep("sw000001").search_state == {}  # type: ignore[union-attr]
        tx.update_sweep("sw000001", {"search_state": {"qmc:x": 4, "nan": float("nan")}})
    with store.sweeps() as tx:
        row, trials = tx.sweep("sw000001"), tx.trials("sw000001")
    assert row is not None and row.search_state["qmc:x"] == 4 and row.search_state["nan"] != row.search_state["nan"]
    assert [t.search_state for t in trials] == [{}, {"cma:generation": 3, "cma:optimizer:0": "ab" * 3000}]
    with pytest.raises(StoreError), store.sweeps(write=True) as tx:
        tx.update_sweep("sw000001", {"search_state": {"x": object()}})


def test_a_failed_transaction_leaves_nothing(store: MetadataStore) -> None:  # noqa: F811
    """An exception inside a write transaction rolls back its sweep and trials."""
    with pytest.raises(RuntimeError), store.sweeps(write=True) as tx:
        tx.insert_sweep(sweep_row())
        tx.insert_trial(TrialRow("sw000001", "r1", 0, {}))
        raise RuntimeError("boom")
    with store.sweeps() as tx:
        assert tx.sweep("sw000001") is None and tx.trials("sw000001") == []


def test_runs_of_trials_read_in_the_transaction(store: MetadataStore) -> None:  # noqa: F811
    """runs() returns the existing runs of the given ids in the project."""
    store.create_run(RunRow(key=RunKey("alice", "mnist", "r1"), state="finished", summary={"acc": 1}))
    with store.sweeps() as tx:
        found = tx.runs("alice", "mnist", ["r1", "r2"])
    assert list(found) == ["r1"] and found["r1"].summary == {"acc": 1}


def test_locked_sweep_serialises_trial_choice(store: MetadataStore) -> None:  # noqa: F811
    """Eight threads reading the trial count under the sweep lock and inserting the next seq never collide."""
    with store.sweeps(write=True) as tx:
        tx.insert_sweep(sweep_row())
    errors: list[BaseException] = []

    def take(n: int) -> None:
        try:
            for i in range(5):
                with store.sweeps(write=True) as tx:
                    tx.sweep("sw000001", lock=True)
                    seq = len(tx.trials("sw000001"))
                    tx.insert_trial(TrialRow("sw000001", f"r{n}-{i}", seq, {}))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=take, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.sweeps() as tx:
        assert [t.seq for t in tx.trials("sw000001")] == list(range(40))
