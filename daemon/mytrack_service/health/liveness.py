"""Liveness of writers: crash detection within seconds.

A writer's process is gone when, on this host, its pid no longer exists (or
now belongs to a younger process), or, for any host, when it sent nothing
(records or heartbeats) for `heartbeat_timeout` seconds while no stream is
open. A gone writer is handed to the applier (`LiveRuns.mark_dead`), which applies
everything it had acked and then ends the run as crashed (preempted when it
was preempting). A service that is itself stopped never marks anything.
"""

from __future__ import annotations

import logging
import socket
import threading

from mytrack_service.ingest.live_runs import LiveRuns, WriterSession

logger = logging.getLogger("mytrack_service.health.liveness")


class Monitor:
    def __init__(self, live_runs: LiveRuns, heartbeat_timeout: float, interval: float = 0.5) -> None:
        self.live_runs = live_runs
        self.heartbeat_timeout = heartbeat_timeout
        self.interval = interval
        self.host = socket.gethostname()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mytrack-monitor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for writer in self.live_runs.open_writers():
                try:
                    reason = self.why_gone(writer)
                except Exception:  # noqa: BLE001 - one odd process must not end crash detection
                    logger.exception("checking writer %s failed", writer.writer_id)
                    continue
                if reason and not self._stop.is_set():
                    logger.info("writer %s of %s: %s", writer.writer_id, writer.key.path, reason)
                    self.live_runs.mark_dead(writer, reason)

    def why_gone(self, writer: WriterSession) -> str:
        """Why the writer's process is considered gone, or "" while it lives."""
        if writer.dead_reason:
            return ""
        if writer.pid and writer.host == self.host and not _alive(writer.pid, writer.opened_at):
            return f"process {writer.pid} exited without finishing the run"
        silent = self.live_runs.clock() - writer.last_heartbeat
        if writer.streams == 0 and silent > self.heartbeat_timeout:
            return f"no heartbeat for {silent:.0f}s"
        return ""


def _alive(pid: int, opened_at: float) -> bool:
    """The process exists, is not a zombie, and is older than the writer."""
    import psutil  # at the first check, not on the service's start path

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        # A pid reused by a newer process is not our writer.
        return bool(process.create_time() <= opened_at + 1.0)
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # someone else's process: cannot tell, assume alive
