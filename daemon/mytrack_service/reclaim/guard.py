"""`UploadGuard`: uploads and the blob sweep of one service take turns.

An upload puts a blob and then commits the row that references it. Between
the two the blob is stored but unreferenced, and a sweep looking then would
delete it (an upload of content that exists already only checks that it
exists, so an old unreferenced blob can be "uploaded" again at any time).
Uploads therefore hold the guard shared from their put to their commit, and a
sweep holds it alone while it reads the references and deletes: it sees every
upload either committed or not yet started.

Writers (the sweep) go first once they wait, so a steady stream of uploads
cannot starve a sweep; a sweep is short (one reference query and the deletes).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class UploadGuard:
    """A reader-writer lock: many uploads at once, or one sweep."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._uploads = 0
        self._sweeping = False
        self._sweeps_waiting = 0

    @contextmanager
    def uploading(self) -> Iterator[None]:
        """Held from putting a blob until the row referencing it commits."""
        with self._cond:
            self._cond.wait_for(lambda: not self._sweeping and not self._sweeps_waiting)
            self._uploads += 1
        try:
            yield
        finally:
            with self._cond:
                self._uploads -= 1
                self._cond.notify_all()

    @contextmanager
    def sweeping(self) -> Iterator[None]:
        """Held while a sweep reads the references and deletes blobs."""
        with self._cond:
            self._sweeps_waiting += 1
            self._cond.wait_for(lambda: not self._sweeping and not self._uploads)
            self._sweeps_waiting -= 1
            self._sweeping = True
        try:
            yield
        finally:
            with self._cond:
                self._sweeping = False
                self._cond.notify_all()
