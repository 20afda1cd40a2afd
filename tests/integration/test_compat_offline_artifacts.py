"""Offline runs log artifacts, as W&B's do: written with the run, uploaded by `mytrack sync`."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import mytrack
from mytrack.errors import UsageError

SCRIPT = """
import sys, mytrack
run = mytrack.init(project=sys.argv[1], mode="offline", settings=mytrack.Settings(quiet=True))
artifact = mytrack.Artifact("dataset", type="dataset", metadata={"rows": 2})
artifact.add_file("data.csv")
run.log_artifact(artifact, aliases=["v-offline"])
run.log_model("model", name="tiny-model")
run.log({"x": 1})
print(run.path)
print(run.dir)
run.finish()
"""


def test_offline_artifacts_are_uploaded_by_sync(workdir: Path, project: str, tmp_path: Path) -> None:
    """log_artifact/log_model offline contact no service; after sync the versions hold the files."""
    (workdir / "data.csv").write_text("a,b\n1,2\n")
    (workdir / "model").mkdir()
    (workdir / "model" / "weights.bin").write_bytes(b"\x00\x01\x02")
    (workdir / "train.py").write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "MYTRACK_DIR": str(tmp_path / "no-service-here")}
    result = subprocess.run([sys.executable, "train.py", project], cwd=workdir, env=env, text=True,
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    path = result.stdout.split()[0]
    assert not (tmp_path / "no-service-here" / "service.sock").exists()
    (folder,) = (workdir / "mytrack-runs").glob(f"run-*-{path.rsplit('/', 1)[1]}")
    subprocess.run([sys.executable, "-m", "mytrack.cli", "sync", str(folder)], check=True,
                   capture_output=True, timeout=120)
    api = mytrack.Api()
    dataset = api.artifact(f"{project}/dataset:v-offline")
    assert dataset.metadata == {"rows": 2} and [f.name for f in dataset.files()] == ["data.csv"]
    with dataset.files()[0].download(str(workdir / "got")) as f:
        assert f.read() == "a,b\n1,2\n"
    model = api.artifact(f"{project}/tiny-model:latest")
    assert model.type == "model" and [(f.name, f.size) for f in model.files()] == [("weights.bin", 3)]
    assert [r["x"] for r in api.run(path).scan_history()] == [1]


def test_offline_reads_are_refused_naming_what_works(workdir: Path, project: str) -> None:
    """use_artifact needs the service: the error says so and names the offline calls."""
    run = mytrack.init(project=project, mode="offline", settings=mytrack.Settings(quiet=True))
    try:
        with pytest.raises(UsageError, match=r"use_artifact\(\) needs the service.*log_artifact\(\)"):
            run.use_artifact("dataset:latest")
    finally:
        run.finish()


WAIT_SCRIPT = """
import sys, mytrack
from mytrack.errors import ArtifactNotLoggedError
run = mytrack.init(project=sys.argv[1], mode="offline", settings=mytrack.Settings(quiet=True))
artifact = mytrack.Artifact("waited", type="dataset")
artifact.add_file("data.csv")
run.log_artifact(artifact)
for call in (artifact.wait, artifact.download):
    try:
        call()
    except ArtifactNotLoggedError as exc:
        assert isinstance(exc, AttributeError)  # W&B's ArtifactNotLoggedError is one
        print(type(exc).__name__, "|", exc)
print(artifact.version)
print(run.path)
run.finish()
"""


def test_offline_wait_raises_as_w_and_b_does_and_sync_stores_the_version(
    workdir: Path, project: str, tmp_path: Path,
) -> None:
    """wait()/download() on an offline artifact raise ArtifactNotLoggedError naming `mytrack sync`."""
    (workdir / "data.csv").write_text("a\n1\n")
    (workdir / "wait.py").write_text(textwrap.dedent(WAIT_SCRIPT))
    env = {**os.environ, "MYTRACK_DIR": str(tmp_path / "no-service-here")}
    result = subprocess.run([sys.executable, "wait.py", project], cwd=workdir, env=env, text=True,
                            capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr
    wait_line, download_line, state, path = result.stdout.splitlines()
    assert wait_line.startswith("ArtifactNotLoggedError | Artifact.wait() on waited, logged by the offline run")
    assert "mytrack sync" in wait_line
    assert download_line.startswith("ArtifactNotLoggedError | Artifact.download() on waited")
    assert state == "None"  # no version before the sync
    (folder,) = (workdir / "mytrack-runs").glob(f"run-*-{path.rsplit('/', 1)[1]}")
    subprocess.run([sys.executable, "-m", "mytrack.cli", "sync", str(folder)], check=True,
                   capture_output=True, timeout=120)
    stored = mytrack.Api().artifact(f"{project}/waited:latest")
    assert stored.version == "v0" and [f.name for f in stored.files()] == ["data.csv"]
