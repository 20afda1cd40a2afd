"""The sweep page's JSON routes, and the project page's parallel-coordinates data.

    GET /api/projects/E/P/sweeps                  the project's sweeps (id, name, state, counts)
    GET /api/projects/E/P/parallel?metric=KEY     each run's flat config and one summary metric
    GET /api/sweeps/E/P/ID                        the sweep: configuration, state, counts, trials,
                                                  best value so far, parameter importance

Answered from the sweep controller (the same states the agents see) and the store.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from mytrack_service.query import limits
from mytrack_service.store.base import MetadataStore, RunKey
from mytrack_service.sweeps.controller import SweepController, SweepError
from mytrack_service.sweeps.trials import metric_value
from mytrack_service.web.responses import ApiError, Response, json_response
from mytrack_service.web.table import flatten

# The parallel-coordinates panel draws at most this many runs (the newest).
MAX_PARALLEL_RUNS = 5000
_STATUS = {"not_found": 404, "invalid": 400, "exists": 409, "precondition": 409}


class SweepRoutes:
    def __init__(self, store: MetadataStore, controller: SweepController) -> None:
        self.store = store
        self.controller = controller

    def route(self, method: str, parts: list[str], query: Mapping[str, str]) -> Response | None:
        """The answer when ``parts`` is one of this module's routes, else None."""
        if method != "GET":
            return None
        if len(parts) == 4 and parts[0] == "sweeps":
            return json_response(_pooled(lambda: self.sweep(parts[1], parts[2], parts[3])), clean=False)
        if len(parts) == 4 and parts[0] == "projects" and parts[3] == "sweeps":
            return json_response(self.sweeps(parts[1], parts[2]))
        if len(parts) == 4 and parts[0] == "projects" and parts[3] == "parallel":
            return json_response(_pooled(lambda: self.parallel(parts[1], parts[2], query.get("metric") or "")),
                                 clean=False)
        return None

    def sweeps(self, entity: str, project: str) -> list[dict[str, Any]]:
        found = self.controller.list_sweeps({"entity": entity, "project": project})
        out = []
        for doc in found:
            full = self._get(entity, project, doc["id"])
            out.append({key: full[key] for key in ("id", "name", "state", "counts", "created_at")})
        return out

    def sweep(self, entity: str, project: str, sweep_id: str) -> dict[str, Any]:
        doc = self._get(entity, project, sweep_id)
        metric = doc["config"].get("metric") or {}
        name = str(metric.get("name") or "")
        maximize = metric.get("goal") == "maximize"
        runs = {}
        for trial in doc["trials"]:
            run = self.store.get_run(RunKey(entity, project, trial["run_id"]))
            if run is not None:
                runs[trial["run_id"]] = run
        trials = []
        for trial in sorted(doc["trials"], key=lambda t: t["seq"]):
            run = runs.get(trial["run_id"])
            trials.append({
                "run_id": trial["run_id"], "seq": trial["seq"], "state": trial["state"],
                "name": run.name if run is not None else "",
                "params": flatten(trial["params"]),
                "metric": metric_value(run.summary, name) if run is not None and name else None,
            })
        scored = [t for t in trials if t["metric"] is not None]
        doc["trials"] = trials
        doc["metric"] = {"name": name, "goal": "maximize" if maximize else "minimize"}
        doc["best"] = _best_so_far(trials, maximize)
        from mytrack_service.web.sweep_importance import importance  # NumPy: not at the service's start

        doc["importance"] = importance([t["params"] for t in scored], [t["metric"] for t in scored])
        return doc

    def parallel(self, entity: str, project: str, metric: str) -> dict[str, Any]:
        """Runs of the project with their flat scalar config and summary; the metric's value
        when ``metric`` is given (the panel lets any config key be drawn against any metric)."""
        runs = sorted(self.store.list_runs(entity, project), key=lambda r: -r.created_at)[:MAX_PARALLEL_RUNS]
        rows: list[dict[str, Any]] = []
        config_keys: set[str] = set()
        summary_keys: set[str] = set()
        for run in runs:
            config = {k: v for k, v in flatten(run.config).items() if _scalar(v) and not k.startswith("_")}
            summary = {k for k, v in flatten(run.summary).items() if _number(v) and not k.startswith("_")}
            config_keys.update(config)
            summary_keys.update(summary)
            rows.append({"id": run.key.run_id, "name": run.name, "state": run.state,
                         "sweep_id": run.sweep_id, "config": config,
                         "metric": metric_value(run.summary, metric) if metric else None})
        return {"metric": metric, "runs": rows, "config_keys": sorted(config_keys),
                "summary_keys": sorted(summary_keys)}

    def _get(self, entity: str, project: str, sweep_id: str) -> dict[str, Any]:
        try:
            return self.controller.get({"sweep_id": sweep_id, "entity": entity, "project": project})
        except SweepError as exc:
            raise ApiError(_STATUS.get(exc.code, 500), str(exc)) from None


def _best_so_far(trials: list[dict[str, Any]], maximize: bool) -> dict[str, list[Any]]:
    """The best metric of the trials up to each trial number (trials without one carry it on)."""
    seqs: list[int] = []
    values: list[float] = []
    metrics: list[float | None] = []
    best: float | None = None
    for trial in trials:
        value = trial["metric"]
        if value is not None and (best is None or (value > best if maximize else value < best)):
            best = value
        if best is not None:
            seqs.append(trial["seq"])
            values.append(best)
            metrics.append(value)
    return {"seq": seqs, "best": values, "metric": metrics}


def _pooled(work: Any) -> Any:
    """On the query pool, apart from the threads that acknowledge writes (query/limits.py)."""
    try:
        return limits.POOL.run(lambda _deadline: work(), "the sweep page's query")
    except limits.QueryLimitError as exc:
        raise ApiError(503, str(exc)) from None


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _scalar(value: Any) -> bool:
    return _number(value) or isinstance(value, (str, bool))
