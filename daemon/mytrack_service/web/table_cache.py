"""The runs of recently viewed projects, read and flattened once for many table requests.

Reading a project of 10,000 runs from the store and flattening their config
costs a second of Python; sorting, filtering or grouping what is already read
costs milliseconds. So the table keeps each project's runs (as `Cells`) and,
at each request, asks the store one cheap question: the project's run count and
latest ``updated_at`` (`MetadataStore.project_activity`). Unchanged, the entry
is used as it is. Changed, only the runs updated since the entry's latest
``updated_at`` (less `SKEW`, for services sharing a store whose clocks differ)
are read (`list_runs(updated_since=...)`) and replace their old cells; the
others keep theirs, flattened already. When the count does not add up (a run
was deleted), the project is read again in full, as it is every ``max_age``
seconds (edits that do not move ``updated_at``, made by another service
sharing the store, show within that time), and at once when this UI edits
runs (`forget`).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from mytrack_service.store.base import MetadataStore
from mytrack_service.web.table_columns import MAX_COLUMNS, PREFIXES, Cells

MAX_AGE = 60.0  # seconds between full reads
PROJECTS = 4  # projects kept
SKEW = 5.0  # seconds: runs updated this long before the latest change are read again


@dataclass
class _Entry:
    mark: tuple[int, float]
    at: float  # when the project was last read in full
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
        activity = store.project_activity(entity, project)
        mark = (activity.run_count, activity.last_activity)
        now = self._clock()
        with self._lock:
            entry = self._entries.get((entity, project))
        fresh = entry is not None and now - entry.at < self.max_age
        if entry is not None and fresh and entry.mark == mark:
            with self._lock:
                self._entries.move_to_end((entity, project))
            return entry
        updated = _updated(store, entity, project, entry, mark) if entry is not None and fresh else None
        if updated is None:
            updated = _Entry(mark, now, [Cells(run) for run in store.list_runs(entity, project)])
        with self._lock:
            self._entries[(entity, project)] = updated
            self._entries.move_to_end((entity, project))
            while len(self._entries) > self.projects:
                self._entries.popitem(last=False)
        return updated

    def holds(self, entity: str, project: str) -> bool:
        """Whether the project's runs were read in full within ``max_age``."""
        with self._lock:
            entry = self._entries.get((entity, project))
        return entry is not None and entry.columns is not None and self._clock() - entry.at < self.max_age

    def forget(self) -> None:
        """Drops every entry (runs were edited through this UI)."""
        with self._lock:
            self._entries.clear()


def _updated(store: MetadataStore, entity: str, project: str, entry: _Entry,
             mark: tuple[int, float]) -> _Entry | None:
    """``entry`` with the runs changed since it was made read again; None when a full read is needed."""
    changed = [Cells(run) for run in store.list_runs(entity, project, updated_since=entry.mark[1] - SKEW)]
    new = {cell.run.key.run_id: cell for cell in changed}
    old = [cell for cell in entry.cells if cell.run.key.run_id in new]
    cells = changed + [cell for cell in entry.cells if cell.run.key.run_id not in new]
    if len(cells) != mark[0]:
        return None  # runs were deleted (or made and deleted) meanwhile
    # Stable sort; runs created at the same moment may come in another order than a full read's.
    cells.sort(key=lambda cell: cell.run.created_at, reverse=True)
    columns = entry.columns if _same_columns(entry.columns, changed, old, new) else None
    return _Entry(mark, entry.at, cells, columns)


def _same_columns(columns: dict[str, list[str]] | None, changed: list[Cells], old: list[Cells],
                  new: dict[str, Cells]) -> bool:
    """Whether the changed runs leave the column lists as they are: every list holds all keys
    (none cut at MAX_COLUMNS), the changed runs bring no new key and drop none."""
    if columns is None:
        return False
    for prefix in PREFIXES:
        shown = columns[prefix]
        if len(shown) >= MAX_COLUMNS:
            return False
        known = set(shown)
        if any(not known.issuperset(cell.of(prefix)) for cell in changed):
            return False
        if any(cell.of(prefix).keys() != new[cell.run.key.run_id].of(prefix).keys() for cell in old):
            return False
    return True
