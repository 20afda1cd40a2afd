"""The sweep controller: every agent asks the service for its next trial.

Its state lives in the store alone, so a sweep survives a service restart and
services sharing a PostgreSQL store share its sweeps. Choosing a point and
recording the trial happen in one transaction that holds the sweep (see
store/sweep_model.py), so two agents never get the same grid point.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from types import ModuleType
from typing import Any

from mytrack_common.names import new_run_id
from mytrack_service.store.base import MetadataStore, RunKey, RunRow
from mytrack_service.store.sweep_model import SweepExistsError, SweepRow, SweepTx, TrialRow
from mytrack_service.sweeps.trials import FINAL, metric_name, metric_value, state_from_run

# What each state command leads to, and from which states it may be given.
# "stop" leads to "stopping" while trials are live, and to "finished" once none is.
_COMMANDS = {
    "pause": ("paused", ("running",)),
    "resume": ("running", ("paused", "stopping", "finished", "canceled", "running")),
    "stop": ("finished", ("running", "paused", "stopping", "finished")),
    "cancel": ("canceled", ("running", "paused", "stopping", "finished", "canceled")),
}
# Trials not ended yet: a stopping sweep waits for them.
_LIVE = frozenset({"pending", "running"})
# A pending trial (handed out, its run not started) that its agent has not asked about
# for this long counts as crashed: the agent died before the trial's init().
DEFAULT_PENDING_LEASE = 60.0


def _engine() -> ModuleType:
    """The search engine, imported at the first sweep request: with jsonschema and the
    search methods it costs the service's start about 0.1 s, which runs without sweeps
    should not pay."""
    from mytrack_service.sweeps import engine

    return engine


class SweepError(Exception):
    """A sweep request that cannot be answered; ``code`` as rpc.py's _CODES."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class SweepController:
    """Answers the Sweep RPC's requests from the store (stateless between requests).

    Args:
        store: where sweeps, trials and runs are.
        clock: the time (a fake in tests).
        pending_lease: seconds a pending trial lives without word from its agent (the
            agent's stop checks renew it) before it counts as crashed.
    """

    def __init__(self, store: MetadataStore, clock: Callable[[], float] = time.time,
                 pending_lease: float = DEFAULT_PENDING_LEASE) -> None:
        self.store = store
        self.clock = clock
        self.pending_lease = pending_lease
        self._rng: Any = None  # numpy's Generator, made at the first sweep request

    # -- requests ---------------------------------------------------------------

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        entity, project = _text(request, "entity"), _text(request, "project")
        if not entity or not project:
            raise SweepError("invalid", "a sweep needs an entity and a project")
        config = self._validated(request.get("config"))
        now = self.clock()
        for _ in range(5):  # an id collision is unlikely; retry a few times anyway
            sweep_id = new_run_id()
            name = _text(request, "name") or str(config.get("name") or sweep_id)
            row = SweepRow(sweep_id, entity, project, name, config, "running", now, now)
            try:
                with self.store.sweeps(write=True) as tx:
                    tx.insert_sweep(row)
                    self._add_prior_runs(tx, row, request.get("prior_runs") or [])
                break
            except SweepExistsError:
                continue
        else:
            raise SweepError("exists", "could not find a free sweep id")
        for run_id in request.get("prior_runs") or []:
            self.store.update_run(RunKey(entity, project, str(run_id)), {"sweep_id": sweep_id})
        return self._document(row, [])

    def next_trial(self, request: dict[str, Any]) -> dict[str, Any]:
        """{"status": "trial", "run_id", "params", ...} or {"status": <the sweep's state>}."""
        sweep_id, agent_id = _text(request, "sweep_id"), _text(request, "agent_id")
        with self.store.sweeps(write=True) as tx:
            sweep = _require(tx, sweep_id, lock=True)
            rows = self._refreshed(tx, sweep)
            if sweep.state != "running":
                return {"status": sweep.state}
            counted = [row for row in rows if row.state != "redo"]
            suggestion = None
            if not _capped(sweep, counted):
                # bayes and Optuna learn from the trials' metrics: their runs are read
                learns = sweep.config.get("method") in ("bayes", "custom")
                runs = tx.runs(sweep.entity, sweep.project, [row.run_id for row in counted]) if learns else {}
                trials = [self._trial(row, runs.get(row.run_id), sweep, history="missing") for row in counted]
                if self._rng is None:
                    import numpy as np

                    self._rng = np.random.default_rng()
                try:
                    suggestion = _engine().suggest(sweep.config, trials, self._rng, sweep.search_state)
                except _engine().ConfigError as exc:
                    raise SweepError("invalid", f"sweep {sweep_id} cannot suggest a trial: {exc}") from None
            if suggestion is None:  # exhausted, or run_cap reached
                tx.update_sweep(sweep_id, {"state": "finished", "updated_at": self.clock()})
                return {"status": "finished"}
            params = suggestion.params
            taken = {row.run_id for row in rows}
            run_id = new_run_id()
            while run_id in taken:
                run_id = new_run_id()
            now = self.clock()
            seq = max((row.seq for row in rows), default=-1) + 1
            tx.insert_trial(TrialRow(sweep_id, run_id, seq, params, "pending", agent_id, now, now,
                                     search_state=suggestion.trial_state))
            if suggestion.sweep_state is not None and suggestion.sweep_state != sweep.search_state:
                tx.update_sweep(sweep_id, {"search_state": suggestion.sweep_state})
        return {
            "status": "trial", "run_id": run_id, "params": params, "seq": seq,
            "entity": sweep.entity, "project": sweep.project, "config": sweep.config,
        }

    def check(self, request: dict[str, Any]) -> dict[str, Any]:
        """Whether the agent must stop its trial ``run_id``: the sweep was canceled, or
        early termination stops it (the trial is then recorded as stopped)."""
        sweep_id, run_id = _text(request, "sweep_id"), _text(request, "run_id")
        with self.store.sweeps() as tx:
            sweep = _require(tx, sweep_id)
            rows = tx.trials(sweep_id)
            runs = tx.runs(sweep.entity, sweep.project, [row.run_id for row in rows])
        self._renew_lease(sweep_id, run_id, rows, runs)
        run = [sweep.entity, sweep.project, run_id]  # the run the agent will kill
        if sweep.state == "canceled":
            return {"stop": True, "reason": "the sweep was canceled", "state": sweep.state, "run": run}
        if not sweep.config.get("early_terminate") or not metric_name(sweep.config):
            return {"stop": False, "state": sweep.state}
        trials = []
        for row in rows:
            if row.state == "redo":
                continue
            row.state = self._state_now(row, runs.get(row.run_id))
            trials.append(self._trial(row, runs.get(row.run_id), sweep, history=True))
        if run_id not in _engine().trials_to_stop(sweep.config, trials):
            return {"stop": False, "state": sweep.state}
        with self.store.sweeps(write=True) as tx:
            tx.update_trial(sweep_id, run_id, {"state": "stopped", "updated_at": self.clock()})
        return {"stop": True, "reason": "stopped early by hyperband", "state": sweep.state, "run": run}

    def report(self, request: dict[str, Any]) -> dict[str, Any]:
        """An agent's trial ended; one that never started its run counts as failed."""
        sweep_id, run_id = _text(request, "sweep_id"), _text(request, "run_id")
        with self.store.sweeps(write=True) as tx:
            sweep = _require(tx, sweep_id, lock=True)
            for row in self._refreshed(tx, sweep):
                if row.run_id == run_id and row.state == "pending":
                    tx.update_trial(sweep_id, run_id, {"state": "failed", "updated_at": self.clock()})
        return {}

    def update(self, request: dict[str, Any]) -> dict[str, Any]:
        """A state command (pause, resume, stop, cancel), a new configuration, a redo of crashed trials."""
        sweep_id = _text(request, "sweep_id")
        command = _text(request, "command")
        if command and command not in _COMMANDS:
            raise SweepError("invalid", f"unknown sweep command {command!r}: use {', '.join(_COMMANDS)}")
        config = self._validated(request["config"]) if request.get("config") is not None else None
        with self.store.sweeps(write=True) as tx:
            sweep = _require(tx, sweep_id, lock=True)
            fields: dict[str, Any] = {"updated_at": self.clock()}
            if command:
                state, sources = _COMMANDS[command]
                if sweep.state not in sources:
                    raise SweepError("precondition", f"sweep {sweep_id} is {sweep.state}: cannot {command} it")
                fields["state"] = state
            if config is not None:
                fields["config"] = config
            rows = self._refreshed(tx, sweep)
            if (fields.get("state") == "finished" and sweep.state != "finished"
                    and any(row.state in _LIVE for row in rows)):
                fields["state"] = "stopping"  # W&B's --stop: running trials finish first
            tx.update_sweep(sweep_id, fields)
            if request.get("redo_crashed"):
                for row in rows:
                    if row.state == "crashed":
                        tx.update_trial(sweep_id, row.run_id, {"state": "redo", "updated_at": self.clock()})
        return self.get({"sweep_id": sweep_id})

    def get(self, request: dict[str, Any]) -> dict[str, Any]:
        sweep_id = _text(request, "sweep_id")
        with self.store.sweeps() as tx:
            sweep = _require(tx, sweep_id)
            rows = tx.trials(sweep_id)
            runs = tx.runs(sweep.entity, sweep.project, [row.run_id for row in rows])
        for row in rows:
            row.state = self._state_now(row, runs.get(row.run_id))
        if self._ends_now(sweep, rows, runs):
            with self.store.sweeps(write=True) as tx:  # its last trial ended: finished
                sweep = _require(tx, sweep_id, lock=True)
                self._refreshed(tx, sweep)
        wanted = (_text(request, "entity"), _text(request, "project"))
        if wanted[0] and wanted[1] and wanted != (sweep.entity, sweep.project):
            raise SweepError("not_found", f"no sweep {'/'.join(wanted)}/{sweep_id}")
        return self._document(sweep, [self._trial_doc(row, runs.get(row.run_id), sweep) for row in rows])

    def list_sweeps(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        with self.store.sweeps() as tx:
            found = tx.sweeps(_text(request, "entity") or None, _text(request, "project") or None)
        return [self._document(row, None) for row in found]

    # -- helpers ------------------------------------------------------------------

    def _validated(self, config: Any) -> dict[str, Any]:
        if not isinstance(config, dict):
            raise SweepError("invalid", f"a sweep configuration must be a JSON object, got {type(config).__name__}")
        try:
            validated: dict[str, Any] = _engine().validate(config)
            return validated
        except _engine().ConfigError as exc:
            raise SweepError("invalid", f"invalid sweep configuration: {exc}") from None

    def _refreshed(self, tx: SweepTx, sweep: SweepRow) -> list[TrialRow]:
        """The trials with the states of their runs, changed ones written back. A sweep
        whose search is over (stopped, exhausted, run_cap reached, or metric.target met)
        becomes finished once its last trial ended (``sweep`` too)."""
        rows = tx.trials(sweep.sweep_id)
        wanted = [row.run_id for row in rows if row.state not in FINAL or _target(sweep.config) is not None]
        runs = tx.runs(sweep.entity, sweep.project, wanted) if wanted else {}
        for row in rows:
            state = self._state_now(row, runs.get(row.run_id))
            if state != row.state:
                row.state = state
                tx.update_trial(sweep.sweep_id, row.run_id, {"state": state, "updated_at": self.clock()})
        if self._ends_now(sweep, rows, runs):
            live = any(row.state in _LIVE for row in rows)
            state = "stopping" if live else "finished"  # only a met target ends a sweep with live trials
            sweep.state, sweep.updated_at = state, self.clock()
            tx.update_sweep(sweep.sweep_id, {"state": state, "updated_at": sweep.updated_at})
        return rows

    def _ends_now(self, sweep: SweepRow, rows: list[TrialRow], runs: dict[str, RunRow]) -> bool:
        """Whether the sweep's state must move on now that its trials are as ``rows`` say
        (their states current): a stopping sweep whose last trial ended; a running one
        whose search is over when none is live, or whose metric.target a trial met
        (W&B: no new trials, the running ones go on)."""
        live = any(row.state in _LIVE for row in rows)
        if sweep.state == "stopping":
            return not live
        if sweep.state != "running":
            return False
        if _target_met(sweep.config, rows, runs):
            return True
        if live:
            return False
        counted = [row for row in rows if row.state != "redo"]
        if _capped(sweep, counted):
            return True
        return bool(counted) and bool(_engine().exhausted(
            sweep.config, [self._trial(row, None) for row in counted]))

    def _state_now(self, row: TrialRow, run: RunRow | None) -> str:
        """The trial's state from its run; a pending one past its lease is crashed."""
        state = state_from_run(row, run)
        if state == "pending" and run is None and self.clock() - row.updated_at > self.pending_lease:
            return "crashed"
        return state

    def _renew_lease(self, sweep_id: str, run_id: str, rows: list[TrialRow],
                     runs: dict[str, RunRow]) -> None:
        """An agent asking about its pending trial is alive: the trial's lease starts again."""
        for row in rows:
            if row.run_id == run_id and row.state == "pending" and run_id not in runs:
                if self._state_now(row, None) == "pending":
                    with self.store.sweeps(write=True) as tx:
                        tx.update_trial(sweep_id, run_id, {"updated_at": self.clock()})
                return

    def _trial(self, row: TrialRow, run: RunRow | None, sweep: SweepRow | None = None,
               history: bool | str = False) -> Any:
        """The search's view of a trial; ``history`` True reads the metric's history,
        "missing" only when the summary has no value of it (bayes then takes its best)."""
        name = metric_name(sweep.config) if sweep is not None else ""
        metric = metric_value(run.summary, name) if run is not None and name else None
        series: list[float] = []
        if (history is True or (history == "missing" and metric is None)) and run is not None and name:
            _, values = self.store.read_series(run.key, name)
            series = [float(v) for v in values
                      if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)]
        return _engine().trial(row.run_id, row.params, row.state, metric, series, row.search_state)

    def _trial_doc(self, row: TrialRow, run: RunRow | None, sweep: SweepRow) -> dict[str, Any]:
        name = metric_name(sweep.config)
        return {
            "run_id": row.run_id, "seq": row.seq, "params": row.params, "state": row.state,
            "metric": metric_value(run.summary, name) if run is not None and name else None,
            "agent_id": row.agent_id, "created_at": row.created_at,
        }

    def _add_prior_runs(self, tx: SweepTx, sweep: SweepRow, run_ids: list[Any]) -> None:
        """W&B's prior_runs: existing runs of the project counted as the sweep's first trials."""
        ids = [str(run_id) for run_id in run_ids]
        found = tx.runs(sweep.entity, sweep.project, ids)
        missing = [run_id for run_id in ids if run_id not in found]
        if missing:
            raise SweepError("not_found", f"prior_runs: no run {', '.join(missing)} in {sweep.entity}/{sweep.project}")
        names = set((sweep.config.get("parameters") or {}).keys())
        for seq, run_id in enumerate(ids):
            run = found[run_id]
            params = {k: v for k, v in run.config.items() if k in names}
            state = state_from_run(TrialRow(sweep.sweep_id, run_id, seq), run)
            tx.insert_trial(TrialRow(sweep.sweep_id, run_id, seq, params, state, "", sweep.created_at,
                                     sweep.created_at))

    def _document(self, sweep: SweepRow, trials: list[dict[str, Any]] | None) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": sweep.sweep_id, "entity": sweep.entity, "project": sweep.project,
            "name": sweep.name, "config": sweep.config, "state": sweep.state,
            "created_at": sweep.created_at, "updated_at": sweep.updated_at,
        }
        if trials is not None:
            doc["trials"] = trials
            counts: dict[str, int] = {}
            for trial in trials:
                counts[trial["state"]] = counts.get(trial["state"], 0) + 1
            doc["counts"] = counts
        return doc


def _text(request: dict[str, Any], name: str) -> str:
    value = request.get(name) or ""
    if not isinstance(value, str):
        raise SweepError("invalid", f"{name} must be a string, got {value!r}")
    return value


def _capped(sweep: SweepRow, counted: list[TrialRow]) -> bool:
    """Whether the sweep has its ``run_cap`` trials (redo trials not counted)."""
    cap = sweep.config.get("run_cap")
    return isinstance(cap, int) and cap > 0 and len(counted) >= cap


def _target(config: dict[str, Any]) -> float | None:
    metric = config.get("metric")
    target = metric.get("target") if isinstance(metric, dict) else None
    return float(target) if isinstance(target, int | float) and not isinstance(target, bool) else None


def _target_met(config: dict[str, Any], rows: list[TrialRow], runs: dict[str, RunRow]) -> bool:
    """W&B's metric.target: a trial's metric reached it (at most it when minimizing)."""
    target, name = _target(config), metric_name(config)
    if target is None or not name:
        return False
    sign = -1.0 if config["metric"].get("goal") == "maximize" else 1.0
    for row in rows:
        run = runs.get(row.run_id)
        value = metric_value(run.summary, name) if run is not None and row.state != "redo" else None
        if value is not None and sign * value <= sign * target:
            return True
    return False


def _require(tx: SweepTx, sweep_id: str, lock: bool = False) -> SweepRow:
    if not sweep_id:
        raise SweepError("invalid", "no sweep id given")
    sweep = tx.sweep(sweep_id, lock=lock)
    if sweep is None:
        raise SweepError("not_found", f"no sweep {sweep_id!r}")
    return sweep
