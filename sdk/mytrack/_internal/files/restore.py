"""restore() and finish()'s wait for uploads: the SDK side of saved files."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TextIO

from mytrack._internal.files.download import download
from mytrack._internal.files.saving import check_name
from mytrack._internal.transport import launcher
from mytrack._internal.transport.client import ServiceClient
from mytrack._internal.transport.service_types import RunKey
from mytrack.errors import CommError, InvalidValueError, RunNotFoundError
from mytrack.settings import Settings
from mytrack_common.retry import backoff_delay

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def parse_run_path(path: str, default_entity: str) -> RunKey:
    parts = [p for p in str(path).strip("/").split("/") if p]
    if len(parts) == 4 and parts[2] == "runs":  # entity/project/runs/id
        parts = [parts[0], parts[1], parts[3]]
    if len(parts) == 2:
        parts = [default_entity, *parts]
    if len(parts) != 3:
        raise InvalidValueError(f"run path must be 'entity/project/run_id', got {path!r}")
    return RunKey(entity=parts[0], project=parts[1], run_id=parts[2])


def restore_file(
    name: str, run_path: str, replace: bool, root: str, settings: Settings
) -> TextIO:
    """Downloads file ``name`` of ``run_path`` into ``root`` and opens it for reading."""
    key = parse_run_path(run_path, settings.entity or "")
    client = launcher.connect(settings.service_dir or "", timeout=settings.init_timeout or 30.0)
    try:
        # Ask first even when a local copy exists: a mistyped run_path must not
        # hand back some stale file that happens to have the same name.
        listed = client.list_files(key)
        if check_name(name) not in {f.name for f in listed}:
            raise RunNotFoundError(f"run {run_path} has no file {name!r}")
        path = download(client, key, name, root, replace)
    finally:
        client.close()
    return open(path, encoding="utf-8", errors="replace")


def wait_for_uploads(
    client: ServiceClient, key: RunKey, timeout: float, quiet: bool
) -> tuple[int, int]:
    """Waits until the run has no upload due, at most ``timeout`` seconds.

    After 2 s, shows a progress line (files, bytes, retries) unless quiet.
    Returns what was still pending (files, bytes) when it gave up: the service
    carries on with those after this process exits.
    """
    deadline = time.monotonic() + timeout
    shown = None
    # Short waits first: at the end of a short run the service is often just
    # storing the environment's files, done within a few milliseconds.
    polls = 0
    try:
        started = time.monotonic()
        while True:
            try:
                status = client.status(key, timeout=10)
            except CommError:
                return -1, -1
            files, size = status.files_pending, status.bytes_pending
            if files == 0:
                return 0, 0
            if time.monotonic() >= deadline:
                return files, size
            if not quiet and shown is None and time.monotonic() - started > 2.0:
                shown = _progress()
            if shown is not None:
                progress, task = shown
                progress.update(task, description=(
                    f"mytrack: uploading {files} file(s), {size / 2**20:.1f} MiB "
                    f"(retries: {status.upload_retries})"
                ))
            polls += 1
            time.sleep(backoff_delay(polls, 0.005, 0.1, jitter=(1.0, 1.0)))
    finally:
        if shown is not None:
            shown[0].stop()


def _progress() -> tuple[Progress, TaskID]:
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn

    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                        console=Console(file=sys.stderr), transient=True)
    progress.start()
    return progress, progress.add_task("mytrack: uploading", total=None)
