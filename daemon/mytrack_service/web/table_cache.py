"""The runs of recently viewed projects, read and flattened once for many table requests.

Reading a project of 10,000 runs from the store and flattening their config
costs seconds of Python; sorting, filtering or grouping what is already read
costs milliseconds. So the table keeps each project's runs (as `Cells`) while
they are current: an entry is used again only while the project's run count and
latest ``updated_at`` (one aggregate query, `MetadataStore.list_projects`) are
unchanged, for at most ``max_age`` seconds (edits that do not move
``updated_at``, made by another service sharing the store, show within that
time), and it is dropped at once when this UI edits runs (`forget`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from mytrack_service.store.base import MetadataStore
from mytrack_service.web.table_columns import Cells

MAX_AGE = 10.0  # seconds
PROJECTS = 4  # projects kept


@dataclass
class _Entry:
    mark: tuple[int, float]
    at: float
    cells: list[Cells]
    columns: dict[str, list[str]] | None = None  # filled by the first table request


class ProjectCache:
    def __init__(self, max_age: float = MAX_AGE, projects: int = PROJECTS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_age = max_age
        self.projects = projects
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()

    def runs(self, store: MetadataStore, entity: str, project: str) -> _Entry:
        """The project's runs, newest first, and its columns once known (shared: never reorder them)."""
        mark = _mark(store, entity, project)
        now = self._clock()
        with self._lock:
            entry = self._entries.get((entity, project))
            if entry is not None and entry.mark == mark and now - entry.at < self.max_age:
                self._entries.move_to_end((entity, project))
                return entry
        entry = _Entry(mark, now, [Cells(run) for run in store.list_runs(entity, project)])
        with self._lock:
            self._entries[(entity, project)] = entry
            self._entries.move_to_end((entity, project))
            while len(self._entries) > self.projects:
                self._entries.popitem(last=False)
        return entry

    def forget(self) -> None:
        """Drops every entry (runs were edited through this UI)."""
        with self._lock:
            self._entries.clear()


def _mark(store: MetadataStore, entity: str, project: str) -> tuple[int, float]:
    for row in store.list_projects():
        if (row.entity, row.project) == (entity, project):
            return (row.run_count, row.last_activity)
    return (0, 0.0)
