"""Downloading an artifact's entries, each verified against its digest."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from mytrack._internal.files.checked_download import DigestMismatch, write_verified
from mytrack.errors import ArtifactError

if TYPE_CHECKING:
    from mytrack._internal.artifacts.client import ArtifactService
    from mytrack.artifacts import ArtifactManifestEntry


def _matches(path: str, digest: str) -> bool:
    from mytrack.artifacts import hash_file

    try:
        return hash_file(path)[0] == digest
    except OSError:
        return False


def _content(service: ArtifactService, entry: ArtifactManifestEntry) -> Iterator[bytes]:
    """An entry's bytes: from the referenced local file, else from the service's blob store."""
    if entry.ref.startswith("file://"):
        with open(entry.ref[len("file://"):], "rb") as src:
            while chunk := src.read(1 << 20):
                yield chunk
    else:
        yield from service.blob(entry.digest)


def download_entries(service: ArtifactService, entries: list[ArtifactManifestEntry], root: str,
                     progress: bool = False) -> None:
    """Writes each entry under ``root``; a file already there with the right digest is kept."""
    total = len(entries)
    for number, entry in enumerate(entries, 1):
        target = os.path.join(root, *entry.path.split("/"))
        if progress:
            sys.stderr.write(f"\rmytrack: downloading {number}/{total} {entry.path[:60]:<60}")
        if entry.ref.startswith("s3://"):
            from mytrack._internal.artifacts.refs import fetch_s3

            os.makedirs(os.path.dirname(target), exist_ok=True)
            fetch_s3(entry, target)
            continue
        if os.path.exists(target) and _matches(target, entry.digest):
            continue
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            write_verified(_content(service, entry), target, entry.digest or None)
        except DigestMismatch as exc:
            raise ArtifactError(
                f"artifact entry {entry.path!r} is corrupt: its content has sha256 "
                f"{exc.actual}, expected {entry.digest}") from None
        except FileNotFoundError as exc:
            raise ArtifactError(f"reference {entry.ref} of {entry.path!r} is gone: {exc}") from None
    if progress and total:
        sys.stderr.write("\n")
    _ = shutil  # copies go through the checked stream above
