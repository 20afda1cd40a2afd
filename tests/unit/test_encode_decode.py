"""SDK encode -> service decode round trips (mytrack._internal.transport.encode, mytrack_service.apply.decode)."""

from __future__ import annotations

import math
import struct
from typing import Any

import pytest

from mytrack._internal.transport import encode
from mytrack_proto import mytrack_pb2 as pb
from mytrack_service.apply.decode import (
    BadCall,
    ConfigChange,
    DecodeError,
    ExitEvent,
    LogCall,
    LogColumns,
    MetricDefinition,
    PreemptingEvent,
    RunFieldsChange,
    SummaryChange,
    SystemEvent,
    decode,
    record_seq,
)

T = 1_700_000_000.125


def _same(a: Any, b: Any) -> bool:
    """Equality that treats NaN as equal to NaN and also compares exact types."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _roundtrip(entries: list[Any], keys: tuple[str, ...] | None) -> tuple[int, list[Any]]:
    return decode(encode.log_batch(42, entries, keys))


def test_general_form_round_trip() -> None:
    """A general LogBatch carries data, step, commit and timestamp of every call exactly."""
    entries = [
        ({"a": 1, "b": True, "c": "s", "d": None, "e": [1, 2.5, "x"], "n": {"x": {"y": 1}}},
         None, None, T),
        ({"a": 2}, 7, None, T + 1),
        ({"b": 0.5}, None, False, T + 2),
        ({"c": -1}, 9, True, T + 3),
        ({"unicode": "ñ→😀", "big": 2**62}, None, True, T + 4.5),
    ]
    seq, events = _roundtrip(entries, None)
    assert seq == 42
    assert events == [LogCall(d, s, c, t) for d, s, c, t in entries]
    assert all(_same(e.data, d) for e, (d, _, _, _) in zip(events, entries, strict=True))


def test_general_form_keeps_nan_and_inf() -> None:
    """NaN and +-inf survive the general (JSON) form, at top level and nested."""
    entries = [({"nan": math.nan, "inf": math.inf, "n": {"m": -math.inf}, "l": [math.nan]},
                3, None, T)]
    _, events = _roundtrip(entries, None)
    (call,) = events
    assert _same(call.data, entries[0][0])
    assert call.step == 3 and call.commit is None and call.timestamp == T


def test_columnar_form_round_trip() -> None:
    """A columnar LogBatch gives back each call's floats under its keys, step/commit None, exact timestamps."""
    entries = [
        ({"loss": 0.1 * i, "acc": 1.0 / (i + 1), "lr": 3e-4}, None, None, T + i * 0.001)
        for i in range(100)
    ]
    keys = encode.columnar_keys(entries[0])
    assert keys == ("loss", "acc", "lr")
    assert all(encode.columnar_keys(e) == keys for e in entries)
    record = pb.Record.FromString(encode.log_batch(5, entries, keys))
    assert record.log.json == b""
    assert list(record.log.keys) == ["loss", "acc", "lr"]
    assert record.log.count == 100
    assert len(record.log.values) == 100 * 3 * 8
    assert len(record.log.timestamps) == 100 * 8
    seq, (event,) = _roundtrip(entries, keys)
    assert seq == 42
    assert isinstance(event, LogColumns) and len(event) == 100
    calls = event.calls()
    assert calls == [LogCall(d, None, None, t) for d, _, _, t in entries]
    assert [list(c.data) for c in calls] == [["loss", "acc", "lr"]] * 100


def test_columnar_values_are_little_endian_float64() -> None:
    """The columnar values and timestamps are little-endian float64, row by row."""
    entries = [({"a": 1.5, "b": -2.0}, None, None, T), ({"a": 3.0, "b": 4.25}, None, None, T + 1)]
    record = pb.Record.FromString(encode.log_batch(1, entries, ("a", "b")))
    assert struct.unpack("<4d", record.log.values) == (1.5, -2.0, 3.0, 4.25)
    assert struct.unpack("<2d", record.log.timestamps) == (T, T + 1)


def test_columnar_form_keeps_nan_and_inf_bits() -> None:
    """NaN, +-inf, -0.0 and extreme floats survive the columnar form exactly."""
    values = [math.nan, math.inf, -math.inf, -0.0, 5e-324, 1.7976931348623157e308]
    entries = [({f"k{i}": v for i, v in enumerate(values)}, None, None, T)]
    keys = encode.columnar_keys(entries[0])
    assert keys is not None
    _, (event,) = _roundtrip(entries, keys)
    (call,) = event.calls()
    assert _same(call.data, entries[0][0])
    assert math.copysign(1.0, call.data["k3"]) == -1.0


def test_columnar_and_general_decode_identically() -> None:
    """The same flat-float calls decode to the same events through either form."""
    entries = [({"x": 0.5, "y": math.inf}, None, None, T), ({"x": 1.5, "y": -1.0}, None, None, T + 1)]
    _, (block,) = _roundtrip(entries, ("x", "y"))
    columnar = block.calls()
    _, general = _roundtrip(entries, None)
    assert len(columnar) == len(general) == 2
    for a, b in zip(columnar, general, strict=True):
        assert _same(a.data, b.data)
        assert (a.step, a.commit, a.timestamp) == (b.step, b.commit, b.timestamp)


@pytest.mark.parametrize(
    "entry",
    [
        ({"a": 1.0, "b": 1}, None, None, T),
        ({"a": True}, None, None, T),
        ({"a": 1.0, "n": {"b": 1.0}}, None, None, T),
        ({"a": [1.0]}, None, None, T),
        ({"a": "1.0"}, None, None, T),
        ({"a": None}, None, None, T),
        ({"a": 1.0}, 3, None, T),
        ({"a": 1.0}, 0, None, T),
        ({"a": 1.0}, None, False, T),
        ({"a": 1.0}, None, True, T),
        ({}, None, None, T),
    ],
    ids=["int", "bool", "nested", "list", "str", "none", "step", "step0", "commit_false",
         "commit_true", "empty"],
)
def test_columnar_keys_none_when_not_flat_floats(entry: Any) -> None:
    """columnar_keys is None for ints, bools, nested values, other types, a step, a commit flag or no keys."""
    assert encode.columnar_keys(entry) is None


def test_empty_log_call_round_trips() -> None:
    """log({}) (which commits a step) survives encode/decode as an empty LogCall."""
    entries = [({}, None, None, T), ({}, None, None, T + 1)]
    keys = encode.columnar_keys(entries[0])
    _, events = _roundtrip(entries, keys)
    assert events == [LogCall({}, None, None, T), LogCall({}, None, None, T + 1)]


def test_control_records_round_trip() -> None:
    """Config, summary, run update, metric, preempting and exit records decode to their events."""
    cases = [
        (encode.config_record({"lr": 0.1, "n": {"d": math.inf}}, ["old"]),
         ConfigChange({"lr": 0.1, "n": {"d": math.inf}}, ["old"])),
        (encode.summary_record({"best": 0.9}, ["x", "y"]), SummaryChange({"best": 0.9}, ["x", "y"])),
        (encode.run_update_record(name="n", notes="multi\nline", tags=["a", "b"]),
         RunFieldsChange({"name": "n", "notes": "multi\nline", "tags": ["a", "b"]})),
        (encode.run_update_record(tags=[]), RunFieldsChange({"tags": []})),
        (encode.run_update_record(group=""), RunFieldsChange({"group": ""})),
        (encode.metric_record({"name": "loss", "summary": "min"}),
         MetricDefinition({"name": "loss", "summary": "min"})),
        (encode.preempting_record(T), PreemptingEvent(T)),
        (encode.exit_record(0, "", T), ExitEvent(0, "", T)),
        (encode.exit_record(-9, "killed", T + 1), ExitEvent(-9, "killed", T + 1)),
    ]
    for seq, (control, expected) in enumerate(cases, start=10):
        payload = control.build(seq)
        assert record_seq(payload) == seq
        assert decode(payload) == (seq, [expected])


def test_garbage_payload_raises_decode_error() -> None:
    """Bytes that are not a Record raise mytrack_service.apply.decode.DecodeError (which the applier skips)."""
    with pytest.raises(DecodeError):
        decode(b"\xff\xff\xff\xff not protobuf")


def test_record_without_kind_raises_decode_error() -> None:
    """A Record with no kind set (e.g. from a newer SDK) raises DecodeError naming the problem."""
    with pytest.raises(DecodeError, match="unknown record kind"):
        decode(pb.Record(seq=1).SerializeToString())


def test_malformed_general_batch_raises_decode_error() -> None:
    """A general LogBatch whose JSON is not a list raises DecodeError (the whole record)."""
    for text in (b"{not json", b"\xff", b"{}", b"3"):
        with pytest.raises(DecodeError):
            decode(pb.Record(seq=1, log=pb.LogBatch(json=text, count=1)).SerializeToString())


def test_malformed_calls_of_a_general_batch_decode_to_bad_calls_beside_the_good_ones() -> None:
    """Each call is checked alone: a call that is not 4 items, or whose data, step, commit
    or timestamp has the wrong type, is a BadCall with its index; the others decode."""
    text = b'[[{"a":1},null,null,1.0],1,[{},null,null],[{"a":2},"s",null,1.0],[{"b":3},4,true,2]]'
    _, events = decode(pb.Record(seq=1, log=pb.LogBatch(json=text, count=5)).SerializeToString())
    assert events[0] == LogCall({"a": 1}, None, None, 1.0)
    assert [e.index for e in events if isinstance(e, BadCall)] == [1, 2, 3]
    assert "step is not an integer" in str(events[3])
    assert events[4] == LogCall({"b": 3}, 4, True, 2.0)


def test_columnar_size_mismatch_raises_decode_error() -> None:
    """A columnar batch whose value count does not match count x keys raises DecodeError."""
    batch = pb.LogBatch(count=2, keys=["a"], values=struct.pack("<d", 1.0),
                        timestamps=struct.pack("<2d", T, T))
    with pytest.raises(DecodeError, match="sizes"):
        decode(pb.Record(seq=1, log=batch).SerializeToString())


def test_system_samples_round_trip_and_bad_ones_are_refused() -> None:
    """Samples carried by a record decode as sent; keys outside system/ or no _timestamp are refused."""
    samples = [{"_timestamp": T, "system/cpu": 12.5, "system/wandb.disk.vda.in": 0.25}]
    assert decode(encode.system_record(samples).build(4)) == (4, [SystemEvent(samples)])
    for bad in ([{"system/cpu": 1.0}], [{"_timestamp": T, "loss": 1.0}], {"_timestamp": T}):
        with pytest.raises(DecodeError):
            decode(pb.Record(seq=1, system=pb.SystemSamples(json=encode.dumps(bad))).SerializeToString())
