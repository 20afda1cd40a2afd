"""Reading ahead the runs tables of the projects a user is about to open."""

from __future__ import annotations

from mytrack_service.query.limits import Deadline, QueryPool
from mytrack_service.store.base import RunKey, RunRow
from mytrack_service.web.table import runs_table
from mytrack_service.web.table_cache import ProjectCache
from mytrack_service.web.table_warmup import TableWarmer
from tests.helpers import wait_for
from tests.unit.test_web_table_cache import CountingStore


def _store() -> CountingStore:
    """Projects "a" (5 runs, the most recent), "b" (4 runs), "c" (3 runs, the oldest) and "small" (1 run)."""
    store = CountingStore()
    for project, runs, newest in (("a", 5, 300.0), ("b", 4, 200.0), ("c", 3, 100.0), ("small", 1, 400.0)):
        for i in range(runs):
            store.create_run(RunRow(RunKey("e", project, f"{project}{i}"), created_at=newest - i,
                                    updated_at=newest - i, config={"lr": i, "opt": {"name": "adam"}},
                                    summary={"loss": 1.0 / (i + 1)}))
    return store


def test_the_most_recently_active_big_projects_are_read_ahead_and_then_served_from_the_cache() -> None:
    store = _store()
    cache = ProjectCache()
    pool = QueryPool(threads=2)
    try:
        warmer = TableWarmer(store, cache, pool, from_runs=3)
        assert warmer.projects_listed(store.list_projects()) == [("e", "a"), ("e", "b")]
        wait_for(lambda: cache.holds("e", "a") and cache.holds("e", "b"), timeout=30, message="the tables read ahead")
        assert not cache.holds("e", "c") and not cache.holds("e", "small")
        reads = len(store.reads)
        assert warmer.projects_listed(store.list_projects()) == []  # cached: nothing to read again
        served = runs_table(store, "e", "a", {"sort": "summary.loss"}, Deadline(30), cache)
        assert len(store.reads) == reads  # the request read no runs
        assert served == runs_table(store, "e", "a", {"sort": "summary.loss"}, Deadline(30))  # as read now
        assert served["total"] == 5 and served["columns"]["config"] == ["lr", "opt.name"]
    finally:
        pool.shutdown()


def test_a_full_query_pool_reads_nothing_ahead() -> None:
    store = _store()
    cache = ProjectCache()
    pool = QueryPool(threads=1, queue=0)
    pool.shutdown()  # takes no work: like a pool busy with requests
    warmer = TableWarmer(store, cache, pool, from_runs=3)
    assert warmer.projects_listed(store.list_projects()) == []
    assert store.reads == [] and not cache.holds("e", "a")
    assert warmer._reading == set()  # a later listing may try again
