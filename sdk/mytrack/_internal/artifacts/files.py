"""`Artifact.files()` items: W&B's file objects (``.name``, ``.size``, ``.download()``).

W&B code walks an artifact's files and downloads single ones
(``for f in artifact.files(): f.download(root)``). Each item is a manifest
entry (``.path``, ``.digest``... as before) that also knows its artifact.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from mytrack.artifacts import ArtifactManifestEntry
from mytrack.errors import ArtifactError

if TYPE_CHECKING:
    from mytrack.artifacts import Artifact


@dataclass
class ArtifactFile(ArtifactManifestEntry):
    """One file of an artifact, with W&B's file-object names."""

    artifact: Any = None  # the Artifact it belongs to

    @classmethod
    def of(cls, entry: ArtifactManifestEntry, artifact: Artifact) -> ArtifactFile:
        return cls(entry.path, entry.digest, entry.size, entry.ref, entry.local_path, dict(entry.extra),
                   entry._stat, artifact)

    @property
    def name(self) -> str:
        """The file's name inside the artifact ("/"-separated), W&B's ``File.name``."""
        return self.path

    def download(self, root: str = ".", replace: bool = False) -> TextIO:
        """Writes this file under ``root`` (verified against its digest) and opens it
        for reading, as W&B's ``File.download`` does.

        Raises:
            ArtifactError: the artifact is not logged yet, the file exists and
                ``replace`` is False, or its content does not match.
        """
        from mytrack._internal.artifacts.download import download_entries

        target = os.path.join(root, *self.path.split("/"))
        if os.path.exists(target) and not replace:
            raise ArtifactError(f"{target} already exists; pass replace=True to overwrite it")
        if os.path.exists(target):
            os.remove(target)
        service = self.artifact._require_stored("files()[...].download()")
        download_entries(service, [self], os.path.abspath(root))
        return open(target, encoding="utf-8", errors="replace")  # noqa: SIM115 - the caller closes it
