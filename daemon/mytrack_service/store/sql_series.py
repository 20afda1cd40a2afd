"""Chart reads of `SqlStore`: a run's history keys, and one key's series as arrays.

Both read ``history_chunks`` directly. A series is decoded chunk by chunk with
NumPy (float chunks are raw little-endian float64s: no per-value Python
object), which is what lets the web UI reduce a million points per chart in a
few milliseconds.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.engine import Engine

from mytrack_service.store.base import RunKey, as_float
from mytrack_service.store.chunks import CHUNK
from mytrack_service.store.sql_schema import history_chunks, runs

if TYPE_CHECKING:  # imported when a series is read: the service starts without NumPy
    import numpy as np
    from numpy.typing import NDArray

_WINDOW = 256  # chunks fetched per query


def _pk(key: RunKey) -> object:
    return select(runs.c.id).where(
        runs.c.entity == key.entity, runs.c.project == key.project, runs.c.run_id == key.run_id
    ).scalar_subquery()


def _values(data: bytes) -> NDArray[np.float64]:
    import numpy as np

    if data[:1] == b"F":
        return np.frombuffer(data, dtype="<f8", offset=1).astype(np.float64, copy=False)
    return np.array([as_float(v) for v in json.loads(data[1:])], dtype=np.float64)


class SeriesMixin:
    """history_keys/read_series on the engine of a `SqlStore`."""

    _engine: Engine

    def _errors(self, what: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def history_keys(self, key: RunKey) -> list[str]:
        c = history_chunks.c
        query = select(c.key).where(c.run_pk == _pk(key)).distinct().order_by(c.key)
        with self._errors("history_keys"), self._engine.connect() as conn:
            return [str(name) for name in conn.execute(query).scalars()]

    def read_series(
        self, key: RunKey, name: str, min_step: int | None = None, max_step: int | None = None,
    ) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        import numpy as np

        c = history_chunks.c
        base = select(c.chunk, c.steps, c.vals).where(c.run_pk == _pk(key), c.key == name)
        if max_step is not None:
            base = base.where(c.chunk <= max_step // CHUNK)
        after = -1 if min_step is None else min_step // CHUNK - 1
        steps: list[NDArray[np.int64]] = []
        values: list[NDArray[np.float64]] = []
        while True:  # keyset pages of chunks: each read is short
            query = base.where(c.chunk > after).order_by(c.chunk).limit(_WINDOW)
            with self._errors("read_series"), self._engine.connect() as conn:
                page = conn.execute(query).all()
            for _, raw_steps, raw_vals in page:
                steps.append(np.frombuffer(raw_steps, dtype="<i8").astype(np.int64, copy=False))
                values.append(_values(raw_vals))
            if len(page) < _WINDOW:
                break
            after = page[-1][0]
        if not steps:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        all_steps, all_values = np.concatenate(steps), np.concatenate(values)
        lo = 0 if min_step is None else int(np.searchsorted(all_steps, min_step, "left"))
        hi = len(all_steps) if max_step is None else int(np.searchsorted(all_steps, max_step, "right"))
        return all_steps[lo:hi], all_values[lo:hi]
