"""Watches the files saved with policy "live" (watchdog), while their run is live.

`LiveWatcher.refresh` is given the full set of files to watch; it schedules
one watchdog watch per folder and drops the ones no longer needed. A change
to a watched file (written, created, moved into place) is passed on with its
size, for the debounce and throttle of `Transfers.changed`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import ObservedWatch

from mytrack_service.store.base import RunKey

logger = logging.getLogger("mytrack_service.outbound.live_files")

# (run, file name in the run, size in bytes)
OnChange = Callable[[RunKey, str, int], None]


class LiveWatcher(FileSystemEventHandler):
    def __init__(self, on_change: OnChange) -> None:
        self._on_change = on_change
        # Serialises refresh() calls. Never held while an event is dispatched:
        # watchdog holds its own lock around both dispatch and (un)schedule, so
        # the handler taking a lock that refresh() holds across unschedule()
        # deadlocks the two threads.
        self._lock = threading.Lock()
        # Replaced whole, never mutated: the event thread reads it without a lock.
        self._targets: dict[str, tuple[RunKey, str]] = {}  # real path -> (run, name)
        self._watches: dict[str, ObservedWatch] = {}  # folder -> watch
        self._observer = Observer()
        self._observer.daemon = True

    def start(self) -> None:
        self._observer.start()

    def stop(self) -> None:
        self._observer.stop()
        self._observer.join(timeout=5)

    def refresh(self, wanted: dict[str, tuple[RunKey, str]]) -> None:
        """Watches exactly ``wanted`` (link path in the run folder -> (run, name))."""
        targets = {os.path.realpath(path): owner for path, owner in wanted.items()}
        folders = {os.path.dirname(target) for target in targets}
        with self._lock:
            new = {t: owner for t, owner in targets.items() if t not in self._targets}
            self._targets = targets
            for folder in set(self._watches) - folders:
                self._observer.unschedule(self._watches.pop(folder))
            for folder in folders - set(self._watches):
                if os.path.isdir(folder):
                    try:
                        self._watches[folder] = self._observer.schedule(self, folder)
                    except OSError as exc:  # inotify limits, permissions
                        logger.warning("cannot watch %s: %s", folder, exc)
        # A change between the file's first upload and its watch starting would
        # go unseen: check each newly watched file once (unchanged content is
        # not uploaded again).
        for target, (key, name) in new.items():
            if os.path.exists(target):
                self._on_change(key, name, os.path.getsize(target))

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Opening and reading a file (our own uploads read it) is no change;
        # a deleted file keeps its last upload.
        if event.is_directory or event.event_type in ("opened", "closed_no_write", "deleted"):
            return
        for path in (event.src_path, getattr(event, "dest_path", "")):
            if not path:
                continue
            owner = self._targets.get(os.fsdecode(path))
            if owner is not None and os.path.exists(path):
                self._on_change(owner[0], owner[1], os.path.getsize(path))
