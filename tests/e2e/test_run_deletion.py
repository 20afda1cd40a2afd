"""`mytrack runs rm`, `mytrack gc`, `ApiRun.delete()` and `ApiRun.update()` against the
session's real service: subprocesses for the CLI, the real blob folder checked on disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import mytrack
from mytrack import errors
from mytrack_service.blobs.registry import open_blobs
from mytrack_service.settings import ServiceSettings
from tests.helpers import sha, wait_for

QUIET = mytrack.Settings(quiet=True)
pytestmark = pytest.mark.usefixtures("no_current_run")


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mytrack.cli", *args], capture_output=True, text=True,
                          timeout=120, input=stdin, env=os.environ.copy())


def blobs_exist(*digests: str) -> list[bool]:
    blobs = open_blobs(ServiceSettings.from_env().blobs_uri)
    return [blobs.exists(d) for d in digests]


def run_with_files(project: str, tmp: Path, **files: bytes) -> tuple[str, list[str]]:
    """A finished run that saved ``files``; (run path, their digests) once uploaded."""
    run = mytrack.init(project=project, settings=QUIET, config={"lr": 0.1})
    for name, content in files.items():
        (tmp / name).write_bytes(content)
        run.save(str(tmp / name), base_path=str(tmp), policy="now")
    run.log({"loss": 1.0})
    run.finish()
    digests = [sha(content) for content in files.values()]
    wait_for(lambda: set(digests) <= {f.digest for f in mytrack.Api().run(run.path).files()},
             timeout=20, message=f"{sorted(files)} to be uploaded")
    return run.path, digests


def test_runs_rm_deletes_the_run_and_its_unshared_blobs(project: str, workdir: Path) -> None:
    """`runs rm --yes` removes the run and the blob only it used; a blob another run shares stays."""
    shared_bytes = b"shared " + project.encode()
    gone, (mine, shared) = run_with_files(
        project, workdir, **{"mine.txt": b"only in the deleted run " + project.encode(),
                             "shared.txt": shared_bytes})
    kept, _ = run_with_files(project, workdir, **{"copy.txt": shared_bytes})
    out = cli("runs", "rm", gone, "--yes")
    assert out.returncode == 0, out.stderr
    assert f"deleted {gone}" in out.stdout and "1 blob(s) deleted" in out.stdout
    with pytest.raises(errors.RunNotFoundError):
        mytrack.Api().run(gone)
    assert blobs_exist(mine, shared) == [False, True]
    entity = kept.split("/")[0]
    assert [r.path for r in mytrack.Api().runs(f"{entity}/{project}")] == [kept]


def test_runs_rm_without_yes_and_no_terminal_deletes_nothing(project: str, workdir: Path) -> None:
    """Without --yes and without a terminal to ask on, nothing is deleted and the error says why."""
    path, digests = run_with_files(project, workdir, **{"keep.txt": b"keep " + project.encode()})
    out = cli("runs", "rm", path)
    assert out.returncode == 1 and "--yes" in out.stderr
    assert mytrack.Api().run(path).path == path and blobs_exist(*digests) == [True]


def test_a_live_run_is_refused(project: str) -> None:
    """Deleting a live run raises RunLiveError naming `mytrack runs stop`; it keeps logging."""
    run = mytrack.init(project=project, settings=QUIET)
    try:
        with pytest.raises(errors.RunLiveError, match="runs stop"):
            mytrack.Api().run(run.path).delete()
        out = cli("runs", "rm", run.path, "--yes")
        assert out.returncode == 1 and "is live" in out.stderr
    finally:
        run.finish()
    mytrack.Api().run(run.path).delete()
    with pytest.raises(errors.RunNotFoundError):
        mytrack.Api().run(run.path)


def test_gc_reports_and_reclaims_stray_blobs() -> None:
    """A blob nothing references is reported by --dry-run, then deleted by gc."""
    blobs = open_blobs(ServiceSettings.from_env().blobs_uri)
    stray = blobs.put_bytes(os.urandom(64))
    dry = cli("gc", "--dry-run")
    assert dry.returncode == 0 and "would delete" in dry.stdout and blobs.exists(stray)
    real = cli("gc")
    assert real.returncode == 0 and "deleted" in real.stdout
    assert not blobs.exists(stray)


def test_update_writes_back_name_tags_notes_config_and_summary(project: str) -> None:
    """ApiRun.update() stores edited fields, read back by a fresh Api; bad types are refused."""
    run = mytrack.init(project=project, settings=QUIET, config={"lr": 0.1})
    run.log({"acc": 0.5})
    run.finish()
    stored = mytrack.Api().run(run.path)
    stored.name, stored.notes, stored.tags = "renamed", "edited notes", ["a", "b"]
    stored.config["lr"] = 0.2
    stored.summary["best"] = 0.9
    stored.update()
    again = mytrack.Api().run(run.path)
    assert (again.name, again.notes, again.tags) == ("renamed", "edited notes", ["a", "b"])
    assert again.config["lr"] == 0.2 and again.summary["best"] == 0.9 and again.summary["acc"] == 0.5
    again.config = "not a dict"  # type: ignore[assignment]
    with pytest.raises(errors.InvalidValueError, match="config must be an object"):
        again.update()
