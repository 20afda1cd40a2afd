"""`RunAdmin`: deleting runs, editing a stored run, and the blob sweep, for the RPC and the web UI.

Deleting a run (W&B's ``Run.delete(delete_artifacts=False)``):

* a live run is refused (stop it first): a writer still sending records
  would recreate what is deleted, and its files would upload again;
* its rows go in one store transaction (store/run_deletion.py for the
  artifact rules), its session in the service is forgotten;
* then the blobs its rows referenced that nothing else references are swept
  (sweep.py). The run folder on the training machine (``./mytrack-runs/run-*``)
  is left alone, as W&B leaves ``./wandb/run-*``.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping
from typing import Any

from mytrack_common.names import name_problem, run_id_problem
from mytrack_service.ingest.live_runs import IngestError, LiveRuns
from mytrack_service.reclaim.sweep import BlobSweep
from mytrack_service.store.base import RunKey

EDITABLE = ("name", "tags", "notes", "group", "job_type", "config", "summary")
MAX_TEXT = 100_000  # characters of a name or of notes
MAX_RUNS = 10_000  # runs in one delete request


def parse_path(path: object) -> RunKey:
    """``entity/project/run_id`` as a key; IngestError "invalid" naming what is wrong."""
    if not isinstance(path, str) or path.count("/") != 2:
        raise IngestError("invalid", f"run path {path!r:.200}: expected ENTITY/PROJECT/RUN_ID")
    entity, project, run_id = path.split("/")
    for what, problem in (("entity", name_problem(entity)), ("project", name_problem(project)),
                          ("run id", run_id_problem(run_id))):
        if problem is not None:
            raise IngestError("invalid", f"run path {path!r:.200}: {what} {problem}")
    return RunKey(entity, project, run_id)


class RunAdmin:
    def __init__(self, live_runs: LiveRuns, sweep: BlobSweep) -> None:
        self.live_runs = live_runs
        self.store = live_runs.store
        self.blobs = sweep

    def delete_runs(self, paths: object, delete_artifacts: object = False) -> dict[str, Any]:
        """Deletes each run it can; one refused or missing run does not stop the others.

        Returns ``{deleted, not_found, refused: [{run, error}], artifacts_deleted,
        artifacts_kept, blobs}`` (``blobs``: the sweep's report).
        """
        if not isinstance(paths, list) or not paths or len(paths) > MAX_RUNS:
            raise IngestError("invalid", f"expected a list of 1 to {MAX_RUNS} run paths "
                              "(ENTITY/PROJECT/RUN_ID)")
        if not isinstance(delete_artifacts, bool):
            raise IngestError("invalid", "delete_artifacts must be true or false")
        keys = [parse_path(p) for p in paths]  # all checked before anything is deleted
        out: dict[str, Any] = {"deleted": [], "not_found": [], "refused": [],
                               "artifacts_deleted": [], "artifacts_kept": []}
        digests: set[str] = set()
        for key in dict.fromkeys(keys):
            try:
                self._check_not_open_elsewhere(key)
                deleted = self.live_runs.delete_run(
                    key, functools.partial(self.store.delete_run, key, delete_artifacts))
            except IngestError as exc:
                out["refused"].append({"run": key.path, "error": str(exc)})
                continue
            if deleted is None:
                out["not_found"].append(key.path)
                continue
            out["deleted"].append(key.path)
            out["artifacts_deleted"] += deleted.artifacts
            out["artifacts_kept"] += deleted.artifacts_kept
            digests |= deleted.digests
        out["blobs"] = self.blobs.sweep(digests).as_dict() if digests else None
        return out

    def _check_not_open_elsewhere(self, key: RunKey) -> None:
        """A writer of another service sharing the store (its rows say so) makes the run live too."""
        for writer in self.store.list_writers():
            if writer.key == key and writer.node != self.live_runs.node_id:
                raise IngestError("precondition", f"run {key.path} is live (a writer of service "
                                  f"{writer.node or '?'} is open): stop it first")

    def update_run(self, path: object, fields: object) -> dict[str, Any]:
        """Sets name, tags, notes, group, job type, config and/or summary of a stored run (W&B's ``Run.update()``).

        Config and summary of a live run are refused: the run's own writes would
        replace them with its next record.
        """
        key = parse_path(path)
        if not isinstance(fields, Mapping) or not fields:
            raise IngestError("invalid", f"expected an object with some of {', '.join(EDITABLE)}")
        unknown = sorted(set(fields) - set(EDITABLE))
        if unknown:
            raise IngestError("invalid", f"cannot update {', '.join(map(repr, unknown))}: "
                              f"the editable fields are {', '.join(EDITABLE)}")
        clean = {name: _checked(name, value) for name, value in fields.items()}
        run = self.store.get_run(key)
        if run is None:
            raise IngestError("not_found", f"run {key.path} not found")
        live = key in self.live_runs.live_run_keys()
        if live and {"config", "summary"} & set(clean):
            raise IngestError("precondition", f"run {key.path} is live: its config and summary "
                              "are its own until it ends (name, tags and notes can change)")
        # updated_at moves, as W&B's updatedAt does (the runs table's cache reads changed runs by it)
        self.store.update_run(key, {**clean, "updated_at": max(time.time(), run.updated_at)})
        return {"run": key.path, "updated": sorted(clean)}


def _checked(name: str, value: Any) -> Any:
    if name in ("name", "notes", "group", "job_type"):
        if not isinstance(value, str) or len(value) > MAX_TEXT:
            raise IngestError("invalid", f"{name} must be a string of at most {MAX_TEXT} characters")
        return value if name == "notes" else value.strip()
    if name == "tags":
        if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
            raise IngestError("invalid", "tags must be a list of strings")
        return list(dict.fromkeys(t.strip() for t in value if t.strip()))
    if not isinstance(value, Mapping):
        raise IngestError("invalid", f"{name} must be an object (a dict), got {type(value).__name__}")
    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise IngestError("invalid", f"{name} is not JSON-serialisable: {exc}") from None
    return dict(value)
