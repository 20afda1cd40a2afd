"""The runs table's workspace routes: a project's saved views and bulk edits of runs.

    GET  /api/projects/E/P/views                       the project's saved views, by name
    POST /api/projects/E/P/views         {"name", "state": {param: value}}   saves (replaces) one
    POST /api/projects/E/P/views/delete  {"name"}
    POST /api/runs/tags   {"runs": ["E/P/ID", ...], "add": [...], "remove": [...]}
    POST /api/runs/group  {"runs": ["E/P/ID", ...], "group": "..."}

A view's state is the runs page's query (filters, sort, grouping, columns,
selected runs, chart settings) as parameter -> string; the page's token is
never kept in it. A bulk edit checks every run before it changes any.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from mytrack_service.store.base import MetadataStore, RunKey, RunRow
from mytrack_service.store.view_model import ViewRow
from mytrack_service.web.responses import ApiError, Response, json_response

MAX_VIEW_NAME = 200
MAX_VIEW_STATE = 64 * 1024  # characters of the state's JSON
MAX_BULK_RUNS = 10_000
MAX_TAG = 256
MAX_GROUP = 256
BULK_ACTIONS = ("tags", "group")


def views_route(store: MetadataStore, method: str, entity: str, project: str, action: str,
                body: Any) -> Response:
    """``/api/projects/E/P/views[/action]``."""
    try:
        if method == "GET" and action == "":
            return json_response([_view_json(v) for v in store.list_views(entity, project)])
        if method == "POST" and action == "":
            return json_response(_save(store, entity, project, body))
        if method == "POST" and action == "delete":
            return json_response({"deleted": store.delete_view(entity, project, _name(body))})
    except NotImplementedError as exc:
        raise ApiError(501, str(exc)) from None
    raise ApiError(404, "no such endpoint")


def _view_json(view: ViewRow) -> dict[str, Any]:
    return {"name": view.name, "state": view.state, "created_at": view.created_at,
            "updated_at": view.updated_at}


def _name(body: Any) -> str:
    name = body.get("name") if isinstance(body, Mapping) else None
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_VIEW_NAME:
        raise ApiError(400, f'expected {{"name": "..."}}: a view name of 1 to {MAX_VIEW_NAME} characters')
    return name.strip()


def _save(store: MetadataStore, entity: str, project: str, body: Any) -> dict[str, Any]:
    name = _name(body)
    state = body.get("state")
    if not isinstance(state, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in state.items()):
        raise ApiError(400, 'expected "state": {"parameter": "value", ...} (strings only)')
    clean = {k: v for k, v in state.items() if k != "token"}
    if len(json.dumps(clean)) > MAX_VIEW_STATE:
        raise ApiError(413, f"a view's state has at most {MAX_VIEW_STATE} characters")
    now = time.time()
    store.save_view(ViewRow(entity, project, name, clean, created_at=now, updated_at=now))
    return {"name": name, "state": clean}


def bulk_route(store: MetadataStore, action: str, body: Any) -> Response:
    """``POST /api/runs/tags`` and ``/api/runs/group``: one edit applied to many runs."""
    runs = _runs(store, body)
    if action == "tags":
        add, remove = _tags(body, "add"), set(_tags(body, "remove"))
        changed = []
        for run in runs:
            tags = [t for t in dict.fromkeys([*run.tags, *add]) if t not in remove]
            store.update_run(run.key, {"tags": tags})
            changed.append({"path": run.key.path, "tags": tags})
        return json_response({"updated": len(changed), "runs": changed})
    group = body.get("group")
    if not isinstance(group, str) or len(group) > MAX_GROUP:
        raise ApiError(400, f'expected "group": "..." (at most {MAX_GROUP} characters; "" for none)')
    for run in runs:
        store.update_run(run.key, {"group": group.strip()})
    return json_response({"updated": len(runs), "group": group.strip()})


def _runs(store: MetadataStore, body: Any) -> list[RunRow]:
    paths = body.get("runs") if isinstance(body, Mapping) else None
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise ApiError(400, 'expected "runs": ["entity/project/run_id", ...]')
    if len(paths) > MAX_BULK_RUNS:
        raise ApiError(413, f"at most {MAX_BULK_RUNS} runs at once")
    found = []
    for path in dict.fromkeys(paths):
        parts = path.split("/")
        if len(parts) != 3 or not all(parts):
            raise ApiError(400, f"{path!r} is not a run path: expected entity/project/run_id")
        run = store.get_run(RunKey(*parts))
        if run is None:
            raise ApiError(404, f"run {path} not found (nothing was changed)")
        found.append(run)
    return found


def _tags(body: Mapping[str, Any], name: str) -> list[str]:
    tags = body.get(name, [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ApiError(400, f'expected "{name}": ["tag", ...]')
    clean = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if any(len(t) > MAX_TAG for t in clean):
        raise ApiError(400, f"a tag has at most {MAX_TAG} characters")
    return clean
