"""Row semantics every `MetadataStore` shares: one definition, so the stores agree by construction.

`SqlStore` and the in-memory fake (`MemoryStore`) both take their row logic
from here rather than one from the other, so production code never imports
the test fake.

Flattened keys: a history row ``{"a": {"b": 1}, "acc.top1": 0.9}`` holds the
keys ``a.b`` and ``acc.top1``. A dict that contains the key ``_type`` (a media
value) is a leaf and is not flattened; an empty dict has no leaves. When a
nested key and a flat dotted key collide, the one later in the row wins.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Iterable, Mapping
from typing import Any

from mytrack_service.store.base import RUN_FIELDS, RunRow
from mytrack_service.store.jsontext import dump_json, load_json

# RunRow fields stored as JSON text.
JSON_RUN_FIELDS = frozenset({"tags", "config", "summary", "metadata", "service_state"})
def flatten_row(row: Mapping[str, Any]) -> Mapping[str, Any]:
    """The leaves of a history row, keyed by their dotted paths.

    A row without nested dicts is its own flattening and comes back as is.
    """
    if dict not in map(type, row.values()):
        return row
    out: dict[str, Any] = {}
    _flatten_into(out, row, "")
    return out


def _flatten_into(out: dict[str, Any], value: Mapping[str, Any], prefix: str) -> None:
    for name, item in value.items():
        path = f"{prefix}{name}"
        if isinstance(item, dict) and "_type" not in item:
            _flatten_into(out, item, path + ".")
        else:
            out[path] = item


def check_run_fields(fields: Iterable[str]) -> None:
    """Raises ValueError naming any field that update_run() may not set."""
    unknown = sorted(set(fields) - RUN_FIELDS)
    if unknown:
        raise ValueError(f"not settable run fields: {', '.join(unknown)}")


def unique_rows(rows: Iterable[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
    """Rows sorted by step; of several rows for one step, the last wins."""
    rows = list(rows)
    steps = [step for step, _ in rows]
    if all(map(operator.lt, steps, steps[1:])):  # already ascending (the usual case)
        return rows
    by_step = {int(step): row for step, row in rows}
    return sorted(by_step.items(), key=lambda item: item[0])


def merge_rows(
    stored: Mapping[int, dict[str, Any]], rows: list[tuple[int, dict[str, Any]]]
) -> tuple[list[tuple[int, dict[str, Any]]], int]:
    """Each row merged into the stored row of its step (new keys win), and how
    many user keys got a different value (conflicts between writers)."""
    merged: list[tuple[int, dict[str, Any]]] = []
    conflicts = 0
    for step, row in rows:
        old = stored.get(step)
        if old is None:
            merged.append((step, row))
            continue
        conflicts += sum(
            1 for key, value in row.items()
            if not key.startswith("_") and key in old and old[key] != value
            and not (value != value and old[key] != old[key])
        )
        merged.append((step, {**old, **row}))
    return merged, conflicts


def merge_fields(stored: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """A run's JSON field (summary, metadata, service_state) merged key by key;
    the per-writer records under "writers" and the per-service snapshots under
    "nodes" merge one level deeper."""
    merged = {**stored, **new}
    for nested in ("writers", "nodes"):  # per writer / per service entries
        if isinstance(stored.get(nested), dict) and isinstance(new.get(nested), dict):
            merged[nested] = {**stored[nested], **new[nested]}
    return merged


def unique_keys(keys: Iterable[str]) -> list[str]:
    """The keys in their first order, without repeats."""
    return list(dict.fromkeys(keys))


def roundtrip_run(run: RunRow) -> RunRow:
    """A copy of ``run`` whose JSON fields went through `dump_json`/`load_json`."""
    values = {
        name: load_json(dump_json(getattr(run, name), f"run field {name!r}"))
        for name in JSON_RUN_FIELDS
    }
    return dataclasses.replace(run, **values)
