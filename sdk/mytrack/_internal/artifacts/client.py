"""The run's artifact methods: records through the WAL, results through ArtifactQuery.

Every action (log, use, upsert, finish, link) is an `ArtifactRecord` queued
like any other record, so it is durable in the run's WAL and applied in
order. Calls that need the outcome (``use_artifact``, ``link_artifact``,
``artifact.wait()``) flush the sender and ask the service for the result of
their record by its client id; the service answers once it is applied.
"""

from __future__ import annotations

import inspect
import os
import re
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from mytrack._internal.run.values import check_text, check_texts
from mytrack._internal.transport import encode
from mytrack._internal.transport.client import ServiceClient
from mytrack.artifacts import Artifact
from mytrack.errors import ArtifactError, ArtifactNotFoundError, InvalidValueError, RunNotFoundError

if TYPE_CHECKING:
    from mytrack._internal.run.run import Run

_MODEL_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
_SKIP_DIRS = ("mytrack-runs", "mytrack", "wandb", ".git", "__pycache__", ".venv", "venv", "node_modules", "artifacts")


class ArtifactService:
    """Artifact queries and blob reads on a service connection."""

    def __init__(self, client: Callable[[], ServiceClient]) -> None:
        self._client = client

    def query(self, kind: str, request: dict[str, Any], timeout: float = 60.0) -> Any:
        try:
            return self._client().artifact_query(kind, request, timeout=timeout + 5)
        except RunNotFoundError as exc:
            raise ArtifactNotFoundError(str(exc)) from None

    def result(self, client_id: str, timeout: float = 60.0) -> dict[str, Any]:
        doc = self.query("result", {"client_id": client_id, "timeout": timeout}, timeout)
        if not doc.get("ok"):
            raise ArtifactError(doc.get("error") or "the artifact could not be stored")
        return dict(doc)

    def blob(self, digest: str) -> Iterator[bytes]:
        yield from self._client().read_blob(digest)


def parse_name(name: str, entity: str, project: str) -> tuple[str, str, str, str]:
    """``[entity/][project/]name[:version-or-alias]`` -> (entity, project, name, version)."""
    text = str(name).strip()
    base, _, version = text.partition(":")
    parts = [p for p in base.split("/") if p]
    if not parts or len(parts) > 3:
        raise InvalidValueError(f"artifact name must be [entity/][project/]name[:alias], got {name!r}")
    if len(parts) == 3:
        entity, project = parts[0], parts[1]
    elif len(parts) == 2:
        project = parts[0]
    return entity, project, parts[-1], version


def from_doc(service: ArtifactService, doc: dict[str, Any]) -> Artifact:
    artifact = Artifact.__new__(Artifact)
    Artifact.__init__(artifact, doc["name"], doc["type"])
    return artifact._bind(service, doc)


class RunArtifacts:
    """The logic behind Run.log_artifact and friends."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.service = ArtifactService(run._rpc)

    # -- plumbing ---------------------------------------------------------------

    def _send(self, action: str, payload: dict[str, Any]) -> str:
        client_id = uuid.uuid4().hex
        payload.setdefault("entity", self.run.entity)
        payload.setdefault("project", self.run.project)
        payload["timestamp"] = time.time()
        self.run._enqueue(encode.artifact_record(action, payload, client_id), f"{action}_artifact()")
        return client_id

    def _applied(self, timeout: float = 120.0) -> None:
        """Waits until the service has applied every record of this run sent so far."""
        if self.run._sender is not None:
            self.run._sender.flush(timeout)
            self.run._sync(timeout)

    def _outcome(self, client_id: str, timeout: float = 120.0) -> dict[str, Any]:
        sender = self.run._sender
        if sender is not None and not sender.flush(timeout):
            raise ArtifactError("the artifact record was not delivered to the service in time")
        return self.service.result(client_id, timeout)

    def _artifact(self, artifact_or_path: Any, name: str | None, type_: str | None) -> tuple[Artifact, str, str]:
        """The artifact to send, and the entity/project it goes to."""
        entity, project = self.run.entity, self.run.project
        if isinstance(artifact_or_path, Artifact):
            artifact = artifact_or_path
            if name:
                entity, project, short, _ = parse_name(name, entity, project)
                artifact._name = short
            return artifact, entity, project
        path = os.fspath(artifact_or_path)
        if name:
            entity, project, short, _ = parse_name(name, entity, project)
        else:
            base = os.path.basename(path.rstrip("/")) or "artifact"
            short = re.sub(r"[^A-Za-z0-9_.\-]", "_", base) + "-" + self.run.id
        artifact = Artifact(short, type_ or "unspecified")
        if path.startswith(("s3://", "file://")):
            artifact.add_reference(path)
        elif os.path.isdir(path):
            artifact.add_dir(path)
        elif os.path.isfile(path):
            artifact.add_file(path)
        else:
            raise InvalidValueError(f"path {path!r} is not a file, a directory or an s3:// URI")
        return artifact, entity, project

    def _payload(self, artifact: Artifact, entity: str, project: str,
                 aliases: list[str] | None, tags: list[str] | None) -> dict[str, Any]:
        if artifact._doc is not None or artifact._pending_result is not None:
            raise ArtifactError(f"artifact {artifact.name} was logged already; make a new Artifact")
        payload = artifact.payload(os.path.join(self.run.dir, "artifacts"))
        payload.update(entity=entity, project=project,
                       aliases=_aliases(aliases if aliases is not None else artifact.aliases),
                       tags=list(tags if tags is not None else artifact.tags))
        check_texts(payload["tags"], "artifact tags")
        return payload

    # -- actions ------------------------------------------------------------------

    def log(self, artifact_or_path: Any, name: str | None, type_: str | None,
            aliases: list[str] | None, tags: list[str] | None) -> Artifact:
        artifact, entity, project = self._artifact(artifact_or_path, name, type_)
        client_id = self._send("log", self._payload(artifact, entity, project, aliases, tags))
        return self._pending(artifact, client_id)

    def _pending(self, artifact: Artifact, client_id: str) -> Artifact:
        artifact._pending_result = (self.service, client_id)
        artifact._service = self.service
        if self.run.offline:  # no service to ask: `mytrack sync` stores it
            artifact._offline_run = self.run.path
        return artifact

    def upsert(self, artifact_or_path: Any, name: str | None, type_: str | None,
               aliases: list[str] | None, distributed_id: str | None, finish: bool) -> Artifact:
        artifact, entity, project = self._artifact(artifact_or_path, name, type_)
        distributed_id = distributed_id or self.run.group
        if not distributed_id:
            raise InvalidValueError(
                "upsert_artifact/finish_artifact need a distributed_id (or a run group)")
        payload = self._payload(artifact, entity, project, aliases, None)
        payload["distributed_id"] = distributed_id
        client_id = self._send("finish" if finish else "upsert", payload)
        return self._pending(artifact, client_id)

    def use(self, artifact_or_name: Any, type_: str | None, aliases: list[str] | None,
            use_as: str | None) -> Artifact:
        if use_as is not None:
            warnings.warn("use_as is deprecated and ignored", DeprecationWarning, stacklevel=3)
        if isinstance(artifact_or_name, Artifact):
            artifact = artifact_or_name
            if artifact._doc is not None or artifact._pending_result is not None:
                artifact.wait()
                request = {"entity": artifact.entity, "project": artifact.project,
                           "name": artifact.collection_name, "version": artifact.version}
            else:  # a new local artifact: stored, and used (not produced) by this run
                request = self._payload(artifact, self.run.entity, self.run.project, aliases, None)
            doc = self._outcome(self._send("use", request))
            return artifact._bind(self.service, {**doc, "manifest": doc.get("manifest")
                                                 or artifact.manifest.to_json()})
        entity, project, short, version = parse_name(artifact_or_name, self.run.entity, self.run.project)
        self._applied()  # this run's own earlier log_artifact() calls resolve too
        resolved = self.service.query("resolve", {"entity": entity, "project": project, "name": short,
                                                 "version": version or "latest", "type": type_})
        self._send("use", {"entity": entity, "project": project, "name": short,
                           "version": resolved["version"]})
        return from_doc(self.service, resolved)

    def link(self, artifact: Artifact, target_path: str, aliases: list[str] | None,
             kind: str = "portfolio") -> Artifact | None:
        try:
            artifact.wait()
            parts = [p for p in str(target_path).split("/") if p]
            if not 1 <= len(parts) <= 3:
                raise InvalidValueError(
                    f"target_path must be portfolio, project/portfolio or entity/project/portfolio, "
                    f"got {target_path!r}")
            entity = parts[0] if len(parts) == 3 else self.run.entity
            project = parts[-2] if len(parts) >= 2 else self.run.project
            client_id = self._send("link", {
                "entity": artifact.entity, "project": artifact.project,
                "name": artifact.collection_name, "version": artifact.version,
                "target_entity": entity, "target_project": project, "target_name": parts[-1],
                "aliases": _aliases(aliases or []), "kind": kind,
            })
            return from_doc(self.service, self._outcome(client_id))
        except (ArtifactError, InvalidValueError) as exc:
            warnings.warn(f"link_artifact({target_path!r}) failed: {exc}", UserWarning, stacklevel=3)
            return None

    # -- models ---------------------------------------------------------------------

    def log_model(self, path: str, name: str | None, aliases: list[str] | None) -> Artifact:
        if name is not None:
            check_model_name(name)
        return self.log(path, name, "model", aliases, None)

    def use_model(self, name: str) -> str:
        artifact = self.use(name, None, None, None)
        if "model" not in artifact.type:
            raise AssertionError(f"artifact {artifact.name} has type {artifact.type!r}, not a model type")
        return artifact.download()

    def link_model(self, path: str, registered_model_name: str, name: str | None,
                   aliases: list[str] | None) -> Artifact | None:
        if "/" in registered_model_name or ":" in registered_model_name:
            raise AssertionError(
                f"registered_model_name must be a name, not a path: {registered_model_name!r}")
        if name is not None:
            check_model_name(name)
        if name is not None:
            entity, project, short, _ = parse_name(name, self.run.entity, self.run.project)
            self._applied()
            try:
                existing = self.service.query("resolve", {"entity": entity, "project": project,
                                                          "name": short, "version": "latest"})
            except ArtifactNotFoundError:
                existing = None
            if existing is not None and "model" not in existing["type"]:
                raise AssertionError(
                    f"artifact {short} has type {existing['type']!r}, which does not contain 'model'")
        artifact = self.log(path, name, "model", None, None)
        artifact.wait()
        target = f"{self.run.entity}/model-registry/{registered_model_name}"
        return self.link(artifact, target, aliases, kind="registered_model")

    # -- code -------------------------------------------------------------------------

    def log_code(self, root: str, name: str | None, include_fn: Callable[..., bool],
                 exclude_fn: Callable[..., bool]) -> Artifact | None:
        root = os.path.abspath(root)
        if name is None:
            name = "source-" + _safe(f"{self.run.project}-{_entrypoint(root)}")
        artifact = Artifact(name, "code")
        for folder, dirs, files in os.walk(root):
            # mytrack's own run folders are never code, whatever exclude_fn says.
            dirs[:] = sorted(d for d in dirs if d not in ("mytrack-runs", "mytrack", ".mytrack")
                             and not _call(exclude_fn, os.path.join(folder, d), root))
            for file in sorted(files):
                full = os.path.join(folder, file)
                if _call(include_fn, full, root) and not _call(exclude_fn, full, root):
                    artifact.add_file(full, os.path.relpath(full, root).replace(os.sep, "/"))
        if not artifact.manifest.entries:
            return None
        return self.log(artifact, None, None, None, None)


def default_include(path: str, root: str) -> bool:
    return path.endswith(".py")


def default_exclude(path: str, root: str) -> bool:
    rel = os.path.relpath(path, root).replace(os.sep, "/")
    return any(part in _SKIP_DIRS for part in rel.split("/"))


def _call(fn: Callable[..., bool], path: str, root: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
        takes_two = len(params) >= 2 or any(p.kind is p.VAR_POSITIONAL for p in params.values())
    except (TypeError, ValueError):
        takes_two = True
    return bool(fn(path, root) if takes_two else fn(path))


def _entrypoint(root: str) -> str:
    main = getattr(sys.modules.get("__main__"), "__file__", None) or "notebook"
    main = os.path.abspath(main) if main != "notebook" else main
    try:
        return os.path.relpath(main, root) if main != "notebook" else main
    except ValueError:
        return os.path.basename(main)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", text.replace(os.sep, "_").replace("/", "_"))


def _aliases(aliases: Any) -> list[str]:
    if isinstance(aliases, str):
        aliases = [aliases]
    out = []
    for alias in aliases or []:
        if not isinstance(alias, str) or not alias or any(c in alias for c in "/:"):
            raise InvalidValueError(f"alias must be a non-empty string without '/' or ':', got {alias!r}")
        out.append(check_text(alias, "alias"))
    return out


def check_model_name(name: str) -> str:
    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name):
        raise ValueError(
            f"model name {name!r} may contain only letters, digits, '_', '-' and '.'")
    return name



class DisabledArtifacts:
    """Run.log_artifact and friends on a disabled run: accepted, nothing recorded."""

    def __init__(self, run: Run) -> None:
        self.run = run

    def _local(self, artifact_or_path: Any, name: str | None, type_: str | None) -> Artifact:
        if isinstance(artifact_or_path, Artifact):
            return artifact_or_path
        base = name or os.path.basename(str(artifact_or_path).rstrip("/")) or "artifact"
        return Artifact(base.split(":")[0].split("/")[-1], type_ or "unspecified")

    def log(self, artifact_or_path: Any, name: str | None, type_: str | None,
            aliases: list[str] | None, tags: list[str] | None) -> Artifact:
        return self._local(artifact_or_path, name, type_)

    def upsert(self, artifact_or_path: Any, name: str | None, type_: str | None,
               aliases: list[str] | None, distributed_id: str | None, finish: bool) -> Artifact:
        return self._local(artifact_or_path, name, type_)

    def use(self, artifact_or_name: Any, type_: str | None, aliases: list[str] | None,
            use_as: str | None) -> Artifact:
        return self._local(artifact_or_name, None, type_)

    def link(self, artifact: Artifact, target_path: str, aliases: list[str] | None) -> None:
        return None

    def log_model(self, path: str, name: str | None, aliases: list[str] | None) -> None:
        return None

    def use_model(self, name: str) -> str:
        return os.getcwd()

    def link_model(self, path: str, registered_model_name: str, name: str | None,
                   aliases: list[str] | None) -> None:
        return None

    def log_code(self, root: str, name: str | None, include_fn: Callable[..., bool],
                 exclude_fn: Callable[..., bool]) -> None:
        return None
