"""A run as the filter language sees it: the document `Api.runs` filters and the runs table query.

One document per run, shared by gRPC's ListRuns and the web UI's runs table, so
that a filter means the same thing in both. Besides the run's own fields it
holds its ``config``, ``summary``, ``metadata`` (what the SDK recorded about
the environment) and ``system``: the part of the metadata that describes the
machine (host name, OS, Python, CPUs, memory, GPUs), as W&B's runs table shows
it among its system columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from mytrack_service.store.base import RunRow

# Metadata keys shown as the machine's ("system") columns.
SYSTEM_KEYS: Final = (
    "hostname", "os", "python", "python_implementation", "cpu_count", "cpu_count_physical",
    "memory_total_mb", "gpu", "scheduler",
)
# Prefixes under which a bare filter key (``lr``) may be found, in this order.
PREFIXES: Final = ("config", "summary", "system", "metadata")
# Top-level names of a document that are not prefixes: a run's own fields.
RUN_FIELDS: Final = frozenset({
    "id", "name", "display_name", "state", "group", "job_type", "tags", "notes",
    "created_at", "updated_at", "runtime", "last_step", "user", "host", "sweep_id", "sweep",
})


def run_user(run: RunRow) -> str:
    """Who ran it: the OS user the SDK recorded, else the entity."""
    user = run.metadata.get("user") if isinstance(run.metadata, Mapping) else None
    return str(user) if user else run.key.entity


def system_of(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """The machine's part of a run's metadata."""
    return {k: metadata[k] for k in SYSTEM_KEYS if k in metadata}


def run_document(run: RunRow) -> dict[str, Any]:
    """The shape the filters of `Api.runs` and of the runs table are evaluated against."""
    metadata = run.metadata if isinstance(run.metadata, Mapping) else {}
    return {
        "id": run.key.run_id, "name": run.name, "display_name": run.name,
        "state": run.state, "group": run.group, "job_type": run.job_type,
        "tags": run.tags, "notes": run.notes, "created_at": run.created_at,
        "updated_at": run.updated_at, "runtime": run.runtime, "last_step": run.last_step,
        "user": run_user(run), "host": run.host,
        "config": run.config, "summary": run.summary, "sweep_id": run.sweep_id,
        "sweep": run.sweep_id, "metadata": metadata, "system": system_of(metadata),
    }
