"""Reading the runs tables a user is about to open, before they ask.

The first request for a project's table reads and flattens all its runs: about
a second for 10,000 runs, where later requests take milliseconds
(table_cache.py). The projects page is where a user picks a project, so when it
is asked for, the tables of the few most recently active big projects are read
on the query pool in the background: by the time one is opened, it is cached.
Only then, never at the service's start (a cold start must stay short), and
only for projects whose table is not cached already.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable

from mytrack_service.query import limits
from mytrack_service.store.base import MetadataStore, ProjectRow
from mytrack_service.web.table import runs_table
from mytrack_service.web.table_cache import ProjectCache

logger = logging.getLogger("mytrack_service.web")

WARMED = 2  # projects read ahead per projects-page request
FROM_RUNS = 1_000  # a smaller table is read in about 0.1 s anyway


class TableWarmer:
    """Starts the reading ahead; at most one read per project at a time."""

    def __init__(self, store: MetadataStore, cache: ProjectCache, pool: limits.QueryPool | None = None,
                 from_runs: int = FROM_RUNS) -> None:
        self.store = store
        self.cache = cache
        self.pool = pool or limits.POOL
        self.from_runs = from_runs
        self._lock = threading.Lock()
        self._reading: set[tuple[str, str]] = set()

    def projects_listed(self, projects: Iterable[ProjectRow]) -> list[tuple[str, str]]:
        """Starts reading the tables of the most recently active big projects; the ones started."""
        big = [p for p in projects if p.run_count >= self.from_runs]
        big.sort(key=lambda p: p.last_activity, reverse=True)
        started = []
        for row in big[:WARMED]:
            key = (row.entity, row.project)
            if self.cache.holds(*key):
                continue
            with self._lock:
                if key in self._reading:
                    continue
                self._reading.add(key)
            if self.pool.start(functools.partial(self._read, key), f"the runs table of {row.entity}/{row.project}"):
                started.append(key)
            else:  # the pool is busy with requests: they come first
                with self._lock:
                    self._reading.discard(key)
        return started

    def _read(self, key: tuple[str, str], deadline: limits.Deadline) -> None:
        try:
            runs_table(self.store, key[0], key[1], {"limit": "1"}, deadline, self.cache)
        except Exception:  # noqa: BLE001 - best effort: the request itself reports what fails
            logger.debug("reading ahead the runs table of %s/%s failed", *key, exc_info=True)
        finally:
            with self._lock:
                self._reading.discard(key)
