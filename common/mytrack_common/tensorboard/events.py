"""TensorBoard event files as typed records, read with the `tensorboard` package's reader.

`EventReader` keeps one file's loader open and returns what was appended since
the last `read()`, so a file that is still being written is followed without
reading it twice. `iter_events(path)` reads a whole file once.

The reader is TensorBoard's own (`EventFileLoader`), with its read-time migration
(`data_compat`, `dataclass_compat`): the legacy forms (`simple_value`,
`HistogramProto`, `Summary.Image`) that torch's `SummaryWriter` and tensorboardX
write arrive as the tensor summaries that TF2 writes, so one conversion serves all
three writers. A truncated last record (a writer in the middle of a write) is left
for the next `read()`, as TensorBoard itself does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

from mytrack_common.tensorboard.errors import TensorBoardMissing

__all__ = ["EventReader", "Kind", "TBEvent", "TBHistogram", "TBImage", "is_event_file", "iter_events"]

Kind = Literal["scalar", "histogram", "image", "text"]

# TensorBoard's plugin names for the kinds we convert; other plugins (graphs,
# hparams, audio, pr curves, meshes) are skipped.
_PLUGIN_KINDS: dict[str, Kind] = {
    "scalars": "scalar",
    "histograms": "histogram",
    "images": "image",
    "text": "text",
}


@dataclass(frozen=True)
class TBHistogram:
    """A histogram: ``len(bins) == len(counts) + 1`` bin edges, ascending."""

    bins: tuple[float, ...]
    counts: tuple[float, ...]


@dataclass(frozen=True)
class TBImage:
    """One image as the writer encoded it (PNG for torch and tensorboardX)."""

    width: int
    height: int
    encoded: bytes


@dataclass(frozen=True)
class TBEvent:
    """One value of one tag at one step.

    ``value`` is a float (scalar), a `TBHistogram`, a tuple of `TBImage`
    (an image summary may hold several, ``max_outputs``) or a str (text).
    """

    step: int
    wall_time: float
    tag: str
    kind: Kind
    value: float | TBHistogram | tuple[TBImage, ...] | str


def is_event_file(name: str) -> bool:
    """Whether a file name is a TensorBoard event file (``events.out.tfevents.*``)."""
    return "tfevents" in os.path.basename(name)


def iter_events(path: str | os.PathLike[str]) -> Iterator[TBEvent]:
    """Every event of a file, in file order, as far as it is written now."""
    yield from EventReader(path).read()


class EventReader:
    """Follows one event file: each `read()` returns the events added since the last.

    Args:
        path: the event file.
        skip: how many raw records to pass over first (`records` of an earlier
            reader of the same file), to go on where that one stopped. The records
            passed over are still migrated, so the tags' metadata is known.
    """

    def __init__(self, path: str | os.PathLike[str], skip: int = 0) -> None:
        try:
            from tensorboard.backend.event_processing import event_file_loader
        except ImportError as exc:  # the optional extra
            raise TensorBoardMissing() from exc
        self.path = os.fspath(path)
        self._loader: Any = event_file_loader.RawEventFileLoader(self.path)
        # What EventFileLoader keeps per file: each tag's first metadata.
        self._initial_metadata: dict[str, Any] = {}
        self._plugin_of_tag: dict[str, str] = {}
        # Raw records consumed so far: a position that survives this object.
        self.records = 0
        if skip:
            for _ in self._events(limit=skip):
                pass

    def read(self, limit: int | None = None) -> list[TBEvent]:
        """The events written since the last call (at most ``limit`` raw records' worth)."""
        return list(self._events(limit))

    def _events(self, limit: int | None) -> Iterator[TBEvent]:
        from tensorboard import data_compat, dataclass_compat
        from tensorboard.compat.proto import event_pb2

        # Raw records, migrated here as EventFileLoader.Load does, so that `records`
        # counts exactly the records converted.
        for n, record in enumerate(self._loader.Load()):
            self.records += 1
            legacy = data_compat.migrate_event(event_pb2.Event.FromString(record))
            for event in dataclass_compat.migrate_event(legacy, self._initial_metadata):
                yield from self._convert(event)
            if limit is not None and n + 1 >= limit:
                return

    def _convert(self, event: Any) -> Iterator[TBEvent]:
        if not event.HasField("summary"):
            return
        for value in event.summary.value:
            plugin = value.metadata.plugin_data.plugin_name
            if plugin:
                self._plugin_of_tag[value.tag] = plugin
            kind = _PLUGIN_KINDS.get(self._plugin_of_tag.get(value.tag, ""))
            if kind is None or not value.HasField("tensor"):
                continue
            converted = _value(kind, value.tensor)
            if converted is not None:
                yield TBEvent(int(event.step), float(event.wall_time), value.tag, kind, converted)


def _value(kind: Kind, tensor: Any) -> float | TBHistogram | tuple[TBImage, ...] | str | None:
    from tensorboard.util import tensor_util

    array = tensor_util.make_ndarray(tensor)
    if kind == "scalar":
        return float(array.reshape(-1)[0]) if array.size else None
    if kind == "histogram":
        # k x 3: (left edge, right edge, count) per bucket.
        if array.ndim != 2 or array.shape[1] != 3 or not len(array):
            return None
        bins = tuple(float(x) for x in array[:, 0]) + (float(array[-1, 1]),)
        return TBHistogram(bins, tuple(float(x) for x in array[:, 2]))
    if kind == "image":
        # [width, height, encoded image, ...] as strings.
        flat = array.reshape(-1)
        if len(flat) < 3:
            return None
        width, height = int(flat[0]), int(flat[1])
        return tuple(TBImage(width, height, bytes(image)) for image in flat[2:])
    flat = array.reshape(-1)  # text: a string tensor, one or more strings
    return "\n".join(x.decode("utf-8", "replace") if isinstance(x, bytes) else str(x) for x in flat)
