"""An imported run written as a mytrack run folder, for the service to adopt.

An importer does not stream into the service as a live run does: it writes
what it read into a run folder of its own, exactly as an offline run does (the
records that ``encode`` builds, framed by the WAL module, beside the
``.open`` file of the run), and then asks the service to adopt that WAL, as
``mytrack sync`` does. So an imported run passes the same checks and the same
applier as a logged one, history rows keep the source's steps and timestamps
(each log entry carries its own time), and the service, not the importer,
finishes the work if the importer is killed after handing the WAL over.

The ``.open`` file is written last, atomically: a folder without it is an
import that was cut short and is written again from the start.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from mytrack._internal.run.config import sanitize
from mytrack._internal.run.values import check_log_data
from mytrack._internal.transport import encode
from mytrack._internal.transport.client import serialize_open_run
from mytrack._internal.transport.service_types import OpenRun
from mytrack.artifacts import Artifact
from mytrack.errors import Error
from mytrack_common.address import ensure_private_dir
from mytrack_common.names import entry_name_problem
from mytrack_common.wal import WalWriter

# Log entries per LogBatch record, and the JSON size after which a batch is cut early.
_BATCH_ENTRIES = 1000
_BATCH_BYTES = 1 << 20


class StagedRun:
    """Writes one imported run's records into ``folder`` (emptied first).

    Values that mytrack cannot record are left out and described in
    ``problems`` (one line each), never raised: one odd value does not cost
    the rest of the run.
    """

    def __init__(self, folder: str, request: OpenRun) -> None:
        self.folder = folder
        self.request = request
        self.problems: list[str] = []
        self.rows = 0
        stem = f"run-{request.run.run_id}-{request.writer_id}"
        self.open_path = os.path.join(folder, stem + ".open")
        self.wal_path = os.path.join(folder, stem + ".wal")
        self.files_dir = os.path.join(folder, "files")
        shutil.rmtree(folder, ignore_errors=True)
        ensure_private_dir(folder)
        os.makedirs(self.files_dir)
        self._wal = WalWriter(self.wal_path)
        self._seq = 0
        self._entries: list[encode.LogEntry] = []
        self._entry_bytes = 0
        self._file_names: set[str] = set()

    # -- records -------------------------------------------------------------

    def log(self, row: Mapping[str, Any], step: int, timestamp: float) -> None:
        """One history row at ``step``, logged at ``timestamp`` (seconds since the epoch)."""
        data = self._checked_row(dict(row), step)
        if not data:
            return
        self._entries.append((data, step, True, timestamp))
        self._entry_bytes += len(encode.dumps(data))
        self.rows += 1
        if len(self._entries) >= _BATCH_ENTRIES or self._entry_bytes >= _BATCH_BYTES:
            self._flush_entries()

    def config(self, update: Mapping[str, Any]) -> None:
        checked = {}
        for key, value in update.items():
            try:
                checked.update(sanitize({key: value}))
            except Error as exc:
                self.problems.append(f"config key {key!r} left out: {exc}")
        if checked:
            self._control(encode.config_record(checked))

    def summary(self, update: Mapping[str, Any]) -> None:
        checked = {}
        for key, value in update.items():
            try:
                checked.update(check_log_data({key: value}))
            except Error as exc:
                self.problems.append(f"summary key {key!r} left out: {exc}")
        if checked:
            self._control(encode.summary_record(checked))

    def metric(self, definition: Mapping[str, Any]) -> None:
        """A define_metric() call (its options as `Metric.to_dict` gives them)."""
        self._control(encode.metric_record(dict(definition)))

    def output(self, lines: Sequence[tuple[float, str, str]]) -> None:
        """Console lines: (timestamp, "stdout" or "stderr", text without its newline)."""
        if lines:
            self._control(encode.output_record(lines))

    def system(self, samples: Sequence[Mapping[str, Any]]) -> None:
        """System-metrics samples: ``_timestamp`` and ``system/...`` keys with numbers."""
        if samples:
            self._control(encode.system_record([dict(s) for s in samples]))

    def artifact(self, artifact: Artifact, aliases: Sequence[str], timestamp: float) -> None:
        """An artifact version the run logged; its files are staged in the run folder now."""
        request = self.request.run
        payload = artifact.payload(os.path.join(self.folder, "artifacts"))
        payload.update(entity=request.entity, project=request.project, aliases=list(aliases),
                       tags=list(artifact.tags), timestamp=timestamp)
        self._control(encode.artifact_record("log", payload, uuid.uuid4().hex))

    def environment(self, metadata: Mapping[str, Any]) -> None:
        self._control(encode.environment_record(dict(metadata)))

    def update_fields(self, **fields: Any) -> None:
        """Name, notes, tags (a list), group or job type changed after the run began."""
        self._control(encode.run_update_record(**fields))

    def add_files(self, files: Sequence[tuple[str, str]]) -> None:
        """Copies (name in the run, source path) into the run folder and records them.

        A copy, not a link: the import stays whole if the source is moved or
        deleted before the service has uploaded it.
        """
        entries = []
        for name, source in files:
            problem = entry_name_problem(name)
            if problem is not None or name in self._file_names:
                self.problems.append(f"file {name!r} left out: {problem or 'a second file of that name'}")
                continue
            target = os.path.join(self.files_dir, name)
            try:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(source, target)
            except OSError as exc:
                self.problems.append(f"file {name!r} left out: {exc.strerror or exc}")
                continue
            self._file_names.add(name)
            entries.append((name, target, "now"))
        if entries:
            self._control(encode.files_record(entries))

    def add_bytes(self, name: str, data: bytes) -> None:
        """A run file made by the importer (an image taken out of an event file)."""
        problem = entry_name_problem(name)
        if problem is not None or name in self._file_names:
            self.problems.append(f"file {name!r} left out: {problem or 'a second file of that name'}")
            return
        target = os.path.join(self.files_dir, name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
        self._file_names.add(name)
        self._control(encode.files_record([(name, target, "now")]))

    def finish(self, exit_code: int | None, state: str, timestamp: float) -> None:
        """Records the run's end and makes the folder complete (the ``.open`` file)."""
        self._control(encode.exit_record(exit_code or 0, state, timestamp))
        self._wal.sync()
        self._wal.close()
        partial = self.open_path + ".partial"
        with open(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
            f.write(serialize_open_run(self.request))
            f.flush()
            os.fsync(f.fileno())
        os.replace(partial, self.open_path)

    def abandon(self) -> None:
        self._wal.close()

    # -- internals -----------------------------------------------------------

    def _checked_row(self, row: dict[str, Any], step: int) -> dict[str, Any]:
        try:
            return check_log_data(row)
        except Error:
            pass
        kept: dict[str, Any] = {}
        for key, value in row.items():  # find the values at fault, keep the others
            try:
                kept.update(check_log_data({key: value}))
            except Error as exc:
                self.problems.append(f"history key {key!r} at step {step} left out: {exc}")
        return kept

    def _control(self, control: encode.Control) -> None:
        self._flush_entries()
        self._seq += 1
        self._wal.append([control.build(self._seq)], sync=False)

    def _flush_entries(self) -> None:
        if not self._entries:
            return
        self._seq += 1
        self._wal.append([encode.log_batch(self._seq, self._entries)], sync=False)
        self._entries, self._entry_bytes = [], 0
