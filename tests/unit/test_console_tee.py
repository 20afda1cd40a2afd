"""The tee process's hand-made Output encoding: it must parse as the generated classes say."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from typing import Any

import psutil

from mytrack._internal.transport import encode
from mytrack_common import tee
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


def _frames(fd: int) -> list[tuple[int, bytes]]:
    """Reads the tee's copy pipe up to its END frame: [(kind, payload)]."""
    buffer, frames = b"", []
    while True:
        data = os.read(fd, 65536)
        if not data:
            return frames
        buffer += data
        while len(buffer) >= tee.FRAME.size:
            kind, _, size = tee.FRAME.unpack_from(buffer)
            if len(buffer) < tee.FRAME.size + size:
                break
            frames.append((kind, buffer[tee.FRAME.size: tee.FRAME.size + size]))
            buffer = buffer[tee.FRAME.size + size:]
            if kind == tee.END:
                return frames


def _wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.02)
    return False


def test_tee_server_forks_a_tee_that_outlives_it(tmp_path: Path) -> None:
    """A tee forked by the server forwards and captures both streams; the server exits when its service's end of the
    watch pipe closes, the tee goes on until its writers close."""
    path = str(tmp_path / "tee.sock")
    listen = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listen.bind(path)
    listen.listen(8)
    server, watch = tee.start_server(listen)
    listen.close()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    seen_out_r, seen_out = os.pipe()  # what the "terminal" gets
    seen_err_r, seen_err = os.pipe()
    copy_r, copy_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    fds = (out_r, err_r, seen_out, seen_err, copy_w, ctl_r)
    try:
        pid = tee.hand_over(path, fds)
        assert pid is not None and psutil.Process(pid).ppid() == server.pid
        for fd in fds:
            os.close(fd)
        os.write(out_w, b"one\ntw")
        os.write(err_w, b"oops\n")
        assert os.read(seen_out_r, 100) == b"one\ntw"
        assert os.read(seen_err_r, 100) == b"oops\n"
        os.write(ctl_w, b"x")  # drain: lines so far, the partial one too, then END
        frames = _frames(copy_r)
        assert frames[-1][0] == tee.END
        lines = [(x.stream, x.text) for kind, payload in frames if kind == tee.OUTPUT
                 for x in pb.Output.FromString(payload).lines]
        assert sorted(lines) == [("stderr", "oops"), ("stdout", "one"), ("stdout", "tw")]

        os.close(watch)  # the service stopped
        server.wait(10)
        os.write(out_w, b"after the server\n")
        assert os.read(seen_out_r, 100) == b"after the server\n"
        os.close(out_w)
        os.close(err_w)
        assert _wait_gone(pid), "the tee did not exit when its writers closed"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_hand_over_without_a_server_is_none(tmp_path: Path) -> None:
    """No server on the path (none yet, or a dead service's socket file): None, so the caller starts its own tee."""
    assert tee.hand_over(str(tmp_path / "missing.sock"), (0, 1, 2, 0, 1, 2)) is None
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "stale.sock"))
    stale.close()  # the file stays, nobody listens
    assert tee.hand_over(str(tmp_path / "stale.sock"), (0, 1, 2, 0, 1, 2)) is None
