"""What a search method is told about each trial of its sweep."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PENDING = "pending"  # handed to an agent, its run not started yet
RUNNING = "running"
FINISHED = "finished"
FAILED = "failed"
CRASHED = "crashed"
KILLED = "killed"
STOPPED = "stopped"  # ended early by hyperband (or the sweep's stop): its metric is real
STATES = frozenset({PENDING, RUNNING, FINISHED, FAILED, CRASHED, KILLED, STOPPED})
# Ended without a metric the search can trust: bayes imputes one per metric.impute.
BROKEN = frozenset({FAILED, CRASHED, KILLED})
# Not ended: bayes counts them as points being tried (W&B's "running trials").
LIVE = frozenset({PENDING, RUNNING})


@dataclass(frozen=True)
class Trial:
    """One trial of a sweep, as its run stands.

    Attributes:
        run_id: the trial's run.
        params: the values it was given, nested as in its ``run.config``
            (``{"lr": 0.1, "opt": {"beta": 0.9}}`` for a parameter ``opt`` with nested
            ``parameters``).
        state: one of `STATES`.
        metric: the summary value of the configuration's ``metric.name``, if any.
        history: that metric at each step it was logged, in order (hyperband reads
            it; bayes falls back to its best value when ``metric`` is None).
        search_state: what the search attached to the trial when it chose its point
            (`Suggestion.trial_state`), given back unchanged.
    """

    run_id: str
    params: dict[str, Any]
    state: str = PENDING
    metric: float | None = None
    history: Sequence[float] = field(default_factory=tuple)
    search_state: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.state not in STATES:
            raise ValueError(f"Trial.state: expected one of {sorted(STATES)}, got {self.state!r}")


@dataclass(frozen=True)
class Suggestion:
    """The next trial's point, and what a stateful search keeps for the next suggestions.

    Attributes:
        params: the point, nested as in ``run.config``.
        trial_state: JSON to keep with the new trial (`Trial.search_state` later).
        sweep_state: the sweep's new JSON state, to pass to the next suggestion; None
            when the search keeps none.
    """

    params: dict[str, Any]
    trial_state: dict[str, Any] = field(default_factory=dict)
    sweep_state: dict[str, Any] | None = None
