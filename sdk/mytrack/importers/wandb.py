"""``mytrack import wandb``: W&B run folders (``wandb/run-*``, ``wandb/offline-run-*``).

Each folder's ``.wandb`` transaction log is read with this package's reader of
its framing (`wandb_log`) and its records decoded with the protobuf classes
of the installed ``wandb`` package (the ``[import-wandb]`` extra). The run
keeps its W&B id. What is carried over and what is not: docs/importing.md.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

from mytrack.errors import UsageError
from mytrack.importers import wandb_log
from mytrack.importers.importing import ImportReport, import_all, placement
from mytrack.importers.source import Ending, SourceProblem, SourceRun
from mytrack.importers.staging import StagedRun
from mytrack.importers.wandb_records import RecordTranslator, config_items, run_fields

__all__ = ["find_runs", "import_runs"]


def import_runs(
    paths: Sequence[str | os.PathLike[str]], project: str | None = None, entity: str | None = None,
    dry_run: bool = False, progress: bool = False, timeout: float = 600.0,
) -> ImportReport:
    """Imports the W&B runs of ``paths`` (run folders, ``wandb/`` folders or folders holding one).

    ``project``/``entity`` place every run (default: the W&B run's project, the
    default entity). ``dry_run`` lists what would be imported and writes nothing.

    Raises:
        UsageError: the ``wandb`` package (its protobuf classes) is not installed.
        InvalidValueError: ``project`` or ``entity`` is not a valid name.
        CommError: the service cannot be reached.
    """
    record_class()  # before anything else: a missing extra is the caller's error
    return import_all(find_runs(paths), placement(project, entity, timeout), dry_run, progress)


def record_class() -> Any:
    """W&B's ``Record`` message class (from the installed ``wandb``)."""
    try:
        from wandb.proto import wandb_internal_pb2
    except ImportError as exc:
        raise UsageError(
            "importing W&B runs needs the wandb package for its record definitions: "
            f"pip install 'mytrack[import-wandb]' ({exc})"
        ) from None
    return getattr(wandb_internal_pb2, "Record")  # noqa: B009 - wandb's stubs lack it


def find_runs(paths: Sequence[str | os.PathLike[str]]) -> Iterator[SourceRun | SourceProblem]:
    """The runs of ``paths``, described from the start of each transaction log."""
    for path in paths:
        for folder in _run_folders(os.path.abspath(os.fspath(path))):
            yield _describe(folder)


def _run_folders(path: str) -> list[str]:
    if not os.path.isdir(path):
        return [path]  # reported as unreadable by _describe
    if glob.glob(os.path.join(path, "*.wandb")):
        return [path]
    for parent in (path, os.path.join(path, "wandb")):
        found = sorted(
            p for p in glob.glob(os.path.join(parent, "*run-*"))
            if os.path.basename(p).startswith(("run-", "offline-run-")) and os.path.isdir(p)
            and not os.path.islink(p)
        )
        if found:
            return found
    return [path]


def _describe(folder: str) -> SourceRun | SourceProblem:
    logs = sorted(glob.glob(os.path.join(folder, "*.wandb")))
    if len(logs) != 1:
        why = "no .wandb transaction log" if not logs else f"{len(logs)} .wandb files, expected one"
        return SourceProblem(folder, why)
    try:
        record = record_class()
        for item in wandb_log.read_records(logs[0]):
            if isinstance(item, wandb_log.Damage):
                continue
            message = record.FromString(item)
            if message.WhichOneof("record_type") == "run":
                return _source(folder, logs[0], message.run)
    except (OSError, ValueError) as exc:
        return SourceProblem(folder, str(exc))
    return SourceProblem(folder, "the transaction log holds no run record")


def _source(folder: str, log_path: str, run: Any) -> SourceRun:
    fields = run_fields(run)
    return SourceRun(
        kind="wandb", source_id=f"{run.entity}/{run.project}/{run.run_id}", where=folder,
        run_id=run.run_id, name=fields.get("name", ""), project=run.project,
        start_time=run.start_time.ToMicroseconds() / 1e6 if run.HasField("start_time") else 0.0,
        group=run.run_group, job_type=run.job_type, tags=tuple(fields.get("tags", ())),
        notes=fields.get("notes", ""), config=config_items(run.config),
        write=lambda staged: _write(folder, log_path, staged),
    )


def _write(folder: str, log_path: str, staged: StagedRun) -> Ending:
    record = record_class()
    translator = RecordTranslator(staged, staged.request.start_time)
    for item in wandb_log.read_records(log_path):
        if isinstance(item, wandb_log.Damage):
            staged.problems.append(f"{os.path.basename(log_path)} at byte {item.offset}: {item.reason}")
            continue
        try:
            message = record.FromString(item)
        except Exception as exc:  # noqa: BLE001 - protobuf's DecodeError: a record, not the run
            staged.problems.append(f"a record that does not decode was skipped: {exc}")
            continue
        translator.apply(message)
    translator.close()
    staged.add_files(_run_files(folder, skip_console=translator.console_lines > 0))
    return translator.ending()


def _run_files(folder: str, skip_console: bool) -> list[tuple[str, str]]:
    """The run's ``files/`` (its saved files, media, config.yaml, wandb-metadata.json...).

    ``output.log`` is the console the log's records already carried.
    """
    root = os.path.join(folder, "files")
    files = []
    for parent, dirs, names in os.walk(root):
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(parent, name)
            relative = os.path.relpath(path, root).replace(os.sep, "/")
            if relative == "output.log" and skip_console:
                continue
            if os.path.isfile(path):
                files.append((relative, path))
    return files


def load_json(text: str) -> Any:
    """A W&B ``value_json`` (NaN and Infinity included)."""
    return json.loads(text)
