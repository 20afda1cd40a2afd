"""The SDK's service client: protobuf quarantined in it, gRPC imported without touching the environment."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from mytrack._internal.transport.client import parse_open_run, serialize_open_run
from mytrack._internal.transport.service_types import OpenRun, RunKey

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "sdk" / "mytrack"
# The only SDK modules that may touch message classes (STYLE.md, item 4).
PROTOBUF_EDGE = {SDK / "_internal" / "transport" / "client.py", SDK / "_internal" / "transport" / "encode.py"}


def _imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_only_the_client_and_the_encoder_import_protobuf_messages() -> None:
    """No SDK module outside transport/client.py and transport/encode.py imports mytrack_pb2 or names it."""
    offenders = []
    sources = sorted(SDK.rglob("*.py"))
    assert len(sources) > 40  # the walk found the SDK
    for path in sources:
        if path in PROTOBUF_EDGE:
            continue
        imported = _imported_modules(path)
        if any("mytrack_pb2" in name or name.startswith("grpc") for name in imported):
            offenders.append(str(path.relative_to(REPO)))
        elif "mytrack_pb2" in path.read_text():  # importlib, __import__, a string
            offenders.append(str(path.relative_to(REPO)))
    assert offenders == []
    assert all("mytrack_proto.mytrack_pb2" in _imported_modules(p) for p in PROTOBUF_EDGE)


def test_open_file_round_trip_keeps_every_field() -> None:
    """A run folder's .open file reads back as the OpenRun that was written, unset stats interval included."""
    request = OpenRun(
        run=RunKey("ent", "proj", "abc123"), writer_id="w1", name="n", group="g", job_type="j",
        tags=("a", "b"), notes="x", config_json=b'{"lr":0.1}', resume="allow", run_dir="/r",
        start_time=12.5, pid=42, host="h", sweep_id="s", mode="offline", adopt_wal="/r/w.wal",
        shared=True, primary=True, label="rank0", stats_interval=0.0,
    )
    assert parse_open_run(serialize_open_run(request)) == request
    unset = OpenRun(run=RunKey("e", "p", "r"), writer_id="w2")
    assert parse_open_run(serialize_open_run(unset)).stats_interval is None
    assert parse_open_run(serialize_open_run(unset)) == unset


# A call waits inside gRPC (wait_for_ready on a socket nobody serves) while the
# process forks: with gRPC's fork support on, its core logs that it skips its
# fork handlers; off, it says nothing.
_FORK_PROBE = """
    import os, sys, threading
    if sys.argv[1] == "grpc-first":
        import grpc  # the program's own import, before mytrack's: gRPC's defaults apply
    import mytrack
    from mytrack._internal.transport.client import ServiceClient
    from mytrack_common.address import service_address
    print("grpc imported with mytrack:", "grpc" in sys.modules, flush=True)
    print("after import mytrack:", os.environ.get("GRPC_ENABLE_FORK_SUPPORT"), flush=True)
    client = ServiceClient(service_address(sys.argv[2]))
    print("after the channel:", os.environ.get("GRPC_ENABLE_FORK_SUPPORT"), flush=True)
    call = client._channel.unary_unary("/mytrack.Tracker/Nothing")

    calling = [threading.Event() for _ in range(2)]

    def wait(entered: threading.Event) -> None:
        entered.set()
        try:
            call(b"", timeout=2.0, wait_for_ready=True)
        except Exception:
            pass

    threads = [threading.Thread(target=wait, args=(e,)) for e in calling]
    for t in threads:
        t.start()
    for entered in calling:
        entered.wait(10)
    for _ in range(20):  # some of these land while the calls wait inside gRPC
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    for t in threads:
        t.join()
    client.close()
"""


def _fork_probe(mode: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_FORK_PROBE), mode, str(home)],
        capture_output=True, text=True, timeout=60, env=env, check=True,
    )


def test_grpc_fork_support_is_off_and_the_environment_untouched(tmp_path: Path) -> None:
    """mytrack imports grpc with its fork support off yet leaves GRPC_ENABLE_FORK_SUPPORT out of
    the program's environment; forks with a call in flight draw no fork-handler message from
    gRPC; a grpc the program imported first keeps gRPC's own default (which does log), so the
    check can see it."""
    ours = _fork_probe("mytrack-first", tmp_path)
    assert "grpc imported with mytrack: True" in ours.stdout  # at import, not in init()
    assert "after import mytrack: None" in ours.stdout
    assert "after the channel: None" in ours.stdout
    assert "fork" not in ours.stderr, ours.stderr
    theirs = _fork_probe("grpc-first", tmp_path)
    assert "skipping fork() handlers" in theirs.stderr, theirs.stderr
