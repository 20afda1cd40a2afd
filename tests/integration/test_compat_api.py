"""W&B's names on the read API and on artifacts, asserted on what comes back."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path

import pytest

import mytrack
from mytrack.errors import ArtifactError, InvalidValueError

QUIET = mytrack.Settings(quiet=True)


@pytest.fixture(autouse=True)
def _no_current_run(workdir: Path) -> Iterator[None]:
    mytrack.finish()
    yield
    mytrack.finish()


def logged(project: str, name: str, loss: float | None, lr: float) -> mytrack.Run:
    run = mytrack.init(project=project, name=name, config={"lr": lr}, settings=QUIET)
    if loss is not None:
        run.log({"loss": loss})
    run.finish()
    return run


def test_runs_order_like_wandb(project: str) -> None:
    """order="+summary_metrics.loss" ascending, "-config.lr" descending; runs without it last."""
    logged(project, "b", 0.5, 0.1)
    logged(project, "a", 0.2, 0.3)
    logged(project, "c", None, 0.2)
    logged(project, "d", 0.9, 0.05)
    api = mytrack.Api()
    assert [r.name for r in api.runs(project, order="+summary_metrics.loss")] == ["a", "b", "d", "c"]
    assert [r.name for r in api.runs(project, order="-summary_metrics.loss")] == ["d", "b", "a", "c"]
    assert [r.name for r in api.runs(project, order="-config.lr")] == ["a", "c", "b", "d"]
    assert [r.name for r in api.runs(project, order="+created_at")] == ["b", "a", "c", "d"]
    assert [r.name for r in api.runs(project, order="-created_at", per_page=10)] == ["d", "c", "a", "b"]
    with pytest.raises(InvalidValueError, match="nonsense"):
        api.runs(project, order="+nonsense")


def test_created_at_is_wandbs_iso_string_and_url_is_the_runs_page(project: str) -> None:
    """created_at parses with W&B's format and matches the run's start; url names the run."""
    run = logged(project, "x", 0.1, 0.1)
    stored = mytrack.Api().run(run.path)
    parsed = datetime.datetime.strptime(stored.created_at, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    assert abs(parsed.timestamp() - stored.created_timestamp) < 1
    assert abs(stored.created_timestamp - run.start_time) < 5
    assert stored.url is not None and f"/{project}/runs/{run.id}" in stored.url
    assert stored.url == run.url


def test_history_samples(project: str) -> None:
    """history(samples=n) returns n rows spread over the run (full fidelity without it)."""
    with mytrack.init(project=project, settings=QUIET) as run:
        for i in range(10):
            run.log({"x": i})
    stored = mytrack.Api().run(run.path)
    assert [r["x"] for r in stored.history(samples=5, pandas=False)] == [0, 2, 4, 6, 8]
    assert len(stored.history(pandas=False)) == 10


def test_artifact_files_are_wandb_file_objects(project: str, workdir: Path) -> None:
    """files() items have .name, .size and .download(root) returning the file, opened."""
    (workdir / "data").mkdir()
    (workdir / "data" / "a.txt").write_text("alpha")
    (workdir / "data" / "b.txt").write_text("bravo!")
    with mytrack.init(project=project, settings=QUIET) as run:
        artifact = mytrack.Artifact("ds", type="dataset")
        artifact.add_dir(str(workdir / "data"))
        run.log_artifact(artifact).wait()
    fetched = mytrack.Api().artifact(f"{project}/ds:latest")
    files = {f.name: f for f in fetched.files()}
    assert {name: f.size for name, f in files.items()} == {"a.txt": 5, "b.txt": 6}
    with files["b.txt"].download(str(workdir / "out")) as f:
        assert f.read() == "bravo!"
    with pytest.raises(ArtifactError, match="replace=True"):
        files["b.txt"].download(str(workdir / "out"))
    files["b.txt"].download(str(workdir / "out"), replace=True).close()


def test_add_file_policy_mutable_copies_now(project: str, workdir: Path) -> None:
    """policy="mutable" stores the content as it was when added; an unknown policy is refused."""
    source = workdir / "w.txt"
    source.write_text("before")
    with mytrack.init(project=project, settings=QUIET) as run:
        artifact = mytrack.Artifact("weights", type="model")
        artifact.add_file(str(source), policy="mutable")
        with pytest.raises(InvalidValueError, match="policy"):
            artifact.add_file(str(source), name="x", policy="sometimes")
        source.write_text("after, and longer")
        run.log_artifact(artifact).wait()
    fetched = mytrack.Api().artifact(f"{project}/weights:latest")
    with fetched.files()[0].download(str(workdir / "got")) as f:
        assert f.read() == "before"
