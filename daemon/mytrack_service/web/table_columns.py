"""The runs table's columns: what a column id names and a run's value in it.

A column id is a run field (``name``, ``state``, ``created_at``...) or a
flattened key under a prefix: ``config.K``, ``summary.K``, ``system.K`` (the
machine: host, OS, Python, CPUs, GPUs) or ``metadata.K`` (the rest of what the
SDK recorded: git, program, arguments...). Every column can sort, group and
(through the filter language, which reads the same names) filter the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mytrack_common.secrets import redact_mapping
from mytrack_service.query.documents import SYSTEM_KEYS, run_document, run_user, system_of
from mytrack_service.store.base import RunRow

_TEXT = 200  # longest string value shown in a cell
FIELDS: dict[str, Callable[[RunRow], Any]] = {
    "name": lambda r: r.name, "id": lambda r: r.key.run_id, "state": lambda r: r.state,
    "created_at": lambda r: r.created_at, "updated_at": lambda r: r.updated_at,
    "runtime": lambda r: r.runtime, "group": lambda r: r.group,
    "job_type": lambda r: r.job_type, "last_step": lambda r: r.last_step,
    "user": run_user, "tags": lambda r: ",".join(r.tags), "host": lambda r: r.host,
    "notes": lambda r: r.notes, "sweep": lambda r: r.sweep_id,
}
PREFIXES = ("config", "summary", "system", "metadata")


class Cells:
    """One run's flattened values per prefix, each made once and only when asked for."""

    __slots__ = ("run", "_flat", "_doc")

    def __init__(self, run: RunRow) -> None:
        self.run = run
        self._flat: dict[str, dict[str, Any]] = {}
        self._doc: dict[str, Any] | None = None

    def document(self) -> dict[str, Any]:
        """The run as the filter language sees it (query/documents.py)."""
        if self._doc is None:
            self._doc = run_document(self.run)
        return self._doc

    def of(self, prefix: str) -> dict[str, Any]:
        flat = self._flat.get(prefix)
        if flat is None:
            flat = self._flat[prefix] = flatten(_source(self.run, prefix))
        return flat

    def value(self, column: str) -> Any:
        """The run's value in ``column`` (None when it has none)."""
        field = FIELDS.get(column)
        if field is not None:
            return field(self.run)
        prefix, _, key = column.partition(".")
        return self.of(prefix).get(key) if prefix in PREFIXES and key else None


def known(column: str) -> bool:
    prefix, dot, key = column.partition(".")
    return column in FIELDS or (prefix in PREFIXES and bool(dot and key))


def _source(run: RunRow, prefix: str) -> Mapping[str, Any]:
    metadata = run.metadata if isinstance(run.metadata, Mapping) else {}
    if prefix == "config":
        return shown_config(run)
    if prefix == "summary":
        return {k: v for k, v in run.summary.items() if not str(k).startswith("_")}
    if prefix == "system":
        return system_of(metadata)
    return {k: v for k, v in metadata.items() if k not in SYSTEM_KEYS}


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


def _cut(text: str) -> str:
    return text if len(text) <= _TEXT else text[:_TEXT - 1] + "…"


def sortable(value: Any) -> tuple[int, Any] | None:
    """A sort key: numbers (booleans too) before strings; None for no value (NaN included)."""
    if isinstance(value, bool):
        return (0, float(value))
    if isinstance(value, (int, float)):
        return None if value != value else (0, float(value))
    if isinstance(value, str):
        return (1, value.lower())
    return None
