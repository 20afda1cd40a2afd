"""An in-memory `MetadataStore`: the fake for unit tests.

`MemoryStore` is the reference for what every store must do; the contract
suite in ``tests/integration/test_store_contract.py`` runs against it and the SQL
store alike. Its row semantics (flattening, merging, run-field checks) come
from semantics.py, which `SqlStore` uses too, so that both stores agree by
construction rather than by care.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from collections.abc import Collection, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from mytrack_service.store.artifact_model import ArtifactTx, apply_ops
from mytrack_service.store.base import (
    FILE_FIELDS,
    Batch,
    ConsoleLine,
    FileRow,
    MetadataStore,
    ProjectRow,
    RunExistsError,
    RunKey,
    RunRow,
    StoreError,
    WriterRow,
)
from mytrack_service.store.blocks import with_block_rows
from mytrack_service.store.jsontext import dump_json, load_json
from mytrack_service.store.memory_artifacts import ArtifactTables
from mytrack_service.store.memory_artifacts import transaction as memory_transaction
from mytrack_service.store.memory_sweeps import SweepTables
from mytrack_service.store.memory_sweeps import transaction as sweep_transaction
from mytrack_service.store.rows import decode_row, encode_row
from mytrack_service.store.run_deletion import DeletedRun, blob_digests, forget_run
from mytrack_service.store.semantics import (
    check_run_fields,
    flatten_row,
    merge_fields,
    merge_rows,
    roundtrip_run,
    unique_keys,
    unique_rows,
)
from mytrack_service.store.sweep_model import SweepTx
from mytrack_service.store.view_model import ViewRow


class MemoryStore(MetadataStore):
    """A thread-safe, in-process store with the same semantics as `SqlStore`.

    Rows are kept as JSON text, exactly as the SQL store keeps them, so that
    values come back as the same types (tuples as lists, NaN as NaN).
    """

    def __init__(self) -> None:
        # One lock for everything: the fake favours obviousness over throughput.
        self._lock = threading.RLock()
        self._runs: dict[RunKey, RunRow] = {}
        self._created: dict[RunKey, int] = {}  # insertion order: ties in list_runs
        self._counter = itertools.count()
        self._history: dict[RunKey, dict[int, str]] = {}
        self._writers: dict[str, WriterRow] = {}
        self._files: dict[tuple[RunKey, str], FileRow] = {}
        self._console: dict[RunKey, list[ConsoleLine]] = {}
        self._system: dict[RunKey, list[str]] = {}
        self._artifacts = ArtifactTables()
        self._sweeps = SweepTables()
        self._views: dict[tuple[str, str, str], ViewRow] = {}

    def create_run(self, run: RunRow, writer: WriterRow | None = None) -> None:
        stored = roundtrip_run(run)
        with self._lock:
            if run.key in self._runs:
                raise RunExistsError(f"run {run.key.path} already exists")
            self._runs[run.key] = stored
            self._created[run.key] = next(self._counter)
            self._history[run.key] = {}
            if writer is not None:
                self._writers[writer.writer_id] = dataclasses.replace(writer)

    def get_run(self, key: RunKey) -> RunRow | None:
        with self._lock:
            run = self._runs.get(key)
            return None if run is None else roundtrip_run(run)

    def update_run(self, key: RunKey, fields: Mapping[str, Any]) -> None:
        check_run_fields(fields)
        with self._lock:
            run = self._require_run(key)
            self._runs[key] = roundtrip_run(dataclasses.replace(run, **fields))

    def list_runs(
        self, entity: str | None = None, project: str | None = None, updated_since: float | None = None,
    ) -> list[RunRow]:
        with self._lock:
            runs = [
                run
                for run in self._runs.values()
                if (entity is None or run.key.entity == entity)
                and (project is None or run.key.project == project)
                and (updated_since is None or run.updated_at >= updated_since)
            ]
            runs.sort(key=lambda run: (run.created_at, self._created[run.key]), reverse=True)
            return [roundtrip_run(run) for run in runs]

    def list_projects(self) -> list[ProjectRow]:
        with self._lock:
            projects: dict[tuple[str, str], ProjectRow] = {}
            for run in self._runs.values():
                name = (run.key.entity, run.key.project)
                row = projects.setdefault(name, ProjectRow(name[0], name[1], 0, run.updated_at))
                row.run_count += 1
                row.last_activity = max(row.last_activity, run.updated_at)
        return sorted(projects.values(), key=lambda p: (-p.last_activity, p.entity, p.project))

    def register_writer(self, writer: WriterRow) -> None:
        with self._lock:
            self._writers[writer.writer_id] = dataclasses.replace(writer)

    def get_writer(self, writer_id: str) -> WriterRow | None:
        with self._lock:
            writer = self._writers.get(writer_id)
            return None if writer is None else dataclasses.replace(writer)

    def list_writers(self, include_closed: bool = False) -> list[WriterRow]:
        with self._lock:
            return [
                dataclasses.replace(self._writers[writer_id])
                for writer_id in sorted(self._writers)
                if include_closed or not self._writers[writer_id].closed
            ]

    @contextmanager
    def artifacts(self, write: bool = False) -> Iterator[ArtifactTx]:
        with self._lock, memory_transaction(self._artifacts) as (tx, tables):
            yield tx
            if write:
                self._artifacts = tables

    @contextmanager
    def sweeps(self, write: bool = False) -> Iterator[SweepTx]:
        with self._lock, sweep_transaction(self._sweeps, self._runs) as (tx, tables):
            yield tx
            if write:
                self._sweeps = tables

    def list_views(self, entity: str, project: str) -> list[ViewRow]:
        with self._lock:
            found = [v for (e, p, _), v in self._views.items() if (e, p) == (entity, project)]
            return [_view_copy(v) for v in sorted(found, key=lambda v: v.name)]

    def save_view(self, view: ViewRow) -> None:
        stored = _view_copy(view)
        with self._lock:
            old = self._views.get((view.entity, view.project, view.name))
            if old is not None:
                stored.created_at = old.created_at
            self._views[(view.entity, view.project, view.name)] = stored

    def delete_view(self, entity: str, project: str, name: str) -> bool:
        with self._lock:
            return self._views.pop((entity, project, name), None) is not None

    def delete_run(self, key: RunKey, delete_artifacts: bool = False) -> DeletedRun | None:
        with self._lock:
            if key not in self._runs:
                return None
            deleted = DeletedRun(key.path)
            deleted.digests.update(f.digest for (k, _), f in self._files.items() if k == key and f.digest)
            with memory_transaction(self._artifacts) as (tx, tables):
                forget_run(tx, deleted, delete_artifacts)
            self._artifacts = tables
            del self._runs[key], self._created[key]
            self._history.pop(key, None)
            self._console.pop(key, None)
            self._system.pop(key, None)
            self._files = {k: f for k, f in self._files.items() if k[0] != key}
            self._writers = {i: w for i, w in self._writers.items() if w.key != key}
            return deleted

    def referenced_digests(self, candidates: Collection[str] | None = None) -> set[str]:
        with self._lock:
            found = {f.digest for f in self._files.values() if f.digest}
            for text in self._artifacts.manifests.values():
                found |= blob_digests(json.loads(text))
        return found if candidates is None else found & set(candidates)

    def write_batch(self, batch: Batch) -> int:
        # Validate everything first, then apply: nothing below can fail, which
        # is what makes the batch atomic here.
        check_run_fields(batch.run_fields)
        rows = unique_rows(with_block_rows(batch.rows, batch.blocks))
        fields = dict(batch.run_fields)
        system = [dump_json(sample, "system sample") for sample in batch.system]
        conflicts = 0
        with self._lock:
            run = self._require_run(batch.key)
            if batch.merge_rows:
                history = self._history[batch.key]
                stored = {s: decode_row(history[s]) for s, _ in rows if s in history}
                rows, conflicts = merge_rows(stored, rows)
                for name in ("summary", "metadata", "service_state"):
                    if name in fields:
                        fields[name] = merge_fields(getattr(run, name), fields[name])
                if batch.on_merged is not None:
                    batch.on_merged(fields)
            texts = [(step, encode_row(row, f"history row {step}")) for step, row in rows]
            updated = roundtrip_run(dataclasses.replace(run, **fields))
            for position in batch.positions:
                if position.writer_id not in self._writers:
                    raise StoreError(f"unknown writer {position.writer_id!r}")
            artifacts = self._artifacts
            if batch.artifacts:
                with memory_transaction(self._artifacts) as (tx, artifacts):
                    apply_ops(tx, batch.artifacts)
            self._artifacts = artifacts
            self._history[batch.key].update(texts)
            self._runs[batch.key] = updated
            self._console.setdefault(batch.key, []).extend(
                dataclasses.replace(line) for line in batch.console
            )
            if system:
                self._system.setdefault(batch.key, []).extend(system)
            for file in batch.files:
                old = self._files.get((file.key, file.name))
                if old is None:
                    self._files[(file.key, file.name)] = dataclasses.replace(file)
                else:  # keep what the uploads recorded
                    self._files[(file.key, file.name)] = dataclasses.replace(
                        old, path=file.path, policy=file.policy, pending=file.pending
                    )
            for position in batch.positions:
                writer = self._writers[position.writer_id]
                writer.applied_offset = position.applied_offset
                writer.applied_seq = position.applied_seq
                writer.closed = position.closed
        return conflicts

    def read_history(
        self,
        key: RunKey,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        wanted = None if keys is None else unique_keys(keys)
        with self._lock:
            # A snapshot, so that iterating never holds the lock.
            history = self._history.get(key, {})
            steps = sorted(
                step
                for step in history
                if (min_step is None or step >= min_step) and (max_step is None or step <= max_step)
            )
            texts = [(step, history[step]) for step in steps]
        return _select(texts, wanted)

    def count_history(self, key: RunKey) -> int:
        with self._lock:
            return len(self._history.get(key, {}))

    def _require_run(self, key: RunKey) -> RunRow:
        run = self._runs.get(key)
        if run is None:
            raise StoreError(f"no run {key.path}")
        return run

    def read_console(
        self, key: RunKey, label: str | None = None, min_line: int | None = None,
        max_line: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        with self._lock:
            lines = list(self._console.get(key, []))
        for number, line in enumerate(lines):
            if label is not None and line.label != label:
                continue
            if (min_line is not None and number < min_line) or (
                max_line is not None and number > max_line
            ):
                continue
            yield {"_line": number, "_timestamp": line.timestamp, "stream": line.stream,
                   "label": line.label, "text": line.text}

    def append_system(self, key: RunKey, samples: list[dict[str, Any]]) -> None:
        texts = [dump_json(sample, "system sample") for sample in samples]
        with self._lock:
            self._require_run(key)
            self._system.setdefault(key, []).extend(texts)

    def read_system(
        self, key: RunKey, keys: list[str] | None = None, min_time: float | None = None,
        max_time: float | None = None, label: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        with self._lock:
            samples = [load_json(text) for text in self._system.get(key, [])]
        samples.sort(key=lambda sample: sample["_timestamp"])
        for sample in samples:
            ts = sample["_timestamp"]
            if (min_time is not None and ts < min_time) or (max_time is not None and ts > max_time):
                continue
            if label is not None and sample.get("_label", "") != label:
                continue
            if keys is None:
                yield sample
            elif all(k in sample for k in keys):
                head = {k: sample[k] for k in ("_timestamp", "_runtime", "_label") if k in sample}
                yield {**head, **{k: sample[k] for k in keys}}

    def list_files(self, key: RunKey | None = None, pending: bool | None = None) -> list[FileRow]:
        with self._lock:
            return [
                dataclasses.replace(f)
                for (k, name), f in sorted(self._files.items(), key=lambda i: (i[0][0], i[0][1]))
                if (key is None or k == key) and (pending is None or f.pending == pending)
            ]

    def get_file(self, key: RunKey, name: str) -> FileRow | None:
        with self._lock:
            found = self._files.get((key, name))
            return None if found is None else dataclasses.replace(found)

    def update_file(self, key: RunKey, name: str, fields: Mapping[str, Any]) -> None:
        unknown = sorted(set(fields) - FILE_FIELDS)
        if unknown:
            raise ValueError(f"not settable file fields: {', '.join(unknown)}")
        with self._lock:
            found = self._files.get((key, name))
            if found is None:
                raise StoreError(f"run {key.path} has no file {name!r}")
            self._files[(key, name)] = dataclasses.replace(found, **fields)


def _select(texts: list[tuple[int, str]], wanted: list[str] | None) -> Iterator[dict[str, Any]]:
    for step, text in texts:
        row = decode_row(text)
        if wanted is None:
            yield row
            continue
        flat = flatten_row(row)
        if all(name in flat for name in wanted):
            yield {"_step": step, **{name: flat[name] for name in wanted}}


def _view_copy(view: ViewRow) -> ViewRow:
    """As the SQL store keeps it: the state through JSON text."""
    return dataclasses.replace(view, state=load_json(dump_json(view.state, "view state")))
