"""The JSON API under ``/api/``, answered from the store (the UI runs inside the service).

    GET  /api/projects
    GET  /api/projects/E/P/runs?filters=&search=&state=&tags=&group=&sweep=&sort=&limit=&offset=&group_by=
    GET  /api/runs/E/P/ID                      overview, config, summary, files, charts, media
    GET  /api/runs/E/P/ID/history?key=&x=&smoothing=&smoothing_type=&min_step=&max_step=&points=&robust=
    GET  /api/runs/E/P/ID/histograms?key=      a histogram key over steps, as a heatmap
    GET  /api/runs/E/P/ID/media?key=
    GET  /api/runs/E/P/ID/system
    GET  /api/runs/E/P/ID/console?after=&limit=
    GET  /api/runs/E/P/ID/file?name=&inline=1 | /preview?name= | /table?name=&offset=&limit=
    POST /api/runs/E/P/ID/notes {"notes": "..."} | /tags {"tags": [...]} | /stop
    saved views and bulk edits: workspace.py
    POST /api/runs/delete {"runs": ["E/P/ID", ...], "delete_artifacts": false}   (admin_routes.py)
    GET  /api/artifacts/E/P[/NAME[/VERSION[/files|file|preview|lineage]]]       (artifacts.py)
    (sweeps and the parallel-coordinates panel: web/sweeps.py)
"""

from __future__ import annotations

import collections
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from mytrack_service.blobs.base import BlobStore
from mytrack_service.ingest.live_runs import IngestError, LiveRuns
from mytrack_service.query import limits
from mytrack_service.reclaim.runs import RunAdmin
from mytrack_service.store.artifact_model import document
from mytrack_service.store.base import RunKey
from mytrack_service.sweeps.controller import SweepController
from mytrack_service.web import workspace
from mytrack_service.web.admin_routes import admin_route, is_admin_route
from mytrack_service.web.artifacts import ArtifactViews
from mytrack_service.web.files import RunFiles
from mytrack_service.web.params import count, need, opt_int
from mytrack_service.web.responses import ApiError, Response, json_response
from mytrack_service.web.run_detail import run_detail
from mytrack_service.web.sweeps import SweepRoutes
from mytrack_service.web.table import runs_table
from mytrack_service.web.table_cache import ProjectCache
from mytrack_service.web.table_warmup import TableWarmer
from mytrack_service.web.units import unit

T = TypeVar("T")

MAX_MEDIA_STEPS = 500
MAX_CONSOLE_LINES = 10_000
MAX_NOTES = 100_000
MAX_TAG = 256
_HUB_STATUS = {"not_found": 404, "invalid": 400, "exists": 409, "precondition": 409}


class WebApi:
    def __init__(self, live_runs: LiveRuns, blobs: BlobStore, admin: RunAdmin | None = None,
                 sweeps: SweepController | None = None) -> None:
        self.live_runs = live_runs
        self.admin = admin
        self.store = live_runs.store
        self.files = RunFiles(live_runs.store, blobs)
        self.artifact_views = ArtifactViews(live_runs.store, blobs)
        self.tables = ProjectCache()
        self.warmer = TableWarmer(self.store, self.tables)
        self.sweeps = SweepRoutes(self.store, sweeps or SweepController(self.store))

    def route(self, method: str, parts: list[str], query: Mapping[str, str], body: Any) -> Response:
        """Answers ``/api/<parts...>``; ApiError for what it refuses."""
        answer = self.sweeps.route(method, parts, query)
        if answer is not None:
            return answer
        if method == "GET" and parts == ["projects"]:
            return self._on_query_pool(lambda deadline: self.projects(), "the projects list")
        if is_admin_route(parts):
            return admin_route(self.admin, method, body)
        if parts[:1] == ["artifacts"]:
            return self.artifact_views.route(method, parts[1:], query)
        if method == "GET" and len(parts) == 4 and parts[0] == "projects" and parts[3] == "runs":
            return json_response(self._on_query_pool(
                lambda deadline: runs_table(self.store, parts[1], parts[2], query, deadline, self.tables),
                "the runs table query"))
        if len(parts) in (4, 5) and parts[0] == "projects" and parts[3] == "views":
            return workspace.views_route(self.store, method, parts[1], parts[2], "".join(parts[4:]), body)
        if method == "POST":
            self.tables.forget()  # an edit: the runs table reads the store again
        if method == "POST" and len(parts) == 2 and parts[0] == "runs" and parts[1] in workspace.BULK_ACTIONS:
            return workspace.bulk_route(self.store, parts[1], body)
        if len(parts) not in (4, 5) or parts[0] != "runs":
            raise ApiError(404, "no such endpoint")
        key = RunKey(parts[1], parts[2], parts[3])
        action = parts[4] if len(parts) == 5 else ""
        handlers: dict[tuple[str, str], Callable[[], Response]] = {
            ("GET", ""): lambda: json_response(run_detail(self.store, key)),
            ("GET", "history"): lambda: self.history(key, query),
            ("GET", "histograms"): lambda: json_response(_charts().heatmap(self.store, key, query)),
            ("GET", "media"): lambda: self.media(key, query),
            ("GET", "system"): lambda: self.system(key),
            ("GET", "console"): lambda: self.console(key, query),
            ("GET", "artifacts"): lambda: self.artifacts(key),
            ("GET", "file"): lambda: self.files.download(key, need(query, "name"),
                                                        query.get("inline") == "1"),
            ("GET", "preview"): lambda: self.files.preview(key, need(query, "name")),
            ("GET", "table"): lambda: self.files.table(
                key, need(query, "name"), count(query, "offset", 0), count(query, "limit", 50)),
            ("POST", "notes"): lambda: self.set_notes(key, body),
            ("POST", "tags"): lambda: self.set_tags(key, body),
            ("POST", "stop"): lambda: self.stop(key),
        }
        handler = handlers.get((method, action))
        if handler is None:
            raise ApiError(405 if any(a == action for _, a in handlers) else 404, "no such endpoint")
        if method == "GET" and action != "file":
            # Reads answer within the query budget, on the query pool: a slow one
            # (a huge run, a slow store) gets a 503, not a connection held forever,
            # and many at once never take more CPU than queries may. A file download
            # streams from its own connection's thread (bounded per chunk by the
            # socket's and the blob store's timeouts).
            return self._on_query_pool(lambda deadline: handler(), f"the {action or 'run'} request")
        return handler()

    @staticmethod
    def _on_query_pool(work: Callable[[limits.Deadline], T], what: str) -> T:
        """Apart from the threads that acknowledge writes, with a deadline (query/limits.py)."""
        try:
            return limits.POOL.run(work, what)
        except limits.QueryLimitError as exc:
            raise ApiError(503, str(exc)) from None

    def projects(self) -> Response:
        listed = self.store.list_projects()
        self.warmer.projects_listed(listed)  # the user picks one of them next (table_warmup.py)
        return json_response([
            {"entity": p.entity, "project": p.project, "run_count": p.run_count,
             "last_activity": p.last_activity}
            for p in listed
        ])

    def history(self, key: RunKey, query: Mapping[str, str]) -> Response:
        """One line of a chart: an x axis, smoothing, min/max buckets (web/series.py)."""
        return json_response(_charts().chart_line(self.store, key, query), clean=False)

    def media(self, key: RunKey, query: Mapping[str, str]) -> Response:
        """The key's media descriptors by step (at most MAX_MEDIA_STEPS, evenly spread, the last kept)."""
        name = need(query, "key")
        self._require_run(key)
        rows = list(self.store.read_history(key, [name]))
        if len(rows) > MAX_MEDIA_STEPS:
            last = len(rows) - 1
            rows = [rows[round(i * last / (MAX_MEDIA_STEPS - 1))] for i in range(MAX_MEDIA_STEPS)]
        return json_response({"key": name, "total_steps": len(rows),
                              "steps": [{"step": r["_step"], "value": r.get(name)} for r in rows]})

    def system(self, key: RunKey) -> Response:
        """System metrics per key (and writer label), x = seconds since the run started."""
        import numpy as np

        from mytrack_service.web.downsample import bucket_indices

        self._require_run(key)
        series: dict[str, tuple[list[float], list[float]]] = {}
        labels = set()
        for sample in self.store.read_system(key):
            label = str(sample.get("_label") or "")
            labels.add(label)
            runtime = float(sample.get("_runtime") or 0.0)
            for name, value in sample.items():
                if name.startswith("_") or not isinstance(value, (int, float)):
                    continue
                line = series.setdefault(f"{name} [{label}]" if label else name, ([], []))
                line[0].append(runtime)
                line[1].append(float(value))
        out = {}
        for name, (xs, ys) in sorted(series.items()):
            values = np.array(ys)
            keep = bucket_indices(values).tolist()
            out[name] = {"x": [xs[i] for i in keep], "y": _finite([ys[i] for i in keep])}
        return json_response({"series": out, "labels": sorted(labels),
                              "units": {name: unit(name) for name in out}}, clean=False)

    def console(self, key: RunKey, query: Mapping[str, str]) -> Response:
        """Lines after line ``after``; without it, the last ``limit`` lines."""
        limit = min(MAX_CONSOLE_LINES, max(1, count(query, "limit", 1000)))
        after = opt_int(query, "after")
        self._require_run(key)
        if after is None:
            lines = list(collections.deque(self.store.read_console(key), maxlen=limit))
        else:
            lines = []
            for line in self.store.read_console(key, None, after + 1):
                lines.append(line)
                if len(lines) >= limit:
                    break
        return json_response({
            "lines": [{"line": x["_line"], "time": x["_timestamp"], "stream": x["stream"],
                       "label": x["label"], "text": x["text"]} for x in lines],
            "last": lines[-1]["_line"] if lines else after,
        })

    def artifacts(self, key: RunKey) -> Response:
        """The run's artifacts both ways: versions it logged (and who used them),
        versions it used (and which run logged them)."""
        self._require_run(key)
        try:
            with self.store.artifacts() as tx:
                logged = [_lineage(tx, row.id) for row in tx.versions_by_run(key.path)]
                used = [_lineage(tx, version) for version in tx.usage_of_run(key.path)]
        except NotImplementedError:
            logged, used = [], []
        return json_response({"logged": logged, "used": used})

    def set_notes(self, key: RunKey, body: Any) -> Response:
        notes = body.get("notes") if isinstance(body, Mapping) else None
        if not isinstance(notes, str) or len(notes) > MAX_NOTES:
            raise ApiError(400, f'expected {{"notes": "..."}} (at most {MAX_NOTES} characters)')
        self._require_run(key)
        self.store.update_run(key, {"notes": notes})
        return json_response({"notes": notes})

    def set_tags(self, key: RunKey, body: Any) -> Response:
        tags = body.get("tags") if isinstance(body, Mapping) else None
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ApiError(400, 'expected {"tags": ["...", ...]}')
        clean = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
        if any(len(t) > MAX_TAG for t in clean):
            raise ApiError(400, f"a tag has at most {MAX_TAG} characters")
        self._require_run(key)
        self.store.update_run(key, {"tags": clean})
        return json_response({"tags": clean})

    def stop(self, key: RunKey) -> Response:
        """Asks the run's live writers to stop (they end as killed), as `mytrack runs stop` does."""
        try:
            delivered, state = self.live_runs.stop_run(key)
        except IngestError as exc:
            raise ApiError(_HUB_STATUS.get(exc.code, 500), str(exc)) from None
        return json_response({"delivered": delivered, "state": state})

    def _require_run(self, key: RunKey) -> None:
        if self.store.get_run(key) is None:
            raise ApiError(404, f"run {key.path} not found")


def _lineage(tx: Any, version_id: int) -> dict[str, Any]:
    doc = document(tx, version_id, manifest=False)
    keep = ("entity", "project", "name", "type", "version", "aliases", "digest", "size",
            "file_count", "created_at", "created_by", "state")
    return {**{k: doc.get(k) for k in keep}, "used_by": sorted(tx.users_of_version(version_id))}


def _finite(values: list[float]) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values]


class _Charts:
    """The chart modules, imported at the first chart request: they import NumPy,
    which the service's start (and so a cold init()) should not wait for."""

    def __init__(self) -> None:
        from mytrack_service.web.histograms import heatmap
        from mytrack_service.web.series import chart_line

        self.heatmap = heatmap
        self.chart_line = chart_line


@functools.cache
def _charts() -> _Charts:
    return _Charts()
