"""Deleting runs and sweeping blobs, on every store (memory, SQLite, PostgreSQL) and
every blob store (local folder, S3): rows, artifact rules, and which blobs go."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from mytrack_service.blobs.base import BlobStore
from mytrack_service.reclaim.guard import UploadGuard
from mytrack_service.reclaim.sweep import BlobSweep
from mytrack_service.store import artifact_model as model
from mytrack_service.store.artifact_model import ArtifactOp
from mytrack_service.store.base import Batch, ConsoleLine, FileRow, MetadataStore, RunKey, RunRow, WriterRow
from tests.integration.test_blob_contract import local_backend, s3_backend
from tests.integration.test_store_contract import store  # noqa: F401 - a fixture

KEY = RunKey("alice", "mnist", "run00001")
OTHER = RunKey("alice", "mnist", "run00002")


@pytest.fixture(params=["local", "s3"])
def blobs(request: pytest.FixtureRequest, tmp_path: Path) -> BlobStore:
    if request.param == "local":
        return local_backend(tmp_path / "blobs").store
    return s3_backend(request.getfixturevalue("s3_endpoint")).store


@pytest.fixture
def runs(store: MetadataStore) -> MetadataStore:  # noqa: F811
    for key, created in ((KEY, 1.0), (OTHER, 2.0)):
        store.create_run(RunRow(key=key, created_at=created),
                         WriterRow(f"w-{key.run_id}", key, f"/tmp/{key.run_id}.wal"))
    return store


def put_file(db: MetadataStore, blobs: BlobStore, key: RunKey, name: str, content: bytes) -> str:
    digest = blobs.put_bytes(content)
    db.write_batch(Batch(key, files=[FileRow(key, name, path=f"/x/{name}")]))
    db.update_file(key, name, {"digest": digest, "size": len(content), "pending": False})
    return digest


def log_artifact(db: MetadataStore, blobs: BlobStore, key: RunKey, action: str, content: bytes,
                 name: str = "data") -> str:
    digest = blobs.put_bytes(content)
    entries = [{"path": "a.bin", "digest": digest, "size": len(content)}]
    data: dict[str, Any] = {"entity": "alice", "project": "mnist", "name": name, "type": "dataset",
                            "entries": entries, "digest": model.digest_of(entries)}
    if action == "use":
        data = {"entity": "alice", "project": "mnist", "name": name, "version": "latest"}
    db.write_batch(Batch(key, artifacts=[ArtifactOp(action, "", key.path, data, 5.0)]))
    return digest


def test_delete_run_removes_rows_writers_and_reports_file_digests(runs: MetadataStore, blobs: BlobStore) -> None:
    """History, console, files and writers of the run go; the other run is untouched."""
    runs.write_batch(Batch(KEY, rows=[(0, {"loss": 1.0}), (1, {"loss": 0.5})],
                           console=[ConsoleLine(1.0, "stdout", "hi")]))
    runs.write_batch(Batch(OTHER, rows=[(0, {"loss": 2.0})]))
    mine = put_file(runs, blobs, KEY, "model.pt", b"weights")
    deleted = runs.delete_run(KEY)
    assert deleted is not None and deleted.digests == {mine}
    assert runs.get_run(KEY) is None and runs.list_files(KEY) == []
    assert [w.key for w in runs.list_writers()] == [OTHER]
    assert [r["loss"] for r in runs.read_history(OTHER)] == [2.0]
    assert runs.delete_run(KEY) is None  # a second delete finds nothing


def test_artifacts_stay_without_delete_artifacts_and_usage_goes(runs: MetadataStore, blobs: BlobStore) -> None:
    """W&B's default: the versions a deleted run logged stay (naming it), its usage rows go."""
    log_artifact(runs, blobs, KEY, "log", b"v0")
    log_artifact(runs, blobs, OTHER, "use", b"")
    deleted = runs.delete_run(OTHER)
    assert deleted is not None and deleted.artifacts == [] and deleted.digests == set()
    with runs.artifacts() as tx:
        version = model.resolve(tx, "alice", "mnist", "data", "v0")
        assert version["created_by"] == KEY.path
        assert tx.users_of_version(version["id"]) == []


def test_delete_artifacts_keeps_versions_other_runs_used(runs: MetadataStore, blobs: BlobStore) -> None:
    """With delete_artifacts a logged version goes unless another run used it."""
    used = log_artifact(runs, blobs, KEY, "log", b"used one", name="used")
    log_artifact(runs, blobs, OTHER, "use", b"", name="used")
    alone = log_artifact(runs, blobs, KEY, "log", b"only mine", name="alone")
    deleted = runs.delete_run(KEY, delete_artifacts=True)
    assert deleted is not None
    assert deleted.artifacts == ["alone:v0"] and deleted.artifacts_kept == ["used:v0"]
    assert deleted.digests == {alone}
    with runs.artifacts() as tx:
        assert model.versions_of(tx, "alice", "mnist", "alone") == []
        assert [v["version"] for v in model.versions_of(tx, "alice", "mnist", "used")] == ["v0"]
    assert runs.referenced_digests({used, alone}) == {used}


def test_sweep_deletes_only_unreferenced_blobs(runs: MetadataStore, blobs: BlobStore) -> None:
    """After a delete, the sweep removes the run's own blobs and keeps shared content."""
    shared = put_file(runs, blobs, KEY, "shared.txt", b"same bytes")
    put_file(runs, blobs, OTHER, "shared.txt", b"same bytes")
    mine = put_file(runs, blobs, KEY, "mine.txt", b"only here")
    art = log_artifact(runs, blobs, OTHER, "log", b"artifact content")
    deleted = runs.delete_run(KEY)
    assert deleted is not None and deleted.digests == {shared, mine}
    sweep = BlobSweep(runs, blobs, UploadGuard())
    report = sweep.sweep(deleted.digests)
    assert (report.deleted, report.referenced, report.deleted_bytes) == (1, 1, len(b"only here"))
    assert not blobs.exists(mine) and blobs.exists(shared) and blobs.exists(art)


def test_full_sweep_dry_run_and_grace(runs: MetadataStore, blobs: BlobStore) -> None:
    """gc finds stray blobs; --dry-run deletes nothing; the grace period keeps young ones."""
    kept = put_file(runs, blobs, KEY, "kept.txt", b"kept")
    stray = blobs.put_bytes(b"stray")
    dry = BlobSweep(runs, blobs, UploadGuard()).sweep(dry_run=True)
    assert (dry.checked, dry.unreferenced, dry.deleted) == (2, 1, 1) and blobs.exists(stray)
    young = BlobSweep(runs, blobs, UploadGuard(), grace=3600).sweep()
    assert (young.deleted, young.kept_recent) == (0, 1) and blobs.exists(stray)
    real = BlobSweep(runs, blobs, UploadGuard()).sweep()
    assert real.digests == [stray] and not blobs.exists(stray) and blobs.exists(kept)


def test_sweep_waits_for_an_upload_between_put_and_commit(runs: MetadataStore, blobs: BlobStore) -> None:
    """A blob put but not yet referenced is not swept while its upload holds the guard."""
    guard = UploadGuard()
    sweep = BlobSweep(runs, blobs, guard)
    put_done, commit = threading.Event(), threading.Event()
    digest: list[str] = []

    def upload() -> None:
        with guard.uploading():
            digest.append(blobs.put_bytes(b"racing"))
            put_done.set()
            commit.wait(10)
            runs.write_batch(Batch(OTHER, files=[FileRow(OTHER, "r.txt", path="/x/r")]))
            runs.update_file(OTHER, "r.txt", {"digest": digest[0], "pending": False})

    thread = threading.Thread(target=upload)
    thread.start()
    assert put_done.wait(10)
    reports: list[Any] = []
    sweeper = threading.Thread(target=lambda: reports.append(sweep.sweep()))
    sweeper.start()
    commit.set()
    thread.join(10)
    sweeper.join(10)
    assert reports and reports[0].deleted == 0 and blobs.exists(digest[0])
