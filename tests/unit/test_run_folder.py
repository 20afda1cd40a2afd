"""The default run folders' parent: not importable, and the old ``mytrack/`` still found."""

from __future__ import annotations

import json
from pathlib import Path

from mytrack._internal.lifecycle import autoresume
from mytrack._internal.transport.sync import find_writers
from mytrack.settings import Settings
from mytrack_proto import mytrack_pb2 as pb


def test_default_runs_folder_cannot_be_imported(tmp_path: Path) -> None:
    """A run folder's parent must not be a name Python can import (it shadowed mytrack)."""
    root = Path(autoresume.runs_root(Settings(dir=str(tmp_path))))
    assert root == tmp_path / "mytrack-runs"
    assert not root.name.isidentifier()


def test_resume_auto_reads_the_legacy_folder(tmp_path: Path) -> None:
    """resume.json left in ``mytrack/`` by an earlier version is still read, and forgotten."""
    legacy = tmp_path / "mytrack"
    legacy.mkdir()
    (legacy / "resume.json").write_text(json.dumps({"entity": "e", "project": "p", "run_id": "r1"}))
    key = autoresume._remembered(Settings(dir=str(tmp_path)))
    assert key is not None and (key.entity, key.project, key.run_id) == ("e", "p", "r1")
    autoresume.forget(Settings(dir=str(tmp_path)), "r1")
    assert not (legacy / "resume.json").exists()


def test_resume_auto_prefers_the_new_folder(tmp_path: Path) -> None:
    """When both folders hold a resume.json, the one this version wrote wins."""
    for folder, run_id in (("mytrack", "old"), ("mytrack-runs", "new")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "resume.json").write_text(
            json.dumps({"entity": "e", "project": "p", "run_id": run_id})
        )
    key = autoresume._remembered(Settings(dir=str(tmp_path)))
    assert key is not None and key.run_id == "new"


def test_sync_finds_run_folders_under_both_names(tmp_path: Path) -> None:
    """``mytrack sync --dir`` finds writers in ``mytrack-runs/`` and in the old ``mytrack/``."""
    for parent, run_id in (("mytrack", "legacy1"), ("mytrack-runs", "current1")):
        folder = tmp_path / parent / f"run-20260101_000000-{run_id}"
        folder.mkdir(parents=True)
        request = pb.OpenRunRequest(run=pb.RunKey(entity="e", project="p", run_id=run_id), writer_id="w")
        (folder / f"run-{run_id}-w.open").write_bytes(request.SerializeToString())
        (folder / f"run-{run_id}-w.wal").write_bytes(b"")
    found = find_writers([], str(tmp_path), include_offline=True)
    assert sorted(w.request.run.run_id for w in found) == ["current1", "legacy1"]
