"""`S3BlobStore` beyond the shared contract: layout, transfers, errors, URIs, the service.

Against moto's server (``s3_endpoint``), a fresh bucket per test; error
cases against a closed port and a fake endpoint that echoes credentials.
"""

from __future__ import annotations

import http.server
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mytrack_service.blobs.base import BlobError
from mytrack_service.blobs.registry import open_blobs
from mytrack_service.blobs.s3 import S3BlobStore
from tests.helpers import sha, stop_service, wait_for
from tests.s3_fixtures import TEST_ACCESS_KEY_ID, TEST_SECRET_ACCESS_KEY


def fresh_bucket() -> str:
    return f"s3test-{uuid.uuid4().hex[:20]}"


def keys(client: Any, bucket: str) -> list[str]:
    return [item["Key"] for item in client.list_objects_v2(Bucket=bucket).get("Contents", [])]


def count_calls(store: S3BlobStore, operation: str) -> list[int]:
    """A one-item list counting the store's ``operation`` requests from now on."""
    calls = [0]

    def count(**_: Any) -> None:
        calls[0] += 1

    store.client.meta.events.register(f"before-call.s3.{operation}", count)
    return calls


def test_blobs_are_keyed_by_prefix_and_digest(s3_endpoint: str) -> None:
    """A blob ``d`` is the object <prefix>/<d[:2]>/<d>; without a prefix, <d[:2]>/<d>."""
    bucket = fresh_bucket()
    digest = S3BlobStore(f"s3://{bucket}/a/b/", endpoint_url=s3_endpoint).put_bytes(b"x")
    root = S3BlobStore(f"s3://{bucket}", endpoint_url=s3_endpoint)
    assert root.put_bytes(b"y") == sha(b"y")
    assert sorted(keys(root.client, bucket)) == sorted(
        [f"a/b/{digest[:2]}/{digest}", f"{sha(b'y')[:2]}/{sha(b'y')}"]
    )
    assert list(root.list()) == [sha(b"y")]  # the a/b/ blob has another layout depth


def test_stored_content_is_not_uploaded_again(s3_endpoint: str, tmp_path: Path) -> None:
    """put_file and put_bytes of content already stored send no PUT (one HEAD each)."""
    store = S3BlobStore(f"s3://{fresh_bucket()}", endpoint_url=s3_endpoint)
    src = tmp_path / "config.yaml"
    src.write_bytes(b"lr: 0.1\n")
    store.put_file(str(src))
    puts = count_calls(store, "PutObject")
    store.put_file(str(src))
    store.put_bytes(b"lr: 0.1\n")
    assert puts == [0]


def test_large_file_is_uploaded_in_parts(s3_endpoint: str, tmp_path: Path) -> None:
    """Above the multipart threshold, put_file uses a multipart upload and the blob reads back intact."""
    store = S3BlobStore(f"s3://{fresh_bucket()}/mp", endpoint_url=s3_endpoint,
                        multipart_threshold=5 << 20)
    parts = count_calls(store, "UploadPart")
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(6 << 20) + b"\x07" * (6 << 20))
    digest, size = store.put_file(str(src))
    assert (digest, size) == (sha(src.read_bytes()), 12 << 20)
    assert parts[0] >= 1
    store.get_to_file(digest, str(tmp_path / "copy.bin"))
    assert (tmp_path / "copy.bin").read_bytes() == src.read_bytes()


def test_file_changed_during_upload_is_not_kept(s3_endpoint: str, tmp_path: Path) -> None:
    """A file rewritten while uploading gives BlobError, and no wrong bytes stay under its digest."""
    store = S3BlobStore(f"s3://{fresh_bucket()}", endpoint_url=s3_endpoint)
    src = tmp_path / "live.log"
    src.write_bytes(b"first version\n")
    digest = sha(src.read_bytes())

    def rewrite(**_: Any) -> None:
        src.write_bytes(b"second, longer version\n")

    store.client.meta.events.register("before-call.s3.PutObject", rewrite)
    with pytest.raises(BlobError, match="changed while"):
        store.put_file(str(src))
    assert not store.exists(digest)  # the second version went up under the first's digest


def test_missing_bucket_is_created_or_reported(s3_endpoint: str) -> None:
    """A missing bucket is created by default, and reported by name when creation is off."""
    bucket = fresh_bucket()
    with pytest.raises(BlobError, match=f"bucket '{bucket}' does not exist"):
        S3BlobStore(f"s3://{bucket}", endpoint_url=s3_endpoint, create_bucket=False)
    S3BlobStore(f"s3://{bucket}", endpoint_url=s3_endpoint)
    assert S3BlobStore(f"s3://{bucket}", endpoint_url=s3_endpoint, create_bucket=False)
    with pytest.raises(BlobError, match="cannot be created"):
        S3BlobStore("s3://ab", endpoint_url=s3_endpoint)  # too short for S3


def test_unreachable_endpoint_fails_fast(s3_endpoint: str) -> None:
    """A closed port: opening still succeeds (the service starts), each use is a quick BlobError."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    store = S3BlobStore("s3://some-bucket/p", endpoint_url=f"http://127.0.0.1:{port}",
                        connect_timeout=1, max_attempts=1)
    for use in (lambda: store.put_bytes(b"x"), lambda: store.exists("0" * 64),
                lambda: list(store.list())):
        with pytest.raises(BlobError, match=f"cannot reach the S3 endpoint http://127.0.0.1:{port}"):
            use()
    assert time.monotonic() - started < 10


@pytest.fixture
def echoing_endpoint() -> Iterator[str]:
    """An S3 lookalike refusing every request with an error that quotes what it was sent.

    That is the access key id (in the Authorization header); the secret key is
    never sent, SigV4 sends a signature made with it.
    """

    class Handler(http.server.BaseHTTPRequestHandler):
        def refuse(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = (
                "<?xml version='1.0' encoding='UTF-8'?><Error><Code>InvalidAccessKeyId</Code>"
                f"<Message>Unknown key; you sent {self.headers.get('Authorization')}</Message>"
                f"<AWSAccessKeyId>{TEST_ACCESS_KEY_ID}</AWSAccessKeyId></Error>"
            ).encode()
            self.send_response(403)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = refuse

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_credentials_never_appear_in_errors(s3_endpoint: str, echoing_endpoint: str,
                                            tmp_path: Path) -> None:
    """Messages (and tracebacks, for the secret) never show the key id or secret, even when echoed."""
    assert os.environ["AWS_SECRET_ACCESS_KEY"] == TEST_SECRET_ACCESS_KEY
    store = S3BlobStore("s3://refused-bucket", endpoint_url=echoing_endpoint, max_attempts=1)
    src = tmp_path / "f.txt"
    src.write_text("data")
    uses: list[Callable[[], object]] = [
        lambda: store.open("0" * 64), lambda: store.put_bytes(b"x"),
        lambda: store.put_file(str(src)), lambda: list(store.list()),
    ]
    for use in uses:
        with pytest.raises(BlobError) as caught:
            use()
        message = str(caught.value)
        assert "refused-bucket" in message or echoing_endpoint in message
        assert TEST_ACCESS_KEY_ID not in message and TEST_SECRET_ACCESS_KEY not in message
        assert TEST_SECRET_ACCESS_KEY not in "".join(traceback.format_exception(caught.value))
    with pytest.raises(BlobError, match="InvalidAccessKeyId.*check the AWS credentials"):
        store.open("0" * 64)


def test_missing_credentials_are_reported(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without any credentials, opening the store says which variables to set."""
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(BlobError, match="no usable AWS credentials: set AWS_ACCESS_KEY_ID"):
        S3BlobStore(f"s3://{fresh_bucket()}", endpoint_url=s3_endpoint)


def test_open_blobs_routes_s3_uris(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """s3://bucket[/prefix] opens an S3BlobStore at AWS_ENDPOINT_URL; bad ones are ValueErrors."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    bucket = fresh_bucket()
    store = open_blobs(f"s3://{bucket}/runs/blobs")
    assert isinstance(store, S3BlobStore)
    assert (store.bucket, store.prefix, store.uri) == (bucket, "runs/blobs", f"s3://{bucket}/runs/blobs")
    assert store.put_bytes(b"routed") in list(open_blobs(f"S3://{bucket}/runs/blobs/").list())
    for bad in ("s3://", "s3:///prefix", "s3://b", "s3://bucket/a/../b", "s3://bucket?x=1",
                "s3://AKIAKEY:hunter2secret@bucket/p", "s3://bucket:9000/p"):
        with pytest.raises(ValueError, match=r"s3://bucket\[/prefix\]|prefix") as caught:
            open_blobs(bad)
        assert "hunter2secret" not in str(caught.value)
    with pytest.raises(ValueError, match="file://, s3://"):
        open_blobs("gs://bucket/prefix")


_NO_BOTO3_SCRIPT = """
    import sys
    from mytrack_service.blobs.base import BlobError
    from mytrack_service.blobs.registry import open_blobs

    open_blobs(sys.argv[1])
    assert "boto3" not in sys.modules and "botocore" not in sys.modules, "imported eagerly"
    sys.modules["boto3"] = None  # as if not installed
    try:
        open_blobs("s3://some-bucket/p")
    except BlobError as exc:
        print(exc)
"""


def test_boto3_is_imported_only_for_s3(tmp_path: Path) -> None:
    """file:// stores never import boto3; without boto3, s3:// says which extra to install."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_NO_BOTO3_SCRIPT), f"file://{tmp_path}/b"],
        capture_output=True, text=True, timeout=60, check=True,
    )
    assert "pip install 'mytrack[s3]'" in result.stdout


_SAVE_SCRIPT = """
    import pathlib, mytrack
    pathlib.Path("f.txt").write_bytes({content!r})
    run = mytrack.init(project="s3-e2e")
    run.save("f.txt", policy="now")
    run.finish()
    print(run.path)
"""

_DOWNLOAD_SCRIPT = """
    import time, mytrack
    api_run = mytrack.Api().run({path!r})
    deadline = time.monotonic() + 60
    while not api_run.file("f.txt").digest and time.monotonic() < deadline:
        time.sleep(0.05)
    api_run.file("f.txt").download(root="restored", replace=True).close()
"""


def test_service_keeps_saved_files_in_s3(
    s3_endpoint: str, tmp_path: Path, workdir: Path,
    run_script: Callable[..., subprocess.CompletedProcess[str]],
) -> None:
    """A service with MYTRACK_BLOBS=s3://... stores a saved file in S3 and serves it back."""
    bucket, home = fresh_bucket(), tmp_path / "s3-home"
    env = {"MYTRACK_DIR": str(home), "MYTRACK_BLOBS": f"s3://{bucket}/team/blobs",
           "AWS_ENDPOINT_URL": s3_endpoint, "MYTRACK_SILENT": "true"}
    content = b"saved through the service\n" * 50
    digest = sha(content)
    checker = S3BlobStore(f"s3://{bucket}", endpoint_url=s3_endpoint)
    try:
        out = run_script(_SAVE_SCRIPT.format(content=content), env=env)
        path = out.stdout.strip().splitlines()[-1]
        wait_for(lambda: f"team/blobs/{digest[:2]}/{digest}" in keys(checker.client, bucket),
                 message="the blob in S3")
        run_script(_DOWNLOAD_SCRIPT.format(path=path), env=env)
        assert (workdir / "restored" / "f.txt").read_bytes() == content
    finally:
        stop_service(home)
