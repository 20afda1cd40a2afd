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

from mytrack_common.secrets import REDACTED, is_secret_name, redact_mapping, redact_value
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
MAX_COLUMNS = 200  # columns offered per prefix


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
            if prefix == "config":
                flat = flatten(self.run.config, redact=_redacts(self.run))
            else:
                flat = flatten(_source(self.run, prefix))
            self._flat[prefix] = flat
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


def _redacts(run: RunRow) -> bool:
    """Whether the UI hides the run's secret-looking config values (unless it opted out)."""
    metadata = run.metadata if isinstance(run.metadata, Mapping) else {}
    return metadata.get("redact_secrets") is not False


def shown_config(run: RunRow) -> dict[str, Any]:
    """The config as the UI shows it: secret-looking keys' values as "***".

    Stored verbatim (the config is the user's data, as in W&B; the read API
    returns it so); hidden on screen unless the run opted out
    (``Settings(x_redact_secrets=False)``, recorded in its metadata).
    """
    return redact_mapping(run.config) if _redacts(run) else dict(run.config)


def flatten(values: Mapping[str, Any], prefix: str = "", redact: bool = False) -> dict[str, Any]:
    """Leaves of nested dicts under dotted keys, as cells: a media descriptor becomes
    ``<its type>``, a list its JSON, and long strings are cut. With ``redact``,
    the values of secret-looking keys are "***" (as `shown_config` shows them)."""
    out: dict[str, Any] = {}
    _flatten_into(out, values, prefix, redact)
    return out


def _flatten_into(out: dict[str, Any], values: Mapping[str, Any], prefix: str, redact: bool) -> None:
    # One pass, redacting as it goes, with the plain JSON types tested by exact
    # type first: a 10,000-run table flattens half a million values, and the
    # ABC checks of isinstance(value, Mapping) were most of that time.
    for name, value in values.items():
        path = f"{prefix}{name}"
        if redact and is_secret_name(str(name)):
            out[path] = REDACTED
            continue
        kind = type(value)
        if kind is float or kind is int or kind is bool or value is None:
            out[path] = value
        elif kind is str:
            out[path] = _cut(value)
        elif kind is dict or isinstance(value, Mapping):
            if "_type" in value:
                kind_name = value["_type"]
                out[path] = f"<{redact_value(kind_name) if redact else kind_name}>"
            else:
                _flatten_into(out, value, path + ".", redact)
        elif isinstance(value, (list, tuple)):
            out[path] = _cut(json.dumps(redact_value(value) if redact else value, default=str))
        elif isinstance(value, str):
            out[path] = _cut(value)
        else:
            out[path] = value


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
