"""Runs the service: socket, pid lock, gRPC server, applier, idle exit.

Shutdown order matters: stop accepting RPCs first (streams get a short
grace), then let the applier apply everything that was acked, then close the
WALs and the store, and only then remove the socket and release the pid lock,
so a new service never starts while this one still writes.
"""

from __future__ import annotations

import fcntl
import logging
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc

from mytrack_common.address import GRPC_OPTIONS, ServiceAddress, ensure_private_dir, service_address
from mytrack_common.tee import launch as tee_launch
from mytrack_proto import mytrack_pb2_grpc as pb_grpc
from mytrack_service.apply.applier import Applier
from mytrack_service.blobs.registry import open_blobs
from mytrack_service.health.liveness import Monitor
from mytrack_service.health.system_metrics import SystemMonitor
from mytrack_service.ingest.live_runs import LiveRuns
from mytrack_service.outbound.alerts import AlertSender
from mytrack_service.outbound.transfers import Transfers
from mytrack_service.rpc import TrackerService
from mytrack_service.settings import ServiceSettings, redact
from mytrack_service.store.registry import open_store
from mytrack_service.web.server import WebServer

logger = logging.getLogger("mytrack_service")


class AlreadyRunning(Exception):
    """Another service holds this home's pid lock."""


def serve(config: ServiceSettings) -> int:
    """Runs until stopped (Shutdown RPC, SIGTERM/SIGINT, idle timeout)."""
    address = service_address(config.home)
    ensure_private_dir(address.home)
    ensure_private_dir(os.path.dirname(address.socket))
    pid_fd = _lock_pid_file(address)
    _setup_logging(address)
    logger.info("starting pid=%d home=%s store=%s", os.getpid(), address.home,
                redact(config.store_uri))
    # First: ranks starting with this service hand it their console capture
    # while the store opens.
    tee_server = _start_tee_server(address)
    store = open_store(config.store_uri)
    blobs = open_blobs(config.blobs_uri)
    live_runs = LiveRuns(store, address.home, node_id=_node_id(address.home))
    recovered = live_runs.recover()
    transfers = Transfers(store, blobs, live_runs=live_runs.live_run_keys)
    transfers.start()
    applier = Applier(live_runs)
    applier.blobs = blobs  # artifact entries are uploaded before their versions commit
    applier.on_files = transfers.wake
    alerts = AlertSender.from_url(config.alert_webhook)
    if alerts is not None:
        alerts.start()
        applier.on_alerts = alerts.submit
    applier.start()
    monitor = Monitor(live_runs, config.heartbeat_timeout)
    monitor.start()
    sysmetrics = SystemMonitor(live_runs, config.stats_interval)
    sysmetrics.start()
    web = WebServer(live_runs, blobs, address.home, config.ui_port)
    web.start()
    stop = threading.Event()
    server = grpc.server(ThreadPoolExecutor(max_workers=config.max_workers), options=GRPC_OPTIONS)
    tracker = TrackerService(
        live_runs, applier, transfers, blobs, address.socket, redact(config.store_uri), stop.set
    )
    tracker.web_base, tracker.web_token = web.base, web.token if web.base else ""
    pb_grpc.add_TrackerServicer_to_server(tracker, server)
    if os.path.exists(address.socket):
        os.unlink(address.socket)  # a dead service's; we hold the pid lock
    # Bound under a temporary name and renamed once serving: clients waiting for
    # a service that is starting poll for the socket (a stat) and find it only
    # when it answers, instead of failing connections that back off.
    starting = os.path.join(os.path.dirname(address.socket), f"s{os.getpid()}.tmp")
    if os.path.exists(starting):
        os.unlink(starting)
    server.add_insecure_port(f"unix://{starting}")
    server.start()
    os.chmod(starting, 0o600)
    os.rename(starting, address.socket)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    logger.info("listening on %s (recovered %d writers)", address.socket, recovered)
    while not stop.wait(0.5):
        idle = time.time() - live_runs.last_activity
        if live_runs.active_runs() == 0 and idle > config.idle_timeout:
            logger.info("no open run for %.0fs: stopping", idle)
            stop.set()
    logger.info("stopping: draining streams and applying what was received")
    # The monitor goes first: clients losing their stream to our shutdown
    # are not crashed, they will reconnect to the next service.
    monitor.stop()
    sysmetrics.stop()
    web.stop()
    server.stop(grace=2.0).wait()
    applier.stop()
    if alerts is not None:
        alerts.stop(timeout=5.0)  # after the applier: the last alerts are queued
    # Uploads in flight finish; those not started stay due in the store and
    # are resumed by the next service.
    transfers.stop()
    live_runs.close()
    store.close()
    if os.path.exists(address.socket):
        os.unlink(address.socket)
    _stop_tee_server(address, tee_server)
    os.ftruncate(pid_fd, 0)
    os.close(pid_fd)
    logger.info("stopped")
    return 0


def _start_tee_server(address: ServiceAddress) -> tuple[subprocess.Popen[bytes], int] | None:
    """Listens on the home's tee socket and starts the tee server (mytrack_common.tee).

    Bound under a temporary name and renamed once listening, like the service's
    socket. Without it (None), each client starts its own tee process.
    """
    starting = os.path.join(os.path.dirname(address.tee), f"t{os.getpid()}.tmp")
    listen = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if os.path.exists(starting):
            os.unlink(starting)
        listen.bind(starting)
        os.chmod(starting, 0o600)
        listen.listen(256)  # 64 ranks connect at once
        started = tee_launch.start_server(listen)
        os.replace(starting, address.tee)  # over a dead service's
        return started
    except (OSError, subprocess.SubprocessError) as exc:
        if os.path.exists(starting):
            os.unlink(starting)
        logger.warning("no tee server (%s): clients start their own tee processes", exc)
        return None
    finally:
        listen.close()  # the server's now


def _stop_tee_server(address: ServiceAddress, started: tuple[subprocess.Popen[bytes], int] | None) -> None:
    """The server exits; the tee processes it forked go on serving their programs."""
    if started is None:
        return
    process, watch = started
    os.close(watch)
    try:
        process.wait(5.0)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    try:
        os.unlink(address.tee)
    except FileNotFoundError:
        pass


def _lock_pid_file(address: ServiceAddress, wait: float = 10.0) -> int:
    """Takes the home's pid lock. A service that is still stopping (draining,
    applying) holds it for a few seconds: wait for it rather than give up, so a
    client reconnecting after a graceful restart gets a new service at once."""
    fd = os.open(address.pid, os.O_RDWR | os.O_CREAT, 0o600)
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() > deadline or _answers(address):
                os.close(fd)
                raise AlreadyRunning(
                    f"a mytrack service is already running for {address.home}"
                ) from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _node_id(home: str) -> str:
    """This service's lasting identity among services sharing one store."""
    path = os.path.join(home, "node.id")
    try:
        with open(path, encoding="ascii") as f:
            return f.read().strip()
    except OSError:
        node = f"{socket.gethostname()}-{uuid.uuid4().hex[:12]}"
        with open(path, "w", encoding="ascii") as f:
            f.write(node)
        return node


def _answers(address: ServiceAddress) -> bool:
    """Whether a live service listens on the home's socket (not one stopping)."""
    if not os.path.exists(address.socket):
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(0.2)
        probe.connect(address.socket)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def _setup_logging(address: ServiceAddress) -> None:
    handler = logging.FileHandler(address.log)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("mytrack_service")
    root.addHandler(handler)
    root.setLevel(logging.INFO)
