"""``mytrack-service start|stop|status``."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import grpc

from mytrack_common.address import GRPC_OPTIONS, ServiceAddress, ensure_private_dir, service_address
from mytrack_proto import mytrack_pb2 as pb
from mytrack_proto import mytrack_pb2_grpc as pb_grpc
from mytrack_service.settings import ServiceSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mytrack-service", description=__doc__)
    parser.add_argument("--home", help="service home (default: $MYTRACK_DIR or ~/.mytrack)")
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", help="run the service (foreground unless --detach)")
    start.add_argument("--home", dest="sub_home", help=argparse.SUPPRESS)
    start.add_argument("--detach", action="store_true", help="run in the background")
    start.add_argument("--no-wait", action="store_true", help="with --detach: do not wait for it")
    start.add_argument("--idle-timeout", type=float,
                       help="seconds with no open run before exiting (default 600)")
    stop = commands.add_parser("stop", help="stop gracefully: apply everything received, exit")
    stop.add_argument("--home", dest="sub_home", help=argparse.SUPPRESS)
    stop.add_argument("--timeout", type=float, default=60.0)
    status = commands.add_parser("status", help="pid, socket, uptime, runs, records")
    status.add_argument("--home", dest="sub_home", help=argparse.SUPPRESS)
    status.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    config = ServiceSettings.from_env(
        home=getattr(args, "sub_home", None) or args.home,
        idle_timeout=getattr(args, "idle_timeout", None),
    )
    if args.command == "start":
        return _start(config, args.detach, args.no_wait)
    if args.command == "stop":
        return _stop(service_address(config.home), args.timeout)
    return _status(service_address(config.home), args.json)


def _start(config: ServiceSettings, detach: bool, no_wait: bool) -> int:
    from mytrack_service.service import AlreadyRunning, serve

    address = service_address(config.home)
    if not detach:
        try:
            return serve(config)
        except AlreadyRunning as exc:
            print(f"mytrack-service: {exc}", file=sys.stderr)
            return 1
    ensure_private_dir(address.home)
    command = [sys.executable, "-m", "mytrack_service", "start", "--home", config.home]
    if config.idle_timeout is not None:
        command += ["--idle-timeout", str(config.idle_timeout)]
    with open(address.log, "ab") as log:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True, close_fds=True,
        )
    if no_wait:
        return 0
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = _ask(address, "Status", pb.StatusRequest(quick=True), timeout=1.0)
        if response is not None:
            print(f"mytrack-service running: pid {response.pid}, socket {response.socket}")
            return 0
        if process.poll() is not None and _ask(address, "Status", pb.StatusRequest(quick=True)) is None:
            print(f"mytrack-service failed to start; see {address.log}", file=sys.stderr)
            return 1
        time.sleep(0.05)
    print(f"mytrack-service did not answer within 30s; see {address.log}", file=sys.stderr)
    return 1


def _stop(address: ServiceAddress, timeout: float) -> int:
    status = _ask(address, "Status", pb.StatusRequest(quick=True))
    if status is None:
        print("mytrack-service is not running")
        return 0
    _ask(address, "Shutdown", pb.ShutdownRequest())
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(status.pid):
            print(f"mytrack-service (pid {status.pid}) stopped")
            return 0
        time.sleep(0.05)
    print(f"mytrack-service (pid {status.pid}) is still stopping after {timeout:.0f}s",
          file=sys.stderr)
    return 1


def _status(address: ServiceAddress, as_json: bool) -> int:
    status = _ask(address, "Status", pb.StatusRequest())
    if status is None:
        print(json.dumps({"running": False}) if as_json else "mytrack-service is not running")
        return 3
    fields = {
        "running": True, "pid": status.pid, "socket": status.socket,
        "uptime": round(status.uptime, 1), "active_runs": status.active_runs,
        "records_received": status.records_received, "records_applied": status.records_applied,
        "store": status.store, "version": status.version, "last_error": status.last_error,
    }
    if as_json:
        print(json.dumps(fields))
    else:
        for name, value in fields.items():
            print(f"{name:17} {value}")
    return 0


def _ask(address: ServiceAddress, method: str, request: object, timeout: float = 5.0) -> Any:
    if not os.path.exists(address.socket):
        return None
    channel = grpc.insecure_channel(address.target, options=GRPC_OPTIONS)
    try:
        return getattr(pb_grpc.TrackerStub(channel), method)(request, timeout=timeout)
    except grpc.RpcError:
        return None
    finally:
        channel.close()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); psutil tells them apart.
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
