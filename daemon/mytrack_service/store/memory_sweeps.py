"""`SweepTx` on plain dicts, for `MemoryStore` (the reference implementation)."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from mytrack_service.store.base import RunKey, RunRow, StoreError
from mytrack_service.store.jsontext import dump_json, load_json
from mytrack_service.store.sweep_model import (
    SWEEP_FIELDS,
    TRIAL_FIELDS,
    SweepExistsError,
    SweepRow,
    SweepTx,
    TrialRow,
    check_fields,
)


@dataclass
class SweepTables:
    sweeps: dict[str, SweepRow] = field(default_factory=dict)
    trials: dict[str, list[TrialRow]] = field(default_factory=dict)
    order: dict[str, int] = field(default_factory=dict)  # insertion order: ties in sweeps()


@contextmanager
def transaction(
    tables: SweepTables, runs: Mapping[RunKey, RunRow]
) -> Iterator[tuple[MemorySweepTx, SweepTables]]:
    """A copy of the tables to work on; the caller keeps it only on success."""
    work = copy.deepcopy(tables)
    yield MemorySweepTx(work, runs), work


def _roundtrip(value: dict[str, Any], what: str) -> dict[str, Any]:
    """As the SQL store keeps it: JSON text (tuples come back as lists)."""
    result: dict[str, Any] = load_json(dump_json(value, what))
    return result


class MemorySweepTx(SweepTx):
    def __init__(self, tables: SweepTables, runs: Mapping[RunKey, RunRow]) -> None:
        self.t = tables
        self._runs = runs

    def sweep(self, sweep_id: str, lock: bool = False) -> SweepRow | None:
        row = self.t.sweeps.get(sweep_id)
        return None if row is None else copy.deepcopy(row)

    def sweeps(self, entity: str | None, project: str | None) -> list[SweepRow]:
        rows = [
            row for row in self.t.sweeps.values()
            if (entity is None or row.entity == entity) and (project is None or row.project == project)
        ]
        rows.sort(key=lambda r: (r.created_at, self.t.order[r.sweep_id]), reverse=True)
        return copy.deepcopy(rows)

    def insert_sweep(self, row: SweepRow) -> None:
        if row.sweep_id in self.t.sweeps:
            raise SweepExistsError(f"sweep {row.sweep_id} already exists")
        stored = dataclasses.replace(row, config=_roundtrip(row.config, "sweep config"),
                                     search_state=_roundtrip(row.search_state, "sweep search state"))
        self.t.sweeps[row.sweep_id] = stored
        self.t.order[row.sweep_id] = len(self.t.order)
        self.t.trials[row.sweep_id] = []

    def update_sweep(self, sweep_id: str, fields: Mapping[str, Any]) -> None:
        check_fields(fields, SWEEP_FIELDS, "sweep")
        row = self._require(sweep_id)
        values = dict(fields)
        if "config" in values:
            values["config"] = _roundtrip(values["config"], "sweep config")
        if "search_state" in values:
            values["search_state"] = _roundtrip(values["search_state"], "sweep search state")
        self.t.sweeps[sweep_id] = dataclasses.replace(row, **values)

    def trials(self, sweep_id: str) -> list[TrialRow]:
        return copy.deepcopy(self.t.trials.get(sweep_id, []))

    def insert_trial(self, row: TrialRow) -> None:
        self._require(row.sweep_id)
        trials = self.t.trials[row.sweep_id]
        if any(t.run_id == row.run_id or t.seq == row.seq for t in trials):
            raise StoreError(f"sweep {row.sweep_id} already has trial {row.run_id} or seq {row.seq}")
        trials.append(dataclasses.replace(row, params=_roundtrip(row.params, "trial params"),
                                          search_state=_roundtrip(row.search_state, "trial search state")))
        trials.sort(key=lambda t: t.seq)

    def update_trial(self, sweep_id: str, run_id: str, fields: Mapping[str, Any]) -> None:
        check_fields(fields, TRIAL_FIELDS, "trial")
        trials = self.t.trials.get(sweep_id, [])
        for i, trial in enumerate(trials):
            if trial.run_id == run_id:
                trials[i] = dataclasses.replace(trial, **fields)
                return
        raise StoreError(f"sweep {sweep_id} has no trial {run_id}")

    def runs(self, entity: str, project: str, run_ids: list[str]) -> dict[str, RunRow]:
        found = {}
        for run_id in run_ids:
            run = self._runs.get(RunKey(entity, project, run_id))
            if run is not None:
                found[run_id] = copy.deepcopy(run)
        return found

    def _require(self, sweep_id: str) -> SweepRow:
        row = self.t.sweeps.get(sweep_id)
        if row is None:
            raise StoreError(f"no sweep {sweep_id}")
        return row
