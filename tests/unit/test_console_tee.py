"""The console tee (mytrack_common.tee): its hand-made Output encoding, its command line, its server."""

from __future__ import annotations

import ast
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

import mytrack_common
from mytrack._internal.transport import encode
from mytrack_common.tee import frames, launch
from mytrack_proto import mytrack_pb2 as pb


def test_tee_output_encoding_matches_the_protocol() -> None:
    """Lines encoded by the tee (unicode, long text, both streams) parse back identical as an Output message."""
    lines = [(1.5, "stdout", "hello \u2713"), (2.25, "stderr", "x" * 300), (3.0, "stdout", "")]
    payload = frames.encode_lines(lines)
    parsed = pb.Output.FromString(payload)
    assert [(x.timestamp, x.stream, x.text) for x in parsed.lines] == lines


def test_payload_record_carries_seq_and_the_output_unchanged() -> None:
    """A record built around a tee payload is a normal Output record with its seq; on_build is called once."""
    payload = frames.encode_lines([(1.0, "stdout", "a"), (2.0, "stderr", "b")])
    built: list[int] = []
    record = pb.Record.FromString(
        encode.output_payload_record(payload, lambda: built.append(1)).build(12345)
    )
    assert record.seq == 12345 and record.WhichOneof("kind") == "output"
    assert [(x.stream, x.text) for x in record.output.lines] == [("stdout", "a"), ("stderr", "b")]
    assert built == [1]


def _frames(fd: int) -> list[tuple[int, bytes]]:
    """Reads the tee's copy pipe up to its END frame: [(kind, payload)]."""
    buffer, found = b"", []
    while True:
        data = os.read(fd, 65536)
        if not data:
            return found
        buffer += data
        while len(buffer) >= frames.FRAME.size:
            kind, _, size = frames.FRAME.unpack_from(buffer)
            if len(buffer) < frames.FRAME.size + size:
                break
            found.append((kind, buffer[frames.FRAME.size: frames.FRAME.size + size]))
            buffer = buffer[frames.FRAME.size + size:]
            if kind == frames.END:
                return found


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
    server, watch = launch.start_server(listen)
    listen.close()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    seen_out_r, seen_out = os.pipe()  # what the "terminal" gets
    seen_err_r, seen_err = os.pipe()
    copy_r, copy_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    fds = (out_r, err_r, seen_out, seen_err, copy_w, ctl_r)
    try:
        pid = launch.hand_over(path, fds)
        assert pid is not None and psutil.Process(pid).ppid() == server.pid
        cmdline = _cmdline(server.pid)
        assert len(cmdline) < 200 and launch.is_tee(cmdline.decode().split("\0"))
        assert b"\0serve\0" in cmdline
        for fd in fds:
            os.close(fd)
        os.write(out_w, b"one\ntw")
        os.write(err_w, b"oops\n")
        assert os.read(seen_out_r, 100) == b"one\ntw"
        assert os.read(seen_err_r, 100) == b"oops\n"
        os.write(ctl_w, b"x")  # drain: lines so far, the partial one too, then END
        copied = _frames(copy_r)
        assert copied[-1][0] == frames.END
        lines = [(x.stream, x.text) for kind, payload in copied if kind == frames.OUTPUT
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
    assert launch.hand_over(str(tmp_path / "missing.sock"), (0, 1, 2, 0, 1, 2)) is None
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(tmp_path / "stale.sock"))
    stale.close()  # the file stays, nobody listens
    assert launch.hand_over(str(tmp_path / "stale.sock"), (0, 1, 2, 0, 1, 2)) is None


def _pipes() -> tuple[tuple[int, ...], dict[str, int]]:
    """A tee's six descriptors (pipes) and our ends of them, by name."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    seen_out_r, seen_out = os.pipe()
    seen_err_r, seen_err = os.pipe()
    copy_r, copy_w = os.pipe()
    ctl_r, ctl_w = os.pipe()
    ours = {"out": out_w, "err": err_w, "seen_out": seen_out_r, "seen_err": seen_err_r,
            "copy": copy_r, "ctl": ctl_w}
    return (out_r, err_r, seen_out, seen_err, copy_w, ctl_r), ours


def _cmdline(pid: int, timeout: float = 10.0) -> bytes:
    """/proc/PID/cmdline, once the new program's (it reads empty while the exec completes)."""
    deadline = time.monotonic() + timeout
    while not (cmdline := Path(f"/proc/{pid}/cmdline").read_bytes()):
        assert time.monotonic() < deadline, f"no command line for {pid}"
        time.sleep(0.01)
    return cmdline


def test_a_started_tee_runs_the_module_by_name_with_a_short_command_line() -> None:
    """A tee the program starts itself shows `python ... -m mytrack_common.tee FDS` (under 200 characters in
    /proc/PID/cmdline), forwards and captures both streams, and exits when its writers close."""
    fds, ours = _pipes()
    process = launch.spawn(fds)
    assert process is not None
    for fd in fds:
        os.close(fd)
    try:
        cmdline = _cmdline(process.pid)
        assert len(cmdline) < 200, cmdline
        argv = cmdline.decode().split("\0")[:-1]
        assert argv[argv.index("-m") + 1] == "mytrack_common.tee" and launch.is_tee(argv)
        assert argv[-6:] == [str(fd) for fd in fds]
        os.write(ours["out"], "día\npartial".encode())
        os.write(ours["err"], b"oops\n")
        assert os.read(ours["seen_out"], 100) == "día\npartial".encode()
        assert os.read(ours["seen_err"], 100) == b"oops\n"
        os.write(ours["ctl"], b"x")
        copied = _frames(ours["copy"])
        assert copied[-1][0] == frames.END
        lines = [(x.stream, x.text) for kind, payload in copied if kind == frames.OUTPUT
                 for x in pb.Output.FromString(payload).lines]
        assert sorted(lines) == [("stderr", "oops"), ("stdout", "día"), ("stdout", "partial")]
        os.write(ours["out"], b"after the drain\n")  # forwarded, no longer captured
        assert os.read(ours["seen_out"], 100) == b"after the drain\n"
        os.close(ours.pop("out"))
        os.close(ours.pop("err"))
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for fd in ours.values():
            os.close(fd)


_SPAWN_ONE = """
import os, sys
from mytrack_common.tee import launch
out_r, out_w = os.pipe(); err_r, err_w = os.pipe(); copy_r, copy_w = os.pipe(); ctl_r, ctl_w = os.pipe()
fds = (out_r, err_r, 1, 2, copy_w, ctl_r)
process = launch.spawn(fds)
for fd in (out_r, err_r, copy_w, ctl_r, out_w, err_w):
    os.close(fd)
sys.exit(process.wait(30))
"""


@pytest.mark.parametrize("dont_write", [True, False])
def test_a_tee_from_sources_only_caches_its_bytecode(tmp_path: Path, dont_write: bool) -> None:
    """From a source tree without bytecode, the tee's modules are compiled once and cached: beside the sources when
    Python may write there, else (PYTHONDONTWRITEBYTECODE) in mytrack's private cache, never beside the sources."""
    source = tmp_path / "src"
    shutil.copytree(Path(mytrack_common.__file__).parent, source / "mytrack_common",
                    ignore=shutil.ignore_patterns("__pycache__"))
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(PYTHONPATH=str(source), XDG_CACHE_HOME=str(tmp_path / "cache"))
    if dont_write:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(_SPAWN_ONE)], env=env,
                            capture_output=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()
    beside = {p.name.split(".")[0] for p in (source / "mytrack_common").rglob("*.pyc")}
    cached = {p.name.split(".")[0] for p in (tmp_path / "cache").rglob("mytrack_common/**/*.pyc")}
    tee_modules = {"__init__", "__main__", "loop", "frames", "lines"}
    if dont_write:
        assert beside == set() and tee_modules <= cached
        mode = (tmp_path / "cache" / "mytrack" / "bytecode").stat().st_mode
        assert mode & 0o077 == 0, oct(mode)
    else:
        assert tee_modules <= beside and cached == set()


def test_a_tee_takes_the_standard_library_before_its_path_entry(tmp_path: Path) -> None:
    """Installed, the tee's one path entry is site-packages: a module there named like a standard one (an old
    backport) does not replace the standard library's in the tee."""
    source = tmp_path / "site-packages"
    shutil.copytree(Path(mytrack_common.__file__).parent, source / "mytrack_common",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("select", "struct", "codecs", "signal"):
        (source / f"{name}.py").write_text(f"raise ImportError('the stray {name}.py was imported')\n")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PYTHON")}
    env.update(XDG_CACHE_HOME=str(tmp_path / "cache"))
    # The program itself has site-packages behind the standard library, as usual.
    code = f"import sys; sys.path.append({str(source)!r})\n" + textwrap.dedent(_SPAWN_ONE)
    result = subprocess.run([sys.executable, "-S", "-c", code], env=env, capture_output=True,
                            timeout=60, check=False)
    assert result.returncode == 0, result.stderr.decode()


def test_the_tee_program_imports_only_the_standard_library_and_its_own_modules() -> None:
    """What runs in the tee (its package but the launcher, mytrack_common's __init__, lines) imports the standard
    library and those modules alone: nothing costly at its start."""
    package = Path(mytrack_common.__file__).parent
    tee_side = [package / "__init__.py", package / "lines.py",
                *(p for p in (package / "tee").glob("*.py") if p.name != "launch.py")]
    allowed = {"mytrack_common", "mytrack_common.lines", "mytrack_common.tee",
               *(f"mytrack_common.tee.{p.stem}" for p in tee_side if p.parent.name == "tee")}
    for path in tee_side:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert (name.split(".")[0] in sys.stdlib_module_names or name == "__future__"
                        or name in allowed), f"{path.name} imports {name}"
