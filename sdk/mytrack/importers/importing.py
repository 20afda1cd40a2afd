"""The procedure every importer shares: place, skip or stage, hand over, wait.

Idempotence comes from identities derived from the source: the run keeps the
source's run id (or one hashed from the source's location), and the writer
that carries it has an id hashed from the source and the target run, so its
staging folder and its WAL are the same at every try. Per run:

* no such run in the store: the run is staged from scratch (a folder left by
  an import cut short is emptied first) and its WAL handed to the service;
* the run exists, from this import, finished: skipped, nothing changes;
* the run exists, from this import, still "running": an earlier import was
  killed after handing the WAL over; adopting it again is a no-op for the
  service, which goes on applying it, so the import waits for it to finish;
* the run exists but came from elsewhere: left alone, and reported.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mytrack._internal.files.restore import wait_for_uploads
from mytrack._internal.transport import launcher
from mytrack._internal.transport.client import ServiceClient
from mytrack._internal.transport.encode import dumps
from mytrack._internal.transport.service_types import OpenRun, RunInfo, RunKey
from mytrack._internal.transport.sync import WriterFiles, sync_writer
from mytrack.errors import Error, RunNotFoundError
from mytrack.importers.source import SourceProblem, SourceRun
from mytrack.importers.staging import StagedRun
from mytrack.settings import Settings
from mytrack_common.names import name_problem

IMPORTED = "imported"
SKIPPED = "skipped"  # already imported
PLANNED = "would import"  # --dry-run
FAILED = "failed"


@dataclass
class RunOutcome:
    """What became of one source run."""

    where: str
    path: str  # entity/project/run_id in mytrack ("" when it never got that far)
    action: str  # IMPORTED, SKIPPED, PLANNED or FAILED
    reason: str = ""
    left_out: list[str] = field(default_factory=list)  # what could not be carried over, and why


@dataclass
class ImportReport:
    """The result of an import: one outcome per run, and what was not a run."""

    runs: list[RunOutcome] = field(default_factory=list)
    unreadable: list[SourceProblem] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for run in self.runs if run.action == action)

    @property
    def ok(self) -> bool:
        return not self.unreadable and self.count(FAILED) == 0

    def summary(self) -> str:
        counts = ", ".join(
            f"{self.count(a)} {a}" for a in (IMPORTED, SKIPPED, PLANNED, FAILED) if self.count(a)
        )
        return f"{len(self.runs)} run(s): {counts or 'nothing to do'}"


@dataclass(frozen=True)
class Placement:
    entity: str
    project: str | None  # None: the source's project, else the settings' default
    default_project: str
    service_dir: str
    timeout: float


def placement(project: str | None, entity: str | None, timeout: float) -> Placement:
    """Checks ``project``/``entity`` (named in errors) and resolves the defaults."""
    settings = Settings().resolve({"entity": entity, "project": project})
    return Placement(
        entity=settings.entity or "", project=project, default_project=settings.project or "uncategorized",
        service_dir=settings.service_dir or "", timeout=timeout,
    )


def import_all(
    found: Iterable[SourceRun | SourceProblem], where: Placement, dry_run: bool, progress: bool,
) -> ImportReport:
    """Imports (or, with ``dry_run``, lists) every run found; never raises for one run."""
    report = ImportReport()
    runs = []
    for item in found:
        if isinstance(item, SourceProblem):
            report.unreadable.append(item)
        else:
            runs.append(item)
    client = launcher.connect(where.service_dir, timeout=where.timeout)
    try:
        with _Progress(progress, len(runs)) as bar:
            for source in runs:
                bar.describe(f"{source.kind}: {source.name or source.run_id}")
                outcome = _import_one(client, source, where, dry_run)
                report.runs.append(outcome)
                bar.done(outcome)
    finally:
        client.close()
    return report


def _import_one(client: ServiceClient, source: SourceRun, where: Placement, dry_run: bool) -> RunOutcome:
    project = where.project or _project_name(source.project) or where.default_project
    key = RunKey(entity=where.entity, project=project, run_id=source.run_id)
    writer_id = hashlib.sha256(f"{source.kind}\0{source.source_id}\0{key.path}".encode()).hexdigest()[:16]
    folder = os.path.join(where.service_dir, "imports", source.kind, writer_id)
    outcome = RunOutcome(source.where, key.path, FAILED)
    try:
        existing = _get_run(client, key)
        if existing is not None:
            return _existing(client, existing, source, folder, outcome, where, dry_run)
        if dry_run:
            outcome.action = PLANNED
            return outcome
        staged = _stage(source, key, writer_id, folder)
        outcome.left_out = staged.problems
        _hand_over(client, staged.open_path, staged.wal_path, staged.request, where.timeout)
        outcome.action = IMPORTED
    except Exception as exc:  # noqa: BLE001 - one run's failure must not stop the others
        outcome.action, outcome.reason = FAILED, _describe(exc)
    return outcome


def _existing(
    client: ServiceClient, run: RunInfo, source: SourceRun, folder: str, outcome: RunOutcome,
    where: Placement, dry_run: bool,
) -> RunOutcome:
    marker = json.loads(run.metadata_json or b"{}").get("imported_from") or {}
    ours = os.path.abspath(run.run_dir) == os.path.abspath(folder) or (
        marker.get("kind") == source.kind and marker.get("source_id") == source.source_id)
    if not ours:
        outcome.reason = f"a run {outcome.path} exists that was not imported from {source.where}"
        return outcome
    if run.state != "running":
        outcome.action, outcome.reason = SKIPPED, f"already imported ({run.state})"
        return outcome
    if dry_run:
        outcome.action, outcome.reason = PLANNED, "an earlier import is still being applied"
        return outcome
    writers = [name for name in os.listdir(folder) if name.endswith(".open")] if os.path.isdir(folder) else []
    if not writers:
        outcome.reason = f"an earlier import is unfinished and its folder {folder} is gone"
        return outcome
    open_path = os.path.join(folder, writers[0])
    from mytrack._internal.transport.client import parse_open_run

    with open(open_path, "rb") as f:
        request = parse_open_run(f.read())
    _hand_over(client, open_path, open_path[: -len(".open")] + ".wal", request, where.timeout)
    outcome.action, outcome.reason = IMPORTED, "completed an earlier, interrupted import"
    return outcome


def _stage(source: SourceRun, key: RunKey, writer_id: str, folder: str) -> StagedRun:
    request = OpenRun(
        run=key, writer_id=writer_id, name=source.name, group=source.group, job_type=source.job_type,
        tags=source.tags, notes=source.notes, config_json=dumps({}), resume="allow", run_dir=folder,
        start_time=source.start_time, pid=0, host="", mode="offline", stats_interval=0.0,
    )
    staged = StagedRun(folder, request)
    try:
        staged.environment({"imported_from": {
            "kind": source.kind, "source_id": source.source_id, "where": source.where,
            "run_id": source.run_id,
        }})
        staged.config(source.config)
        ending = source.write(staged)
        staged.finish(ending.exit_code, ending.state, ending.timestamp)
    except BaseException:
        staged.abandon()
        raise
    return staged


def _hand_over(client: ServiceClient, open_path: str, wal_path: str, request: OpenRun, timeout: float) -> None:
    """Has the service adopt the WAL, and waits until it is applied and its files uploaded."""
    seq, complete = sync_writer(client, WriterFiles(open_path, wal_path, request), timeout)
    if not complete:
        raise Error(f"the service had not applied the import's {seq} record(s) after {timeout:.0f}s; "
                    "it goes on, and the next import waits for it")
    left, _ = wait_for_uploads(client, request.run, timeout, quiet=True)
    if left:
        raise Error(f"{left} file(s) still uploading after {timeout:.0f}s; the service finishes them")


def _get_run(client: ServiceClient, key: RunKey) -> RunInfo | None:
    try:
        return client.get_run(key)
    except RunNotFoundError:
        return None


_NAME_BAD = re.compile(r"[/\\#?%:]")


def _project_name(name: str) -> str:
    """The source's project as a mytrack project name ("" if it cannot be one)."""
    name = _NAME_BAD.sub("-", name.strip()).strip("-")
    return name if name and name_problem(name) is None else ""


def _describe(exc: BaseException) -> str:
    if isinstance(exc, Error | OSError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


class _Progress:
    """A rich progress bar over the runs, or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._progress: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import Progress

            console = Console(file=sys.stderr)
            self._progress = Progress(transient=True, console=console)
            self._task = self._progress.add_task("importing", total=total)

    def __enter__(self) -> _Progress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def describe(self, text: str) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=text)

    def done(self, outcome: RunOutcome) -> None:
        if self._progress is not None:
            reason = f" ({outcome.reason})" if outcome.reason else ""
            self._progress.console.print(f"{outcome.action}: {outcome.where} -> {outcome.path}{reason}")
            self._progress.advance(self._task)
