"""``mytrack import tensorboard LOGDIR``: a run per folder that holds event files.

Event files are read with the shared reader (`mytrack_common.tensorboard`,
TensorBoard's own loader underneath; the ``[tensorboard]`` extra). Values of
one folder are merged into rows by step (a row's time: the latest wall time
among its values); scalars stay numbers, histograms become mytrack histograms,
images run files under ``media/images/`` with an image descriptor, text
strings. The run id is hashed from the log directory's real path and the
folder's path inside it, so importing the same logs again finds the runs.
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterator
from typing import Any

from mytrack.errors import InvalidValueError, UsageError
from mytrack.importers.importing import ImportReport, import_all, placement
from mytrack.importers.source import Ending, SourceProblem, SourceRun
from mytrack.importers.staging import StagedRun
from mytrack_common.tensorboard import TBEvent, TBHistogram, TBImage, TensorBoardMissing, is_event_file, iter_events

__all__ = ["find_runs", "import_runs"]

MAX_BINS = 512  # W&B's limit on a histogram's bins


def import_runs(
    logdir: str | os.PathLike[str], project: str | None = None, entity: str | None = None,
    dry_run: bool = False, progress: bool = False, timeout: float = 600.0,
) -> ImportReport:
    """Imports every folder under ``logdir`` that holds event files as a run.

    The runs' group is the log directory's name; their project ``project``
    (default: the default project).

    Raises:
        InvalidValueError: ``logdir`` is not a folder; a bad ``project``/``entity``.
        UsageError: the ``tensorboard`` package is not installed.
        CommError: the service cannot be reached.
    """
    root = os.path.realpath(os.fspath(logdir))
    if not os.path.isdir(root):
        raise InvalidValueError(f"logdir {os.fspath(logdir)!r} is not a folder")
    try:
        import tensorboard  # noqa: F401 - only to fail early with a clear message
    except ImportError:
        raise UsageError(str(TensorBoardMissing())) from None
    return import_all(find_runs(root), placement(project, entity, timeout), dry_run, progress)


def find_runs(root: str) -> Iterator[SourceRun | SourceProblem]:
    for parent, dirs, names in os.walk(root):
        dirs.sort()
        files = sorted(os.path.join(parent, n) for n in names if is_event_file(n))
        if files:
            yield _source(root, parent, files)


def _source(root: str, folder: str, files: list[str]) -> SourceRun:
    relative = os.path.relpath(folder, root).replace(os.sep, "/")
    identity = f"{root}\0{relative}"
    run_id = "tb-" + hashlib.sha256(identity.encode()).hexdigest()[:16]
    start = min((_name_time(f) for f in files), default=0.0) or os.path.getmtime(files[0])
    return SourceRun(
        kind="tensorboard", source_id=identity.replace("\0", "#"), where=folder, run_id=run_id,
        name=os.path.basename(root) if relative == "." else relative, project="",
        group=os.path.basename(root), start_time=start,
        write=lambda staged: _write(files, start, staged),
    )


def _write(files: list[str], start: float, staged: StagedRun) -> Ending:
    rows: dict[int, dict[str, Any]] = {}
    times: dict[int, float] = {}
    images: list[tuple[str, bytes]] = []
    for path in files:
        try:
            for event in iter_events(path):
                value = _value(event, images)
                if value is None:
                    continue
                rows.setdefault(event.step, {})[event.tag] = value
                times[event.step] = max(times.get(event.step, 0.0), event.wall_time)
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not cost the others
            staged.problems.append(f"{os.path.basename(path)} could not be read: {type(exc).__name__}: {exc}")
    for name, data in images:
        staged.add_bytes(name, data)
    for step in sorted(rows):
        if step < 0:
            staged.problems.append(f"the values at step {step} left out: steps must not be negative")
            continue
        staged.log(rows[step], step, times[step])
    return Ending("finished", 0, max(times.values(), default=start))


def _value(event: TBEvent, images: list[tuple[str, bytes]]) -> Any:
    if event.kind in ("scalar", "text"):
        return event.value
    if event.kind == "histogram" and isinstance(event.value, TBHistogram):
        return histogram(event.value)
    if event.kind == "image" and isinstance(event.value, tuple):
        found = [_image(event, image, images) for image in event.value]
        return found[0] if len(found) == 1 else found
    return None


def _image(event: TBEvent, image: TBImage, images: list[tuple[str, bytes]]) -> dict[str, Any]:
    data = image.encoded
    digest = hashlib.sha256(data).hexdigest()
    ext = "png" if data.startswith(b"\x89PNG") else "jpg" if data.startswith(b"\xff\xd8") else "gif"
    parts = ["".join(c if c.isalnum() or c in "-_.=+" else "_" for c in p)[:100].strip(".") or "_"
             for p in event.tag.split("/")]
    parts[-1] = f"{parts[-1]}_{event.step}_{digest[:20]}.{ext}"
    name = "/".join(["media", "images", *parts])
    images.append((name, data))
    return {"_type": "image-file", "path": name, "sha256": digest, "size": len(data), "format": ext,
            "width": image.width, "height": image.height}


def histogram(value: TBHistogram) -> dict[str, Any]:
    """A mytrack histogram: the empty outer buckets cut (torch's default buckets span
    1e-12 to 1e20), then at most `MAX_BINS` by merging neighbours."""
    counts, bins = list(value.counts), list(value.bins)
    first = next((i for i, c in enumerate(counts) if c), 0)
    last = next((i for i in range(len(counts) - 1, -1, -1) if counts[i]), len(counts) - 1)
    counts, bins = counts[first:last + 1], bins[first:last + 2]
    factor = math.ceil(len(counts) / MAX_BINS)
    if factor > 1:
        counts = [sum(counts[i:i + factor]) for i in range(0, len(counts), factor)]
        bins = bins[::factor] + ([bins[-1]] if (len(bins) - 1) % factor else [])
    return {"_type": "histogram", "values": [int(c) if c == int(c) else c for c in counts], "bins": bins}


def _name_time(path: str) -> float:
    """The creation time in ``events.out.tfevents.<time>.<host>...``; 0 if absent."""
    parts = os.path.basename(path).split(".")
    try:
        return float(parts[parts.index("tfevents") + 1])
    except (ValueError, IndexError):
        return 0.0
