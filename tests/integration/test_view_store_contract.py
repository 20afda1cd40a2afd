"""The saved-views part of the `MetadataStore` contract, on every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import pytest

from mytrack_service.store.base import MetadataStore, StoreError
from mytrack_service.store.registry import open_store
from mytrack_service.store.view_model import ViewRow
from tests.integration.test_store_contract import store  # noqa: F401 - a fixture


def view(name: str, state: dict[str, str], at: float, project: str = "mnist") -> ViewRow:
    return ViewRow("alice", project, name, state, created_at=at, updated_at=at)


def test_views_round_trip_by_project_and_name(store: MetadataStore) -> None:  # noqa: F811
    """Saved views come back with their state, per project, in name order."""
    store.save_view(view("zeta", {"sort": "-summary.acc", "chart.smoothing": "0.6"}, 1.0))
    store.save_view(view("alpha", {"filter": "optimizer = adam", "cols": '["config.lr"]'}, 2.0))
    store.save_view(view("alpha", {"sort": "name"}, 3.0, project="other"))
    found = store.list_views("alice", "mnist")
    assert [(v.name, v.state, v.created_at) for v in found] == [
        ("alpha", {"filter": "optimizer = adam", "cols": '["config.lr"]'}, 2.0),
        ("zeta", {"sort": "-summary.acc", "chart.smoothing": "0.6"}, 1.0)]
    assert [v.name for v in store.list_views("alice", "other")] == ["alpha"]
    assert store.list_views("bob", "mnist") == []


def test_saving_a_name_again_replaces_its_state_and_keeps_its_creation(store: MetadataStore) -> None:  # noqa: F811
    """A second save of one name replaces the state and updated_at; created_at stays the first one."""
    store.save_view(view("best", {"sort": "name"}, 1.0))
    store.save_view(view("best", {"sort": "-created_at", "group_by": "config.model.depth"}, 5.0))
    (found,) = store.list_views("alice", "mnist")
    assert (found.state, found.created_at, found.updated_at) == (
        {"sort": "-created_at", "group_by": "config.model.depth"}, 1.0, 5.0)


def test_deleting_a_view(store: MetadataStore) -> None:  # noqa: F811
    """delete_view removes the named view only, and says whether there was one."""
    store.save_view(view("a", {}, 1.0))
    store.save_view(view("b", {}, 1.0))
    assert store.delete_view("alice", "mnist", "a") is True
    assert store.delete_view("alice", "mnist", "a") is False
    assert [v.name for v in store.list_views("alice", "mnist")] == ["b"]


def test_a_state_json_cannot_hold_is_a_store_error(store: MetadataStore) -> None:  # noqa: F811
    """A state that is not JSON is refused with StoreError, and nothing is saved."""
    with pytest.raises(StoreError, match="view state"):
        store.save_view(ViewRow("alice", "mnist", "bad", {"x": object()}))  # type: ignore[dict-item]
    assert store.list_views("alice", "mnist") == []


def test_views_are_shared_by_stores_on_one_database(postgres_db: str) -> None:
    """Two services' stores on one PostgreSQL database see each other's views."""
    first, second = open_store(postgres_db), open_store(postgres_db)
    try:
        first.save_view(view("shared", {"sort": "name"}, 1.0, project="pg-shared"))
        assert [v.name for v in second.list_views("alice", "pg-shared")] == ["shared"]
        second.delete_view("alice", "pg-shared", "shared")
        assert first.list_views("alice", "pg-shared") == []
    finally:
        first.close()
        second.close()
