"""The one retry-with-backoff helper (mytrack_common.retry) that the sender, applier, uploads and alerts share."""

from __future__ import annotations

import threading
import time

import pytest

from mytrack_common.retry import FULL_JITTER, Backoff, backoff_delay


def highest(low: float, high: float) -> float:
    return high


def test_base_wait_doubles_from_first_up_to_the_cap() -> None:
    """With the factor fixed at the top of the range, waits are first, 2*first, ... then the cap."""
    waits = [backoff_delay(n, 0.5, 3.0, draw=highest) for n in range(1, 7)]
    assert waits == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert backoff_delay(0, 0.5, 3.0, draw=highest) == 0.0


def test_full_jitter_draws_between_zero_and_the_base_wait() -> None:
    """The default jitter is full: the factor is drawn from (0, 1), so waits never exceed the base."""
    seen: list[tuple[float, float]] = []

    def record(low: float, high: float) -> float:
        seen.append((low, high))
        return 0.25

    assert backoff_delay(3, 1.0, 60.0, draw=record) == pytest.approx(1.0)
    assert seen == [FULL_JITTER]
    for failures in range(1, 12):
        assert 0.0 <= backoff_delay(failures, 0.1, 5.0) <= 5.0


def test_a_jitter_range_above_zero_keeps_a_least_wait() -> None:
    """jitter=(0.5, 1.5) keeps every wait within half and one and a half times the base."""
    for _ in range(200):
        wait = backoff_delay(2, 1.0, 60.0, jitter=(0.5, 1.5))
        assert 1.0 <= wait <= 3.0


def test_a_long_outage_does_not_overflow() -> None:
    """Thousands of failures in a row still give the cap, not an OverflowError."""
    assert backoff_delay(5000, 0.05, 2.0, draw=highest) == 2.0


def test_backoff_counts_failures_and_starts_over_after_a_success() -> None:
    """failed() grows the wait, succeeded() resets it to the first one."""
    backoff = Backoff(0.1, 5.0, draw=highest)
    assert [backoff.failed() for _ in range(3)] == pytest.approx([0.1, 0.2, 0.4])
    assert backoff.failures == 3
    backoff.succeeded()
    assert backoff.failures == 0
    assert backoff.failed() == pytest.approx(0.1)


def test_exhausted_once_the_next_wait_is_the_cap() -> None:
    """0.1 doubling to a cap of 5: after six failures the next base wait (6.4) is capped."""
    backoff = Backoff(0.1, 5.0, draw=highest)
    states = []
    for _ in range(7):
        backoff.failed()
        states.append(backoff.exhausted)
    assert states == [False, False, False, False, False, True, True]


def test_wait_is_cut_short_by_the_stop_event() -> None:
    """A stop set while a long backoff waits ends the wait at once, and wait() says so."""
    backoff = Backoff(30.0, 30.0, jitter=(1.0, 1.0))
    stop = threading.Event()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(backoff.wait(stop)))
    started = time.monotonic()
    waiter.start()
    stop.set()
    waiter.join(5.0)
    assert result == [False]
    assert time.monotonic() - started < 5.0
    assert backoff.failures == 1


def test_wait_without_a_stop_sleeps_the_delay() -> None:
    """Without an event the delay is slept and wait() returns True."""
    backoff = Backoff(0.02, 0.02, jitter=(1.0, 1.0))
    started = time.monotonic()
    assert backoff.wait() is True
    assert time.monotonic() - started >= 0.02 * 0.99


@pytest.mark.parametrize(("first", "cap", "jitter"), [(0.0, 1.0, FULL_JITTER), (2.0, 1.0, FULL_JITTER),
                                                      (0.1, 1.0, (1.0, 0.5)), (0.1, 1.0, (-1.0, 1.0))])
def test_nonsense_settings_are_refused(first: float, cap: float, jitter: tuple[float, float]) -> None:
    """A zero or negative first wait, a cap below it, or an inverted jitter range raise ValueError naming them."""
    with pytest.raises(ValueError, match="backoff"):
        Backoff(first, cap, jitter=jitter)
