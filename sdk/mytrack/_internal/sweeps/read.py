"""The read API's sweeps: ``Api().sweep("entity/project/sweep_id")``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mytrack._internal.sweeps.service import SweepService, split_sweep_path

if TYPE_CHECKING:
    from mytrack.api import Api, ApiRun


class ApiSweep:
    """A sweep as stored: ``id``, ``name``, ``config``, ``state``, its ``runs`` and trials."""

    def __init__(self, api: Api, service: SweepService, doc: dict[str, Any]) -> None:
        self._api = api
        self._service = service
        self._load(doc)

    def _load(self, doc: dict[str, Any]) -> None:
        self.id: str = doc["id"]
        self.entity: str = doc["entity"]
        self.project: str = doc["project"]
        self.name: str = doc["name"]
        self.config: dict[str, Any] = doc["config"]
        self.state: str = doc["state"]
        self.trials: list[dict[str, Any]] = doc.get("trials", [])
        self.counts: dict[str, int] = doc.get("counts", {})

    @property
    def path(self) -> list[str]:
        return [self.entity, self.project, self.id]

    @property
    def url(self) -> str | None:
        """The sweep's page on the web UI (None when the service serves none)."""
        return self._service.page(self.entity, self.project, self.id)

    @property
    def runs(self) -> list[ApiRun]:
        """The runs of the sweep's trials (those started), newest first."""
        return self._api.runs(f"{self.entity}/{self.project}", filters={"sweep": self.id})

    def best_run(self, order: str | None = None) -> ApiRun | None:
        """The run with the best metric (the configuration's ``metric`` and ``goal``), or
        the first by ``order`` (W&B's ``[+|-]summary_metrics.KEY``); None without one."""
        metric = self.config.get("metric") or {}
        if order is None:
            if not metric.get("name"):
                return None
            sign = "-" if metric.get("goal", "minimize") == "maximize" else "+"
            order = f"{sign}summary_metrics.{metric['name']}"
        runs = self._api.runs(f"{self.entity}/{self.project}", filters={"sweep": self.id}, order=order)
        key = order.lstrip("+-").removeprefix("summary_metrics.")
        with_value = [run for run in runs if _is_number(_summary_value(run.summary, key))]
        return with_value[0] if with_value else None

    def reload(self) -> ApiSweep:
        self._load(self._service.call("get", {"sweep_id": self.id}))
        return self

    def __repr__(self) -> str:
        return f"<Sweep {self.entity}/{self.project}/{self.id} ({self.state})>"


def _summary_value(summary: Any, key: str) -> Any:
    """``summary[key]``, or the value at the dotted path ``a.b`` inside nested dicts."""
    value = summary.get(key)
    if value is None and "." in key:
        value = summary
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value


def get_sweep(api: Api, path: str, entity: str, project: str) -> ApiSweep:
    service = SweepService(api._rpc())
    entity, project, sweep_id = split_sweep_path(path, entity, project)
    doc = service.call("get", {"sweep_id": sweep_id, "entity": entity, "project": project})
    return ApiSweep(api, service, doc)
