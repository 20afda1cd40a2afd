"""`RunFields`: a run's identity and its settable fields, the base of `Run`.

The properties W&B's ``Run`` exposes (id, path, url, name, tags, ...) are many
and dull; they live here so that `run.py` reads as what a run does. Setting a
field queues a run-update record through `_enqueue`, the one door every
non-log() change goes through (it refuses once the run is finished or forked).
"""

from __future__ import annotations

import os
import threading
from typing import Any

from mytrack._internal.run.config import Config, ConfigStatic
from mytrack._internal.run.state import RunState
from mytrack._internal.run.summary import Summary
from mytrack._internal.run.values import check_text
from mytrack._internal.transport import encode
from mytrack._internal.transport.sender import Sender
from mytrack._internal.transport.webui import WebAddress
from mytrack.errors import InvalidTypeError, RunFinishedError, UsageError
from mytrack.settings import Settings


class RunFields:
    """Read-only and settable properties of a run; `Run` sets the attributes."""

    _settings: Settings
    _entity: str
    _project: str
    _id: str
    _name: str
    _group: str
    _job_type: str
    _tags: tuple[str, ...]
    _notes: str
    _dir: str
    _start_time: float
    _resumed: bool
    _sender: Sender | None
    _web: WebAddress | None
    _state: RunState
    _log_lock: threading.Lock
    _config: Config
    _summary: Summary


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
        for tag in value:
            check_text(tag, "run.tags")
        self._tags = tuple(value)
        self._enqueue(encode.run_update_record(tags=list(self._tags)))

    def _set_field(self, field: str, value: Any) -> str:
        if not isinstance(value, str):
            raise InvalidTypeError(f"run.{field} must be a string, got {type(value).__name__}")
        check_text(value, f"run.{field}")
        self._enqueue(encode.run_update_record(**{field: value}))
        return value

    # -- the queue every change goes through ------------------------------------------

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

