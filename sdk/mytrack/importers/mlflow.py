"""``mytrack import mlflow --tracking-uri URI [--experiment NAME]``: runs of an MLflow store.

Read through MLflow's own client (``mlflow.tracking.MlflowClient``, the
``[import-mlflow]`` extra), so every store MLflow reads works: a SQLite or
other database URI, a tracking server, or a file store (``file:./mlruns``;
MLflow 3 opens those only with ``MLFLOW_ALLOW_FILE_STORE=true``). A run keeps
its MLflow run id and lands in a project named after its experiment. What is
carried over: docs/importing.md.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from typing import Any

from mytrack.errors import InvalidValueError, UsageError
from mytrack.importers.importing import ImportReport, import_all, placement
from mytrack.importers.source import Ending, SourceProblem, SourceRun
from mytrack.importers.staging import StagedRun

__all__ = ["import_runs"]

_STATES = {"FINISHED": "finished", "FAILED": "failed", "KILLED": "killed"}
_NAME_TAG, _NOTE_TAG = "mlflow.runName", "mlflow.note.content"
# MLflow's own tags that describe where the run came from: run metadata.
_METADATA_TAGS = {
    "mlflow.user": "user", "mlflow.source.name": "program", "mlflow.source.type": "mlflow_source_type",
    "mlflow.source.git.commit": "git_commit", "mlflow.parentRunId": "mlflow_parent_run_id",
}
_MAX_TAG = 64


def import_runs(
    tracking_uri: str, experiments: Sequence[str] | None = None, project: str | None = None,
    entity: str | None = None, dry_run: bool = False, progress: bool = False, timeout: float = 600.0,
) -> ImportReport:
    """Imports the runs of ``experiments`` (default: all) of the MLflow store at ``tracking_uri``.

    Raises:
        UsageError: MLflow is not installed.
        InvalidValueError: the store cannot be opened, or a bad ``project``/``entity``.
        CommError: the service cannot be reached.
    """
    client = _client(tracking_uri)
    where = placement(project, entity, timeout)
    return import_all(find_runs(client, tracking_uri, experiments), where, dry_run, progress)


def _client(tracking_uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise UsageError(f"importing MLflow runs needs MLflow: pip install 'mytrack[import-mlflow]' ({exc})") from None
    try:
        client = MlflowClient(tracking_uri=tracking_uri)
        client.search_experiments(max_results=1)
    except Exception as exc:  # noqa: BLE001 - MlflowException and the store's own errors
        raise InvalidValueError(f"tracking_uri {tracking_uri!r}: MLflow cannot open it: {exc}") from None
    return client


def find_runs(client: Any, tracking_uri: str, names: Sequence[str] | None) -> Iterator[SourceRun | SourceProblem]:
    experiments = []
    for experiment in _all(client.search_experiments):
        if names is None or experiment.name in names:
            experiments.append(experiment)
    for name in sorted(set(names or ()) - {e.name for e in experiments}):
        yield SourceProblem(f"{tracking_uri} experiment {name!r}", "no such experiment")
    for experiment in experiments:
        runs = _all(client.search_runs, experiment_ids=[experiment.experiment_id],
                    order_by=["attribute.start_time ASC"])
        for run in runs:
            where = f"{tracking_uri} run {run.info.run_id}"
            if run.info.status not in _STATES:
                yield SourceProblem(where, f"its status is {run.info.status}: import it once it has ended")
                continue
            yield _source(client, run, experiment.name, where)


def _all(search: Any, **kwargs: Any) -> list[Any]:
    """Every page of an MLflow search."""
    found, token = [], None
    while True:
        page = search(max_results=1000, page_token=token, **kwargs)
        found.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return found


def _source(client: Any, run: Any, experiment: str, where: str) -> SourceRun:
    info, tags = run.info, dict(run.data.tags)
    user_tags = {k: v for k, v in tags.items() if not k.startswith("mlflow.")}
    return SourceRun(
        kind="mlflow", source_id=f"mlflow-run:{info.run_id}", where=where, run_id=info.run_id,
        name=tags.get(_NAME_TAG) or info.run_name or "", project=experiment,
        start_time=info.start_time / 1000.0, notes=tags.get(_NOTE_TAG, ""),
        tags=tuple(t for t in (_tag(k, v) for k, v in sorted(user_tags.items())) if len(t) <= _MAX_TAG),
        config=dict(run.data.params),
        write=lambda staged: _write(client, run, staged),
    )


def _tag(key: str, value: str) -> str:
    return f"{key}={value}" if value else key


def _write(client: Any, run: Any, staged: StagedRun) -> Ending:
    info, tags = run.info, dict(run.data.tags)
    for key, value in sorted(tags.items()):
        if not key.startswith("mlflow.") and len(_tag(key, value)) > _MAX_TAG:
            staged.problems.append(f"tag {key!r} left out: '{_tag(key, value)[:40]}...' is over {_MAX_TAG} characters")
    metadata: dict[str, Any] = {target: tags[key] for key, target in _METADATA_TAGS.items() if key in tags}
    metadata["mlflow_tags"] = {k: v for k, v in tags.items() if k.startswith("mlflow.")}
    metadata["mlflow_experiment_id"] = info.experiment_id
    staged.environment(metadata)
    last = _history(client, info.run_id, list(run.data.metrics), staged)
    _artifacts(client, info.run_id, staged)
    end = info.end_time / 1000.0 if info.end_time else max(last, info.start_time / 1000.0)
    return Ending(_STATES[info.status], 0 if info.status == "FINISHED" else 1, end)


def _history(client: Any, run_id: str, keys: list[str], staged: StagedRun) -> float:
    """Every value of every metric, as rows by step; returns the last timestamp."""
    rows: dict[int, dict[str, Any]] = {}
    times: dict[int, float] = {}
    repeated = 0
    for key in sorted(keys):
        for metric in sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp)):
            row = rows.setdefault(metric.step, {})
            repeated += key in row
            row[key] = metric.value
            times[metric.step] = max(times.get(metric.step, 0.0), metric.timestamp / 1000.0)
    if repeated:
        staged.problems.append(
            f"{repeated} metric value(s) logged again at a step that already had one: the last kept")
    for step in sorted(rows):
        if step < 0:
            staged.problems.append(f"the values at step {step} left out: steps must not be negative")
            continue
        staged.log(rows[step], step, times[step])
    return max(times.values(), default=0.0)


def _artifacts(client: Any, run_id: str, staged: StagedRun) -> None:
    """The run's artifacts, downloaded with MLflow's client and kept as run files."""
    try:
        if not client.list_artifacts(run_id):
            return
        with tempfile.TemporaryDirectory(prefix="mytrack-mlflow-") as folder:
            root = client.download_artifacts(run_id, "", dst_path=folder)
            files = []
            for parent, dirs, names in os.walk(root):
                dirs.sort()
                files += [(os.path.relpath(os.path.join(parent, n), root).replace(os.sep, "/"),
                           os.path.join(parent, n)) for n in sorted(names)]
            staged.add_files(files)
    except Exception as exc:  # noqa: BLE001 - MlflowException, a store's or the network's errors
        staged.problems.append(f"artifacts left out: MLflow could not download them: {exc}")
