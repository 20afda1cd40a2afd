"""``resume="auto"``: continue the last run started from the same folder.

``init(resume="auto")`` remembers the run in ``<dir>/mytrack-runs/resume.json``; a clean finish
(exit code 0) forgets it. The next ``init(resume="auto")`` from that folder
resumes it if it crashed, was preempted, or still looks alive; otherwise it
starts a new run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os

from mytrack._internal.transport import launcher
from mytrack._internal.transport.service_types import RunKey
from mytrack.errors import Error
from mytrack.settings import Settings

_RESUMABLE = ("crashed", "preempted", "preempting", "running")


# Run folders' parent under the working folder. A hyphen makes it impossible to
# import: a plain ``mytrack/`` was taken by Python for a namespace package that
# shadowed an editable install of mytrack itself (W&B's ``./wandb/`` has the
# same trap). Runs written by earlier versions in ``mytrack/`` are still found.
RUNS_FOLDER = "mytrack-runs"
LEGACY_RUNS_FOLDER = "mytrack"


def runs_root(settings: Settings) -> str:
    """Where new run folders go: ``<dir or cwd>/mytrack-runs``."""
    return os.path.join(os.path.abspath(settings.dir or "."), RUNS_FOLDER)


def _path(settings: Settings) -> str:
    return os.path.join(runs_root(settings), "resume.json")


def _paths(settings: Settings) -> list[str]:
    """resume.json where this version writes it, then where earlier ones did."""
    legacy = os.path.join(os.path.abspath(settings.dir or "."), LEGACY_RUNS_FOLDER, "resume.json")
    return [_path(settings), legacy]


def resolve(settings: Settings) -> Settings:
    """Settings with run_id and resume="allow" filled in for resume="auto"."""
    if settings.resume != "auto":
        return settings
    allow = dataclasses.replace(settings, resume="allow")
    key = _remembered(settings)
    if key is None:
        return allow
    if settings.run_id and settings.run_id != key.run_id:
        return allow
    try:
        client = launcher.connect(settings.service_dir or "", timeout=settings.init_timeout or 30.0)
        try:
            state = client.get_run(key).state
        finally:
            client.close()
    except Error:
        return allow
    if state not in _RESUMABLE:
        return allow
    return dataclasses.replace(
        allow, run_id=key.run_id, entity=key.entity, project=key.project
    )


def _remembered(settings: Settings) -> RunKey | None:
    for path in _paths(settings):
        try:
            with open(path, encoding="utf-8") as f:
                last = json.load(f)
            return RunKey(entity=last["entity"], project=last["project"], run_id=last["run_id"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None


def remember(settings: Settings, entity: str, project: str, run_id: str) -> None:
    with contextlib.suppress(OSError):
        with open(_path(settings), "w", encoding="utf-8") as f:
            json.dump({"entity": entity, "project": project, "run_id": run_id}, f)


def forget(settings: Settings, run_id: str) -> None:
    """After a clean finish: the run is not to be resumed automatically."""
    for path in _paths(settings):
        with contextlib.suppress(OSError, ValueError, AttributeError):
            with open(path, encoding="utf-8") as f:
                if json.load(f).get("run_id") == run_id:
                    os.unlink(path)
