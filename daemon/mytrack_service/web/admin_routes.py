"""``POST /api/runs/delete`` ``{"runs": ["entity/project/id", ...], "delete_artifacts": false}``.

The run page's delete action and the runs table's bulk delete call it; it
answers what `RunAdmin.delete_runs` answers (deleted, not_found, refused with
the reason, and the blob sweep's report). A live run is refused, not stopped.
"""

from __future__ import annotations

from typing import Any

from mytrack_service.ingest.sessions import IngestError
from mytrack_service.reclaim.runs import RunAdmin
from mytrack_service.web.responses import ApiError, Response, json_response

_STATUS = {"not_found": 404, "invalid": 400, "precondition": 409}


def is_admin_route(parts: list[str]) -> bool:
    return parts == ["runs", "delete"]


def admin_route(admin: RunAdmin | None, method: str, body: Any) -> Response:
    if method != "POST":
        raise ApiError(405, "POST a JSON body to /api/runs/delete")
    if admin is None:
        raise ApiError(501, "this service cannot delete runs")
    if not isinstance(body, dict):
        raise ApiError(400, 'expected {"runs": ["entity/project/id", ...]}')
    try:
        out = admin.delete_runs(body.get("runs"), body.get("delete_artifacts", False))
    except IngestError as exc:
        raise ApiError(_STATUS.get(exc.code, 500), str(exc)) from None
    return json_response(out)
