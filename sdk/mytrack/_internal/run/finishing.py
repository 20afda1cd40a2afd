"""How a run finishes: flush, exit record, the service's confirmation, the closing line.

``finish()``, the ``with`` block and the exit hook all end here, once: the
first caller moves the run to FINISHING under the log lock, so a second
(the exit hook after an explicit finish, a signal during finish) returns at
once. Every wait is bounded by ``settings.finish_timeout``; what the service
has not confirmed by then is reported on stderr, never raised, because a
training job must not fail at its very end for a delivery problem.
"""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

from mytrack._internal.console import capture as console
from mytrack._internal.files.restore import wait_for_uploads
from mytrack._internal.lifecycle import autoresume, environment, exithooks
from mytrack._internal.run.state import RunState
from mytrack._internal.run.status import unconfirmed_line
from mytrack._internal.tensorboard import patching
from mytrack._internal.transport import encode
from mytrack._internal.transport.service_types import SyncResult
from mytrack.errors import CommError

if TYPE_CHECKING:
    from mytrack._internal.run.run import Run


def finish(run: Run, exit_code: int, state: str, quiet: bool | None) -> None:
    """Ends ``run`` with ``exit_code`` and ``state`` ("finished", "failed", "killed")."""
    with run._log_lock:
        if run._state is not RunState.RUNNING:
            return
        run._state = RunState.FINISHING
    exithooks.unregister(run)
    forget_current(run)
    sender = run._sender
    if sender is None:
        run._state = RunState.FINISHED
        return
    quiet = bool(run._settings.quiet) if quiet is None else quiet
    timeout = run._settings.finish_timeout or 60.0
    deadline = time.monotonic() + timeout
    environment.settle(run, min(5.0, timeout / 2))
    console.detach(run, min(5.0, timeout / 2))  # its last lines go before the exit record
    patching.finishing(run)  # TensorBoard's buffered events to disk before the exit record
    sender.enqueue(encode.exit_record(exit_code, state, time.time()))
    delivered = flush_with_progress(run, timeout, quiet)
    response = None
    uploads_left = (0, 0)
    if delivered and not run.offline:
        try:
            response = sync(run, max(0.1, deadline - time.monotonic()))
            uploads_left = wait_for_uploads(
                run._rpc(), run._key, max(0.0, deadline - time.monotonic()), quiet
            )
        except CommError as exc:
            run._unconfirmed = f"mytrack: could not confirm the end of run {run.path}: {exc}"
            report(run._unconfirmed)
    if uploads_left[0] > 0 and not quiet:
        report(f"mytrack: {uploads_left[0]} file(s) ({uploads_left[1] / 2**20:.1f} MiB) "
               "still uploading; the service finishes them after this process exits")
    client = sender.client() or run._client
    sender.close(timeout=max(0.1, deadline - time.monotonic()))
    if client is not None:
        client.close()
    run._state = RunState.FINISHED
    if delivered and exit_code == 0:
        autoresume.forget(run._settings, run.id)
    if delivered and run.offline and not quiet:
        report(f"mytrack: offline run {run.path} saved in {run._dir}; "
               f"upload it with: mytrack sync {run._dir}")
    if not delivered:
        run._unconfirmed = (
            f"mytrack: {sender.pending_records} record(s) of run {run.path} were not "
            f"acknowledged by the service within {timeout:.0f}s "
            f"({sender.stats.last_error or 'no error reported'})"
        )
        report(run._unconfirmed)
    elif response is not None and response.timed_out:
        # Safe (acked, in the WAL) but not yet in the store: not "finished" yet.
        run._unconfirmed = unconfirmed_line(run.path, sender.acked_seq, timeout)
        report(run._unconfirmed)
    elif not quiet and response is not None:
        report(closing_line(run, response, state))


def flush_with_progress(run: Run, timeout: float, quiet: bool) -> bool:
    """Flushes; after 2 s, prints what is still pending once a second."""
    sender = run._sender
    assert sender is not None
    if sender.flush(min(timeout, 2.0)) or timeout <= 2.0:
        return sender.flush(0)
    deadline = time.monotonic() + timeout - 2.0
    while time.monotonic() < deadline:
        if not quiet:
            stats = sender.stats
            report(
                f"mytrack: waiting for the service to acknowledge "
                f"{sender.pending_records} record(s) of {run.path}"
                f" (reconnects: {stats.reconnects}; {stats.last_error or 'no error'})"
            )
        if sender.flush(min(1.0, max(0.0, deadline - time.monotonic()))):
            return True
    return False


def closing_line(run: Run, response: SyncResult, state: str) -> str:
    """One line: the run, its state, its steps, a few summary values, backpressure."""
    summary = json.loads(response.run.summary_json or b"{}")
    shown = [f"{k}={short(v)}" for k, v in summary.items() if not k.startswith("_")][:8]
    waited = run._sender.stats.backpressure_seconds if run._sender else 0.0
    parts = [
        f"mytrack: run {run.name} ({run.path}) {state}: {response.history_rows} "
        + ("step" if response.history_rows == 1 else "steps"),
        f"summary: {', '.join(shown)}" if shown else "",
        f"log() waited {waited:.2f}s for room" if waited >= 0.01 else "",
    ]
    return "; ".join(p for p in parts if p)


def sync(run: Run, timeout: float) -> SyncResult:
    """Waits until the service has applied every record this writer sent."""
    sender = run._sender
    assert sender is not None
    last_seq = sender.last_seq
    try:
        return run._rpc().sync(run._key, run._writer_id, last_seq, timeout)
    except CommError:
        # The service may have gone between the flush and now (a graceful
        # restart): once the sender is through again, ask the new one.
        if not sender.flush(timeout):
            raise
        return run._rpc().sync(run._key, run._writer_id, last_seq, timeout)


def short(value: Any) -> str:
    """A summary value cut to fit the closing line."""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 24 else text[:21] + "..."


def report(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def forget_current(run: Run) -> None:
    """Clears ``mytrack.run``/``config``/``summary`` if they are this run's."""
    module = sys.modules.get("mytrack")
    if module is not None and getattr(module, "run", None) is run:
        module.run = None  # type: ignore[attr-defined]
        module.config = None  # type: ignore[attr-defined]
        module.summary = None  # type: ignore[attr-defined]
