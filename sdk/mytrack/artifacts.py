"""`Artifact`: a versioned, content-addressed set of files (datasets, models, code).

    artifact = mytrack.Artifact("mnist", type="dataset")
    artifact.add_dir("data/")
    run.log_artifact(artifact, aliases=["raw"])
    ...
    path = run.use_artifact("mnist:latest").download()

Entries are hashed (sha256, streaming) when they are added; the artifact's
digest is the sha256 of its sorted ``path:digest`` lines. Logging stages each
entry in the run folder (a hard link, else a copy) and the service uploads
its content into the blob store by digest, skipping what is stored already.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

from mytrack.errors import ArtifactError, ArtifactNotLoggedError, InvalidValueError
from mytrack_common.names import entry_name_problem

if TYPE_CHECKING:
    from mytrack._internal.artifacts.client import ArtifactService

_BUFSIZE = 1 << 20


@dataclass
class ArtifactManifestEntry:
    """One file of an artifact."""

    path: str  # the name inside the artifact, "/"-separated
    digest: str  # sha256 hex of the content (references: the checksum recorded for them)
    size: int = 0
    ref: str = ""  # a reference's URI ("file://...", "s3://..."); "" for stored content
    local_path: str = ""  # where the content was added from (log side only)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. a reference's etag/version_id
    _stat: tuple[int, int] = (0, 0)  # (size, mtime_ns) when hashed

    def to_json(self, with_local: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "digest": self.digest, "size": self.size,
                               "ref": self.ref, **self.extra}
        if with_local and self.local_path:
            out["local"] = self.local_path
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactManifestEntry:
        extra = {k: v for k, v in data.items() if k not in ("path", "digest", "size", "ref", "local")}
        return cls(data["path"], data["digest"], int(data.get("size") or 0), data.get("ref") or "",
                   extra=extra)


class ArtifactManifest:
    """The entries of an artifact, by path."""

    def __init__(self, entries: dict[str, ArtifactManifestEntry]) -> None:
        self.entries = entries

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[ArtifactManifestEntry]:
        return iter(sorted(self.entries.values(), key=lambda e: e.path))

    def to_json(self) -> list[dict[str, Any]]:
        return [e.to_json() for e in self]


def hash_file(path: str) -> tuple[str, int]:
    """(sha256 hex, size) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_BUFSIZE):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def digest_of(entries: list[ArtifactManifestEntry] | list[dict[str, Any]]) -> str:
    """sha256 over the sorted ``path:digest`` lines (the service computes the same)."""
    pairs = sorted((e["path"], e["digest"]) if isinstance(e, dict) else (e.path, e.digest)
                   for e in entries)
    return hashlib.sha256("".join(f"{p}:{d}\n" for p, d in pairs).encode()).hexdigest()


def check_entry_name(name: str) -> str:
    """A name inside an artifact: relative, "/"-separated, without ``..`` (mytrack_common.names).

    Refused, not repaired: a name that would escape the download folder on some
    OS is an error naming the entry. ``a//b`` and ``./a`` are tidied to ``a/b``, ``a``.
    """
    text: object = os.fspath(name) if isinstance(name, os.PathLike) else name
    if isinstance(text, str) and os.sep != "/":
        text = text.replace(os.sep, "/")
    problem = entry_name_problem(text)
    if problem is not None:
        raise InvalidValueError(
            f"artifact entry name {name!r} {problem}; use a relative path without '..'")
    return "/".join(p for p in str(text).split("/") if p not in ("", "."))


class Artifact:
    """A set of files with a name and a type, logged and used by runs in versions."""

    def __init__(
        self, name: str, type: str, description: str | None = None,
        metadata: dict[str, Any] | None = None, incremental: bool = False,
        use_as: str | None = None,
    ) -> None:
        if not isinstance(name, str) or not name or "/" in name or ":" in name:
            raise InvalidValueError(
                f"artifact name must be a non-empty string without '/' or ':', got {name!r}")
        if not isinstance(type, str) or not type:
            raise InvalidValueError(f"artifact type must be a non-empty string, got {type!r}")
        self._name, self._type = name, type
        self.description = description or ""
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.aliases: list[str] = []
        self.tags: list[str] = []
        self.incremental = incremental
        self._entries: dict[str, ArtifactManifestEntry] = {}
        self._staging: str | None = None
        self._doc: dict[str, Any] | None = None  # the stored version, once known
        self._service: ArtifactService | None = None
        self._pending_result: tuple[ArtifactService, str] | None = None  # (service, client_id)
        self._offline_run: str | None = None  # logged by this offline run: stored at its sync

    # -- identity -------------------------------------------------------------

    @property
    def name(self) -> str:
        """``name`` before logging; ``name:vN`` once the version is known (as in W&B)."""
        doc = self._doc
        return f"{self._name}:{doc['version']}" if doc and doc.get("version") else self._name

    @property
    def collection_name(self) -> str:
        return self._name

    @property
    def type(self) -> str:
        return self._type

    @property
    def version(self) -> str | None:
        """"vN" once logged (call ``wait()`` after ``log_artifact``); None before."""
        self._resolve_pending(wait=False)
        return self._doc["version"] if self._doc and self._doc.get("version") else None

    @property
    def id(self) -> int | None:
        return self._doc["id"] if self._doc else None

    @property
    def entity(self) -> str:
        return self._doc["entity"] if self._doc else ""

    @property
    def project(self) -> str:
        return self._doc["project"] if self._doc else ""

    @property
    def qualified_name(self) -> str:
        return f"{self.entity}/{self.project}/{self.name}"

    @property
    def state(self) -> str:
        return self._doc["state"].upper() if self._doc else "PENDING"

    @property
    def source(self) -> dict[str, Any] | None:
        """For a version in a portfolio: the version it links to."""
        return self._doc.get("source") if self._doc else None

    @property
    def created_by(self) -> str:
        return self._doc.get("created_by", "") if self._doc else ""

    @property
    def manifest(self) -> ArtifactManifest:
        return ArtifactManifest(dict(self._entries))

    @property
    def digest(self) -> str:
        return digest_of(list(self._entries.values()))

    @property
    def size(self) -> int:
        return sum(e.size for e in self._entries.values())

    # -- building ---------------------------------------------------------------

    def _check_mutable(self) -> None:
        if self._doc is not None or self._pending_result is not None:
            raise ArtifactError(
                f"artifact {self.name} was logged or fetched and cannot change; "
                "make a new Artifact for a new version")

    def add_file(
        self, local_path: str, name: str | None = None, is_tmp: bool = False,
        skip_cache: bool | None = None, policy: str | None = None, overwrite: bool = False,
    ) -> ArtifactManifestEntry:
        """Adds a local file (hashed now) as ``name`` (default: its base name).

        ``policy`` as W&B's: "mutable" copies the file now (later changes to it do
        not reach the artifact); "immutable" (and the default) reads it in place.
        """
        self._check_mutable()
        path = os.fspath(local_path)
        if not os.path.isfile(path):
            raise InvalidValueError(f"add_file: {path!r} is not a file")
        if policy not in (None, "mutable", "immutable"):
            raise InvalidValueError(f"add_file: policy must be 'mutable' or 'immutable', got {policy!r}")
        entry_name = check_entry_name(name if name is not None else os.path.basename(path))
        if policy == "mutable":
            path = self._stage_copy(path, entry_name)
        digest, size = hash_file(path)
        st = os.stat(path)
        entry = ArtifactManifestEntry(entry_name, digest, size, local_path=os.path.abspath(path),
                                      _stat=(st.st_size, st.st_mtime_ns))
        self._entries[entry_name] = entry
        return entry

    def _stage_copy(self, path: str, entry_name: str) -> str:
        if self._staging is None:
            self._staging = tempfile.mkdtemp(prefix="mytrack-artifact-")
        copy = os.path.join(self._staging, *entry_name.split("/"))
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        shutil.copyfile(path, copy)
        return copy

    def add_dir(self, local_path: str, name: str | None = None) -> None:
        """Adds every file under a local directory, under the prefix ``name``."""
        self._check_mutable()
        root = os.fspath(local_path)
        if not os.path.isdir(root):
            raise InvalidValueError(f"add_dir: {root!r} is not a directory")
        prefix = check_entry_name(name) + "/" if name else ""
        for folder, dirs, files in os.walk(root):
            dirs.sort()
            for file in sorted(files):
                full = os.path.join(folder, file)
                rel = os.path.relpath(full, root).replace(os.sep, "/")
                self.add_file(full, prefix + rel)

    def add_reference(self, uri: str, name: str | None = None, checksum: bool = True,
                      max_objects: int | None = None) -> list[ArtifactManifestEntry]:
        """Adds a reference (``file://`` path or ``s3://bucket/key-or-prefix``) without copying it."""
        from mytrack._internal.artifacts import refs as artifact_refs

        self._check_mutable()
        found = artifact_refs.reference_entries(str(uri), name, checksum, max_objects)
        for entry in found:
            entry.path = check_entry_name(entry.path)
            self._entries[entry.path] = entry
        return found

    @contextlib.contextmanager
    def new_file(self, name: str, mode: str = "x", encoding: str | None = None) -> Iterator[IO[Any]]:
        """Opens a new file in a staging folder; it is added when the block ends."""
        self._check_mutable()
        entry_name = check_entry_name(name)
        if entry_name in self._entries:
            raise InvalidValueError(f"artifact {self._name} already has an entry {entry_name!r}")
        if self._staging is None:
            self._staging = tempfile.mkdtemp(prefix="mytrack-artifact-")
        path = os.path.join(self._staging, *entry_name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode, encoding=None if "b" in mode else encoding or "utf-8") as f:
            yield f
        self.add_file(path, entry_name)

    def add(self, obj: Any, name: str, overwrite: bool = False) -> ArtifactManifestEntry:
        """Adds a data type (a `Table`, `Image`...) as ``name``, as W&B does (``<name>.table.json``...).

        Raises:
            InvalidTypeError: ``obj`` is not a data type with a file.
        """
        from mytrack._internal.artifacts.objects import add_object

        self._check_mutable()
        return add_object(self, obj, check_entry_name(name), overwrite)

    def get(self, name: str) -> Any:
        """The data type added as ``name`` (a `Table`, an `Image`, else its descriptor), or None.

        Reads a stored version (downloaded as by ``download()``).
        """
        from mytrack._internal.artifacts.objects import get_object

        self._require_stored("get()")
        return get_object(self, name)

    def remove(self, item: str | ArtifactManifestEntry) -> None:
        """Removes an entry (or every entry under a folder name)."""
        self._check_mutable()
        name = item.path if isinstance(item, ArtifactManifestEntry) else check_entry_name(item)
        doomed = [p for p in self._entries if p == name or p.startswith(name + "/")]
        if not doomed:
            raise InvalidValueError(f"artifact {self._name} has no entry {name!r}")
        for path in doomed:
            del self._entries[path]

    def get_entry(self, name: str) -> ArtifactManifestEntry:
        found = self._entries.get(check_entry_name(name))
        if found is None:
            raise KeyError(f"artifact {self.name} has no entry {name!r}")
        return found

    get_path = get_entry

    def files(self) -> list[Any]:
        """The entries, as W&B's file objects (``.name``, ``.size``, ``.download()``)."""
        from mytrack._internal.artifacts.files import ArtifactFile

        return [ArtifactFile.of(entry, self) for entry in self.manifest]

    def refresh_entries(self) -> None:
        """Rehashes added files whose size or mtime changed since they were added."""
        for entry in self._entries.values():
            if entry.ref or not entry.local_path:
                continue
            try:
                st = os.stat(entry.local_path)
            except OSError as exc:
                raise ArtifactError(f"entry {entry.path!r}: {entry.local_path} is gone: {exc}") from None
            if (st.st_size, st.st_mtime_ns) != entry._stat:
                entry.digest, entry.size = hash_file(entry.local_path)
                entry._stat = (st.st_size, st.st_mtime_ns)

    def payload(self, staging_root: str) -> dict[str, Any]:
        """The record's artifact JSON; each file entry staged under ``staging_root``."""
        self.refresh_entries()
        entries = []
        for entry in self.manifest:
            data = entry.to_json()
            if not entry.ref and entry.local_path:
                data["local"] = stage(entry.local_path, entry.digest, staging_root)
            entries.append(data)
        from mytrack._internal.run.values import check_texts

        described = {"name": self._name, "type": self._type, "description": self.description,
                     "metadata": self.metadata, "tags": list(self.tags),
                     "aliases": list(self.aliases)}
        for what, value in described.items():
            check_texts(value, f"artifact {what}")
        described.pop("aliases")  # the caller sends them (log_artifact(aliases=...) wins)
        return {**described, "entries": entries, "digest": digest_of(entries)}

    # -- after logging / fetching ------------------------------------------------

    def _bind(self, service: ArtifactService, doc: dict[str, Any]) -> Artifact:
        self._service, self._doc = service, doc
        self._pending_result = None
        self._name, self._type = doc["name"], doc["type"]
        self.description = doc.get("description", "")
        self.metadata = dict(doc.get("metadata") or {})
        self.aliases = list(doc.get("aliases") or [])
        self.tags = list(doc.get("tags") or [])
        if "manifest" in doc:
            self._entries = {e["path"]: ArtifactManifestEntry.from_json(e) for e in doc["manifest"]}
        return self

    def _resolve_pending(self, wait: bool, timeout: float = 60.0, what: str = "wait()") -> None:
        if self._pending_result is None or (self._doc is not None and not wait):
            return
        if not wait:
            return
        if self._offline_run is not None:
            raise ArtifactNotLoggedError(
                f"Artifact.{what} on {self._name}, logged by the offline run {self._offline_run}: "
                "its version is stored when `mytrack sync` uploads the run; read it then, with "
                "mytrack.Api().artifact(...)")
        service, client_id = self._pending_result
        doc = service.result(client_id, timeout)
        entries = self._entries
        self._bind(service, doc)
        if not self._entries:
            self._entries = entries

    def wait(self, timeout: float | None = None) -> Artifact:
        """Waits until the logged version is stored; its version and aliases are then known.

        Raises:
            ArtifactError: the service could not store it (the message says why).
            ArtifactNotLoggedError: an offline run's artifact (stored by ``mytrack sync``), as in W&B.
        """
        self._resolve_pending(wait=True, timeout=timeout or 60.0)
        return self

    def is_draft(self) -> bool:
        return self._doc is None and self._pending_result is None

    def _require_stored(self, what: str) -> ArtifactService:
        self._resolve_pending(wait=True, what=what)
        if self._service is None or self._doc is None:
            raise ArtifactError(f"artifact {self._name} is not logged yet")
        return self._service

    def download(self, root: str | None = None, skip_cache: bool | None = None) -> str:
        """Writes every entry under ``root`` (default ``./artifacts/<name>:<version>``),
        each verified against its digest; returns ``root``.

        Raises:
            ArtifactError: a blob or reference whose content does not match.
        """
        from mytrack._internal.artifacts.download import download_entries

        service = self._require_stored("download()")
        target = os.path.abspath(root or os.path.join("artifacts", f"{self._name}:{self.version}"))
        download_entries(service, list(self.manifest), target)
        return target

    def file(self, root: str | None = None) -> str:
        """Downloads a single-file artifact; returns the file's path."""
        if len(self._entries) != 1:
            raise ArtifactError(
                f"file() is for artifacts of one file; {self.name} has {len(self._entries)}")
        folder = self.download(root)
        return os.path.join(folder, *next(iter(self._entries)).split("/"))

    def checkout(self, root: str | None = None) -> str:
        return self.download(root)

    def delete(self) -> None:
        """Deletes this version (and its links); "latest" moves to the newest one left."""
        service = self._require_stored("delete()")
        service.query("delete", {"id": self.id})
        self._doc = None

    def logged_by(self) -> Any:
        """The run (an ApiRun) that logged this version, or None."""
        self._require_stored("logged_by()")
        assert self._doc is not None
        path = self._doc.get("created_by") or ""
        return self._api_run(path) if path else None

    def used_by(self) -> list[Any]:
        """The runs (ApiRuns) that used this version."""
        service = self._require_stored("used_by()")
        paths = service.query("users", {"id": self.id})
        return [self._api_run(p) for p in paths]

    def _api_run(self, path: str) -> Any:
        from mytrack.api import Api

        return Api().run(path)

    def __repr__(self) -> str:
        return f"<Artifact {self.name} type={self._type} entries={len(self._entries)}>"


def stage(local: str, digest: str, root: str) -> str:
    """A frozen copy of ``local`` at ``root/<digest>``: a hard link, else a copy.

    Replacing or deleting the user's file after logging (the usual way tools
    rewrite files) does not change what was logged.
    """
    os.makedirs(root, exist_ok=True)
    target = os.path.join(root, digest)
    if os.path.exists(target):
        return target
    tmp = f"{target}.{os.getpid()}.tmp"
    try:
        os.link(local, tmp)
    except OSError:
        shutil.copyfile(local, tmp)
    os.replace(tmp, target)
    return target
