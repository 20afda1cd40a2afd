"""The runs table of a project: filter, search, sort, group and page, in one pass.

A project's runs are read once (`MetadataStore.list_runs`), matched against
the W&B-style filter that `Api.runs` takes (bare keys resolved as there,
query/bare_keys.py) plus the table's own controls (state, tags, group, sweep, a
search in names and ids), sorted by any column, grouped by any column with a
row of aggregates per group, and cut to one page. Columns are described in
table_columns.py; config values under secret-looking keys are shown as "***".
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from mytrack_service.query.bare_keys import resolve_bare_keys
from mytrack_service.query.filters import FilterError, matcher, validate_filter
from mytrack_service.query.limits import MAX_FILTER_BYTES, Deadline
from mytrack_service.store.base import MetadataStore, RunRow
from mytrack_service.web.responses import ApiError
from mytrack_service.web.table_cache import ProjectCache
from mytrack_service.web.table_columns import FIELDS, MAX_COLUMNS, PREFIXES, Cells, known, sortable
from mytrack_service.web.table_columns import flatten as flatten
from mytrack_service.web.table_columns import shown_config as shown_config
from mytrack_service.web.table_groups import groups, order_by_group

MAX_LIMIT = 1000
MAX_AGGREGATED = 100  # columns aggregated per group row


def runs_table(
    store: MetadataStore, entity: str, project: str, query: Mapping[str, str],
    deadline: Deadline | None = None, cache: ProjectCache | None = None,
) -> dict[str, Any]:
    """One page of the table, its total, its columns and (grouped) its groups.

    ``deadline``: checked as it goes (the web API runs this on the query pool).
    ``cache``: where the project's runs may already be, read and flattened.
    """
    entry = cache.runs(store, entity, project) if cache is not None else None
    runs = entry.cells if entry is not None else [Cells(run) for run in store.list_runs(entity, project)]
    if entry is None or entry.columns is None:
        columns = _columns(runs, deadline)
        if entry is not None:
            entry.columns = columns
    else:
        columns = entry.columns
    wanted = _matcher(query, runs, columns)
    chosen = []
    for i, cell in enumerate(runs):
        if deadline is not None and i % 256 == 0:
            deadline.check()
        if wanted(cell):
            chosen.append(cell)
    limit = _int(query, "limit", 100, 1, MAX_LIMIT)
    offset = _int(query, "offset", 0, 0, 1 << 62)
    spec = query.get("sort") or "-created_at"
    if spec != "-created_at":  # the runs come newest first already
        _sort(chosen, spec)
    group_by = _column(query.get("group_by") or "", "group by")
    if group_by:
        order_by_group(chosen, group_by)
    page = chosen[offset:offset + limit]
    return {
        "entity": entity, "project": project, "total": len(chosen), "offset": offset,
        "limit": limit, "runs": [table_row(cell.run, cell) for cell in page], "columns": columns,
        "group_by": group_by,
        "groups": groups(chosen, group_by, _aggregated(query, columns)) if group_by else [],
    }


def table_row(run: RunRow, cells: Cells | None = None) -> dict[str, Any]:
    """A run's row: its fields and, with ``cells``, its values under each prefix."""
    row = {
        "id": run.key.run_id, "name": run.name, "state": run.state, "entity": run.key.entity,
        "project": run.key.project, "user": FIELDS["user"](run), "created_at": run.created_at,
        "updated_at": run.updated_at, "heartbeat_at": run.heartbeat_at, "runtime": run.runtime,
        "group": run.group, "job_type": run.job_type, "tags": run.tags, "sweep_id": run.sweep_id,
        "last_step": run.last_step, "host": run.host, "notes": run.notes,
    }
    if cells is not None:
        row.update((prefix, cells.of(prefix)) for prefix in PREFIXES)
    return row


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def _int(query: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = query.get(name)
    if not text:
        return default
    try:
        return min(high, max(low, int(text)))
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {text!r}") from None


def _column(name: str, what: str) -> str:
    if name and not known(name):
        raise ApiError(400, f"cannot {what} {name!r}: use a run field ({', '.join(sorted(FIELDS))}) "
                            f"or {', '.join(p + '.KEY' for p in PREFIXES)}")
    return name


def parse_filters(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        if len(text) > MAX_FILTER_BYTES:
            raise FilterError(f"the filter is longer than {MAX_FILTER_BYTES} characters")
        filters = json.loads(text)
        validate_filter(filters)
    except (ValueError, RecursionError, FilterError) as exc:
        raise ApiError(400, f"invalid filters: {exc}") from None
    return filters  # type: ignore[no-any-return]


def _matcher(query: Mapping[str, str], runs: list[Cells],
             columns: dict[str, list[str]]) -> Callable[[Cells], bool]:
    """The table's controls, parsed once, as one predicate.

    Bare keys in the filter are resolved from the column lists (the keys every
    run holds, without a scan of the runs) unless a list was cut at MAX_COLUMNS.
    """
    states = set(_split(query.get("state")))
    tags = set(_split(query.get("tags")))
    group = query.get("group")
    sweep = query.get("sweep")
    search = (query.get("search") or "").strip().lower()
    filters = parse_filters(query.get("filters"))
    try:
        complete = all(len(columns[prefix]) < MAX_COLUMNS for prefix in PREFIXES)
        filtered = matcher(resolve_bare_keys(filters, (cell.document() for cell in runs),
                                             columns if complete else None))
    except FilterError as exc:
        raise ApiError(400, f"invalid filters: {exc}") from None

    def wanted(cell: Cells) -> bool:
        run = cell.run
        if states and run.state not in states:
            return False
        if tags and not tags.intersection(run.tags):
            return False
        if group is not None and group != run.group:
            return False
        if sweep and sweep != run.sweep_id:
            return False
        if search and search not in run.name.lower() and search not in run.key.run_id.lower():
            return False
        return filters is None or filtered(cell.document())

    return wanted


def _sort(cells: list[Cells], spec: str) -> None:
    """Sorts in place by ``[-]column``; runs without a value go last either way."""
    descending = spec.startswith("-")
    column = _column(spec.lstrip("-+"), "sort by")
    keyed = [(sortable(cell.value(column)), cell) for cell in cells]
    present = [(key, cell) for key, cell in keyed if key is not None]
    present.sort(key=lambda item: item[0], reverse=descending)
    cells[:] = [cell for _, cell in present] + [cell for key, cell in keyed if key is None]


def _columns(cells: list[Cells], deadline: Deadline | None) -> dict[str, list[str]]:
    """Per prefix, the most common keys of the project's runs (at most MAX_COLUMNS), in name order."""
    counts: dict[str, Counter[str]] = {prefix: Counter() for prefix in PREFIXES}
    for i, cell in enumerate(cells):
        if deadline is not None and i % 256 == 0:
            deadline.check()
        for prefix, counter in counts.items():
            counter.update(cell.of(prefix).keys())
    out = {prefix: sorted(k for k, _ in c.most_common(MAX_COLUMNS)) for prefix, c in counts.items()}
    return {"run": sorted(FIELDS), **out}


def _aggregated(query: Mapping[str, str], columns: dict[str, list[str]]) -> list[str]:
    """The columns a group row aggregates: ``aggregate`` (a JSON list), else the summary's."""
    text = query.get("aggregate")
    if not text:
        return [f"summary.{k}" for k in columns["summary"][:MAX_AGGREGATED]]
    try:
        names = json.loads(text)
    except ValueError:
        names = None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ApiError(400, 'aggregate must be a JSON list of column ids, e.g. ["summary.acc"]')
    return [n for n in names[:MAX_AGGREGATED] if known(n)]
