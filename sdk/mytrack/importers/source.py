"""What every importer hands to the common import procedure (`importing.py`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mytrack.importers.staging import StagedRun


@dataclass(frozen=True)
class Ending:
    """How the source says the run ended."""

    state: str  # "finished", "failed", "killed" or "crashed"
    exit_code: int | None
    timestamp: float


@dataclass
class SourceRun:
    """One run found in a source, described before anything of it is written.

    ``write`` streams the run's content (config changes, history, summary,
    console, files, metadata) into a `StagedRun` and says how it ended; it is
    called only when the run is imported, so listing sources stays cheap.
    """

    kind: str  # "wandb", "tensorboard" or "mlflow"
    source_id: str  # the run's identity in its source, stable across imports
    where: str  # for people: the folder or URI it comes from
    run_id: str
    name: str
    project: str  # the source's own project ("" when it has none)
    start_time: float
    write: Callable[[StagedRun], Ending]
    group: str = ""
    job_type: str = ""
    tags: tuple[str, ...] = ()
    notes: str = ""
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SourceProblem:
    """Something in the source that is not a readable run, and why."""

    where: str
    reason: str
