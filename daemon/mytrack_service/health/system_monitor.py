"""The thread that takes system metrics (`system_metrics.Sampler`) on a timer.

Apart from the sampler so that the service starts without importing psutil:
the sampler is made at the thread's first poll, once the service answers.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from mytrack_service.health.gpus import GpuReader
from mytrack_service.ingest.live_runs import LiveRuns

if TYPE_CHECKING:
    from mytrack_service.health.system_metrics import Sampler

logger = logging.getLogger("mytrack_service.health.system_metrics")

# How often the thread looks for writers that are due. Waiting a whole interval
# (10 s by default) before the first look left runs shorter than that with no
# sample at all; a look costs a lock and a dict walk when nobody is due.
POLL_SECONDS = 0.5


class SystemMonitor:
    """The sampling thread; `start()`/`stop()` from service.py beside the liveness Monitor."""

    def __init__(self, live_runs: LiveRuns, interval: float, gpus: GpuReader | None = None) -> None:
        self.interval = interval
        self.live_runs = live_runs
        self._gpus = gpus
        self._sampler: Sampler | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mytrack-sysmetrics", daemon=True)

    def start(self) -> None:
        if self.interval > 0:
            self._thread.start()
        else:
            logger.info("system metrics are off (MYTRACK_STATS_INTERVAL=0)")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _poll(self) -> float:
        """Seconds to the next look: `POLL_SECONDS`, or a fifth of the shortest
        interval in use, so that a writer is sampled within a fifth of its
        interval of being due."""
        asked = [w.stats_interval for w in self.live_runs.all_writers()
                 if w.stats_interval is not None and w.stats_interval > 0]
        return min([POLL_SECONDS, *(i / 5 for i in (self.interval, *asked))])

    def _run(self) -> None:
        """Looks every `POLL_SECONDS` for writers that are due (`Sampler._due`)."""
        # The sampler (psutil's imports, the CPU window it opens) is made after a
        # first poll: on a cold start, ranks are waiting for the service to answer.
        if self._stop.wait(self._poll()):
            return
        from mytrack_service.health.system_metrics import Sampler

        self._sampler = Sampler(self.live_runs, self._gpus, default_interval=self.interval)
        try:
            while not self._stop.wait(self._poll()):
                try:
                    self._sampler.sample_once()
                except Exception:  # noqa: BLE001 - a bad tick must not end sampling
                    logger.exception("system metrics sampling failed")
        finally:
            self._sampler.close()
