"""Artifacts and the model registry against the real service (real socket, SQLite, blob folder)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import mytrack
from mytrack.errors import ArtifactError, ArtifactNotFoundError


def init(project: str, **kwargs: object) -> mytrack.Run:
    return mytrack.init(project=project, settings=mytrack.Settings(quiet=True), **kwargs)


def blob_files() -> dict[str, int]:
    """Stored blobs: digest -> inode (a blob stored again gets a new inode)."""
    root = Path(os.environ["MYTRACK_DIR"]) / "blobs"
    return {p.name: p.stat().st_ino for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def dataset(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_versions_bump_only_on_changed_content_and_one_changed_file_uploads_one_blob(
    project: str, workdir: Path
) -> None:
    """v0 then v1 on a changed file (one new blob); identical content returns v1 with the new alias."""
    data = dataset(workdir / "data", {f"f{i}.txt": f"{project} file {i}" for i in range(5)})
    with init(project) as run:
        first = mytrack.Artifact("ds", "dataset")
        first.add_dir(str(data))
        assert run.log_artifact(first).wait().version == "v0"
        middle = blob_files()
        assert {e.digest for e in first.files()} <= set(middle)
        (data / "f3.txt").unlink()  # a new file, as tools write them (the logged one stays staged)
        (data / "f3.txt").write_text("changed")
        second = mytrack.Artifact("ds", "dataset")
        second.add_dir(str(data))
        assert run.log_artifact(second, aliases=["new"]).wait().version == "v1"
        after = blob_files()
        digests = {e.digest for e in second.files()}
        assert digests - set(middle) == {second.get_entry("f3.txt").digest}
        assert all(after[d] == middle[d] for d in digests & set(middle))  # not stored again
        again = mytrack.Artifact("ds", "dataset")
        again.add_dir(str(data))
        same = run.log_artifact(again, aliases=["again"]).wait()
        assert (same.version, sorted(same.aliases)) == ("v1", ["again", "latest", "new"])
    versions = mytrack.Api().artifact_versions(f"{project}/ds")
    assert [v.version for v in versions] == ["v0", "v1"]


def test_aliases_are_unique_per_collection_and_latest_follows_the_newest(project: str, workdir: Path) -> None:
    """Logging an alias again moves it off the old version; latest names the newest version."""
    with init(project) as run:
        for text in ("one", "two"):
            artifact = mytrack.Artifact("model-a", "model")
            with artifact.new_file("w.txt") as f:
                f.write(text)
            run.log_artifact(artifact, aliases=["prod"]).wait()
    api = mytrack.Api()
    assert api.artifact(f"{project}/model-a:v0").aliases == []
    assert sorted(api.artifact(f"{project}/model-a:prod").aliases) == ["latest", "prod"]
    assert api.artifact(f"{project}/model-a:latest").version == "v1"


def test_download_verifies_digests_and_detects_a_corrupted_blob(project: str, workdir: Path) -> None:
    """download() writes each entry intact, and raises naming the entry when a blob was corrupted."""
    payload = f"{project} precious bytes"
    (workdir / "weights.bin").write_text(payload)
    with init(project) as run:
        logged = run.log_artifact(str(workdir / "weights.bin"), name="weights", type="model").wait()
    fetched = mytrack.Api().artifact(f"{project}/weights:v0")
    assert Path(fetched.file(root=str(workdir / "ok"))).read_text() == payload
    digest = logged.get_entry("weights.bin").digest
    blob = Path(os.environ["MYTRACK_DIR"]) / "blobs" / digest[:2] / digest[2:4] / digest
    os.chmod(blob, 0o600)
    blob.write_text("tampered")
    with pytest.raises(ArtifactError, match="weights.bin.*corrupt"):
        fetched.download(root=str(workdir / "bad"))
    assert not (workdir / "bad" / "weights.bin").exists()


def test_use_artifact_resolves_every_name_form_and_lineage_reads_back(project: str, workdir: Path) -> None:
    """name:v0, name:alias and entity/project/name:alias resolve; producer and consumers are recorded."""
    (workdir / "x.txt").write_text("x")
    with init(project) as producer:
        producer.log_artifact(str(workdir / "x.txt"), name="xs", type="dataset", aliases=["gold"]).wait()
    entity = producer.entity
    with init(project) as consumer:
        by_version = consumer.use_artifact("xs:v0")
        by_alias = consumer.use_artifact("xs:gold", type="dataset")
        by_path = consumer.use_artifact(f"{entity}/{project}/xs:latest")
        assert {by_version.version, by_alias.version, by_path.version} == {"v0"}
        with pytest.raises(ArtifactNotFoundError):
            consumer.use_artifact("xs:v7")
        with pytest.raises(ArtifactNotFoundError):
            consumer.use_artifact("xs:gold", type="model")
        with pytest.warns(DeprecationWarning):
            consumer.use_artifact("xs:v0", use_as="input")
    api = mytrack.Api()
    assert [a.name for a in api.run(producer.path).logged_artifacts()] == ["xs:v0"]
    assert [a.name for a in api.run(consumer.path).used_artifacts()] == ["xs:v0"]
    version = api.artifact(f"{project}/xs:v0")
    assert version.logged_by().id == producer.id
    assert [r.id for r in version.used_by()] == [consumer.id]


def test_log_model_use_model_and_their_errors(project: str, workdir: Path) -> None:
    """log_model logs a "model" artifact; use_model downloads it; bad names and non-models fail."""
    dataset(workdir / "m", {"w.pt": "weights"})
    (workdir / "d.txt").write_text("data")
    with init(project) as run:
        run.log_model(str(workdir / "m"), name="net.v1-a_b")
        with pytest.raises(ValueError, match="letters, digits"):
            run.log_model(str(workdir / "m"), name="bad name!")
        path = run.use_model("net.v1-a_b:latest")
        assert Path(path, "w.pt").read_text() == "weights"
        run.log_artifact(str(workdir / "d.txt"), name="notamodel", type="dataset").wait()
        with pytest.raises(AssertionError, match="model"):
            run.use_model("notamodel:latest")


def test_link_model_and_link_artifact_with_aliases(project: str, workdir: Path) -> None:
    """link_model reuses a matching version and creates the registered model; link_artifact links into a portfolio."""
    dataset(workdir / "m", {"w.pt": f"{project} weights"})
    with init(project) as run:
        first = run.link_model(str(workdir / "m"), f"reg-{project}", name="clf", aliases=["staging"])
        again = run.link_model(str(workdir / "m"), f"reg-{project}", name="clf", aliases=["prod"])
        assert first is not None and again is not None
        assert (first.version, again.version) == ("v0", "v0")
        assert sorted(again.aliases) == ["latest", "prod", "staging"]
        with pytest.raises(AssertionError, match="path"):
            run.link_model(str(workdir / "m"), "team/reg")
        (workdir / "d.txt").write_text("d")
        run.log_artifact(str(workdir / "d.txt"), name="notmodel", type="dataset").wait()
        with pytest.raises(AssertionError, match="model"):
            run.link_model(str(workdir / "m"), "reg2", name="notmodel")
        data = run.log_artifact(str(workdir / "d.txt"), name="dd", type="dataset").wait()
        linked = run.link_artifact(data, f"{project}/best-data", aliases=["champion"])
        assert linked is not None
        assert (linked.name, sorted(linked.aliases)) == ("best-data:v0", ["champion", "latest"])
        with pytest.warns(UserWarning, match="failed"):
            assert run.link_artifact(data, "a/b/c/d") is None
    api = mytrack.Api()
    assert f"reg-{project}" in [m["name"] for m in api.registered_models()]
    assert [p["name"] for p in api.portfolios(f"{run.entity}/{project}")] == ["best-data"]
    assert api.artifact(f"{project}/best-data:champion").source["name"] == "dd"
    assert api.artifact(f"model-registry/reg-{project}:prod").files()[0].path == "w.pt"


def test_upsert_from_two_processes_commits_one_version_with_all_files(
    project: str, workdir: Path, run_script: Callable[..., subprocess.CompletedProcess[str]]
) -> None:
    """Two processes of one group upsert files; finish commits one version holding both, once."""
    script = textwrap.dedent(f"""
        import sys, mytrack
        rank = int(sys.argv[1])
        run = mytrack.init(project={project!r}, group="g1", settings=mytrack.Settings(quiet=True))
        artifact = mytrack.Artifact("shared", "dataset")
        with artifact.new_file(f"part-{{rank}}.txt") as f:
            f.write(str(rank))
        run.upsert_artifact(artifact).wait()
        run.finish()
    """)
    (workdir / "w.py").write_text(script)
    procs = [subprocess.Popen([sys.executable, "w.py", str(r)], cwd=workdir) for r in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    with init(project, group="g1") as run:
        done = run.finish_artifact(mytrack.Artifact("shared", "dataset")).wait()
        assert done.version == "v0"
        assert sorted(e.path for e in done.files()) == ["part-0.txt", "part-1.txt"]
        again = mytrack.Artifact("shared", "dataset")
        with again.new_file("part-9.txt") as f:
            f.write("9")
        run.upsert_artifact(again)
        assert run.finish_artifact(mytrack.Artifact("shared", "dataset")).wait().version == "v1"
    assert [v.version for v in mytrack.Api().artifact_versions(f"{project}/shared")] == ["v0", "v1"]


def test_log_code_defaults_and_custom_filters_in_both_signatures(project: str, workdir: Path) -> None:
    """log_code takes *.py under root except mytrack's folders; include/exclude take (path) or (path, root)."""
    dataset(workdir, {"train.py": "x", "pkg/util.py": "y", "notes.txt": "n", "mytrack/run.py": "z"})
    with init(project) as run:
        code = run.log_code(str(workdir)).wait()
        assert code.type == "code" and code.collection_name.startswith(f"source-{project}-")
        assert sorted(e.path for e in code.files()) == ["pkg/util.py", "train.py"]
        custom = run.log_code(str(workdir), name="txt", include_fn=lambda p: p.endswith(".txt"),
                              exclude_fn=lambda p, root: "pkg" in os.path.relpath(p, root)).wait()
        assert [e.path for e in custom.files()] == ["notes.txt"]
        assert run.log_code(str(workdir), include_fn=lambda p: False) is None


def test_cli_lists_and_gets_artifacts(project: str, workdir: Path) -> None:
    """`mytrack artifacts ls` shows the collection; `artifacts get NAME:ALIAS --root R` writes its files."""
    (workdir / "c.txt").write_text("cli content")
    with init(project) as run:
        run.log_artifact(str(workdir / "c.txt"), name="clis", type="dataset", aliases=["x"]).wait()
    env = {**os.environ}
    listed = subprocess.run([sys.executable, "-m", "mytrack.cli", "artifacts", "ls",
                             f"{run.entity}/{project}"], capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "clis" in listed.stdout and "dataset" in listed.stdout and "latest,x" in listed.stdout
    got = subprocess.run([sys.executable, "-m", "mytrack.cli", "artifacts", "get",
                          f"{run.entity}/{project}/clis:x", "--root", str(workdir / "r")],
                         capture_output=True, text=True, env=env, timeout=60)
    assert got.returncode == 0, got.stderr
    assert (workdir / "r" / "c.txt").read_text() == "cli content"


def test_s3_reference_is_recorded_not_copied_and_read_from_s3(
    project: str, workdir: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An s3:// reference records ETag and size at log time; download reads the object from S3."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = f"refs-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="ds/a.csv", Body=b"1,2,3")
    before = blob_files()
    with init(project) as run:
        ref = run.log_artifact(f"s3://{bucket}/ds", name="s3ds", type="dataset").wait()
    entry = ref.get_entry("a.csv")
    assert (entry.ref, entry.size) == (f"s3://{bucket}/ds/a.csv", 5) and entry.extra["etag"]
    assert set(blob_files()) == set(before)  # nothing copied into the blob store
    s3.put_object(Bucket=bucket, Key="ds/a.csv", Body=b"1,2,3")  # same content, same ETag
    path = mytrack.Api().artifact(f"{project}/s3ds:v0").download(root=str(workdir / "s3"))
    assert Path(path, "a.csv").read_bytes() == b"1,2,3"
    s3.put_object(Bucket=bucket, Key="ds/a.csv", Body=b"changed")
    with pytest.raises(ArtifactError, match="changed since it was logged"):
        mytrack.Api().artifact(f"{project}/s3ds:v0").download(root=str(workdir / "s3b"))


def test_add_and_get_data_types_as_wandb_names_them(workdir: Path, project: str) -> None:
    """add(Table, name) is `<name>.table.json` with its images under media/; get() reads back a
    Table whose image cells are Images, an Image, and None for a name never added."""
    import numpy as np

    red = np.zeros((2, 3, 3), dtype=np.uint8)
    red[..., 0] = 255
    table = mytrack.Table(columns=["i", "img"], data=[[0, mytrack.Image(red)], [1, mytrack.Image(red)]])
    run = init(project)
    artifact = mytrack.Artifact("samples", type="dataset")
    artifact.add(table, "val_data")
    artifact.add(mytrack.Image(red), "one")
    with pytest.raises(mytrack.errors.InvalidTypeError, match="Artifact.add"):
        artifact.add({"not": "media"}, "x")
    run.log_artifact(artifact).wait()
    run.finish()
    stored = mytrack.Api().artifact(f"{project}/samples:latest")
    names = sorted(f.name for f in stored.files())
    assert names[-2:] == ["one.image-file.json", "val_data.table.json"]
    assert len([n for n in names if n.startswith("media/images/")]) == 1  # one content, one file
    got = stored.get("val_data")
    assert got.columns == ["i", "img"] and [row[0] for row in got.data] == [0, 1]
    assert isinstance(got.data[0][1], mytrack.Image)
    image = stored.get("one")
    assert isinstance(image, mytrack.Image) and image.encode("k")[2:4] == (3, 2)
    assert stored.get("missing") is None
