"""Builds serialized `Record`s; the only SDK module that touches record messages."""

from __future__ import annotations

import json
import sys
from array import array
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


def record_seq(payload: bytes) -> int:
    """The sequence number of a serialized record (the last one of a WAL, for sync)."""
    return int(pb.Record.FromString(payload).seq)


def columnar_keys(entry: LogEntry) -> tuple[str, ...] | None:
    """The keys of ``entry`` if it fits the columnar form (flat floats, no step/commit)."""
    data, step, commit, _ = entry
    if step is not None or commit is not None or not data:
        return None
    for value in data.values():
        if type(value) is not float:
            return None
    return tuple(data)


def log_batch(seq: int, entries: Sequence[LogEntry], keys: tuple[str, ...] | None = None) -> bytes:
    """One LogBatch record; columnar when ``keys`` (every entry's columnar_keys) is given."""
    if keys is None:
        batch = pb.LogBatch(json=_dumps(entries).encode(), count=len(entries))
    else:
        values = array("d", [v for entry in entries for v in entry[0].values()])
        timestamps = array("d", [entry[3] for entry in entries])
        if sys.byteorder == "big":
            values.byteswap()
            timestamps.byteswap()
        batch = pb.LogBatch(
            count=len(entries), keys=keys, values=values.tobytes(), timestamps=timestamps.tobytes()
        )
    return pb.Record(seq=seq, log=batch).SerializeToString()


class Control:
    """A queued record other than a log() call; built when its seq is known."""

    __slots__ = ("build",)

    def __init__(self, build: Callable[[int], bytes]) -> None:
        self.build = build


class SummaryNote:
    """Offline runs: a user summary change, for the sender's local summary (no record)."""

    __slots__ = ("update", "remove")

    def __init__(self, update: dict[str, Any], remove: Sequence[str]) -> None:
        self.update, self.remove = update, list(remove)


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


def tensorboard_record(logdir: str, namespace: str, since: float, save: bool) -> Control:
    message = pb.TensorBoardLogdir(logdir=logdir, namespace=namespace, since=since, save=save)

    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, tensorboard=message).SerializeToString()

    return Control(build)


def metric_record(definition: dict[str, Any]) -> Control:
    payload = dumps(definition)

    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, metric=pb.MetricDefinition(json=payload)).SerializeToString()

    return Control(build)


def files_record(entries: Sequence[tuple[str, str, str]]) -> Control:
    """Files saved with the run: (name in the run, path to read, policy)."""
    message = pb.Files(files=[pb.FileEntry(name=n, path=p, policy=c) for n, p, c in entries])

    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, files=message).SerializeToString()

    return Control(build)


def output_record(lines: Sequence[tuple[float, str, str]]) -> Control:
    """Console lines: (timestamp, "stdout" or "stderr", text without its newline)."""
    message = pb.Output(lines=[pb.OutputLine(timestamp=t, stream=s, text=x) for t, s, x in lines])

    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, output=message).SerializeToString()

    return Control(build)


def environment_record(metadata: dict[str, Any]) -> Control:
    """What the SDK learned of the process's environment (a JSON object)."""
    payload = dumps(metadata)

    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, environment=pb.Environment(json=payload)).SerializeToString()

    return Control(build)


def system_record(samples: list[dict[str, Any]]) -> Control:
    """System-metrics samples measured elsewhere (an import): ``_timestamp`` and ``system/...`` keys."""
    payload = dumps(samples)

    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, system=pb.SystemSamples(json=payload)).SerializeToString()

    return Control(build)


def alert_record(title: str, text: str, level: str, wait_duration: float, timestamp: float) -> Control:
    """run.alert(): the service stores it, rate-limits it per title and delivers it."""
    message = pb.Alert(title=title, text=text, level=level, wait_duration=wait_duration, timestamp=timestamp)

    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, alert=message).SerializeToString()

    return Control(build)


def artifact_record(action: str, payload: dict[str, Any], client_id: str) -> Control:
    """An artifact action ("log", "use", "upsert", "finish", "link"); its result is
    asked for by ``client_id`` (the ArtifactQuery RPC, kind "result")."""
    message = pb.ArtifactRecord(action=action, json=dumps(payload), client_id=client_id)

    def build(seq: int) -> bytes:
        return pb.Record(seq=seq, artifact=message).SerializeToString()

    return Control(build)


def _varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


# Record.output's key (length-delimited), for records whose Output message was
# serialized elsewhere (the console's tee process).
_OUTPUT_KEY = _varint(pb.Record.DESCRIPTOR.fields_by_name["output"].number << 3 | 2)


def output_payload_record(payload: bytes, on_build: Callable[[], None] | None = None) -> Control:
    """An Output record around an already serialized Output message (no re-encoding).

    ``on_build`` is called when the sender encodes it (flow control).
    """
    tail = _OUTPUT_KEY + _varint(len(payload)) + payload

    def build(seq: int) -> bytes:
        if on_build is not None:
            on_build()
        # Serialized messages concatenate: the seq field, then the output field.
        return pb.Record(seq=seq).SerializeToString() + tail

    return Control(build)
