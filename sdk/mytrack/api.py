"""The read side: ``mytrack.Api()`` reads runs through the service's query RPCs.

    api = mytrack.Api()
    run = api.run("entity/project/run_id")
    for row in run.scan_history(keys=["loss"]):
        ...
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

from mytrack._internal.api_wandb import ApiRunWandbNames, iso_utc, sort_runs
from mytrack._internal.files.download import download
from mytrack._internal.media.readback import ApiMedia, load_rows
from mytrack._internal.transport import launcher
from mytrack._internal.transport.client import ServiceClient
from mytrack._internal.transport.service_types import FileInfo, RunInfo, RunKey
from mytrack.errors import InvalidValueError, RunLiveError, RunNotFoundError
from mytrack.settings import Settings
from mytrack_common.names import name_problem, run_id_problem

HISTORY_STREAMS = ("history", "system")


class Api:
    """Reads runs from the store of the local service (started if needed)."""

    def __init__(self, overrides: Mapping[str, Any] | None = None, settings: Settings | None = None) -> None:
        self._settings = (settings or Settings()).resolve(dict(overrides or {}))
        self._client: ServiceClient | None = None

    @property
    def default_entity(self) -> str:
        return self._settings.entity or ""

    def _rpc(self) -> ServiceClient:
        if self._client is None:
            self._client = launcher.connect(
                self._settings.service_dir or "", timeout=self._settings.init_timeout or 30.0
            )
        return self._client

    def run(self, path: str) -> ApiRun:
        """The run at ``entity/project/run_id`` (or ``project/run_id``).

        Raises:
            RunNotFoundError: no such run.
        """
        key = self._run_key(path)
        return ApiRun(self, self._rpc().get_run(key))

    def runs(
        self, path: str | None = None, filters: Mapping[str, Any] | None = None,
        order: str | None = None, per_page: int | None = None, **kwargs: Any,
    ) -> list[ApiRun]:
        """Runs of ``entity/project`` (or ``project``), newest first, filtered.

        ``filters`` is a MongoDB-style document as W&B takes it, e.g.
        ``{"state": "finished", "config.lr": {"$gt": 0.01}, "tags": {"$in": ["a"]}}``.
        ``order`` is W&B's ``[+|-]field`` (e.g. ``"+summary_metrics.loss"``);
        ``per_page`` and W&B's other paging arguments are accepted (all runs come back).
        """
        if order is not None and order not in ("-created_at", "-createdAt"):
            return sort_runs(self.runs(path, filters), order)
        entity, project = self._project_path(path)
        return [ApiRun(self, info) for info in self._rpc().list_runs(entity, project, filters)]

    def sweep(self, path: str) -> Any:
        """The sweep at ``entity/project/sweep_id`` (or ``project/sweep_id``, ``sweep_id``).

        Raises:
            SweepNotFoundError: no such sweep in that project.
        """
        from mytrack._internal.sweeps.read import get_sweep

        return get_sweep(self, path, self.default_entity, self._settings.project or "uncategorized")

    def projects(self) -> list[dict[str, Any]]:
        return [
            {"entity": p.entity, "project": p.project, "run_count": p.run_count,
             "last_activity": p.last_activity}
            for p in self._rpc().list_projects()
        ]

    def stop_run(self, path: str) -> tuple[bool, str]:
        """Asks the run's live process to stop (it ends as killed).

        Returns (whether a live process was told, the run's state now).
        """
        reply = self._rpc().stop_run(self._run_key(path))
        return reply.delivered, reply.state

    # -- artifacts (see mytrack.artifacts) ---------------------------------------

    def _artifacts(self) -> Any:
        from mytrack._internal.artifacts.client import ArtifactService

        return ArtifactService(self._rpc)

    def _artifact_path(self, name: str) -> tuple[str, str, str, str]:
        from mytrack._internal.artifacts.client import parse_name

        return parse_name(name, self.default_entity, self._settings.project or "uncategorized")

    def artifact(self, name: str, type: str | None = None) -> Any:
        """The artifact version ``[entity/][project/]name[:vN|:alias]`` (default alias "latest").

        Raises:
            ArtifactNotFoundError: no such artifact, version or alias (or not of ``type``).
        """
        from mytrack._internal.artifacts.client import from_doc

        entity, project, short, version = self._artifact_path(name)
        service = self._artifacts()
        doc = service.query("resolve", {"entity": entity, "project": project, "name": short,
                                        "version": version or "latest", "type": type})
        return from_doc(service, doc)

    def artifact_versions(self, name: str, type: str | None = None) -> list[Any]:
        """Every committed version of ``[entity/][project/]name``, oldest first."""
        entity, project, short, _ = self._artifact_path(name)
        docs = self._artifacts().query("versions", {"entity": entity, "project": project,
                                                    "name": short, "type": type})
        return [self.artifact(f"{d['entity']}/{d['project']}/{d['name']}:{d['version']}") for d in docs]

    def artifact_collections(self, path: str | None = None, kind: str | None = None) -> list[dict[str, Any]]:
        """Artifact collections of ``entity/project`` (all when None): name, type, kind
        ("artifact", "portfolio" or "registered_model"), version count, aliases."""
        entity, project = self._project_path(path)
        return list(self._artifacts().query("collections", {"entity": entity, "project": project,
                                                            "kind": kind}))

    def portfolios(self, path: str | None = None) -> list[dict[str, Any]]:
        return self.artifact_collections(path, "portfolio")

    def registered_models(self, entity: str | None = None) -> list[dict[str, Any]]:
        """The model registry's registered models (made by ``run.link_model``)."""
        return list(self._artifacts().query(
            "collections", {"entity": entity or "", "project": "", "kind": "registered_model"}))

    def _run_key(self, path: str) -> RunKey:
        parts = [p for p in str(path).strip("/").split("/") if p]
        if len(parts) == 4 and parts[2] == "runs":  # entity/project/runs/id, as in W&B URLs
            parts = [parts[0], parts[1], parts[3]]
        if len(parts) == 2:
            parts = [self.default_entity, *parts]
        if len(parts) != 3:
            raise InvalidValueError(f"run path must be 'entity/project/run_id', got {path!r}")
        _check_path(path, parts[0], parts[1], parts[2])
        return RunKey(entity=parts[0], project=parts[1], run_id=parts[2])

    def _project_path(self, path: str | None) -> tuple[str, str]:
        if not path:
            return "", ""
        parts = [p for p in str(path).strip("/").split("/") if p]
        if len(parts) == 1:
            return self.default_entity, parts[0]
        if len(parts) != 2:
            raise InvalidValueError(f"project path must be 'entity/project', got {path!r}")
        _check_path(path, parts[0], parts[1])
        return parts[0], parts[1]


def _check_path(path: object, entity: str, project: str, run_id: str | None = None) -> None:
    """The same name rules as ``init()``: a bad part is named, not sent."""
    for what, name in (("entity", entity), ("project", project)):
        problem = name_problem(name)
        if problem is not None:
            raise InvalidValueError(f"path {path!r}: {what} {problem}")
    if run_id is not None and (problem := run_id_problem(run_id)) is not None:
        raise InvalidValueError(f"path {path!r}: run id {problem}")


class ApiRun(ApiRunWandbNames):
    """A run as stored: fields, config, summary and history."""

    def __init__(self, api: Api, info: RunInfo) -> None:
        self._api = api
        self._load(info)

    def _load(self, info: RunInfo) -> None:
        self.entity = info.key.entity
        self.project = info.key.project
        self.id = info.key.run_id
        self.name = info.name
        self.state = info.state
        self.group = info.group
        self.job_type = info.job_type
        self.tags = list(info.tags)
        self.notes = info.notes
        self.config: dict[str, Any] = json.loads(info.config_json or b"{}")
        self.summary: dict[str, Any] = json.loads(info.summary_json or b"{}")
        self.metadata: dict[str, Any] = json.loads(info.metadata_json or b"{}")
        # define_metric() definitions: name, step_metric, step_sync, hidden, summary, goal.
        self.metrics: list[dict[str, Any]] = json.loads(info.metrics_json or b"[]")
        self.created_timestamp = info.created_at
        self.created_at = iso_utc(info.created_at)  # W&B's form
        self.updated_at = info.updated_at
        self.heartbeat_at = info.heartbeat_at
        self.runtime = info.runtime
        self.last_step = info.last_step
        self.exit_code = info.exit_code
        self.dir = info.run_dir
        self.host = info.host
        self.sweep_id = info.sweep_id or None
        self._stored = self._editable()  # what update() compares against

    @property
    def path(self) -> str:
        return f"{self.entity}/{self.project}/{self.id}"

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def hidden_keys(self) -> list[str]:
        """Metrics (names or globs) defined with hidden=True (left out of default listings)."""
        return sorted(m["name"] for m in self.metrics if m.get("hidden"))

    def is_hidden(self, key: str) -> bool:
        """Whether the definition that applies to ``key`` hides it (exact name first,
        then the most specific glob, as the service resolves them)."""
        by_name = {m["name"]: m for m in self.metrics}
        found = by_name.get(key)
        if found is None and not key.startswith("_"):
            globs = [m for n, m in by_name.items() if any(c in n for c in "*?[")]
            matching = [m for m in globs if fnmatch.fnmatchcase(key, m["name"])]
            if matching:
                found = max(matching, key=lambda m: len(m["name"].replace("*", "")))
        return bool(found and found.get("hidden"))

    def _key(self) -> RunKey:
        return RunKey(entity=self.entity, project=self.project, run_id=self.id)

    def reload(self) -> ApiRun:
        """Fetches the run's current fields again."""
        self._load(self._api._rpc().get_run(self._key()))
        return self

    def _editable(self) -> dict[str, Any]:
        return dict(json.loads(json.dumps({
            "name": self.name, "tags": list(self.tags), "notes": self.notes, "group": self.group,
            "job_type": self.job_type, "config": self.config, "summary": self.summary,
        }, default=str)))

    def update(self) -> None:
        """Writes back edits of ``name``, ``tags``, ``notes``, ``group``, ``job_type``,
        ``config`` and ``summary`` (W&B's ``Run.update()``); only changed fields are sent.

        Raises:
            RunLiveError: config or summary edits of a live run (its own writes win).
            InvalidValueError: a field of the wrong type.
        """
        fields = {k: v for k, v in self._editable().items() if v != self._stored.get(k)}
        if fields:
            self._api._rpc().admin_call("update_run", {"run": self.path, "fields": fields})
        self.reload()

    def delete(self, delete_artifacts: bool = False) -> None:
        """Deletes the run from the store: its history, files, console and system metrics,
        and the blobs nothing else references (W&B's ``Run.delete()``).

        Artifact versions the run logged stay unless ``delete_artifacts``; even then,
        versions that other runs used (or a portfolio links) stay.

        Raises:
            RunLiveError: the run is live (stop it first: ``mytrack runs stop``).
            RunNotFoundError: it was deleted already.
        """
        out = self._api._rpc().admin_call(
            "delete_runs", {"runs": [self.path], "delete_artifacts": bool(delete_artifacts)})
        if out["refused"]:
            raise RunLiveError(out["refused"][0]["error"])
        if out["not_found"]:
            raise RunNotFoundError(f"run {self.path} not found")

    def scan_history(
        self,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
        page_size: int = 2_000,
        stream: str = "history",
    ) -> Iterator[dict[str, Any]]:
        """Every logged row in step order, ``min_step <= _step <= max_step``.

        With ``keys``, only the rows holding all of them, reduced to ``_step``
        and those keys (dotted keys reach into nested dicts).

        ``stream="system"`` reads the system-metrics samples instead (keys
        ``system/...``, see docs/system-metrics.md), in time order, each with
        ``_timestamp``, ``_runtime`` and ``_label``; ``min_step``/``max_step``
        then bound ``_timestamp`` (seconds since the epoch).
        """
        if stream not in HISTORY_STREAMS:
            raise InvalidValueError(f"stream must be one of {', '.join(HISTORY_STREAMS)}, got {stream!r}")
        pages = self._api._rpc().scan_history(
            self._key(), keys or (), min_step, max_step, page_size=page_size, stream=stream
        )
        for page in pages:
            yield from load_rows(page, self)

    def history(
        self, keys: list[str] | None = None, pandas: bool = True, samples: int | None = None,
        min_step: int | None = None, max_step: int | None = None, stream: str = "history",
    ) -> Any:
        """All rows (every step; ``samples`` picks that many evenly, on request).

        A pandas DataFrame with nested keys flattened to dotted columns when
        pandas is installed and ``pandas=True``, else a list of dicts.
        ``stream="system"``: the system-metrics samples (see `scan_history`).
        """
        rows = list(self.scan_history(keys=keys, min_step=min_step, max_step=max_step,
                                      stream=stream))
        if samples is not None and 0 < samples < len(rows):
            stride = len(rows) / samples
            rows = [rows[int(i * stride)] for i in range(samples)]
        if not pandas:
            return rows
        try:
            import pandas as pd
        except ImportError:
            return rows
        return pd.DataFrame.from_records([_flatten(r) for r in rows])

    def console(self, label: str | None = None) -> Iterator[dict[str, Any]]:
        """The lines the run printed, in order (read lazily, page by page).

        Each is ``{"_line", "_timestamp", "stream", "label", "text"}``: its
        number from 0, when it was printed, "stdout" or "stderr", the label
        of the writer that printed it, and the text without its newline
        (carriage-return updates collapsed). ``label`` keeps one writer's lines.
        """
        for page in self._api._rpc().scan_history(self._key(), stream="console", label=label or ""):
            yield from json.loads(page)

    @property
    def alerts(self) -> list[dict[str, Any]]:
        """The alerts the run sent (not those held back by the rate limit), oldest first:
        ``{"title", "text", "level", "wait_duration", "timestamp"}``."""
        return list(self.metadata.get("alerts", []))

    def media(self, value: Any) -> ApiMedia:
        """``value`` (a media descriptor from this run's history) as an `ApiMedia`."""
        if not isinstance(value, dict) or not isinstance(value.get("path"), str):
            raise InvalidValueError(f"not a media descriptor with a path: {value!r}")
        return value if isinstance(value, ApiMedia) and value._run is self else ApiMedia(value, self)

    def files(self) -> list[ApiFile]:
        """The run's saved files (name, size, digest, updated time...), by name.

        ``output.log`` (what the run printed) is listed once it printed a line.
        """
        return [ApiFile(self, info) for info in self._api._rpc().list_files(self._key())]

    def file(self, name: str) -> ApiFile:
        """One saved file; RunNotFoundError (a ValueError) if the run has none by that name."""
        for found in self.files():
            if found.name == name:
                return found
        raise RunNotFoundError(f"run {self.path} has no file {name!r}")

    def logged_artifacts(self) -> list[Any]:
        """The artifact versions this run logged, oldest first."""
        return self._artifact_list("logged")

    def used_artifacts(self) -> list[Any]:
        """The artifact versions this run used, in order of first use."""
        return self._artifact_list("used")

    def _artifact_list(self, kind: str) -> list[Any]:
        docs = self._api._artifacts().query(kind, {"run": self.path})
        return [self._api.artifact(f"{d['entity']}/{d['project']}/{d['name']}:{d['version']}")
                for d in docs]

    def __repr__(self) -> str:
        return f"<ApiRun {self.path} ({self.state})>"


class ApiFile:
    """A file saved by a run."""

    def __init__(self, run: ApiRun, info: FileInfo) -> None:
        self._run = run
        self.name = info.name
        self.size = info.size
        self.digest = info.digest
        self.updated_at = info.updated_at
        self.mimetype = info.mime
        self.policy = info.policy
        self.uploads = info.uploads

    def download(self, root: str = ".", replace: bool = False) -> TextIO:
        """Writes the file under ``root`` (kept if present unless ``replace``) and opens it."""
        path = download(self._run._api._rpc(), self._run._key(), self.name, root, replace)
        return open(path, encoding="utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"<ApiFile {self.name} ({self.size} bytes)>"


def _flatten(row: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and "_type" not in value:
            out.update(_flatten(value, f"{name}."))
        else:
            out[name] = value
    return out
