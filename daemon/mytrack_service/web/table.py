"""The runs table of a project: filter, search, sort, group and page, in one pass.

A project's runs are read once (`MetadataStore.list_runs`), matched against
the W&B-style filter that `Api.runs` takes plus the table's own controls
(state, tags, group, sweep, a search in names and ids), sorted, and cut to one
page. Config and summary values are flattened to dotted keys for the columns.
Config values under secret-looking keys are shown as "***" (`shown_config`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from mytrack_common.secrets import redact_mapping
from mytrack_service.query.documents import run_document
from mytrack_service.query.filters import FilterError, matcher, validate_filter
from mytrack_service.query.limits import MAX_FILTER_BYTES, Deadline
from mytrack_service.store.base import MetadataStore, RunRow
from mytrack_service.web.responses import ApiError

MAX_LIMIT = 1000
MAX_COLUMNS = 200  # config and summary columns offered, each
_TEXT = 200  # longest string value shown in a cell
_FIELDS = {
    "name": lambda r: r.name, "id": lambda r: r.key.run_id, "state": lambda r: r.state,
    "created_at": lambda r: r.created_at, "updated_at": lambda r: r.updated_at,
    "runtime": lambda r: r.runtime, "group": lambda r: r.group,
    "job_type": lambda r: r.job_type, "last_step": lambda r: r.last_step,
    "user": lambda r: _user(r), "tags": lambda r: ",".join(r.tags),
}


def runs_table(
    store: MetadataStore, entity: str, project: str, query: Mapping[str, str],
    deadline: Deadline | None = None,
) -> dict[str, Any]:
    """One page of the table, its total, its columns and (grouped) its groups.

    ``deadline``: checked run by run (the web API runs this on the query pool).
    """
    wanted = _matcher(query)
    chosen = []
    for run in store.list_runs(entity, project):
        if deadline is not None:
            deadline.check()
        if wanted(run):
            chosen.append(run)
    limit = _int(query, "limit", 100, 1, MAX_LIMIT)
    offset = _int(query, "offset", 0, 0, 1 << 62)
    flats = {id(run): (flatten(shown_config(run)), flatten(_user_summary(run.summary))) for run in chosen}
    _sort(chosen, query.get("sort") or "-created_at", flats)
    grouped = query.get("group_by") == "group"
    if grouped:  # stable: runs keep the chosen order inside their group
        chosen.sort(key=lambda run: (run.group == "", run.group))
    config_columns: Counter[str] = Counter()
    summary_columns: Counter[str] = Counter()
    for config, summary in flats.values():
        config_columns.update(config.keys())
        summary_columns.update(summary.keys())
    page = chosen[offset:offset + limit]
    return {
        "entity": entity, "project": project, "total": len(chosen), "offset": offset,
        "limit": limit,
        "runs": [table_row(run, *flats[id(run)]) for run in page],
        "columns": {"config": _columns(config_columns), "summary": _columns(summary_columns)},
        "groups": _groups(chosen) if grouped else [],
    }


def table_row(run: RunRow, config: dict[str, Any], summary: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": run.key.run_id, "name": run.name, "state": run.state, "entity": run.key.entity,
        "project": run.key.project, "user": _user(run), "created_at": run.created_at,
        "updated_at": run.updated_at, "heartbeat_at": run.heartbeat_at, "runtime": run.runtime,
        "group": run.group, "job_type": run.job_type, "tags": run.tags, "sweep_id": run.sweep_id,
        "last_step": run.last_step, "host": run.host, "config": config, "summary": summary,
    }


def flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Leaves of nested dicts under dotted keys, as cells: a media descriptor becomes
    ``<its type>``, a list its JSON, and long strings are cut."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        path = f"{prefix}{name}"
        if isinstance(value, Mapping):
            if "_type" in value:
                out[path] = f"<{value['_type']}>"
            else:
                out.update(flatten(value, path + "."))
        elif isinstance(value, (list, tuple)):
            out[path] = _cut(json.dumps(value, default=str))
        elif isinstance(value, str):
            out[path] = _cut(value)
        else:
            out[path] = value
    return out


def shown_config(run: RunRow) -> dict[str, Any]:
    """The config as the UI shows it: secret-looking keys' values as "***".

    Stored verbatim (the config is the user's data, as in W&B; the read API
    returns it so); hidden on screen unless the run opted out
    (``Settings(x_redact_secrets=False)``, recorded in its metadata).
    """
    metadata = run.metadata if isinstance(run.metadata, Mapping) else {}
    if metadata.get("redact_secrets") is False:
        return dict(run.config)
    return redact_mapping(run.config)


def _user_summary(summary: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if not str(k).startswith("_")}


def _user(run: RunRow) -> str:
    user = run.metadata.get("user") if isinstance(run.metadata, Mapping) else None
    return str(user) if user else run.key.entity


def _cut(text: str) -> str:
    return text if len(text) <= _TEXT else text[:_TEXT - 1] + "…"


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


def _matcher(query: Mapping[str, str]) -> Callable[[RunRow], bool]:
    """The table's controls, parsed once, as one predicate."""
    states = set(_split(query.get("state")))
    tags = set(_split(query.get("tags")))
    group = query.get("group")
    sweep = query.get("sweep")
    search = (query.get("search") or "").strip().lower()
    filters = parse_filters(query.get("filters"))
    filtered = matcher(filters)  # validated once, not once a run

    def wanted(run: RunRow) -> bool:
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
        return filters is None or filtered(run_document(run))

    return wanted


def _sort(runs: list[RunRow], spec: str, flats: dict[int, tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Sorts in place by ``[-]field``; a field is a column, ``config.X`` or ``summary.X``.
    Runs without a value go last either way; numbers sort before strings."""
    descending = spec.startswith("-")
    name = spec.lstrip("-+")
    head, _, rest = name.partition(".")
    if head in ("config", "summary") and rest:
        where = 0 if head == "config" else 1

        def value(run: RunRow) -> Any:
            return flats[id(run)][where].get(rest)
    elif name in _FIELDS:
        value = _FIELDS[name]
    else:
        raise ApiError(400, f"cannot sort by {name!r}: use a column, config.KEY or summary.KEY")
    keyed = [(_sortable(value(run)), run) for run in runs]
    present = [(key, run) for key, run in keyed if key is not None]
    present.sort(key=lambda item: item[0], reverse=descending)
    runs[:] = [run for _, run in present] + [run for key, run in keyed if key is None]


def _sortable(value: Any) -> tuple[int, Any] | None:
    if isinstance(value, bool):
        return (0, float(value))
    if isinstance(value, (int, float)):
        return None if value != value else (0, float(value))  # NaN: no value
    if isinstance(value, str):
        return (1, value.lower())
    return None


def _columns(counts: Counter[str]) -> list[str]:
    """The most common keys (at most MAX_COLUMNS), in name order."""
    return sorted(name for name, _ in counts.most_common(MAX_COLUMNS))


def _groups(runs: list[RunRow]) -> list[dict[str, Any]]:
    counts: dict[str, Counter[str]] = {}
    for run in runs:
        counts.setdefault(run.group, Counter())[run.state] += 1
    return [{"group": g, "count": sum(c.values()), "states": dict(c)} for g, c in counts.items()]
