"""``mytrack.agent()``: asks the service for trials and runs them, one at a time.

Many agents, in many processes or on many machines sharing a PostgreSQL store,
may serve one sweep: the controller hands each trial to exactly one of them.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

from mytrack._internal.sweeps import runners, trial_env
from mytrack._internal.sweeps.service import SweepService, split_sweep_path
from mytrack.errors import InvalidTypeError, InvalidValueError, SweepError
from mytrack.settings import Settings
from mytrack_common.names import new_writer_id

# An agent gives up after this many trials in a row that failed within
# FAILURE_WINDOW seconds of their start (W&B: 3 failures in the first 60 s).
MAX_IMMEDIATE_FAILURES = 3
FAILURE_WINDOW = 60.0
_DEFAULT_TERM_TIMEOUT = 15.0


def agent(
    sweep_id: str, function: Callable[[], Any] | None = None, entity: str | None = None,
    project: str | None = None, count: int | None = None, forward_signals: bool = False,
    term_timeout: float | None = None,
) -> None:
    """Runs trials of ``sweep_id`` (``[entity/][project/]id``) until the sweep ends,
    or ``count`` trials ran (W&B's ``wandb.agent``).

    Raises:
        SweepNotFoundError: no such sweep.
        SweepError: the agent gave up after repeated immediate failures (the message
            holds the command's last output).
    """
    if function is not None and not callable(function):
        raise InvalidTypeError(f"function must be callable, got {function!r}")
    if count is not None and (type(count) is not int or count < 1):
        raise InvalidValueError(f"count must be a positive int, got {count!r}")
    if term_timeout is not None and (not isinstance(term_timeout, (int, float)) or term_timeout < 0):
        raise InvalidValueError(f"term_timeout must be a number of seconds >= 0, got {term_timeout!r}")
    settings = Settings().resolve({"entity": entity, "project": project})
    path = split_sweep_path(sweep_id, settings.entity or "", settings.project or "")
    service = SweepService.connect(settings)
    loop = _AgentLoop(service, path[2], function, forward_signals,
                      _DEFAULT_TERM_TIMEOUT if term_timeout is None else float(term_timeout),
                      settings.sweep_poll_interval or 2.0)
    loop.run(count)


class _AgentLoop:
    def __init__(self, service: SweepService, sweep_id: str, function: Callable[[], Any] | None,
                 forward_signals: bool, term_timeout: float, poll_interval: float) -> None:
        self.service = service
        self.sweep_id = sweep_id
        self.function = function
        self.forward_signals = forward_signals
        self.term_timeout = term_timeout
        self.poll_interval = poll_interval
        self.agent_id = new_writer_id()

    def run(self, count: int | None) -> None:
        done = failures = 0
        while count is None or done < count:
            answer = self.service.call("next", {"sweep_id": self.sweep_id, "agent_id": self.agent_id})
            status = answer.get("status")
            if status == "paused":
                time.sleep(self.poll_interval)  # a paused sweep: ask again
                continue
            if status != "trial":
                return  # finished or canceled
            outcome = self._trial(answer)
            done += 1
            self.service.call("report", {"sweep_id": self.sweep_id, "run_id": answer["run_id"],
                                         "ok": outcome.ok})
            failures = failures + 1 if not outcome.ok and outcome.seconds < FAILURE_WINDOW else 0
            if failures >= MAX_IMMEDIATE_FAILURES:
                raise SweepError(
                    f"sweep {self.sweep_id}: {failures} trials in a row failed at once; the agent "
                    f"gives up. The last one: {outcome.output.strip() or 'no output'}"
                )

    def _trial(self, answer: dict[str, Any]) -> runners.Outcome:
        trial = trial_env.TrialIdentity(
            self.sweep_id, str(answer["run_id"]), str(answer["entity"]), str(answer["project"]),
            dict(answer["params"]),
        )
        handle, param_path = tempfile.mkstemp(prefix=f"mytrack-sweep-{trial.run_id}-", suffix=".json")
        os.close(handle)
        ctx = runners.TrialContext(self.service, trial, dict(answer.get("config") or {}), param_path,
                                   self.poll_interval)
        print(f"mytrack: agent starting trial {trial.run_id} of sweep {self.sweep_id} with "
              f"{trial.params}", file=sys.stderr)
        if self.function is not None:
            return runners.run_function(ctx, self.function)
        return runners.run_command(ctx, forward_signals=self.forward_signals, term_timeout=self.term_timeout)
