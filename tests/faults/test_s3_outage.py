"""An S3 outage on a PostgreSQL + S3 service: nothing is lost, and status tells the truth.

The service reaches the test's S3 endpoint (moto) through a TCP proxy the test cuts
(tests/tcp_proxy.py). While S3 is down a run saves a file, logs media and an
artifact and finishes: ``finish()`` says the run is not confirmed (its artifact must
reach S3 before its version is committed), the run's records are applied but the
artifact is not visible yet, the service keeps acknowledging, retries the upload with
backoff and shows the failure in ``status``; once S3 is back the status
is clear, the run ends finished with every step, every blob is in S3 and each
downloads through ``mytrack.Api()`` with its digest verified. (The PostgreSQL outage
is tests/e2e/test_backend_outage.py.)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mytrack
from tests.e2e.test_backend_outage import pg, service_status  # noqa: F401 - pg: a fixture
from tests.helpers import stop_service, wait_for
from tests.pg_fixtures import PgServer, with_database
from tests.tcp_proxy import CuttableProxy, cuttable_proxy

OUTAGE_SECONDS = 5.0  # S3 stays down at least this long after the run has finished

# Logs steps 0-9, waits for `go`, then (S3 cut) saves a file, logs a table, HTML and an
# artifact, logs steps 10-19 and finishes with a short finish_timeout; prints what
# finish() said.
SCRIPT = """
    import json, sys, time
    from pathlib import Path
    import mytrack

    folder = Path(sys.argv[1])
    run = mytrack.init(project="s3-outage", settings=mytrack.Settings(quiet=True))
    for step in range(10):
        run.log({"i": step})
    run._sender.flush(timeout=30)
    (folder / "ready").write_text(run.path)
    while not (folder / "go").exists():
        time.sleep(0.02)
    run.save(str(folder / "saved.bin"), base_path=str(folder), policy="now")
    run.log({"i": 10, "table": mytrack.Table(columns=["a", "b"], data=[[1, "x"], [2, "y"]]),
             "page": mytrack.Html("<p>during the outage</p>")})
    artifact = mytrack.Artifact("outage-data", type="dataset")
    artifact.add_file(str(folder / "artifact.bin"))
    run.log_artifact(artifact)
    for step in range(11, 20):
        run.log({"i": step})
    run.finish()
    status = run.status()
    print(json.dumps({"path": run.path, "confirmed": status.confirmed, "error": status.last_error}))
"""


@pytest.fixture
def proxy(s3_endpoint: str) -> Iterator[CuttableProxy]:
    with cuttable_proxy(s3_endpoint) as p:
        yield p


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _bucket_keys(s3_endpoint: str, bucket: str) -> set[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_endpoint)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def test_s3_outage_loses_nothing_and_status_clears_after_recovery(
    tmp_path: Path, pg: PgServer, proxy: CuttableProxy, s3_endpoint: str,  # noqa: F811
) -> None:
    """Files, media and an artifact logged while S3 refuses every connection all reach
    S3 once it is back, and read back byte for byte through the Api."""
    import boto3

    bucket = f"outage-{os.getpid()}-{int(time.time())}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    home = tmp_path / "home"
    saved, packed = os.urandom(300_000), os.urandom(120_000)
    (tmp_path / "saved.bin").write_bytes(saved)
    (tmp_path / "artifact.bin").write_bytes(packed)
    env = {**os.environ, "MYTRACK_DIR": str(home), "MYTRACK_STORE": with_database(pg.url, "mytrack"),
           "MYTRACK_BLOBS": f"s3://{bucket}/team", "AWS_ENDPOINT_URL": proxy.url,
           "MYTRACK_SILENT": "true", "MYTRACK_SERVICE_IDLE_TIMEOUT": "120",
           "MYTRACK_FINISH_TIMEOUT": "3"}
    script = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SCRIPT), str(tmp_path)], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: (tmp_path / "ready").exists() or script.poll() is not None, timeout=90,
                 message="the script's first steps")
        assert script.poll() is None, script.communicate()
        proxy.cut("refuse")
        (tmp_path / "go").touch()
        stdout, stderr = script.communicate(timeout=120)
        down_since = time.monotonic()
        assert script.returncode == 0, f"{stdout}\n{stderr}"
        finished = json.loads(stdout.strip().splitlines()[-1])
        # As documented: not confirmed, the records safe in the WAL, the closing line not printed.
        assert finished["confirmed"] is False
        assert "NOT confirmed" in finished["error"] and "write-ahead log" in finished["error"]
        wait_for(lambda: "blob store" in service_status(home).get("last_error", ""), timeout=30,
                 message="status to show the blob store failure")
        assert proxy.refused > 1  # retried, not given up after one try
        api = mytrack.Api(settings=mytrack.Settings(service_dir=str(home)))
        # The run's records are applied; its artifact alone waits for S3 to be committed.
        wait_for(lambda: api.run(finished["path"]).state == "finished", timeout=30,
                 message="the run applied while S3 is down")
        run = api.run(finished["path"])
        with pytest.raises(mytrack.errors.ArtifactError):
            api.artifact(f"{run.entity}/{run.project}/outage-data:v0")
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))
        proxy.restore()

        wait_for(lambda: api.run(finished["path"]).state == "finished", timeout=90,
                 message="the run to be applied once S3 is back")
        wait_for(lambda: all(f.digest for f in api.run(finished["path"]).files()),
                 timeout=90, message="every file uploaded")
        wait_for(lambda: service_status(home).get("last_error") == "", timeout=60,
                 message="status to clear after recovery")
        run = api.run(finished["path"])
        assert [row["i"] for row in run.scan_history(keys=["i"])] == list(range(20))
        files = {f.name: f for f in run.files()}
        assert "saved.bin" in files
        in_s3 = _bucket_keys(s3_endpoint, bucket)
        for f in files.values():
            if f.name == "output.log":
                continue  # served from the store, not a blob
            assert f"team/{f.digest[:2]}/{f.digest}" in in_s3, f.name
        assert files["saved.bin"].digest == _sha(saved)
        assert any(name.startswith("media/") and "table" in name for name in files), sorted(files)
        assert any(name.startswith("media/") and "html" in name for name in files), sorted(files)
        target = tmp_path / "restored"
        for f in files.values():  # each download checks its sha256 against the digest
            f.download(root=str(target), replace=True).close()
            assert _sha((target / f.name).read_bytes()) == f.digest or f.name == "output.log"
        assert (target / "saved.bin").read_bytes() == saved
        artifact = api.artifact(f"{run.entity}/{run.project}/outage-data:v0")
        assert f"team/{_sha(packed)[:2]}/{_sha(packed)}" in in_s3
        folder = Path(artifact.download(root=str(tmp_path / "artifact")))
        assert (folder / "artifact.bin").read_bytes() == packed
    finally:
        if script.poll() is None:
            script.kill()
            script.wait()
        stop_service(home)  # before the pg fixture stops PostgreSQL


def test_the_proxy_forwards_refuses_black_holes_and_restores() -> None:
    """The fixture itself: bytes pass, then a cut resets connections ("refuse") or holds
    them unanswered ("blackhole"), and restore() forwards again."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))

    def echo() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn, contextlib.suppress(OSError):  # a cut resets it
                while data := conn.recv(1024):
                    conn.sendall(data)

    threading.Thread(target=echo, daemon=True).start()
    proxy = CuttableProxy("127.0.0.1", server.getsockname()[1])

    def round_trip(timeout: float = 20.0) -> bytes:
        # A long timeout where an answer is due (a loaded machine is slow), a short one
        # where none may come.
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=timeout) as sock:
            sock.sendall(b"ping")
            return sock.recv(4)

    try:
        assert round_trip() == b"ping"
        proxy.cut("refuse")
        with pytest.raises((ConnectionError, OSError)):
            assert round_trip() == b""  # reset, or closed with nothing
        proxy.cut("blackhole")
        with pytest.raises(TimeoutError):
            round_trip(timeout=1.0)  # accepted, never answered
        proxy.restore()
        assert round_trip() == b"ping"
    finally:
        proxy.close()
        server.close()
