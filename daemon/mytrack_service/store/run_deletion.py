"""What deleting a run does to the artifact tables, written once against `ArtifactTx`.

Both stores call `forget_run` inside the transaction that removes the run's
rows, so a run and its artifact records go together or not at all.

The rules follow W&B's ``Run.delete(delete_artifacts=False)``:

* the run's usage records go (it no longer "used" anything);
* without ``delete_artifacts`` the versions it logged stay, still naming it as
  their producer (pages show it as a deleted run);
* with ``delete_artifacts`` each version it logged is deleted too, unless
  another run used it or a portfolio links to it: what other runs depend on
  stays.

What comes back are the blob digests the deleted rows referenced: the
candidates for the blob sweep, which deletes those nothing else references.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mytrack_service.store import artifact_model as model
from mytrack_service.store.artifact_model import ArtifactTx


@dataclass
class DeletedRun:
    """What `MetadataStore.delete_run` removed."""

    path: str
    digests: set[str] = field(default_factory=set)  # blobs its rows referenced
    artifacts: list[str] = field(default_factory=list)  # "name:vN" of the versions deleted
    artifacts_kept: list[str] = field(default_factory=list)  # logged, kept for other runs


def blob_digests(entries: Iterable[dict[str, Any]]) -> set[str]:
    """The digests of manifest entries stored as blobs (references are not)."""
    return {str(e["digest"]) for e in entries if e.get("digest") and not e.get("ref")}


def forget_run(tx: ArtifactTx, deleted: DeletedRun, delete_artifacts: bool) -> None:
    """Removes the run's artifact usage and, with ``delete_artifacts``, the versions it
    logged that nothing else depends on; fills ``deleted``."""
    run = deleted.path
    tx.remove_usage(run)
    if not delete_artifacts:
        return
    for version in tx.versions_by_run(run):
        name = f"{tx.collection_by_id(version.collection_id).name}:v{version.index}"
        if tx.users_of_version(version.id) or tx.links_to(version.id):
            deleted.artifacts_kept.append(name)
            continue
        deleted.digests |= blob_digests(tx.manifest(version.id))
        model.delete(tx, version.id)
        deleted.artifacts.append(name)
