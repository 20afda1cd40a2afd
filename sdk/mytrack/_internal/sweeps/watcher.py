"""Asks the controller, while a trial runs, whether to stop it (hyperband, a canceled sweep)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from mytrack._internal.sweeps.service import SweepService
from mytrack.errors import Error


class StopWatcher:
    """A daemon thread that calls ``on_stop(reason)`` once when the controller says stop."""

    def __init__(self, service: SweepService, sweep_id: str, run_id: str, interval: float,
                 on_stop: Callable[[str], None]) -> None:
        self._service = service
        self._request = {"sweep_id": sweep_id, "run_id": run_id}
        self._interval = interval
        self._on_stop = on_stop
        self._done = threading.Event()
        self.reason: str | None = None
        self._thread = threading.Thread(target=self._loop, name="mytrack-sweep-watch", daemon=True)

    def __enter__(self) -> StopWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._done.wait(self._interval):
            try:
                answer = self._service.call("check", self._request, timeout=30.0)
            except Error:
                continue  # the service restarts, or is busy: ask again next time
            if answer.get("stop"):
                self.reason = str(answer.get("reason") or "stopped by the sweep")
                self._on_stop(self.reason)
                return
