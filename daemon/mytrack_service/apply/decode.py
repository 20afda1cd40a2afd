"""Decodes WAL payloads (serialized `Record`s) into plain events.

The only service module that reads record messages; everything after it
(runstate, the store) sees the dataclasses below.
"""

from __future__ import annotations

import json
import re
import sys
from array import array
from dataclasses import dataclass, field
from typing import Any

from google.protobuf.message import DecodeError as ProtobufDecodeError

from mytrack_proto import mytrack_pb2 as pb


@dataclass
class LogCall:
    data: dict[str, Any]
    step: int | None
    commit: bool | None
    timestamp: float


@dataclass
class BadCall:
    """One log() call of a JSON LogBatch that cannot be applied; the record's other calls can.

    ``index`` is the call's place in its record, ``entry`` its JSON text (kept aside).
    """

    index: int
    error: str
    entry: bytes


@dataclass
class LogColumns:
    """A columnar LogBatch: ``count`` calls of the same float keys, no step, no commit.

    ``values`` is the wire's row-major little-endian float64s, kept as bytes:
    the assembly turns them into rows only where it must (`calls`).
    """

    keys: tuple[str, ...]
    values: bytes
    timestamps: list[float]

    def __len__(self) -> int:
        return len(self.timestamps)

    def calls(self) -> list[LogCall]:
        values = array("d", self.values)
        if sys.byteorder == "big":
            values.byteswap()
        flat, width, keys = values.tolist(), len(self.keys), self.keys
        return [
            LogCall(dict(zip(keys, flat[i * width:(i + 1) * width], strict=True)), None, None, ts)
            for i, ts in enumerate(self.timestamps)
        ]


@dataclass
class ConfigChange:
    update: dict[str, Any]
    remove: list[str]


@dataclass
class SummaryChange:
    update: dict[str, Any]
    remove: list[str]


@dataclass
class RunFieldsChange:
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass
class MetricDefinition:
    options: dict[str, Any]


@dataclass
class ExitEvent:
    exit_code: int | None  # None: unknown (the process crashed)
    state: str
    timestamp: float


@dataclass
class PreemptingEvent:
    timestamp: float


@dataclass
class TensorBoardEvent:
    """A TensorBoard log directory to read into the run (see apply/tensorboard.py)."""

    logdir: str
    namespace: str
    since: float
    save: bool


@dataclass
class SavedFile:
    name: str
    path: str
    policy: str


@dataclass
class FilesEvent:
    files: list[SavedFile]


@dataclass
class OutputEvent:
    lines: list[tuple[float, str, str]]  # (timestamp, stream, text)


@dataclass
class EnvironmentEvent:
    metadata: dict[str, Any]


@dataclass
class AlertEvent:
    title: str
    text: str
    level: str  # "INFO", "WARN" or "ERROR"
    wait_duration: float  # seconds before another alert with this title is sent
    timestamp: float  # client clock: replaying the WAL decides the same way


@dataclass
class SystemEvent:
    samples: list[dict[str, Any]]  # each with _timestamp and system/... keys (measured elsewhere)


@dataclass
class ArtifactEvent:
    action: str  # "log", "use", "upsert", "finish" or "link"
    data: dict[str, Any]  # the artifact as the SDK's artifacts module wrote it
    client_id: str


Event = (
    LogCall | BadCall | LogColumns | ConfigChange | SummaryChange | RunFieldsChange | MetricDefinition
    | ExitEvent | PreemptingEvent | FilesEvent | OutputEvent | EnvironmentEvent | AlertEvent
    | ArtifactEvent | TensorBoardEvent | SystemEvent
)


class DecodeError(ValueError):
    """A record that cannot be understood (corrupt or from a newer SDK)."""


def record_seq(payload: bytes) -> int:
    return int(pb.Record.FromString(payload).seq)


def decode(payload: bytes) -> tuple[int, list[Event]]:
    """Returns (seq, events) of one serialized record."""
    try:
        record = pb.Record.FromString(payload)
        return record.seq, _events(record)
    except (ValueError, TypeError, KeyError, RecursionError, ProtobufDecodeError) as exc:
        raise DecodeError(f"undecodable record: {exc}") from exc


def _events(record: pb.Record) -> list[Event]:
    kind = record.WhichOneof("kind")
    if kind == "log":
        return _log_calls(record.log)
    if kind == "config":
        return [ConfigChange(_obj(record.config.update_json), list(record.config.remove))]
    if kind == "summary":
        return [SummaryChange(_obj(record.summary.update_json), list(record.summary.remove))]
    if kind == "run_update":
        return [RunFieldsChange(_run_fields(record.run_update))]
    if kind == "metric":
        return [MetricDefinition(_obj(record.metric.json))]
    if kind == "exit":
        e = record.exit
        return [ExitEvent(e.exit_code, e.state, e.timestamp)]
    if kind == "preempting":
        return [PreemptingEvent(record.preempting.timestamp)]
    if kind == "output":
        return [OutputEvent([(x.timestamp, x.stream, x.text) for x in record.output.lines])]
    if kind == "environment":
        return [EnvironmentEvent(_obj(record.environment.json))]
    if kind == "files":
        return [FilesEvent([SavedFile(f.name, f.path, f.policy) for f in record.files.files])]
    if kind == "alert":
        alert = record.alert
        return [AlertEvent(alert.title, alert.text, alert.level or "INFO", max(0.0, alert.wait_duration),
                           alert.timestamp)]
    if kind == "artifact":
        a = record.artifact
        return [ArtifactEvent(a.action, _obj(a.json), a.client_id)]
    if kind == "system":
        return [SystemEvent(_samples(record.system.json))]
    if kind == "tensorboard":
        tb = record.tensorboard
        return [TensorBoardEvent(tb.logdir, tb.namespace, tb.since, tb.save)]
    raise DecodeError(f"unknown record kind {kind!r}")


def _samples(payload: bytes) -> list[dict[str, Any]]:
    samples = json.loads(payload) if payload else []
    if not isinstance(samples, list) or not all(
        isinstance(s, dict) and isinstance(s.get("_timestamp"), int | float) for s in samples
    ):
        raise DecodeError("system samples must be a list of objects with a numeric _timestamp")
    for sample in samples:
        stray = [k for k in sample if k != "_timestamp" and not str(k).startswith("system/")]
        if stray:
            raise DecodeError(f"system sample keys must start with 'system/', got {stray[:3]}")
    return samples


def _log_calls(batch: pb.LogBatch) -> list[Event]:
    if not batch.keys:
        entries = json.loads(batch.json)
        if not isinstance(entries, list):
            raise DecodeError("a LogBatch's JSON is not a list of calls")
        # Text is checked only when the JSON escapes a surrogate or NUL: nothing else
        # can decode to text the store refuses (and most batches escape neither).
        check = bool(_SURROGATE_ESCAPE.search(batch.json)) or b"\\u0000" in batch.json
        return [_log_call(i, entry, check) for i, entry in enumerate(entries)]
    timestamps = array("d", batch.timestamps)
    if sys.byteorder == "big":
        timestamps.byteswap()
    if len(batch.values) != 8 * len(batch.keys) * batch.count or len(timestamps) != batch.count:
        raise DecodeError("columnar LogBatch sizes do not match its count")
    return [LogColumns(tuple(batch.keys), batch.values, timestamps.tolist())]


def _log_call(index: int, entry: Any, check_text: bool) -> LogCall | BadCall:
    """One call of a JSON LogBatch, checked alone: a bad call never costs the others."""
    try:
        data, step, commit, timestamp = entry
        if not isinstance(data, dict):
            raise DecodeError("its data is not a JSON object")
        if not (step is None or (isinstance(step, int) and not isinstance(step, bool))):
            raise DecodeError(f"its step is not an integer: {step!r}"[:200])
        if not (commit is None or isinstance(commit, bool)):
            raise DecodeError(f"its commit is not a boolean: {commit!r}"[:200])
        if isinstance(timestamp, bool) or not isinstance(timestamp, (int, float)):
            raise DecodeError(f"its timestamp is not a number: {timestamp!r}"[:200])
        if check_text:
            _check_text(data, keys_without_nul=True)
    except (DecodeError, ValueError, TypeError) as exc:
        error = str(exc) if isinstance(exc, DecodeError) else f"malformed call: {exc}"
        return BadCall(index, f"log() call {index} of the record: {error}", _entry_text(entry))
    return LogCall(data, step, commit, float(timestamp))


def _entry_text(entry: Any) -> bytes:
    """The call as JSON, lone surrogates escaped, for the quarantine file."""
    try:
        return json.dumps(entry, allow_nan=True).encode()
    except (ValueError, TypeError, RecursionError):
        return repr(entry).encode("utf-8", "backslashreplace")


def _obj(data: bytes) -> dict[str, Any]:
    value = _loads(data) if data else {}
    if not isinstance(value, dict):
        raise DecodeError("expected a JSON object")
    return value


# A UTF-16 surrogate escape in JSON: only then can a decoded string be one
# that UTF-8 cannot encode (a lone surrogate), which the store would refuse on
# every try. Paired escapes (an emoji) decode to one valid code point.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _loads(data: bytes) -> Any:
    value = json.loads(data)
    if _SURROGATE_ESCAPE.search(data):
        _check_text(value)
    return value


def _check_text(value: Any, keys_without_nul: bool = False) -> None:
    """Raises DecodeError for a key or string that is not valid Unicode (iterative: any depth),
    and with ``keys_without_nul`` for a key holding NUL (PostgreSQL keeps none in a name)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if keys_without_nul:
                for key in item:
                    if "\x00" in key:
                        raise DecodeError(f"a key holds NUL (\\x00): {key[:80]!r}")
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, str) and not item.isascii():
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise DecodeError(f"a key or string is not valid Unicode text: {item[:80]!r}") from None


def _run_fields(update: pb.RunUpdate) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in ("name", "notes", "group", "job_type"):
        if update.HasField(name):
            fields[name] = getattr(update, name)
    if update.set_tags:
        fields["tags"] = list(update.tags)
    return fields
