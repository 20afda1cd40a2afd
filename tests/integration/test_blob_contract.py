"""The blob store contract, run against `LocalBlobStore` and `S3BlobStore`.

The S3 store talks to moto's server (the session's ``s3_endpoint``), a fresh
bucket per test. S3-only behaviour (layout, no re-upload, multipart, bucket
creation, URIs) is pinned in tests/integration/test_blob_s3.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from mytrack_service.blobs.base import BlobError, BlobNotFound, BlobStore
from mytrack_service.blobs.local import LocalBlobStore
from tests.helpers import sha

REPO = Path(__file__).resolve().parents[2]


def fresh_bucket() -> str:
    return f"contract-{uuid.uuid4().hex[:20]}"


@dataclass
class Backend:
    """A blob store under test, with a back door to its raw storage."""

    store: BlobStore
    uri: str  # what open_blobs() takes to open the same store
    tamper: Callable[[str, bytes], None]  # overwrites the stored bytes of a digest
    objects: Callable[[], list[str]]  # every raw file/object name in the store
    stray: Callable[[str], None]  # adds foreign files/objects next to blob ``digest``
    env: dict[str, str] = field(default_factory=dict)  # for a subprocess opening ``uri``


def local_backend(root: Path) -> Backend:
    store = LocalBlobStore(str(root))

    def stray(digest: str) -> None:
        (root / ".tmp-deadbeef").write_bytes(b"partial")
        (root / digest[:2] / digest[2:4] / "notes.txt").write_text("stray")

    return Backend(
        store=store, uri=f"file://{root}",
        tamper=lambda d, data: Path(store.path(d)).write_bytes(data),
        objects=lambda: sorted(str(p) for p in root.rglob("*") if p.is_file()),
        stray=stray,
    )


def s3_backend(endpoint: str) -> Backend:
    from mytrack_service.blobs.s3 import S3BlobStore

    bucket = fresh_bucket()
    store = S3BlobStore(f"s3://{bucket}/team/blobs", endpoint_url=endpoint)
    client: Any = store.client

    def objects() -> list[str]:
        listed = client.list_objects_v2(Bucket=bucket)
        return [item["Key"] for item in listed.get("Contents", [])]

    def stray(digest: str) -> None:
        for key in ("team/blobs/notes.txt", f"team/blobs/{digest[:2]}/notes.txt",
                    f"team/blobs/zz/{digest}", f"other/{digest[:2]}/{digest}"):
            client.put_object(Bucket=bucket, Key=key, Body=b"stray")

    return Backend(
        store=store, uri=store.uri,
        tamper=lambda d, data: client.put_object(Bucket=bucket, Key=store.key(d), Body=data),
        objects=objects, stray=stray, env={"AWS_ENDPOINT_URL": endpoint},
    )


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        return local_backend(tmp_path / "blobs")
    return s3_backend(request.getfixturevalue("s3_endpoint"))


def test_put_bytes_then_open_exists_and_list(backend: Backend) -> None:
    """A stored blob is found by its sha256, read back byte for byte and listed in order."""
    blobs = backend.store
    digest = blobs.put_bytes(b"hello")
    assert digest == sha(b"hello")
    assert blobs.exists(digest) and not blobs.exists(sha(b"other"))
    with blobs.open(digest) as stream:
        assert stream.read() == b"hello"
    other = blobs.put_bytes(b"")
    with blobs.open(other) as stream:
        assert stream.read() == b""
    assert list(blobs.list()) == sorted([digest, other])


def test_put_file_returns_digest_and_size(backend: Backend, tmp_path: Path) -> None:
    """put_file answers (sha256, size) and leaves exactly one stored object, no temporaries."""
    src = tmp_path / "weights.bin"
    src.write_bytes(b"\x00\x01" * 1000)
    digest, size = backend.store.put_file(str(src))
    assert (digest, size) == (sha(src.read_bytes()), 2000)
    with backend.store.open(digest) as stream:
        assert stream.read() == src.read_bytes()
    assert len(backend.objects()) == 1 and backend.objects()[0].endswith(digest)


def test_identical_content_is_stored_once(backend: Backend, tmp_path: Path) -> None:
    """The same bytes put twice, by file or by value, give one blob."""
    src = tmp_path / "a.txt"
    src.write_bytes(b"same content")
    first, _ = backend.store.put_file(str(src))
    second, _ = backend.store.put_file(str(src))
    third = backend.store.put_bytes(b"same content")
    assert first == second == third
    assert list(backend.store.list()) == [first]
    assert len(backend.objects()) == 1


def test_get_to_file_writes_the_blob(backend: Backend, tmp_path: Path) -> None:
    """get_to_file writes the content to the path, creating its folders, and nothing else."""
    digest = backend.store.put_bytes(b"restore me")
    target = tmp_path / "out" / "deep" / "file.txt"
    backend.store.get_to_file(digest, str(target))
    assert target.read_bytes() == b"restore me"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_corrupt_blob_is_refused(backend: Backend, tmp_path: Path) -> None:
    """A blob whose stored bytes changed makes get_to_file raise BlobError and write nothing."""
    digest = backend.store.put_bytes(b"original")
    backend.tamper(digest, b"tampered")
    target = tmp_path / "out" / "x.bin"
    with pytest.raises(BlobError, match="corrupt"):
        backend.store.get_to_file(digest, str(target))
    assert list(target.parent.iterdir()) == []


def test_missing_blob_raises_not_found(backend: Backend, tmp_path: Path) -> None:
    """open and get_to_file raise BlobNotFound for a digest that is not stored."""
    digest = sha(b"never stored")
    with pytest.raises(BlobNotFound):
        backend.store.open(digest)
    with pytest.raises(BlobNotFound):
        backend.store.get_to_file(digest, str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("bad", ["", "abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "../" + "0" * 61])
def test_invalid_digest_is_a_value_error(backend: Backend, bad: str, tmp_path: Path) -> None:
    """Anything but 64 lowercase hex characters is refused with ValueError."""
    with pytest.raises(ValueError):
        backend.store.exists(bad)
    with pytest.raises(ValueError):
        backend.store.open(bad)
    with pytest.raises(ValueError):
        backend.store.get_to_file(bad, str(tmp_path / "x"))


def test_list_ignores_strays(backend: Backend) -> None:
    """list yields only blobs, not temporaries or foreign files/objects beside them."""
    digest = backend.store.put_bytes(b"x")
    backend.stray(digest)
    assert list(backend.store.list()) == [digest]


_STREAM_SCRIPT = """
    import json, sys, tracemalloc
    from mytrack_service.blobs.registry import open_blobs

    store = open_blobs(sys.argv[1])
    store.get_to_file(store.put_bytes(b"warm up"), sys.argv[3] + ".warm")
    tracemalloc.start()
    digest, size = store.put_file(sys.argv[2])
    store.get_to_file(digest, sys.argv[3])
    print(json.dumps({"digest": digest, "size": size, "peak": tracemalloc.get_traced_memory()[1]}))
"""


def test_large_file_is_streamed(backend: Backend, tmp_path: Path) -> None:
    """A 20 MB file goes in and out intact, the client never holding it in memory whole.

    Measured in a subprocess opening the store by URI: in this process, moto's
    server holds the whole object and would count too.
    """
    src = tmp_path / "big.bin"
    hasher = hashlib.sha256()
    with open(src, "wb") as out:
        for i in range(20):
            chunk = os.urandom(1 << 20) if i % 2 else bytes([i]) * (1 << 20)
            hasher.update(chunk)
            out.write(chunk)
    copy = tmp_path / "copy.bin"
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_STREAM_SCRIPT), backend.uri, str(src), str(copy)],
        capture_output=True, text=True, timeout=120, cwd=REPO,
        env={**os.environ, **backend.env},
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert (report["digest"], report["size"]) == (hasher.hexdigest(), 20 << 20)
    assert sha(copy.read_bytes()) == hasher.hexdigest()
    assert report["peak"] < 8 << 20, f"peak traced memory {report['peak'] / 2**20:.1f} MiB"
