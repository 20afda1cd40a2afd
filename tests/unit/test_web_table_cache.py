"""The runs table's project cache: changed runs are read again alone, and what it serves matches the store."""

from __future__ import annotations

from typing import Any

from mytrack_service.store.base import RunKey, RunRow
from mytrack_service.store.memory import MemoryStore
from mytrack_service.web.table_cache import ProjectCache


class CountingStore(MemoryStore):
    """Counts full and partial reads of a project's runs."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[float | None] = []

    def list_runs(self, entity: str | None = None, project: str | None = None,
                  updated_since: float | None = None) -> list[RunRow]:
        self.reads.append(updated_since)
        return super().list_runs(entity, project, updated_since)


def _make(store: MemoryStore, i: int, **fields: Any) -> None:
    store.create_run(RunRow(RunKey("e", "p", f"r{i}"), created_at=float(i), updated_at=100.0 * i,
                            config={"lr": i}, **fields))


def _ids(cache: ProjectCache, store: MemoryStore) -> list[str]:
    return [cell.run.key.run_id for cell in cache.runs(store, "e", "p").cells]


def test_unchanged_project_is_not_read_again() -> None:
    """A second request on an unchanged project reads no runs."""
    store = CountingStore()
    for i in range(3):
        _make(store, i)
    cache = ProjectCache()
    assert _ids(cache, store) == ["r2", "r1", "r0"]
    assert _ids(cache, store) == ["r2", "r1", "r0"]
    assert store.reads == [None]


def test_updated_and_new_runs_are_read_alone() -> None:
    """An update or a new run reads only the runs updated since; the others keep their cells."""
    store = CountingStore()
    for i in range(5):
        _make(store, i)
    cache = ProjectCache()
    first = cache.runs(store, "e", "p")
    kept = first.cells[-1]
    store.update_run(RunKey("e", "p", "r1"), {"config": {"lr": 99}, "updated_at": 1000.0})
    _make(store, 7)
    entry = cache.runs(store, "e", "p")
    assert [c.run.key.run_id for c in entry.cells] == ["r7", "r4", "r3", "r2", "r1", "r0"]
    assert next(c for c in entry.cells if c.run.key.run_id == "r1").of("config") == {"lr": 99}
    assert entry.cells[-1] is kept
    assert store.reads[0] is None and store.reads[1] is not None and len(store.reads) == 2


def test_deleted_run_gives_a_full_read() -> None:
    """A deleted run (the count no longer adds up) makes the project read in full."""
    store = CountingStore()
    for i in range(3):
        _make(store, i)
    cache = ProjectCache()
    _ids(cache, store)
    store.delete_run(RunKey("e", "p", "r1"))
    _make(store, 5)  # the count is back where it was
    assert _ids(cache, store) == ["r5", "r2", "r0"]
    assert store.reads[-1] is None


def test_full_read_after_max_age() -> None:
    """Edits that do not move updated_at show after max_age."""
    now = [0.0]
    store = CountingStore()
    _make(store, 0)
    cache = ProjectCache(max_age=10.0, clock=lambda: now[0])
    _ids(cache, store)
    store.update_run(RunKey("e", "p", "r0"), {"notes": "edited"})
    assert cache.runs(store, "e", "p").cells[0].run.notes == ""
    now[0] = 11.0
    assert cache.runs(store, "e", "p").cells[0].run.notes == "edited"
