"""`LocalBlobStore` and the blob store registry."""

from __future__ import annotations

import os
import tracemalloc
from pathlib import Path

import pytest

from mytrack_service.blobs.base import BlobError, BlobNotFound
from mytrack_service.blobs.local import LocalBlobStore
from mytrack_service.blobs.registry import default_blobs_uri, open_blobs
from tests.helpers import sha


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(str(tmp_path / "blobs"))


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_put_bytes_then_open_exists_and_list(blobs: LocalBlobStore) -> None:
    """A stored blob is found by its sha256, read back byte for byte and listed."""
    digest = blobs.put_bytes(b"hello")
    assert digest == sha(b"hello")
    assert blobs.exists(digest) and not blobs.exists(sha(b"other"))
    with blobs.open(digest) as stream:
        assert stream.read() == b"hello"
    other = blobs.put_bytes(b"")
    assert list(blobs.list()) == sorted([digest, other])


def test_put_file_returns_digest_size_and_fans_out(blobs: LocalBlobStore, tmp_path: Path) -> None:
    """put_file answers (sha256, size) and stores the blob at <root>/d[:2]/d[2:4]/d."""
    src = tmp_path / "weights.bin"
    src.write_bytes(b"\x00\x01" * 1000)
    digest, size = blobs.put_file(str(src))
    assert (digest, size) == (sha(src.read_bytes()), 2000)
    stored = Path(blobs.root) / digest[:2] / digest[2:4] / digest
    assert stored.read_bytes() == src.read_bytes()
    assert files_under(Path(blobs.root)) == [stored]  # no temporary file left behind


def test_identical_content_is_stored_once(blobs: LocalBlobStore, tmp_path: Path) -> None:
    """The same bytes put twice, by file or by value, give one blob."""
    src = tmp_path / "a.txt"
    src.write_bytes(b"same content")
    first, _ = blobs.put_file(str(src))
    second, _ = blobs.put_file(str(src))
    third = blobs.put_bytes(b"same content")
    assert first == second == third
    assert list(blobs.list()) == [first]
    assert len(files_under(Path(blobs.root))) == 1


def test_get_to_file_writes_the_blob(blobs: LocalBlobStore, tmp_path: Path) -> None:
    """get_to_file writes the content to the path, creating its folders."""
    digest = blobs.put_bytes(b"restore me")
    target = tmp_path / "out" / "deep" / "file.txt"
    blobs.get_to_file(digest, str(target))
    assert target.read_bytes() == b"restore me"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_corrupt_blob_is_refused(blobs: LocalBlobStore, tmp_path: Path) -> None:
    """A blob whose bytes changed on disk makes get_to_file raise BlobError and write nothing."""
    digest = blobs.put_bytes(b"original")
    Path(blobs.path(digest)).write_bytes(b"tampered")
    target = tmp_path / "out" / "x.bin"
    with pytest.raises(BlobError, match="corrupt"):
        blobs.get_to_file(digest, str(target))
    assert list(target.parent.iterdir()) == []


def test_missing_blob_raises_not_found(blobs: LocalBlobStore, tmp_path: Path) -> None:
    """open and get_to_file raise BlobNotFound for a digest that is not stored."""
    digest = sha(b"never stored")
    with pytest.raises(BlobNotFound):
        blobs.open(digest)
    with pytest.raises(BlobNotFound):
        blobs.get_to_file(digest, str(tmp_path / "x"))
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("bad", ["", "abc", "A" * 64, "g" * 64, "0" * 63, "0" * 65, "../" + "0" * 61])
def test_invalid_digest_is_a_value_error(blobs: LocalBlobStore, bad: str, tmp_path: Path) -> None:
    """Anything but 64 lowercase hex characters is refused with ValueError."""
    with pytest.raises(ValueError):
        blobs.exists(bad)
    with pytest.raises(ValueError):
        blobs.open(bad)
    with pytest.raises(ValueError):
        blobs.get_to_file(bad, str(tmp_path / "x"))


def test_large_file_is_streamed(blobs: LocalBlobStore, tmp_path: Path) -> None:
    """A 20 MB file goes in and out intact without being held in memory whole."""
    src = tmp_path / "big.bin"
    with open(src, "wb") as out:
        for i in range(20):
            out.write(os.urandom(1 << 20) if i % 2 else bytes([i]) * (1 << 20))
    expected = sha(src.read_bytes())
    tracemalloc.start()
    try:
        digest, size = blobs.put_file(str(src))
        blobs.get_to_file(digest, str(tmp_path / "copy.bin"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (digest, size) == (expected, 20 << 20)
    assert sha((tmp_path / "copy.bin").read_bytes()) == expected
    assert peak < 8 << 20


def test_list_ignores_temporaries_and_strays(blobs: LocalBlobStore) -> None:
    """list yields only blob files, not leftover temporaries or foreign files."""
    digest = blobs.put_bytes(b"x")
    root = Path(blobs.root)
    (root / ".tmp-deadbeef").write_bytes(b"partial")
    (root / digest[:2] / digest[2:4] / "notes.txt").write_text("stray")
    assert list(blobs.list()) == [digest]
    assert list(LocalBlobStore(str(root / "absent")).list()) == []


def test_open_blobs_by_uri(tmp_path: Path) -> None:
    """file:// URIs and plain paths open a LocalBlobStore at that folder."""
    store = open_blobs(f"file://{tmp_path}/b")
    assert isinstance(store, LocalBlobStore) and store.root == str(tmp_path / "b")
    assert open_blobs(str(tmp_path / "c")).root == str(tmp_path / "c")  # type: ignore[attr-defined]
    assert open_blobs(f"file://localhost{tmp_path}/d").root == str(tmp_path / "d")  # type: ignore[attr-defined]
    assert default_blobs_uri("/home/u/.mytrack") == "file:///home/u/.mytrack/blobs"
    spaced = open_blobs(default_blobs_uri(str(tmp_path / "my home")))
    assert spaced.root == str(tmp_path / "my home" / "blobs")  # type: ignore[attr-defined]


@pytest.mark.parametrize("uri", ["gs://b/p", "file://otherhost/x"])
def test_open_blobs_unsupported_uri(uri: str) -> None:
    """Unsupported schemes and remote file hosts are ValueErrors naming file://.

    (s3:// is covered by tests/integration/test_blob_contract.py.)
    """
    with pytest.raises(ValueError, match="file://"):
        open_blobs(uri)
