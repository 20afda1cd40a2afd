"""One trial: a function in this process, or the sweep's command in a child process."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mytrack
from mytrack._internal.sweeps import trial_env
from mytrack._internal.sweeps.command import build_command
from mytrack._internal.sweeps.service import SweepService
from mytrack._internal.sweeps.watcher import StopWatcher
from mytrack.errors import TrialStoppedError

DEFAULT_COMMAND = ["${env}", "${interpreter}", "${program}", "${args}"]
_TAIL_LINES = 20


@dataclass
class Outcome:
    ok: bool
    seconds: float
    stopped: str | None = None  # why the sweep stopped it
    output: str = ""  # a failed command's last lines, a function's traceback


@dataclass(frozen=True)
class TrialContext:
    service: SweepService
    trial: trial_env.TrialIdentity
    config: dict[str, Any]
    param_path: str
    poll_interval: float


def run_function(ctx: TrialContext, function: Callable[[], Any]) -> Outcome:
    """Calls ``function`` with the trial's identity in the environment; its run ends
    (finished, failed, or killed when stopped) before this returns."""
    start = time.monotonic()
    trial = ctx.trial
    trial_env.write_params(ctx.param_path, trial.params)

    def stop(reason: str) -> None:
        run = mytrack.run
        if run is not None and run.id == trial.run_id:
            run._stop_reason = reason

    error = ""
    with trial_env.environment(trial.environ(ctx.param_path)), StopWatcher(
        ctx.service, trial.sweep_id, trial.run_id, ctx.poll_interval, stop
    ) as watcher:
        try:
            function()
        except TrialStoppedError:
            pass
        except Exception:  # noqa: BLE001 - the trial failed; the agent goes on, as W&B's does
            error = traceback.format_exc()
            print(error, file=sys.stderr, end="")
        finally:
            _finish_trial_run(trial.run_id, watcher.reason, bool(error))
    os.unlink(ctx.param_path)
    return Outcome(not error, time.monotonic() - start, watcher.reason, error)


def _finish_trial_run(run_id: str, stopped: str | None, failed: bool) -> None:
    run = mytrack.run
    if run is None or run.id != run_id:
        return
    if stopped is not None:
        run._finish(0, "killed", None)
    else:
        run.finish(exit_code=1 if failed else 0)


def run_command(ctx: TrialContext, *, forward_signals: bool, term_timeout: float) -> Outcome:
    """Runs the sweep's command for the trial; SIGTERM (then SIGKILL after
    ``term_timeout``) when the sweep stops it."""
    trial = ctx.trial
    trial_env.write_params(ctx.param_path, trial.params)
    argv = build_command(
        ctx.config.get("command") or DEFAULT_COMMAND, ctx.config.get("program") or "", trial.params,
        interpreter=sys.executable, env_command=("/usr/bin/env",), workdir=os.getcwd(),
    )
    env = {**os.environ, **trial.environ(ctx.param_path)}
    start = time.monotonic()
    child = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=_die_with_agent,
    )
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    pump = threading.Thread(target=_pump, args=(child, tail), name="mytrack-sweep-output", daemon=True)
    pump.start()

    def stop(_reason: str) -> None:
        _terminate(child, term_timeout)

    restore = _forward(child) if forward_signals else None
    try:
        with StopWatcher(ctx.service, trial.sweep_id, trial.run_id, ctx.poll_interval, stop) as watcher:
            code = child.wait()
    finally:
        if restore is not None:
            restore()
    pump.join(timeout=5.0)
    os.unlink(ctx.param_path)
    ok = code == 0 or watcher.reason is not None
    output = "" if ok else f"exit code {code}; its last output:\n" + "".join(tail)
    return Outcome(ok, time.monotonic() - start, watcher.reason, output)


def _die_with_agent() -> None:
    """In the child: killed when the agent dies (kill -9 of the agent crashes its trial's run)."""
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _pump(child: subprocess.Popen[bytes], tail: collections.deque[str]) -> None:
    """Passes the child's output through, keeping its last lines."""
    assert child.stdout is not None
    for raw in child.stdout:
        line = raw.decode(errors="replace")
        tail.append(line)
        sys.stdout.write(line)
        sys.stdout.flush()


def _terminate(child: subprocess.Popen[bytes], term_timeout: float) -> None:
    if child.poll() is not None:
        return
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(term_timeout)
    except subprocess.TimeoutExpired:
        child.kill()


def _forward(child: subprocess.Popen[bytes]) -> Callable[[], None]:
    """SIGINT and SIGTERM to the agent are passed to the child (``forward_signals``)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def forward(signum: int, _frame: Any) -> None:
        if child.poll() is None:
            child.send_signal(signum)

    for sig in previous:
        signal.signal(sig, forward)

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore
