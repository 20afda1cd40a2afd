"""Artifact entry names cannot put a file outside the folder it is downloaded to.

Checked three times: when an entry is added (the SDK), when the service stores
a manifest (any client, also one sharing a PostgreSQL/S3 backend), and when
the SDK writes a file on download (a manifest is not trusted).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import mytrack
from mytrack import errors
from mytrack._internal.artifacts.download import download_entries, entry_target
from mytrack.artifacts import ArtifactManifestEntry

QUIET = mytrack.Settings(quiet=True)
BAD_NAMES = [
    "../escaped.txt", "../../escaped.txt", "a/../../escaped.txt", "/etc/escaped.txt",
    "..\\escaped.txt", "a\\..\\..\\escaped.txt", "C:escaped.txt", "C:/escaped.txt",
    "a\x00b.txt", "line\nbreak.txt", "..", "", "/", "\udcff.txt",
]


@pytest.fixture(autouse=True)
def _no_current_run(workdir: Path) -> Iterator[None]:
    mytrack.finish()
    yield
    mytrack.finish()


@pytest.mark.parametrize("name", BAD_NAMES)
def test_add_file_new_file_add_dir_and_add_reference_refuse_an_escaping_name(
    name: str, tmp_path: Path
) -> None:
    """Each way of naming an entry raises InvalidValueError naming it, and adds nothing."""
    source = tmp_path / "source.txt"
    source.write_text("content")
    artifact = mytrack.Artifact("names", "dataset")
    with pytest.raises(errors.InvalidValueError, match="artifact entry name"):
        artifact.add_file(str(source), name=name)
    with pytest.raises(errors.InvalidValueError, match="artifact entry name"), artifact.new_file(name):
        pass
    if name.strip("/."):  # add_dir(name="") means "no prefix", a valid call
        with pytest.raises(errors.InvalidValueError, match="artifact entry name"):
            artifact.add_dir(str(tmp_path), name=name)
        with pytest.raises(errors.InvalidValueError, match="artifact entry name"):
            artifact.add_reference(source.as_uri(), name=name)
    assert list(artifact.manifest) == []


def test_good_names_are_kept_and_tidied(tmp_path: Path) -> None:
    source = tmp_path / "source.txt"
    source.write_text("content")
    artifact = mytrack.Artifact("names", "dataset")
    assert artifact.add_file(str(source), name="a//b/./c.txt").path == "a/b/c.txt"
    assert artifact.add_file(str(source), name="dots..ok/x..y.txt").path == "dots..ok/x..y.txt"
    assert artifact.add_file(str(source), name="ünïcode/名前.txt").path == "ünïcode/名前.txt"


def _entry(name: str) -> ArtifactManifestEntry:
    return ArtifactManifestEntry(name, "0" * 64, 7)


class _NoBlobs:
    """A service that must not be asked for content (the download is refused first)."""

    def blob(self, digest: str) -> Iterator[bytes]:
        raise AssertionError("a blob was read for a refused download")


@pytest.mark.parametrize("name", [n for n in BAD_NAMES if n])
def test_download_refuses_a_stored_entry_outside_root_and_writes_nothing(name: str, tmp_path: Path) -> None:
    """A manifest planted with a bad name (by another client of a shared backend)
    raises ArtifactError on download, before any file is written."""
    root = tmp_path / "deep" / "root"
    root.mkdir(parents=True)
    entries = [_entry("fine.txt"), _entry(name)]
    with pytest.raises(errors.ArtifactError, match="refusing to download"):
        download_entries(_NoBlobs(), entries, str(root))  # type: ignore[arg-type]
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["deep", "root"]


def test_download_refuses_an_entry_through_a_symlink_leading_out(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, root / "link")
    with pytest.raises(errors.ArtifactError, match="outside"):
        entry_target(str(root), "link/escaped.txt")
    assert entry_target(str(root), "sub/ok.txt") == str(root / "sub" / "ok.txt")


def test_service_refuses_a_manifest_with_an_escaping_name_and_the_run_goes_on(project: str, tmp_path: Path) -> None:
    """A log_artifact whose manifest carries ``../../escaped.txt`` (past the SDK's
    check) fails with the service's reason; no version is stored; the run finishes."""
    source = tmp_path / "payload.txt"
    source.write_text("planted")
    run = mytrack.init(project=project, settings=QUIET)
    run.log({"good": 0})
    artifact = mytrack.Artifact("planted", "dataset")
    entry = artifact.add_file(str(source), name="payload.txt")
    bad = dataclasses.replace(entry, path="../../escaped.txt")
    artifact._entries = {bad.path: bad}  # what another client could send
    run.log_artifact(artifact)
    with pytest.raises(errors.ArtifactError, match=r"\.\./\.\./escaped\.txt.*'\.\.' segment"):
        artifact.wait()
    run.log({"good": 1})
    run.finish()

    api = mytrack.Api()
    assert api.run(run.path).state == "finished"
    assert [row["good"] for row in api.run(run.path).scan_history()] == [0, 1]
    with pytest.raises(errors.ArtifactNotFoundError):
        api.artifact(f"{run.entity}/{project}/planted:latest")
    assert not (tmp_path.parent / "escaped.txt").exists()


