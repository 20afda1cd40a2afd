"""Builds serialized `Record`s; the only SDK module that touches record messages."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from mytrack_proto import mytrack_pb2 as pb

# A queued log() call: (data, step, commit, timestamp).
LogEntry = tuple[dict[str, Any], "int | None", "bool | None", float]

_dumps = json.JSONEncoder(
    separators=(",", ":"), allow_nan=True, check_circular=False
).encode


def dumps(value: Any) -> bytes:
    """JSON with NaN/Infinity kept (values were validated by the caller)."""
    return _dumps(value).encode()


def log_batch(seq: int, entries: Sequence[LogEntry]) -> bytes:
    payload = _dumps(entries).encode()
    return pb.Record(seq=seq, log=pb.LogBatch(json=payload, count=len(entries))).SerializeToString()


class Control:
    """A queued record other than a log() call; built when its seq is known."""

    __slots__ = ("build",)

    def __init__(self, build: Callable[[int], bytes]) -> None:
        self.build = build


def exit_record(exit_code: int, state: str, timestamp: float) -> Control:
    def build(seq: int) -> bytes:
        record = pb.Record(seq=seq, exit=pb.Exit(exit_code=exit_code, state=state, timestamp=timestamp))
        return record.SerializeToString()

    return Control(build)


def config_record(update: dict[str, Any], remove: Sequence[str] = ()) -> Control:
    payload = dumps(update)

    def build(seq: int) -> bytes:
        message = pb.ConfigUpdate(update_json=payload, remove=list(remove))
        return pb.Record(seq=seq, config=message).SerializeToString()

    return Control(build)


def summary_record(update: dict[str, Any], remove: Sequence[str] = ()) -> Control:
    payload = dumps(update)

    def build(seq: int) -> bytes:
        message = pb.SummaryUpdate(update_json=payload, remove=list(remove))
        return pb.Record(seq=seq, summary=message).SerializeToString()

    return Control(build)


def run_update_record(**fields: Any) -> Control:
    tags = fields.pop("tags", None)
    message = pb.RunUpdate(**fields)
    if tags is not None:
        message.set_tags = True
        message.tags.extend(tags)

    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, run_update=message).SerializeToString()

    return Control(build)


def preempting_record(timestamp: float) -> Control:
    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, preempting=pb.Preempting(timestamp=timestamp)).SerializeToString()

    return Control(build)


def metric_record(definition: dict[str, Any]) -> Control:
    payload = dumps(definition)

    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, metric=pb.MetricDefinition(json=payload)).SerializeToString()

    return Control(build)
