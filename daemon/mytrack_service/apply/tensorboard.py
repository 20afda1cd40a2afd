"""TensorBoard sync: the event files of a run's log directories, read into its history.

The SDK reports each log directory a patched writer opens (a `TensorBoardEvent`);
the assembly keeps them, and how many records of each event file were applied,
in its snapshot. Each apply cycle, `TensorBoardFollower` reads what the files
gained since (with `mytrack_common.tensorboard`, TensorBoard's own reader) and
hands the assembly rows keyed by TensorBoard's global step, so the position in
each file commits in the same transaction as the rows read from it: after a
store failure or a restart the follower goes on from the committed record count,
and nothing is applied twice or skipped. An event file is the WAL of its events.

Keys are ``<namespace>/<tag>`` (the namespace is the log directory's sub-folder,
W&B's rule, computed by the SDK); every row also gets ``global_step``, as W&B's
TensorBoard sync logs it. Histograms become mytrack histograms (at most 512
bins), images image files in the run's ``files/media/images/``, as the SDK's own
media are stored. The event files themselves are saved with the run under
``tensorboard/`` with the "live" policy.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from mytrack_common.tensorboard import EventReader, TBEvent, TBHistogram, TBImage, TensorBoardMissing, is_event_file
from mytrack_service.store.base import FileRow, RunKey

logger = logging.getLogger("mytrack_service.apply.tensorboard")

# Raw records read from one file per cycle: bounds the memory of one batch.
MAX_RECORDS_PER_FILE = 2_000
MAX_BINS = 512  # as mytrack.Histogram
# Least time between two looks at a run's log directories (but for the drain at its exit).
POLL_INTERVAL = 0.25
# Event file names carry their creation time in whole seconds (`since` has more).
_NAME_TIME_SLACK = 1.0


@dataclass
class TensorBoardRows:
    """What one poll read: rows by step, media files written, event files to save."""

    rows: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: list[FileRow] = field(default_factory=list)
    saved: dict[str, str] = field(default_factory=dict)  # run file name -> event file path
    positions: dict[str, int] = field(default_factory=dict)  # event file -> records applied
    more: bool = False  # a file has more than was read
    warnings: list[str] = field(default_factory=list)


class TensorBoardFollower:
    """Follows the event files of one run; its readers are kept between cycles.

    Args:
        key: the run.
        files_dir: the run folder's ``files/``, where images are written.
    """

    def __init__(self, key: RunKey, files_dir: str) -> None:
        self.key = key
        self.files_dir = files_dir
        self._readers: dict[str, EventReader] = {}
        self._missing_reported = False
        self._broken: set[str] = set()  # files the reader failed on: not tried again
        self._last_poll = -math.inf

    def poll(self, logdirs: dict[str, dict[str, Any]], force: bool = False) -> TensorBoardRows:
        """Reads every event file of ``logdirs`` (the assembly's state) past its position;
        nothing if the last look was less than `POLL_INTERVAL` ago, unless ``force``."""
        out = TensorBoardRows()
        now = time.monotonic()
        if not force and now - self._last_poll < POLL_INTERVAL:
            return out
        self._last_poll = now
        for logdir, info in logdirs.items():
            applied: dict[str, int] = info.setdefault("files", {})
            for path in self._event_files(logdir, float(info.get("since", 0.0))):
                if path in self._broken:
                    continue
                if path not in applied and info.get("save", True):
                    out.saved[_saved_name(info.get("namespace", ""), path)] = path
                try:
                    reader = self._reader(path, applied.get(path, 0))
                    events = reader.read(MAX_RECORDS_PER_FILE)
                except TensorBoardMissing as exc:
                    if not self._missing_reported:
                        out.warnings.append(f"TensorBoard sync is off in the service: {exc}")
                        self._missing_reported = True
                    return out
                except OSError as exc:  # removed meanwhile, unreadable: tried again next cycle
                    logger.warning("reading %s failed: %s", path, exc)
                    self._readers.pop(path, None)
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad file must not stall the run
                    self._broken.add(path)
                    self._readers.pop(path, None)
                    out.warnings.append(f"TensorBoard event file {path} could not be read and is skipped: "
                                        f"{type(exc).__name__}: {exc}")
                    continue
                if reader.records != applied.get(path, 0):
                    out.positions[path] = reader.records
                    out.more |= reader.records - applied.get(path, 0) >= MAX_RECORDS_PER_FILE
                for event in events:
                    self._add(out, str(info.get("namespace", "")), event)
        return out

    def _reader(self, path: str, position: int) -> EventReader:
        """The open reader of ``path`` if it stands at ``position``, else a new one skipped there
        (after a reload from the store, or a restart)."""
        reader = self._readers.get(path)
        if reader is None or reader.records != position:
            reader = EventReader(path, skip=position)
            self._readers[path] = reader
        return reader

    @staticmethod
    def _event_files(logdir: str, since: float) -> list[str]:
        try:
            names = sorted(os.listdir(logdir))
        except OSError:
            return []  # not created yet, or gone
        return [os.path.join(logdir, name) for name in names
                if is_event_file(name) and _name_time(name) >= since - _NAME_TIME_SLACK]

    def _add(self, out: TensorBoardRows, namespace: str, event: TBEvent) -> None:
        key = f"{namespace}/{event.tag}" if namespace else event.tag
        row = out.rows.setdefault(event.step, {"global_step": event.step, "_timestamp": event.wall_time})
        row["_timestamp"] = max(row["_timestamp"], event.wall_time)
        if event.kind == "scalar":
            row[key] = event.value
        elif event.kind == "histogram" and isinstance(event.value, TBHistogram):
            row[key] = histogram(event.value)
        elif event.kind == "image" and isinstance(event.value, tuple):
            images = [self._image(out, key, event.step, image) for image in event.value]
            row[key] = images[0] if len(images) == 1 else images
        elif event.kind == "text":
            row[key] = event.value

    def _image(self, out: TensorBoardRows, key: str, step: int, image: TBImage) -> dict[str, Any]:
        data = image.encoded
        digest = hashlib.sha256(data).hexdigest()
        ext = "png" if data.startswith(b"\x89PNG") else "jpg" if data.startswith(b"\xff\xd8") else "gif"
        parts = [_segment(p) for p in key.split("/")]
        parts[-1] = f"{parts[-1]}_{step}_{digest[:20]}.{ext}"
        name = "/".join(["media", "images", *parts])
        target = os.path.join(self.files_dir, *name.split("/"))
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=os.path.dirname(target), prefix=".mytrack-")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(temp, target)
        out.files.append(FileRow(self.key, name, path=target, policy="now", pending=True))
        return {"_type": "image-file", "path": name, "sha256": digest, "size": len(data), "format": ext,
                "width": image.width, "height": image.height}


def histogram(value: TBHistogram) -> dict[str, Any]:
    """A TensorBoard histogram as a mytrack one: empty outer buckets cut (torch's default
    buckets span 1e-12 to 1e20), then at most `MAX_BINS` by merging neighbours."""
    counts = list(value.counts)
    bins = list(value.bins)
    first = next((i for i, c in enumerate(counts) if c), 0)
    last = next((i for i in range(len(counts) - 1, -1, -1) if counts[i]), len(counts) - 1)
    counts, bins = counts[first:last + 1], bins[first:last + 2]
    factor = math.ceil(len(counts) / MAX_BINS)
    if factor > 1:
        counts = [sum(counts[i:i + factor]) for i in range(0, len(counts), factor)]
        bins = bins[::factor] + ([bins[-1]] if (len(bins) - 1) % factor else [])
    return {"_type": "histogram", "values": [int(c) if c == int(c) else c for c in counts], "bins": bins}


def _saved_name(namespace: str, path: str) -> str:
    parts = [_segment(p) for p in namespace.split("/") if p]
    return "/".join(["tensorboard", *parts, os.path.basename(path)])


def _segment(part: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_.=+" else "_" for c in part)[:100]
    return safe if safe.strip(".") else "_" * max(1, len(safe))


def _name_time(name: str) -> float:
    """The creation time in ``events.out.tfevents.<time>.<host>...``; 0 if absent."""
    parts = name.split(".")
    try:
        return float(parts[parts.index("tfevents") + 1])
    except (ValueError, IndexError):
        return 0.0
