"""Downloading an artifact's entries, each verified against its digest."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

from mytrack._internal.files.checked_download import DigestMismatch, write_verified
from mytrack.errors import ArtifactError
from mytrack_common.names import entry_name_problem

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


def entry_target(root: str, name: str) -> str:
    """Where entry ``name`` goes under ``root``, or ArtifactError if that is outside it.

    Checked by name rule and by the resolved path (a symlink inside ``root``
    that leads out of it counts as outside).
    """
    problem = entry_name_problem(name)
    if problem is not None:
        raise ArtifactError(f"refusing to download artifact entry {name!r}: the name {problem}")
    target = os.path.join(root, *name.split("/"))
    base = os.path.realpath(root)
    resolved = os.path.realpath(target)
    if os.path.commonpath([base, resolved]) != base or resolved == base:
        raise ArtifactError(
            f"refusing to download artifact entry {name!r}: it resolves to {resolved}, "
            f"outside {root}")
    return target


def download_entries(service: ArtifactService, entries: list[ArtifactManifestEntry], root: str,
                     progress: bool = False) -> None:
    """Writes each entry under ``root``; a file already there with the right digest is kept.

    Raises:
        ArtifactError: an entry whose name would put it outside ``root`` (a
            manifest stored by someone else is not trusted); nothing is written then.
    """
    total = len(entries)
    targets = [entry_target(root, entry.path) for entry in entries]  # all checked first
    for number, (entry, target) in enumerate(zip(entries, targets, strict=True), 1):
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
