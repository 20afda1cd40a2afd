"""Environment metadata: what init() learns of the process, the machine and the git tree.

Scripts run in a subprocess inside a git repository the test makes (with a
remote whose URL carries credentials, which must not be stored), against the
session's service; the metadata is read back through ``Api().run().metadata``
and ``mytrack runs show``.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import mytrack
from mytrack._internal.lifecycle import environment
from tests.helpers import wait_for

SCRIPT = """
import sys
import mytrack
run = mytrack.init(project=sys.argv[1])
run.log({"x": 1})
run.finish()
print(run.path)
"""


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=T", "-c", "user.email=t@example.com", *args], cwd=repo,
        check=True, capture_output=True, text=True,
    ).stdout.strip()


def _repo(path: Path) -> Path:
    path.mkdir()
    _git(path, "init", "-q", "-b", "trunk")
    (path / "train.py").write_text(SCRIPT)
    (path / "data.txt").write_text("one\n")
    _git(path, "add", ".")
    _git(path, "commit", "-q", "-m", "first")
    _git(path, "remote", "add", "origin", "https://alice:s3cret@git.example.com/team/repo.git")
    return path


def _run(cwd: Path, project: str, **env: str) -> Any:
    result = subprocess.run(
        [sys.executable, "train.py", project, "--lr", "0.1"], cwd=cwd, text=True,
        capture_output=True, timeout=120, env={**os.environ, "MYTRACK_SILENT": "true", **env},
    )
    assert result.returncode == 0, result.stderr
    path = result.stdout.strip().splitlines()[-1]
    return mytrack.Api().run(path)


def test_metadata_fields_and_dirty_git_tree_with_its_diff(tmp_path: Path, project: str) -> None:
    """A dirty repository gives git remote (no credentials), commit, branch, dirty, a diff.patch; the process fields are
    all there."""
    repo = _repo(tmp_path / "repo")
    (repo / "data.txt").write_text("one\ntwo, uncommitted\n")
    run = _run(repo, project, RANK="3", WORLD_SIZE="8", SLURM_JOB_ID="4242")
    meta = run.metadata
    assert meta["python"] == platform.python_version()
    assert meta["executable"] == sys.executable
    assert meta["hostname"] == socket.gethostname()
    assert meta["os"] and meta["user"]
    assert meta["program"] == str(repo / "train.py")
    assert meta["argv"] == ["train.py", project, "--lr", "0.1"]
    assert meta["cwd"] == str(repo)
    assert meta["cpu_count"] == os.cpu_count()
    assert meta["memory_total_mb"] > 0
    assert meta["packages"] > 5
    assert meta["scheduler"]["RANK"] == "3" and meta["scheduler"]["WORLD_SIZE"] == "8"
    assert meta["scheduler"]["SLURM_JOB_ID"] == "4242"
    git = meta["git"]
    assert git["commit"] == _git(repo, "rev-parse", "HEAD")
    assert git["branch"] == "trunk"
    assert git["root"] == str(repo)
    assert git["remote"] == "https://git.example.com/team/repo.git"  # no alice:s3cret
    assert git["dirty"] is True
    # diff.patch and requirements.txt are saved with the run (policy "now").
    files = wait_for(lambda: {f.name: f for f in run.files() if f.digest}
                     if {"diff.patch", "requirements.txt"} <= {f.name for f in run.files()
                                                              if f.digest} else None,
                     timeout=30, message="diff.patch and requirements.txt uploaded")
    with files["diff.patch"].download(root=str(tmp_path / "dl")) as patch:
        text = patch.read()
    assert "+two, uncommitted" in text and "data.txt" in text
    with files["requirements.txt"].download(root=str(tmp_path / "dl")) as requirements:
        packages = requirements.read().splitlines()
    assert any(p.lower().startswith("psutil==") for p in packages)
    assert len(packages) == meta["packages"]


def test_clean_tree_has_no_diff_and_no_repository_has_no_git(tmp_path: Path, project: str) -> None:
    """A clean tree is dirty=False without diff.patch; outside a repository there is no git entry."""
    repo = _repo(tmp_path / "repo")
    clean = _run(repo, project)
    assert clean.metadata["git"]["dirty"] is False
    assert "diff.patch" not in {f.name for f in clean.files()}
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.py").write_text(SCRIPT)
    outside = _run(plain, project, GIT_CEILING_DIRECTORIES=str(tmp_path))
    assert "git" not in outside.metadata
    assert outside.metadata["program"] == str(plain / "train.py")


def test_runs_show_prints_the_metadata_section(tmp_path: Path, project: str) -> None:
    """`mytrack runs show` has a metadata section with python, host, program and git."""
    repo = _repo(tmp_path / "repo")
    run = _run(repo, project)
    shown = subprocess.run(
        [sys.executable, "-m", "mytrack.cli", "runs", "show", run.path], capture_output=True,
        text=True, timeout=60, check=True,
    ).stdout
    section = shown.split("\nmetadata:\n", 1)[1]
    assert f"python     {platform.python_version()}" in section
    assert f"host       {socket.gethostname()}" in section
    assert f"program    {repo / 'train.py'}" in section
    assert f"git        trunk {_git(repo, 'rev-parse', 'HEAD')[:12]}" in section


def test_collection_does_not_slow_init(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting the collection does not wait for it: the work is done in another thread (how long it takes is
    scripts/bench's concern)."""
    queued: list[Any] = []
    release = threading.Event()
    collected_on: list[int] = []
    collect = environment.collect

    def held_collect(*args: Any, **kwargs: Any) -> Any:
        collected_on.append(threading.get_ident())
        release.wait(30)
        return collect(*args, **kwargs)

    monkeypatch.setattr(environment, "collect", held_collect)

    class FakeRun:  # what collect_in_background reads of a Run
        _sender = SimpleNamespace(enqueue=queued.append)
        dir = ""
        start_time = time.time()

    fake = FakeRun()
    environment.collect_in_background(fake)  # type: ignore[arg-type]
    assert queued == []  # returned while nothing is collected yet
    release.set()
    environment.settle(fake, 30)  # type: ignore[arg-type]
    assert collected_on and collected_on[0] != threading.get_ident()
    assert len(queued) == 1  # the environment record; no files without a run folder
