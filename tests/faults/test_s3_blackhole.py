"""A black-holed S3 (connections accepted, never answered) delays no run but the artifact's.

The service's S3 endpoint (moto) sits behind a TCP proxy (tests/tcp_proxy.py) that the
test black-holes: every upload then waits out boto's timeouts. A run logs an artifact
then; its own steps and its end are applied at once, while the artifact version is not
committed (nothing to download yet) and its ``finish()`` is not confirmed. Another
run's ``log()`` and ``finish()`` are applied and readable within seconds. Once S3 answers
again the artifact is committed, every blob is in the bucket, and it downloads with
each digest verified.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import mytrack
from mytrack.errors import ArtifactError
from tests.helpers import sha, stop_service, wait_for
from tests.tcp_proxy import cuttable_proxy

# Long enough to see the first upload held (boto reads wait 60 s): the applier must not.
APPLIED_WITHIN = 15.0


def _bucket_keys(endpoint: str, bucket: str) -> set[str]:
    import boto3

    pages = boto3.client("s3", endpoint_url=endpoint).get_paginator("list_objects_v2").paginate(
        Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def test_black_holed_s3_delays_only_the_artifact(
    s3_endpoint: str, tmp_path: Path, workdir: Path, project: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import boto3

    bucket = f"blackhole-{os.getpid()}-{int(time.time())}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    home = tmp_path / "home"
    contents = {"a.bin": os.urandom(150_000), "sub/b.bin": os.urandom(70_000)}
    for name, data in contents.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_bytes(data)
    with cuttable_proxy(s3_endpoint) as proxy:
        for name, value in {"MYTRACK_DIR": str(home), "MYTRACK_BLOBS": f"s3://{bucket}/team",
                            "AWS_ENDPOINT_URL": proxy.url, "MYTRACK_FINISH_TIMEOUT": "3"}.items():
            monkeypatch.setenv(name, value)
        settings = mytrack.Settings(quiet=True, console="off")
        try:
            first = mytrack.init(project=project, dir=str(workdir), settings=settings)
            first.log({"i": 0})
            assert first._sender is not None and first._sender.flush(30.0)
            proxy.cut("blackhole")

            artifact = mytrack.Artifact("held-data", type="dataset")
            for name in contents:
                artifact.add_file(str(workdir / name), name=name)
            first.log_artifact(artifact)
            first.log({"i": 1})
            first.finish()
            assert not first.status().confirmed  # its artifact is not committed yet

            started = time.monotonic()
            other = mytrack.init(project=project, dir=str(workdir), settings=settings)
            for step in range(20):
                other.log({"x": step * 0.5})
            other.finish()
            assert other.status().confirmed
            api = mytrack.Api()
            wait_for(lambda: api.run(other.path).state == "finished", timeout=APPLIED_WITHIN,
                     message="the other run applied while S3 is black-holed")
            assert [r["x"] for r in api.run(other.path).scan_history(keys=["x"])] == \
                [s * 0.5 for s in range(20)]
            # The artifact's own run is applied too: only the artifact waits.
            wait_for(lambda: api.run(first.path).state == "finished", timeout=APPLIED_WITHIN,
                     message="the artifact's run applied while S3 is black-holed")
            assert [r["i"] for r in api.run(first.path).scan_history(keys=["i"])] == [0, 1]
            assert time.monotonic() - started < APPLIED_WITHIN + 10
            assert proxy.refused >= 1  # an upload was tried, and is held
            with pytest.raises(ArtifactError):
                api.artifact(f"{project}/held-data:v0")  # not committed before its content is stored

            proxy.restore()
            wait_for(lambda: _resolve(api, f"{project}/held-data:v0"), timeout=120,
                     message="the artifact committed once S3 answers")
            version = api.artifact(f"{project}/held-data:v0")
            in_s3 = _bucket_keys(s3_endpoint, bucket)
            for data in contents.values():
                assert f"team/{sha(data)[:2]}/{sha(data)}" in in_s3
            folder = Path(version.download(root=str(tmp_path / "restored")))  # digests verified
            for name, data in contents.items():
                assert (folder / name).read_bytes() == data
        finally:
            proxy.restore()
            stop_service(home)


def _resolve(api: mytrack.Api, name: str) -> mytrack.Artifact | None:
    try:
        return api.artifact(name)
    except ArtifactError:
        return None
