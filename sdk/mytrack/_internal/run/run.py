"""`Run`: the object ``mytrack.init()`` returns.

``log()`` is the hot path: validate in the caller's thread, mirror the step
rule (so a lower step is refused here, with a warning), append to the
sender's queue. No I/O, no RPC. The service stays the authority for the
history; the mirror only decides what to drop and warn about.
"""

from __future__ import annotations

import datetime
import enum
import json
import os
import sys
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO

from mytrack._internal.artifacts.client import DisabledArtifacts, RunArtifacts, default_exclude, default_include
from mytrack._internal.console import capture as console
from mytrack._internal.files import saving
from mytrack._internal.files.restore import restore_file, wait_for_uploads
from mytrack._internal.lifecycle import autoresume, environment, exithooks, notebook
from mytrack._internal.media.run_files import MediaSink
from mytrack._internal.run import watch as watching
from mytrack._internal.run.alert import AlertLevel, check_alert
from mytrack._internal.run.config import Config, ConfigStatic
from mytrack._internal.run.metric import Metric, make_metric
from mytrack._internal.run.status import RunStatus
from mytrack._internal.run.summary import Summary
from mytrack._internal.run.values import check_log_data
from mytrack._internal.transport import encode
from mytrack._internal.transport.client import ServiceClient
from mytrack._internal.transport.sender import Sender
from mytrack._internal.transport.webui import WebAddress
from mytrack.artifacts import Artifact
from mytrack.errors import (
    CommError,
    InvalidTypeError,
    InvalidValueError,
    RunFinishedError,
    StepWarning,
    UsageError,
)
from mytrack.settings import Settings
from mytrack_proto import mytrack_pb2 as pb


class RunState(enum.Enum):
    RUNNING = "running"  # accepting data
    FINISHING = "finishing"  # finish() under way: no new data
    FINISHED = "finished"  # finish() returned; every method that records data raises
    FORKED = "forked"  # a copy in a forked child: the parent owns the run


_live_runs: weakref.WeakSet[Run] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # The sender thread did not survive the fork and the gRPC channel belongs
    # to the parent: the child's copies refuse to record, with a clear error.
    for run in list(_live_runs):
        run._state = RunState.FORKED


os.register_at_fork(after_in_child=_after_fork_in_child)


class Run:
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
        self._step = starting_step
        self._sender = sender
        self._client = client
        self._writer_id = writer_id
        self._web = web  # the service's web UI, asked once at init
        self._state = RunState.RUNNING
        self._log_lock = threading.Lock()
        self._config = Config(config, publish=self._publish_config)
        self._summary = Summary(
            self._fetch_summary, self._publish_summary, recording=sender is not None
        )
        self._key = pb.RunKey(entity=entity, project=project, run_id=run_id)
        # Media files of log(), named after the client's mirror of the step.
        self._media = MediaSink(
            self.dir, lambda: self._step,
            lambda entries: self._enqueue(encode.files_record(entries), "log()"),
        ) if sender is not None else None
        if sender is not None:
            _live_runs.add(self)

    # -- properties ------------------------------------------------------------

    @property
    def id(self) -> str:
        return self._id

    @property
    def entity(self) -> str:
        return self._entity

    @property
    def project(self) -> str:
        return self._project

    @property
    def path(self) -> str:
        return f"{self._entity}/{self._project}/{self._id}"

    @property
    def dir(self) -> str:
        """The folder where the run's files are kept (``<run folder>/files``)."""
        return os.path.join(self._dir, "files") if self._dir else ""

    @property
    def disabled(self) -> bool:
        return self._settings.mode == "disabled"

    @property
    def offline(self) -> bool:
        return self._settings.mode == "offline"

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def start_time(self) -> float:
        return self._start_time

    @property
    def resumed(self) -> bool:
        return self._resumed

    @property
    def sweep_id(self) -> str | None:
        return self._settings.sweep_id

    @property
    def url(self) -> str | None:
        """The run's page in the local web UI (with its token); None offline or disabled."""
        return self._page(self._entity, self._project, "runs", self._id)

    @property
    def project_url(self) -> str | None:
        return self._page(self._entity, self._project)

    @property
    def sweep_url(self) -> str | None:
        if not self.sweep_id:
            return None
        return self._page(self._entity, self._project, "sweeps", self.sweep_id)

    def _page(self, *segments: str) -> str | None:
        """A page of the web UI the service reported at init; without one (the
        service serves no UI), of ``ui_port``, unless that is 0."""
        if self._settings.mode not in ("online", "shared"):
            return None
        web = self._web
        if web is None:
            if not self._settings.ui_port:
                return None
            web = WebAddress(f"http://127.0.0.1:{self._settings.ui_port}", "")
        return web.page(*segments)

    @property
    def config(self) -> Config:
        return self._config

    @property
    def config_static(self) -> ConfigStatic:
        return ConfigStatic(self._config)

    @property
    def summary(self) -> Summary:
        return self._summary

    @property
    def name(self) -> str:
        return self._name

    @name.setter
    def name(self, value: str) -> None:
        self._name = self._set_field("name", value)

    @property
    def notes(self) -> str:
        return self._notes

    @notes.setter
    def notes(self, value: str) -> None:
        self._notes = self._set_field("notes", value)

    @property
    def group(self) -> str:
        return self._group

    @group.setter
    def group(self, value: str) -> None:
        self._group = self._set_field("group", value)

    @property
    def job_type(self) -> str:
        return self._job_type

    @job_type.setter
    def job_type(self, value: str) -> None:
        self._job_type = self._set_field("job_type", value)

    @property
    def tags(self) -> tuple[str, ...]:
        return self._tags

    @tags.setter
    def tags(self, value: Any) -> None:
        if isinstance(value, str) or not all(isinstance(t, str) and t for t in value):
            raise InvalidTypeError("tags must be a sequence of non-empty strings")
        self._tags = tuple(value)
        self._enqueue(encode.run_update_record(tags=list(self._tags)))

    def _set_field(self, field: str, value: Any) -> str:
        if not isinstance(value, str):
            raise InvalidTypeError(f"run.{field} must be a string, got {type(value).__name__}")
        self._enqueue(encode.run_update_record(**{field: value}))
        return value

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
        if self._sender is None:  # disabled
            return
        row = check_log_data(data, self._media)
        if step is not None:
            step = _check_step(step)
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
        with self._log_lock:
            if self._state is not RunState.RUNNING:
                return
            self._state = RunState.FINISHING
        exithooks.unregister(self)
        _forget_current(self)
        if self._sender is None:
            self._state = RunState.FINISHED
            return
        quiet = bool(self._settings.quiet) if quiet is None else quiet
        timeout = self._settings.finish_timeout or 60.0
        deadline = time.monotonic() + timeout
        environment.settle(self, min(5.0, timeout / 2))
        console.detach(self, min(5.0, timeout / 2))  # its last lines go before the exit record
        self._sender.enqueue(encode.exit_record(exit_code, state, time.time()))
        delivered = self._flush_with_progress(timeout, quiet)
        response = None
        uploads_left = (0, 0)
        if delivered and not self.offline:
            try:
                response = self._sync(max(0.1, deadline - time.monotonic()))
                uploads_left = wait_for_uploads(
                    self._rpc(), self._key, max(0.0, deadline - time.monotonic()), quiet
                )
            except CommError as exc:
                _report(f"mytrack: could not confirm the end of run {self.path}: {exc}")
        if uploads_left[0] > 0 and not quiet:
            _report(f"mytrack: {uploads_left[0]} file(s) ({uploads_left[1] / 2**20:.1f} MiB) "
                    "still uploading; the service finishes them after this process exits")
        client = self._sender.client() or self._client
        self._sender.close(timeout=max(0.1, deadline - time.monotonic()))
        if client is not None:
            client.close()
        self._state = RunState.FINISHED
        if delivered and exit_code == 0:
            autoresume.forget(self._settings, self._id)
        if delivered and self.offline and not quiet:
            _report(f"mytrack: offline run {self.path} saved in {self._dir}; "
                    f"upload it with: mytrack sync {self._dir}")
        if not delivered:
            _report(
                f"mytrack: {self._sender.pending_records} record(s) of run {self.path} were not "
                f"acknowledged by the service within {timeout:.0f}s "
                f"({self._sender.stats.last_error or 'no error reported'})"
            )
        elif not quiet and response is not None:
            _report(self._closing_line(response, state))

    def _flush_with_progress(self, timeout: float, quiet: bool) -> bool:
        """Flushes; after 2 s, prints what is still pending once a second."""
        assert self._sender is not None
        if self._sender.flush(min(timeout, 2.0)) or timeout <= 2.0:
            return self._sender.flush(0)
        deadline = time.monotonic() + timeout - 2.0
        while time.monotonic() < deadline:
            if not quiet:
                stats = self._sender.stats
                _report(
                    f"mytrack: waiting for the service to acknowledge "
                    f"{self._sender.pending_records} record(s) of {self.path}"
                    f" (reconnects: {stats.reconnects}; {stats.last_error or 'no error'})"
                )
            if self._sender.flush(min(1.0, max(0.0, deadline - time.monotonic()))):
                return True
        return False

    def _closing_line(self, response: pb.SyncResponse, state: str) -> str:
        summary = json.loads(response.run.summary_json or b"{}")
        shown = [f"{k}={_short(v)}" for k, v in summary.items() if not k.startswith("_")][:8]
        waited = self._sender.stats.backpressure_seconds if self._sender else 0.0
        parts = [
            f"mytrack: run {self._name} ({self.path}) {state}: {response.history_rows} "
            + ("step" if response.history_rows == 1 else "steps"),
            f"summary: {', '.join(shown)}" if shown else "",
            f"log() waited {waited:.2f}s for room" if waited >= 0.01 else "",
        ]
        return "; ".join(p for p in parts if p)

    def _rpc(self) -> ServiceClient:
        """The sender's current connection (it replaces it after a reconnect)."""
        client = self._sender.client() if self._sender is not None else None
        client = client or self._client
        if client is None:
            raise CommError(f"run {self.path} has no connection to the service")
        return client

    def _sync(self, timeout: float) -> pb.SyncResponse:
        assert self._sender is not None
        request = pb.SyncRequest(
            run=self._key, writer_id=self._writer_id, last_seq=self._sender.last_seq, timeout=timeout
        )
        try:
            response: pb.SyncResponse = self._rpc().call("Sync", request, timeout=timeout + 5)
        except CommError:
            # The service may have gone between the flush and now (a graceful
            # restart): once the sender is through again, ask the new one.
            if not self._sender.flush(timeout):
                raise
            response = self._rpc().call("Sync", request, timeout=timeout + 5)
        return response

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

    def _artifact_calls(self, what: str) -> Any:
        if self.disabled:
            return DisabledArtifacts(self)
        if self.offline:
            raise UsageError(f"{what} needs the service: artifacts are not available offline")
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
        sender = self._sender
        if sender is None:
            return RunStatus(0, 0, None, 0, 0, 0)
        applied = sender.acked_seq if self.offline else 0
        error = sender.stats.last_error
        files = size = conflicts = 0
        if not self.offline and self._state is RunState.RUNNING:
            try:
                request = pb.StatusRequest(run=self._key, writer_id=self._writer_id)
                # The count of pending records and files is this run's own.
                reply: pb.StatusResponse = self._rpc().call("Status", request, timeout=10)
                applied = reply.writer_applied_seq
                error = error or reply.last_error
                files, size = reply.files_pending, reply.bytes_pending
                conflicts = reply.conflicts
            except CommError as exc:
                error = str(exc)
        elif self._state is RunState.FINISHED:
            applied = sender.acked_seq
        last_ack = sender.stats.last_ack_time
        queued = len(sender.queue)  # calls not yet encoded count as items too
        return RunStatus(
            sync_items_total=sender.last_seq + queued,
            sync_items_pending=max(0, sender.last_seq - applied) + queued,
            sync_time=datetime.datetime.fromtimestamp(last_ack) if last_ack else None,
            records_acked=sender.acked_seq,
            records_applied=applied,
            queued_calls=queued,
            files_pending=files,
            bytes_pending=size,
            conflicts=conflicts,
            last_error=error,
        )

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
            _report(f"mytrack: alert [{level_name}] {title}: {text}")

    def display(self, height: int = 420, hidden: bool = False) -> bool:
        """Shows the run in a Jupyter notebook; returns False (showing nothing) elsewhere."""
        return notebook.display_run(self, height, hidden)

    # -- internals ------------------------------------------------------------------

    def _enqueue(self, item: encode.Control, what: str = "that call") -> None:
        if self._sender is None:
            return
        if self._state is not RunState.RUNNING:
            self._refuse(what)
        with self._log_lock:
            self._sender.queue.append(item)

    def _refuse(self, what: str) -> None:
        """Raises the right error for a call that records data on a run not running."""
        if self.disabled:
            return
        if self._state is RunState.FORKED:
            raise UsageError(
                f"{what} was called in a forked child process (pid {os.getpid()}) on run "
                f"{self.path}, which belongs to the parent; log from the parent, or call "
                "mytrack.init() in the child (with the same id and "
                "reinit=\"create_new\" to write to the same run)"
            )
        raise RunFinishedError(f"{what} was called on run {self.path}, which is finished")

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


# Steps are stored as signed 64-bit integers, and the step after the last must fit.
_MAX_STEP = 2**63 - 2


def _check_step(step: Any) -> int:
    if type(step) is not int:
        numpy = sys.modules.get("numpy")
        if numpy is not None and isinstance(step, numpy.integer):
            step = int(step)
        else:
            raise InvalidValueError(f"step must be a non-negative int, got {step!r}")
    if step < 0 or step > _MAX_STEP:
        raise InvalidValueError(f"step must be an int from 0 to {_MAX_STEP}, got {step}")
    return int(step)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 24 else text[:21] + "..."


def _report(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _forget_current(run: Run) -> None:
    module = sys.modules.get("mytrack")
    if module is not None and getattr(module, "run", None) is run:
        module.run = None  # type: ignore[attr-defined]
        module.config = None  # type: ignore[attr-defined]
        module.summary = None  # type: ignore[attr-defined]
