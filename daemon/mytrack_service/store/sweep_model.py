"""Sweeps and their trials as the store keeps them, and the transaction that reads and writes them.

The controller (sweeps/controller.py) decides; the store only keeps rows. A
write transaction that read a sweep with ``lock=True`` holds that sweep until
it commits (PostgreSQL: ``SELECT ... FOR UPDATE``; SQLite: its write
transactions begin IMMEDIATE; the memory store: one lock), so two services
sharing a store never hand out the same trial.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mytrack_service.store.base import RunRow, StoreError


class SweepExistsError(StoreError):
    """insert_sweep() with an id that is taken."""


# running: trials are handed out. paused: none are, running trials go on.
# stopping: stopped (`--stop`) while trials were live; none are handed out, and
# it becomes finished when the last one ends. finished: none will be (exhausted,
# run_cap reached, or stopped). canceled: none will be, and agents kill their
# running trials.
SWEEP_STATES = ("running", "paused", "stopping", "finished", "canceled")


@dataclass
class SweepRow:
    sweep_id: str
    entity: str
    project: str
    name: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    state: str = "running"
    created_at: float = 0.0
    updated_at: float = 0.0
    # What the search keeps between suggestions for the whole sweep (Optuna's study
    # system attributes); JSON.
    search_state: dict[str, Any] = field(default_factory=dict)


SWEEP_FIELDS = frozenset({"name", "config", "state", "updated_at", "search_state"})


@dataclass
class TrialRow:
    """One point handed to an agent; its run has the id ``run_id`` once started."""

    sweep_id: str
    run_id: str
    seq: int  # 0, 1, 2... in the order handed out
    params: dict[str, Any] = field(default_factory=dict)
    # pending (handed out, no run yet), running, finished, failed, crashed,
    # killed, stopped (early termination), redo (a crashed trial given up for a redo)
    state: str = "pending"
    agent_id: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0
    # What the search attached to this trial when it chose its point (Optuna's trial
    # system attributes: CMA-ES's generation and optimizer); JSON, written once.
    search_state: dict[str, Any] = field(default_factory=dict)


TRIAL_FIELDS = frozenset({"state", "updated_at", "agent_id"})


def check_fields(fields: Mapping[str, Any], allowed: frozenset[str], what: str) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ValueError(f"not settable {what} fields: {', '.join(unknown)}")


class SweepTx(abc.ABC):
    """Reads and writes of sweep rows inside one store transaction."""

    @abc.abstractmethod
    def sweep(self, sweep_id: str, lock: bool = False) -> SweepRow | None:
        """The sweep; with ``lock`` (in a write transaction), held until commit."""

    @abc.abstractmethod
    def sweeps(self, entity: str | None, project: str | None) -> list[SweepRow]:
        """Sweeps of a project (every sweep when both are None), newest first."""

    @abc.abstractmethod
    def insert_sweep(self, row: SweepRow) -> None:
        """SweepExistsError when the id is taken."""

    @abc.abstractmethod
    def update_sweep(self, sweep_id: str, fields: Mapping[str, Any]) -> None: ...

    @abc.abstractmethod
    def trials(self, sweep_id: str) -> list[TrialRow]:
        """The sweep's trials by seq."""

    @abc.abstractmethod
    def insert_trial(self, row: TrialRow) -> None: ...

    @abc.abstractmethod
    def update_trial(self, sweep_id: str, run_id: str, fields: Mapping[str, Any]) -> None: ...

    @abc.abstractmethod
    def runs(self, entity: str, project: str, run_ids: list[str]) -> dict[str, RunRow]:
        """The runs of those ids that exist (read in this transaction)."""
