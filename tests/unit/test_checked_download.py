"""The checked-download helper shared by run-file and artifact downloads: verify the sha256, then replace atomically."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mytrack._internal.files.checked_download import DigestMismatch, write_verified


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def leftovers(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.startswith(".mytrack-"))


def test_matching_content_replaces_the_target(tmp_path: Path) -> None:
    """Chunks whose sha256 is the expected one end up in the target, which held older content."""
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    digest = write_verified([b"new ", b"content"], str(target), sha(b"new content"))
    assert digest == sha(b"new content")
    assert target.read_bytes() == b"new content"
    assert leftovers(tmp_path) == []


def test_a_mismatch_leaves_the_target_untouched(tmp_path: Path) -> None:
    """A wrong digest raises DigestMismatch with both digests; the old content stays, no temp file remains."""
    target = tmp_path / "model.bin"
    target.write_bytes(b"old")
    with pytest.raises(DigestMismatch) as caught:
        write_verified([b"corrupt"], str(target), sha(b"expected"))
    assert (caught.value.actual, caught.value.expected) == (sha(b"corrupt"), sha(b"expected"))
    assert target.read_bytes() == b"old"
    assert leftovers(tmp_path) == []


def test_the_expected_digest_may_come_from_the_stream(tmp_path: Path) -> None:
    """A callable is asked after the last chunk, so a stream can announce the digest on its way."""
    announced = [""]

    def chunks() -> Iterator[bytes]:
        announced[0] = sha(b"abc")
        yield b"abc"

    target = tmp_path / "f.txt"
    write_verified(chunks(), str(target), lambda: announced[0])
    assert target.read_bytes() == b"abc"
    with pytest.raises(DigestMismatch):
        write_verified([b"abc"], str(tmp_path / "g.txt"), lambda: "")  # nothing announced: refused
    assert not (tmp_path / "g.txt").exists()


def test_no_expected_digest_skips_the_check(tmp_path: Path) -> None:
    """expected=None (content without a recorded digest) is written as it comes, still atomically."""
    target = tmp_path / "ref.bin"
    assert write_verified([b"x" * 10], str(target), None) == sha(b"x" * 10)
    assert target.read_bytes() == b"x" * 10


def test_a_failing_stream_removes_the_temporary_file(tmp_path: Path) -> None:
    """An error while reading the chunks propagates as is; the target is not created and no temp file is left."""
    def broken() -> Iterator[bytes]:
        yield b"half"
        raise FileNotFoundError("source vanished")

    target = tmp_path / "gone.bin"
    with pytest.raises(FileNotFoundError, match="source vanished"):
        write_verified(broken(), str(target), sha(b"half"))
    assert not target.exists()
    assert leftovers(tmp_path) == []
