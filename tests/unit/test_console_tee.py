"""The tee process's hand-made Output encoding: it must parse as the generated classes say."""

from __future__ import annotations

from typing import Any

from mytrack._internal import encode, tee
from mytrack_proto import mytrack_pb2 as pb


def _encoder() -> Any:
    namespace: dict[str, Any] = {}
    exec(tee.ENCODER, namespace)  # the code the tee process runs, as it runs it
    return namespace["encode_lines"]


def test_tee_output_encoding_matches_the_protocol() -> None:
    """Lines encoded by the tee (unicode, long text, both streams) parse back identical as an Output message."""
    lines = [(1.5, "stdout", "hello \u2713"), (2.25, "stderr", "x" * 300), (3.0, "stdout", "")]
    payload = _encoder()(lines)
    parsed = pb.Output.FromString(payload)
    assert [(x.timestamp, x.stream, x.text) for x in parsed.lines] == lines


def test_payload_record_carries_seq_and_the_output_unchanged() -> None:
    """A record built around a tee payload is a normal Output record with its seq; on_build is called once."""
    payload = _encoder()([(1.0, "stdout", "a"), (2.0, "stderr", "b")])
    built: list[int] = []
    record = pb.Record.FromString(
        encode.output_payload_record(payload, lambda: built.append(1)).build(12345)
    )
    assert record.seq == 12345 and record.WhichOneof("kind") == "output"
    assert [(x.stream, x.text) for x in record.output.lines] == [("stdout", "a"), ("stderr", "b")]
    assert built == [1]


def test_helper_source_compiles() -> None:
    """The tee program (assembler source + encoder + loop) is valid Python on its own."""
    compile(tee.helper_source(), "<tee>", "exec")
