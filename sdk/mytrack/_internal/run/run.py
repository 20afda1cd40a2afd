"""`Run`: the object ``mytrack.init()`` returns.

``log()`` is the hot path: validate in the caller's thread, mirror the step
rule (so a lower step is refused here, with a warning), append to the
sender's queue. No I/O, no RPC. The service stays the authority for the
history; the mirror only decides what to drop and warn about.

The properties live in `fields.py` (`RunFields`), the finish procedure in
`finishing.py`, the assembly of ``status()`` in `status.py`; `Run` keeps every
public method of W&B's ``Run``, each delegating where the logic is long.
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

from mytrack._internal.artifacts.client import DisabledArtifacts, RunArtifacts, default_exclude, default_include
from mytrack._internal.files import saving
from mytrack._internal.files.restore import restore_file
from mytrack._internal.lifecycle import notebook
from mytrack._internal.media.run_files import MediaSink
from mytrack._internal.run import finishing
from mytrack._internal.run import watch as watching
from mytrack._internal.run.alert import AlertLevel, check_alert
from mytrack._internal.run.config import Config
from mytrack._internal.run.fields import RunFields
from mytrack._internal.run.metric import Metric, make_metric
from mytrack._internal.run.state import RunState
from mytrack._internal.run.status import RunStatus, run_status
from mytrack._internal.run.step import check_step
from mytrack._internal.run.summary import Summary
from mytrack._internal.run.values import check_log_data
from mytrack._internal.run.wandb_names import WandbRunNames
from mytrack._internal.transport import encode
from mytrack._internal.transport.client import ServiceClient
from mytrack._internal.transport.sender import Sender
from mytrack._internal.transport.service_types import RunKey, SyncResult
from mytrack._internal.transport.webui import WebAddress
from mytrack.artifacts import Artifact
from mytrack.errors import (
    CommError,
    InvalidTypeError,
    InvalidValueError,
    StepWarning,
    TrialStoppedError,
    UsageError,
)
from mytrack.settings import Settings

__all__ = ["Run", "RunState"]

_live_runs: weakref.WeakSet[Run] = weakref.WeakSet()

# Artifact calls that only write (a record and staged files): an offline run makes them too.
_OFFLINE_ARTIFACT_CALLS = (
    "log_artifact()", "upsert_artifact()", "finish_artifact()", "log_model()", "log_code()",
)



def _after_fork_in_child() -> None:
    # The sender thread did not survive the fork and the gRPC channel belongs
    # to the parent: the child's copies refuse to record, with a clear error.
    for run in list(_live_runs):
        run._state = RunState.FORKED


os.register_at_fork(after_in_child=_after_fork_in_child)


class Run(WandbRunNames, RunFields):
    """A run: the unit of work whose config, history and summary are recorded."""

    def __init__(
        self,
        *,
        settings: Settings,
        entity: str,
        project: str,
        run_id: str,
        name: str,
        group: str = "",
        job_type: str = "",
        tags: tuple[str, ...] = (),
        notes: str = "",
        config: dict[str, Any] | None = None,
        run_dir: str = "",
        start_time: float = 0.0,
        resumed: bool = False,
        starting_step: int = 0,
        sender: Sender | None = None,
        client: ServiceClient | None = None,
        writer_id: str = "",
        web: WebAddress | None = None,
    ) -> None:
        self._settings = settings
        self._entity, self._project, self._id = entity, project, run_id
        self._name, self._group, self._job_type = name, group, job_type
        self._tags, self._notes = tuple(tags), notes
        self._dir = run_dir
        self._start_time = start_time
        self._resumed = resumed
        self._step = self._starting_step = starting_step
        self._sender = sender
        self._client = client
        self._writer_id = writer_id
        self._web = web  # the service's web UI, asked once at init
        self._state = RunState.RUNNING
        # Set by a sweep agent (another thread) to stop this trial: the next log() raises.
        self._stop_reason: str | None = None
        self._unconfirmed = ""  # after finish(): what the service did not confirm (docs/reliability.md)
        self._log_lock = threading.Lock()
        self._config = Config(config, publish=self._publish_config)
        self._summary = Summary(
            self._fetch_summary, self._publish_summary, recording=sender is not None
        )
        self._key = RunKey(entity=entity, project=project, run_id=run_id)
        # Media files of log(), named after the client's mirror of the step.
        self._media = MediaSink(
            self.dir, lambda: self._step,
            lambda entries: self._enqueue(encode.files_record(entries), "log()"),
        ) if sender is not None else None
        if sender is not None:
            _live_runs.add(self)

    # -- log -----------------------------------------------------------------

    def log(self, data: dict[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Records ``data`` in the history; see the reference for step/commit rules.

        Raises:
            RunFinishedError: the run is finished.
            InvalidKeyError, InvalidTypeError: a key or value cannot be recorded
                (the message names it); nothing of this call is recorded.
            InvalidValueError: ``step`` is not a non-negative int.
        """
        if self._state is not RunState.RUNNING:
            self._refuse("log")
            return
        if self._stop_reason is not None:
            raise TrialStoppedError(f"run {self.id} was {self._stop_reason}: this trial is over")
        if self._sender is None:  # disabled
            return
        row = check_log_data(data, self._media)
        if step is not None:
            step = check_step(step)
        if commit is not None and type(commit) is not bool:
            raise InvalidTypeError(f"commit must be True, False or None, got {commit!r}")
        queue = self._sender.queue
        with self._log_lock:
            current = self._step
            if step is not None:
                if step < current:
                    warnings.warn(
                        f"Tried to log to step {step} that is less than the current step "
                        f"{current}; the data was dropped. Steps must increase: use "
                        "define_metric() to plot against another x axis.",
                        StepWarning,
                        stacklevel=2,
                    )
                    return
                current = step
                if commit:
                    current += 1
            elif commit is not False:
                current += 1
            self._step = current
            queue.append((row, step, commit, time.time()))
        if len(queue) >= self._sender.max_queue_entries:
            self._sender.wait_for_room()
        elif self._sender.idle:  # sent at once: survives a kill -9 ms later
            self._sender.wake()

    # -- finish ------------------------------------------------------------------

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Finishes the run: flushes, records the exit, waits for the store.

        Waits at most ``settings.finish_timeout`` seconds for the service.
        """
        if exit_code is not None and (type(exit_code) is not int):
            raise InvalidTypeError(f"exit_code must be an int, got {exit_code!r}")
        if exit_code is not None and not -(2**31) <= exit_code < 2**31:
            raise InvalidValueError(f"exit_code must fit in 32 bits, got {exit_code}")
        code = exit_code or 0
        self._finish(code, "finished" if code == 0 else "failed", quiet)

    def _finish_at_exit(self, exit_code: int, state: str) -> None:
        self._finish(exit_code, state or ("finished" if exit_code == 0 else "failed"), None)

    def _finish(self, exit_code: int, state: str, quiet: bool | None) -> None:
        finishing.finish(self, exit_code, state, quiet)

    def _rpc(self) -> ServiceClient:
        """The sender's current connection (it replaces it after a reconnect)."""
        client = self._sender.client() if self._sender is not None else None
        client = client or self._client
        if client is None:
            raise CommError(f"run {self.path} has no connection to the service")
        return client

    def _sync(self, timeout: float) -> SyncResult:
        return finishing.sync(self, timeout)

    def define_metric(
        self,
        name: str,
        step_metric: str | Metric | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> Metric:
        """Customises a metric (or a glob of them); computed in the service.

        Raises:
            InvalidValueError / InvalidTypeError: a bad option or combination.
        """
        metric = make_metric(name, step_metric, step_sync, hidden, summary, goal, overwrite)
        self._enqueue(encode.metric_record(metric.to_dict()))
        return metric

    # -- files ----------------------------------------------------------------------

    def save(
        self, glob_str: str | os.PathLike[str], base_path: str | os.PathLike[str] | None = None,
        policy: str = "live",
    ) -> list[str]:
        """Links the files the glob matches now into the run and uploads them.

        policy: "live" (now and on every change), "now", or "end" (at finish).
        Returns the paths of the links in the run folder.

        Raises:
            InvalidValueError: unknown policy, base_path not a prefix of the
                paths, a path outside the run, an unreadable file.
        """
        if policy not in saving.POLICIES:
            raise InvalidValueError(f"policy must be one of {', '.join(saving.POLICIES)}, got {policy!r}")
        if self._sender is None:
            return []
        if self._state is not RunState.RUNNING:
            self._refuse("save()")
        planned = saving.plan(glob_str, base_path, self.dir)
        if not planned:
            warnings.warn(f"save({os.fspath(glob_str)!r}) matched no file", UserWarning, stacklevel=2)
            return []
        links, entries = [], []
        for source, name in planned:
            path, used = saving.link(source, name, self.dir, policy)
            links.append(path)
            entries.append((name, path, used))
        self._enqueue(encode.files_record(entries))
        return links

    def restore(
        self, name: str, run_path: str | None = None, replace: bool = False,
        root: str | None = None,
    ) -> TextIO | None:
        """Downloads a saved file of this run (or of ``run_path``) and opens it.

        Into ``root`` (default: the run's files folder); an existing file is
        kept unless ``replace``.

        Raises:
            RunNotFoundError (a ValueError): unknown run, or the run has no such file.
            CommError: the service or its store cannot be reached.
        """
        return restore_file(name, run_path or self.path, replace, root or self.dir, self._settings)

    # -- artifacts (logic in _internal/artifacts_client.py) ---------------------------

    def _artifact_calls(self, what: str) -> RunArtifacts | DisabledArtifacts:
        if self.disabled:
            return DisabledArtifacts(self)
        if self.offline and what not in _OFFLINE_ARTIFACT_CALLS:
            # Logging is a record in the WAL, which `mytrack sync` replays; reading needs the service.
            raise UsageError(
                f"{what} needs the service; offline runs can log artifacts ("
                f"{', '.join(_OFFLINE_ARTIFACT_CALLS)}), which `mytrack sync` uploads"
            )
        if self._sender is None:
            raise UsageError(f"{what} needs an online run")
        if self._state is not RunState.RUNNING:
            self._refuse(what)
        return RunArtifacts(self)

    def log_artifact(
        self, artifact_or_path: Artifact | str, name: str | None = None, type: str | None = None,
        aliases: list[str] | None = None, tags: list[str] | None = None,
    ) -> Artifact:
        """Declares an artifact (or a path: directory, file, s3://) as an output of the run.

        The returned Artifact's version is known after ``artifact.wait()``.
        """
        return self._artifact_calls("log_artifact()").log(artifact_or_path, name, type, aliases, tags)

    def use_artifact(
        self, artifact_or_name: Artifact | str, type: str | None = None,
        aliases: list[str] | None = None, use_as: str | None = None,
    ) -> Artifact:
        """Declares an artifact (``[entity/project/]name:version-or-alias``) as an input.

        Raises:
            ArtifactNotFoundError: no such artifact, version or alias (or not of ``type``).
        """
        return self._artifact_calls("use_artifact()").use(artifact_or_name, type, aliases, use_as)

    def upsert_artifact(
        self, artifact_or_path: Artifact | str, name: str | None = None, type: str | None = None,
        aliases: list[str] | None = None, distributed_id: str | None = None,
    ) -> Artifact:
        """Adds files to the pending version of ``distributed_id`` (default: the run's group)."""
        return self._artifact_calls("upsert_artifact()").upsert(
            artifact_or_path, name, type, aliases, distributed_id, finish=False)

    def finish_artifact(
        self, artifact_or_path: Artifact | str, name: str | None = None, type: str | None = None,
        aliases: list[str] | None = None, distributed_id: str | None = None,
    ) -> Artifact:
        """Commits the pending version of ``distributed_id`` (default: the run's group)."""
        return self._artifact_calls("finish_artifact()").upsert(
            artifact_or_path, name, type, aliases, distributed_id, finish=True)

    def link_artifact(
        self, artifact: Artifact, target_path: str, aliases: list[str] | None = None,
    ) -> Artifact | None:
        """Links a logged artifact into a portfolio; None (with a warning) on failure."""
        return self._artifact_calls("link_artifact()").link(artifact, target_path, aliases)

    def log_model(self, path: str, name: str | None = None, aliases: list[str] | None = None) -> None:
        """Logs the files under ``path`` as a "model" artifact (ValueError for a bad name)."""
        self._artifact_calls("log_model()").log_model(path, name, aliases)

    def use_model(self, name: str) -> str:
        """Downloads a model artifact; returns the path (AssertionError if not a model type)."""
        return self._artifact_calls("use_model()").use_model(name)

    def link_model(
        self, path: str, registered_model_name: str, name: str | None = None,
        aliases: list[str] | None = None,
    ) -> Artifact | None:
        """Logs (or reuses) a model version and links it into the registered model."""
        return self._artifact_calls("link_model()").link_model(
            path, registered_model_name, name, aliases)

    def log_code(
        self, root: str = ".", name: str | None = None,
        include_fn: Callable[..., bool] = default_include,
        exclude_fn: Callable[..., bool] = default_exclude,
    ) -> Artifact | None:
        """Saves the code under ``root`` (``*.py`` by default) as a "code" artifact."""
        return self._artifact_calls("log_code()").log_code(root, name, include_fn, exclude_fn)

    # -- lifecycle ------------------------------------------------------------------

    def mark_preempting(self) -> None:
        """Marks the run as preempting; the service records it at once.

        If the process then ends without a normal finish, the run is
        "preempted" (resumable) rather than crashed or killed.
        """
        self._enqueue(encode.preempting_record(time.time()))
        if self._sender is not None:
            self._sender.flush(5.0)

    def status(self) -> RunStatus:
        """Sync status: records sent, acked, applied and pending, with real numbers."""
        return run_status(self)

    # -- integrations -----------------------------------------------------------------

    def watch(
        self, models: Any, criterion: Any = None, log: str | None = "gradients",
        log_freq: int = 1000, idx: int | None = None, log_graph: bool = False,
    ) -> None:
        """Hooks PyTorch models to log gradient and/or parameter histograms every
        ``log_freq`` batches (``log``: "gradients", "parameters", "all" or None),
        and with ``log_graph`` their module graph once.

        Raises:
            ValueError: a model that is not a torch.nn.Module, or a bad option.
        """
        if self._state is not RunState.RUNNING:
            self._refuse("watch()")
        watching.watch(self, models, criterion, log, log_freq, idx, log_graph)

    def unwatch(self, models: Any = None) -> None:
        """Removes the hooks watch() put on ``models`` (on every model when None)."""
        watching.unwatch(self, models)

    def alert(
        self, title: str, text: str, level: str | AlertLevel | None = None,
        wait_duration: float | datetime.timedelta | None = None,
    ) -> None:
        """Sends an alert: stored with the run, printed, and delivered to the
        webhook of ``MYTRACK_ALERT_WEBHOOK`` unless an alert with the same title
        was sent less than ``wait_duration`` (default 60 s) before.

        Raises:
            InvalidValueError / InvalidTypeError: title not under 64 characters,
                unknown level, negative or non-numeric wait_duration.
        """
        title, text, level_name, wait = check_alert(title, text, level, wait_duration)
        if self._sender is None:
            return
        self._enqueue(encode.alert_record(title, text, level_name, wait, time.time()), "alert()")
        if not self._settings.quiet:
            finishing.report(f"mytrack: alert [{level_name}] {title}: {text}")

    def display(self, height: int = 420, hidden: bool = False) -> bool:
        """Shows the run in a Jupyter notebook; returns False (showing nothing) elsewhere."""
        return notebook.display_run(self, height, hidden)

    def _publish_config(self, changed: dict[str, Any]) -> None:
        self._enqueue(encode.config_record(changed), "config.update()")

    def _publish_summary(self, update: dict[str, Any], remove: list[str]) -> None:
        self._enqueue(encode.summary_record(update, remove), "summary changes")
        if self.offline and self._sender is not None:
            self._sender.queue.append(encode.SummaryNote(update, remove))

    def _fetch_summary(self) -> dict[str, Any]:
        if self._sender is None or self._state is RunState.FINISHED:
            return {}
        if self.offline:  # no service: the last values the sender encoded, and the user's
            self._sender.flush(self._settings.finish_timeout or 60.0)
            return dict(self._sender.last_values)
        timeout = self._settings.finish_timeout or 60.0
        if not self._sender.flush(timeout):
            raise CommError("the service did not acknowledge the run's records in time")
        summary: dict[str, Any] = json.loads(self._sync(timeout).run.summary_json or b"{}")
        return summary

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self._finish(0, "finished", None)
        elif issubclass(kind, KeyboardInterrupt):
            self._finish(255, "killed", None)
        else:
            self._finish(1, "failed", None)

    def __repr__(self) -> str:
        return f"<mytrack.Run {self.path} ({self._name})>"
