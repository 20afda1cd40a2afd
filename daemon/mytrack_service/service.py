"""The service wired in one place: `Service` and the `serve()` that runs it.

`Service` receives its collaborators (settings, store, blobs, clock, GPU reader)
and builds every component with what it needs in its constructor; nothing is
wired afterwards by setting attributes. It owns the order in which they start
and stop, and that order is written down here, in `start()` and `shutdown()`:

* start: recover the writers the store says are open, then the threads that
  work on them (uploads, alerts, the applier, crash detection, system
  metrics), then the web UI (its address goes to clients), and the gRPC
  socket last: a client that finds the socket finds a service that answers.
* shutdown: stop crash detection first (clients losing their stream to our
  shutdown are not crashed), stop accepting RPCs (streams get a short grace),
  let the applier apply everything that was acked, deliver the last alerts,
  let uploads in flight finish, close the WALs and the store, and only then
  remove the socket.

`serve(settings)` is the process around it: it takes the home's pid lock,
starts the tee server, opens the store and blobs from the settings, runs a
`Service` until it is stopped (Shutdown RPC, SIGTERM/SIGINT, idle timeout),
and releases the pid lock last, so a new service never starts while this one
still writes.
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import grpc

from mytrack_common.address import GRPC_OPTIONS, ServiceAddress, ensure_private_dir, service_address
from mytrack_common.tee import launch as tee_launch
from mytrack_proto import mytrack_pb2_grpc as pb_grpc
from mytrack_service.apply.applier import Applier
from mytrack_service.blobs.base import BlobStore
from mytrack_service.blobs.registry import open_blobs
from mytrack_service.health.gpus import GpuReader
from mytrack_service.health.liveness import Monitor
from mytrack_service.health.system_monitor import SystemMonitor
from mytrack_service.ingest.live_runs import LiveRuns
from mytrack_service.outbound.alerts import AlertSender
from mytrack_service.outbound.artifact_uploads import ArtifactUploads
from mytrack_service.outbound.transfers import Transfers
from mytrack_service.reclaim.guard import UploadGuard
from mytrack_service.reclaim.runs import RunAdmin
from mytrack_service.reclaim.sweep import BlobSweep
from mytrack_service.rpc import TrackerService
from mytrack_service.settings import ServiceSettings, redact
from mytrack_service.store.base import MetadataStore
from mytrack_service.store.registry import open_store
from mytrack_service.sweeps.controller import SweepController
from mytrack_service.web.server import WebServer

logger = logging.getLogger("mytrack_service")


class AlreadyRunning(Exception):
    """Another service holds this home's pid lock."""


class Service:
    """One service's components, built from its collaborators, started and stopped in order.

    The service owns ``store`` from here on: `shutdown()` closes it.

    Args:
        settings: the service's settings (home, timeouts, ports, webhook).
        store: the metadata store, opened.
        blobs: the blob store.
        clock: wall-clock time, for activity, heartbeats and run times.
        gpus: the GPU reader for system metrics; None: NVML's, when present.
        node_id: this service's identity among services sharing the store;
            None: the one kept in the home (``node.id``), made on first use.
    """

    def __init__(
        self, settings: ServiceSettings, store: MetadataStore, blobs: BlobStore, *,
        clock: Callable[[], float] = time.time, gpus: GpuReader | None = None,
        node_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.address = service_address(settings.home)
        self.store = store
        self.blobs = blobs
        self._stop = threading.Event()
        self._server: grpc.Server | None = None
        ensure_private_dir(self.address.home)
        # Records reaching a WAL wake the applier: one event, handed to both.
        applier_wake = threading.Event()
        self.live_runs = LiveRuns(
            store, self.address.home, clock=clock,
            node_id=_node_id(self.address.home) if node_id is None else node_id,
            on_append=applier_wake.set,
        )
        # Uploads hold it from a blob's put to its row's commit; the blob sweep alone.
        guard = UploadGuard()
        self.transfers = Transfers(store, blobs, live_runs=self.live_runs.live_run_keys, guard=guard)
        self.alerts = AlertSender.from_url(settings.alert_webhook)
        # Artifact content is uploaded apart from the applier, then its versions commit.
        self.artifact_uploads = ArtifactUploads(store, blobs, self.address.home, guard=guard)
        self.applier = Applier(
            self.live_runs, wake=applier_wake, uploads=self.artifact_uploads,
            on_files=self.transfers.wake,
            on_alerts=self.alerts.submit if self.alerts is not None else lambda alerts: None,
        )
        self.monitor = Monitor(self.live_runs, settings.heartbeat_timeout)
        self.sysmetrics = SystemMonitor(self.live_runs, settings.stats_interval, gpus=gpus)
        self.admin = RunAdmin(self.live_runs, BlobSweep(store, blobs, guard, settings.gc_grace))
        self.sweeps = SweepController(store, pending_lease=settings.sweep_pending_lease)
        self.web = WebServer(self.live_runs, blobs, self.address.home, settings.ui_port, self.admin,
                             settings.ui_host, sweeps=self.sweeps)

    def start(self) -> None:
        """Starts every component, the gRPC socket last (see the module docstring)."""
        ensure_private_dir(os.path.dirname(self.address.socket))
        recovered = self.live_runs.recover()
        self.transfers.start()
        self.artifact_uploads.start()
        if self.alerts is not None:
            self.alerts.start()  # before the applier, which hands it alerts
        self.applier.start()
        self.monitor.start()
        self.sysmetrics.start()
        self.web.start()
        tracker = TrackerService(
            self.live_runs, self.applier, self.transfers, self.blobs, self.address.socket,
            redact(self.settings.store_uri), self.request_stop,
            web_base=self.web.base, web_token=lambda: self.web.current_token() if self.web.base else "",
            admin=self.admin, sweeps=self.sweeps,
        )
        server = grpc.server(
            ThreadPoolExecutor(max_workers=self.settings.max_workers), options=GRPC_OPTIONS
        )
        pb_grpc.add_TrackerServicer_to_server(tracker, server)
        self._server = server
        _listen(server, self.address)
        logger.info("listening on %s (recovered %d writers)", self.address.socket, recovered)

    def request_stop(self) -> None:
        """Asks `wait()` to return (the Shutdown RPC, a signal); safe from any thread."""
        self._stop.set()

    def wait(self) -> None:
        """Returns once a stop was requested, or no run was open for the idle timeout."""
        while not self._stop.wait(0.5):
            idle = self.live_runs.idle_seconds()
            if self.live_runs.active_runs() == 0 and idle > self.settings.idle_timeout:
                logger.info("no open run for %.0fs: stopping", idle)
                self._stop.set()

    def shutdown(self) -> None:
        """Stops every component in order (see the module docstring); the socket goes last."""
        logger.info("stopping: draining streams and applying what was received")
        # The monitor goes first: clients losing their stream to our shutdown
        # are not crashed, they will reconnect to the next service.
        self.monitor.stop()
        self.sysmetrics.stop()
        self.web.stop()
        if self._server is not None:
            self._server.stop(grace=2.0).wait()
        self.applier.stop()  # applies everything acked
        if self.alerts is not None:
            self.alerts.stop(timeout=5.0)  # after the applier: the last alerts are queued
        # Uploads in flight finish; those not started stay due in the store and
        # are resumed by the next service.
        self.transfers.stop()
        self.artifact_uploads.stop()
        self.live_runs.close()
        self.store.close()
        if os.path.exists(self.address.socket):
            os.unlink(self.address.socket)


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
    service = Service(config, open_store(config.store_uri), open_blobs(config.blobs_uri))
    service.start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: service.request_stop())
    service.wait()
    service.shutdown()
    _stop_tee_server(address, tee_server)
    # Last: the next service may start once this one no longer writes.
    os.ftruncate(pid_fd, 0)
    os.close(pid_fd)
    logger.info("stopped")
    return 0


def _listen(server: grpc.Server, address: ServiceAddress) -> None:
    """Serves on the home's socket.

    Bound under a temporary name and renamed once serving: clients waiting for
    a service that is starting poll for the socket (a stat) and find it only
    when it answers, instead of failing connections that back off.
    """
    if os.path.exists(address.socket):
        os.unlink(address.socket)  # a dead service's; we hold the pid lock
    starting = os.path.join(os.path.dirname(address.socket), f"s{os.getpid()}.tmp")
    if os.path.exists(starting):
        os.unlink(starting)
    server.add_insecure_port(f"unix://{starting}")
    server.start()
    os.chmod(starting, 0o600)
    os.rename(starting, address.socket)


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
