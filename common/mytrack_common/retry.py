"""Exponential backoff with jitter, capped, cut short by a stop event.

One helper for every retry loop of mytrack (the SDK's sender reconnecting, the
service's applier after a store failure, file uploads, alert webhooks), so that
they back off alike and a change of policy happens in one place.

The wait after the n-th failure in a row is ``min(cap, first * 2**(n-1))``
times a factor drawn uniformly from ``jitter``. The default is full jitter,
``(0, 1)``: when many writers lose the service together, or many uploads fail
on one outage, their retries spread out instead of arriving in waves. A loop
that promises a least wait between tries (uploads, webhooks) passes a range
that starts above 0.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

__all__ = ["FULL_JITTER", "Backoff", "backoff_delay"]

FULL_JITTER = (0.0, 1.0)


def backoff_delay(
    failures: int,
    first: float,
    cap: float,
    jitter: tuple[float, float] = FULL_JITTER,
    draw: Callable[[float, float], float] = random.uniform,
) -> float:
    """The wait before the next try after ``failures`` failures in a row (0 for none).

    Args:
        failures: failures so far; the first failure's base wait is ``first``.
        first: the base wait after one failure, in seconds.
        cap: the largest base wait, in seconds.
        jitter: the range of the factor the base wait is multiplied by.
        draw: ``draw(low, high)`` picks the factor; tests pass a fixed one.
    """
    if failures <= 0:
        return 0.0
    return _base(failures, first, cap) * draw(*jitter)


def _base(failures: int, first: float, cap: float) -> float:
    # Bounded exponent: a long outage counts many failures, and 2.0 ** 2000
    # overflows a float.
    return float(min(cap, first * 2 ** min(failures - 1, 64)))


class Backoff:
    """The backoff state of one retry loop: failures in a row, and the wait they earn.

    Not thread-safe: each loop owns its own.
    """

    def __init__(
        self,
        first: float,
        cap: float,
        jitter: tuple[float, float] = FULL_JITTER,
        draw: Callable[[float, float], float] = random.uniform,
    ) -> None:
        if first <= 0 or cap < first:
            raise ValueError(f"backoff needs 0 < first <= cap, got first={first}, cap={cap}")
        if not 0 <= jitter[0] <= jitter[1]:
            raise ValueError(f"backoff jitter needs 0 <= low <= high, got {jitter}")
        self.first = first
        self.cap = cap
        self.jitter = jitter
        self.failures = 0
        self._draw = draw

    @property
    def exhausted(self) -> bool:
        """Whether the next failure's base wait is the cap: from here on, waits stop growing.

        A loop that is shutting down gives up here rather than retry forever.
        """
        return _base(self.failures + 1, self.first, self.cap) >= self.cap

    def failed(self) -> float:
        """Counts a failure; returns how long to wait before the next try."""
        self.failures += 1
        return backoff_delay(self.failures, self.first, self.cap, self.jitter, self._draw)

    def succeeded(self) -> None:
        """A try worked: the next failure starts again from ``first``."""
        self.failures = 0

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Counts a failure and waits its delay; False if ``stop`` is set (before or meanwhile).

        An event rather than a sleep, so that shutdown never waits out a long backoff.
        """
        delay = self.failed()
        if stop is None:
            time.sleep(delay)
            return True
        return not stop.wait(delay)
