"""`mytrack import mlflow`: runs of a SQLite store written by ``mlflow`` come back value for value."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack.errors import InvalidValueError
from mytrack.importers import mlflow as mlflow_import

pytest.importorskip("mlflow")

pytestmark = pytest.mark.usefixtures("no_current_run")

_WRITER = """
import json, sys
import mlflow
from mlflow.tracking import MlflowClient

mlflow.set_tracking_uri(sys.argv[1])
mlflow.set_experiment("mlf-exp")
with mlflow.start_run(run_name="first") as run:
    mlflow.log_params({"lr": 0.01, "optimizer": "sgd"})
    for step in range(4):
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        mlflow.log_metric("acc", step / 4, step=step)
    mlflow.log_metric("val", 0.5, step=10)
    mlflow.set_tags({"mlflow.note.content": "a note", "team": "vision", "flag": ""})
    with open("model.txt", "w") as f:
        f.write("weights")
    mlflow.log_artifact("model.txt", artifact_path="model")
    first = run.info.run_id
with mlflow.start_run(run_name="second") as run:
    mlflow.log_metric("loss", 3.0, step=0)
    second = run.info.run_id
mlflow.end_run()
MlflowClient(sys.argv[1]).set_terminated(second, status="FAILED")
client = MlflowClient(sys.argv[1])
history = {k: [[m.step, m.timestamp, m.value] for m in client.get_metric_history(first, k)]
           for k in ("loss", "acc", "val")}
info = client.get_run(first).info
json.dump({"first": first, "second": second, "history": history, "start": info.start_time,
           "end": info.end_time}, open("written.json", "w"))
"""


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, Any]]:
    """An MLflow SQLite store with two runs, written by mlflow in a subprocess."""
    folder = tmp_path_factory.mktemp("mlflow-src")
    uri = f"sqlite:///{folder}/mlflow.db"
    subprocess.run([sys.executable, "-c", textwrap.dedent(_WRITER), uri], cwd=folder, check=True,
                   timeout=240, capture_output=True, text=True)
    return uri, json.loads((folder / "written.json").read_text())


def test_mlflow_runs_are_imported_value_for_value_and_a_second_import_changes_nothing(
    store: tuple[str, dict[str, Any]], project: str, tmp_path: Path,
) -> None:
    """Params as config, metric histories with steps and timestamps, tags, notes, artifacts, status."""
    uri, source = store
    report = mlflow_import.import_runs(uri, project=project)
    assert report.ok and sorted(o.action for o in report.runs) == ["imported", "imported"], report
    api = mytrack.Api()
    run = api.run(f"{project}/{source['first']}")
    assert (run.name, run.notes, run.state) == ("first", "a note", "finished")
    assert sorted(run.tags) == ["flag", "team=vision"]
    assert run.config == {"lr": "0.01", "optimizer": "sgd"}  # MLflow keeps params as strings
    assert run.created_timestamp == source["start"] / 1000
    rows = list(run.scan_history())
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 10]
    for key, values in source["history"].items():
        got = [(r["_step"], r[key]) for r in rows if key in r]
        assert got == [(step, value) for step, _, value in values]
        for step, timestamp, _ in values:
            row = next(r for r in rows if r["_step"] == step)
            assert row["_timestamp"] >= timestamp / 1000
    assert all(r["_timestamp"] == max(t for k in source["history"].values() for s, t, _ in k
                                      if s == r["_step"]) / 1000 for r in rows)
    handle = run.file("model/model.txt").download(root=str(tmp_path))
    handle.close()
    assert (tmp_path / "model" / "model.txt").read_text() == "weights"
    assert run.metadata["mlflow_tags"]["mlflow.runName"] == "first"
    second = api.run(f"{project}/{source['second']}")
    assert (second.name, second.state) == ("second", "failed")
    assert [(r["_step"], r["loss"]) for r in second.scan_history()] == [(0, 3.0)]

    before = [(list(r.scan_history()), r.updated_at) for r in (run, second)]
    again = mlflow_import.import_runs(uri, experiments=["mlf-exp"], project=project)
    assert [o.action for o in again.runs] == ["skipped", "skipped"]
    after = [(list(r.scan_history()), r.updated_at)
             for r in (api.run(f"{project}/{source['first']}"), api.run(f"{project}/{source['second']}"))]
    assert after == before


def test_an_unknown_experiment_is_reported_and_a_bad_uri_refused(store: tuple[str, dict[str, Any]]) -> None:
    """Named errors, not MLflow's exceptions."""
    uri, _ = store
    report = mlflow_import.import_runs(uri, experiments=["nope"], dry_run=True)
    assert report.runs == [] and [p.reason for p in report.unreadable] == ["no such experiment"]
    with pytest.raises(InvalidValueError, match="tracking_uri"):
        mlflow_import.import_runs("bogus-scheme://x")
