"""``mytrack sync``: apply run folders' WALs to the store through the service.

Every writer leaves, in its run folder, ``run-<id>-<writer>.open`` (the
OpenRunRequest it made, or would have made offline) next to its WAL
``run-<id>-<writer>.wal``. Syncing a writer asks the service to adopt that
WAL read-only and waits until it is applied. The service keys writers by id
and remembers how far each WAL is applied, so syncing twice changes nothing,
and a WAL that is still being written is applied as far as it goes.
"""

from __future__ import annotations

import dataclasses
import glob
import os
from collections.abc import Iterator
from dataclasses import dataclass

from mytrack._internal.transport.client import ServiceClient, parse_open_run
from mytrack._internal.transport.encode import record_seq
from mytrack._internal.transport.service_types import OpenRun
from mytrack.errors import InvalidValueError
from mytrack_common.wal import WalFormatError, valid_end


@dataclass(frozen=True)
class WriterFiles:
    open_path: str
    wal_path: str
    request: OpenRun

    @property
    def run_path(self) -> str:
        return self.request.run.path

    @property
    def offline(self) -> bool:
        return self.request.mode == "offline"


def find_writers(paths: list[str], root: str | None, include_offline: bool) -> list[WriterFiles]:
    """The writers of the given run folders, or of every run folder under ``root``."""
    folders = [os.path.abspath(p) for p in paths]
    discovered = []
    if root is not None:
        # The run folders' parent of this version, and of earlier ones (mytrack/).
        for parent in ("mytrack-runs", "mytrack"):
            discovered += sorted(glob.glob(os.path.join(os.path.abspath(root), parent, "run-*")))
        discovered += sorted(glob.glob(os.path.join(os.path.abspath(root), "run-*")))
    found: list[WriterFiles] = []
    for folder in folders:
        if not os.path.isdir(folder):
            raise InvalidValueError(f"{folder} is not a run folder")
        found.extend(_writers_in(folder))
    for folder in discovered:
        found.extend(w for w in _writers_in(folder) if include_offline or not w.offline)
    return found


def _writers_in(folder: str) -> Iterator[WriterFiles]:
    for open_path in sorted(glob.glob(os.path.join(folder, "run-*.open"))):
        wal_path = open_path[: -len(".open")] + ".wal"
        if not os.path.exists(wal_path):
            continue  # the run logged nothing yet
        with open(open_path, "rb") as f:
            request = parse_open_run(f.read())
        yield WriterFiles(open_path, wal_path, request)


def last_seq(wal_path: str) -> int:
    try:
        _, payload = valid_end(wal_path)
    except WalFormatError as exc:
        raise InvalidValueError(str(exc)) from None
    return record_seq(payload) if payload else 0


def sync_writer(client: ServiceClient, writer: WriterFiles, timeout: float) -> tuple[int, bool]:
    """Applies one writer's WAL; returns (its last seq, whether it was all applied)."""
    request = dataclasses.replace(writer.request, adopt_wal=writer.wal_path, resume="allow")
    client.open_run(request, timeout=timeout)
    seq = last_seq(writer.wal_path)
    reply = client.sync(request.run, request.writer_id, seq, timeout)
    return seq, not reply.timed_out
