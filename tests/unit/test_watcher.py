"""LiveWatcher with a real watchdog observer."""

from __future__ import annotations

import threading
from pathlib import Path

from mytrack_service.outbound.live_files import LiveWatcher
from mytrack_service.store.base import RunKey
from tests.helpers import wait_for

KEY = RunKey("me", "p", "r1")


def test_changes_are_reported_for_watched_files_only(tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    watcher = LiveWatcher(lambda key, name, size: seen.append((name, size)))
    watcher.start()
    try:
        watched, other = tmp_path / "watched.txt", tmp_path / "other.txt"
        watched.write_text("a")
        watcher.refresh({str(watched): (KEY, "watched.txt")})
        assert seen == [("watched.txt", 1)]  # checked once when the watch starts
        other.write_text("ignored")
        watched.write_text("abc")
        wait_for(lambda: ("watched.txt", 3) in seen, 10, message="the change")
        assert all(name == "watched.txt" for name, _ in seen)
    finally:
        watcher.stop()


def test_refresh_while_events_are_dispatched_does_not_deadlock(tmp_path: Path) -> None:
    """Watchdog holds its lock while it dispatches an event and while it
    unschedules a watch: refresh() dropping a watch while the handler runs
    must not wait on a lock the handler holds (this hung the service once)."""
    target = tmp_path / "live.txt"
    target.write_text("0")
    wanted = {str(target): (KEY, "live.txt")}
    changed = threading.Event()

    watcher = LiveWatcher(lambda key, name, size: changed.set())
    watcher.start()
    stop = threading.Event()

    def write_forever() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            target.write_text(str(i))

    def refresh_often() -> None:
        for _ in range(300):
            watcher.refresh(wanted)
            watcher.refresh({})

    writer = threading.Thread(target=write_forever, daemon=True)
    refresher = threading.Thread(target=refresh_often, daemon=True)
    writer.start()
    try:
        watcher.refresh(wanted)
        wait_for(changed.is_set, 10, message="a first event")
        refresher.start()
        refresher.join(timeout=30)
        assert not refresher.is_alive(), "refresh() deadlocked with the event thread"
    finally:
        stop.set()
        writer.join()
        if not refresher.is_alive():
            watcher.stop()
