"""History in a `SqlStore`: keyed and full-row reads, and the merge of a batch into the chunks.

History is kept twice: ``history`` holds each step's full row (for full-row
scans), ``history_chunks`` holds, per flattened key and per block of `CHUNK`
steps, the key's steps and values (see chunks.py). `SqlStore.write_batch`
writes both in one transaction with the helpers here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.engine import Connection, Engine

from mytrack_service.store.base import RunKey, StoreError
from mytrack_service.store.blocks import RowBlock, block_texts, split_blocks
from mytrack_service.store.chunks import (
    CHUNK,
    Series,
    append_values,
    combine_splits,
    decode_steps,
    decode_values,
    encode_steps,
    encode_values,
    join,
    merge,
    split_by_chunk,
    without,
)
from mytrack_service.store.rows import decode_row, encode_row
from mytrack_service.store.semantics import unique_keys
from mytrack_service.store.sql_schema import history, history_chunks, key_filter, runs

IN_LIST = 500  # values per IN (...) list
_PAGE_ROWS = 5000  # full rows fetched per query
_PAGE_CHUNKS = 64  # chunk numbers fetched per query in keyed reads
_TEXTS_PER_STATEMENT = 2000  # history rows per executemany


class HistoryMixin:
    """read_history/count_history and the chunk merge, on the engine of a `SqlStore`."""

    _engine: Engine
    _chunk_upsert_sql: str

    def _errors(self, what: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def read_history(
        self,
        key: RunKey,
        keys: list[str] | None = None,
        min_step: int | None = None,
        max_step: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        if keys is None:
            return self._read_rows(key, min_step, max_step, full=True)
        wanted = unique_keys(keys)
        if not wanted:  # every row holds all of no keys: just the steps
            return self._read_rows(key, min_step, max_step, full=False)
        return self._read_keys(key, wanted, min_step, max_step)

    def count_history(self, key: RunKey) -> int:
        query = select(func.count()).select_from(history.join(runs)).where(*key_filter(key))
        with self._errors("count_history"), self._engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def _read_rows(
        self, key: RunKey, min_step: int | None, max_step: int | None, full: bool
    ) -> Iterator[dict[str, Any]]:
        """Pages through ``history`` by step (keyset pagination), one short read each."""
        columns = (history.c.step, history.c.data) if full else (history.c.step,)
        base = select(*columns).join(runs).where(*key_filter(key)).order_by(history.c.step)
        if max_step is not None:
            base = base.where(history.c.step <= max_step)
        after = None if min_step is None else min_step - 1
        while True:
            query = base if after is None else base.where(history.c.step > after)
            with self._errors("read_history"), self._engine.connect() as conn:
                page = conn.execute(query.limit(_PAGE_ROWS)).all()
            for row in page:
                yield decode_row(row[1]) if full else {"_step": row[0]}
            if len(page) < _PAGE_ROWS:
                return
            after = page[-1][0]

    def _read_keys(
        self, key: RunKey, wanted: list[str], min_step: int | None, max_step: int | None
    ) -> Iterator[dict[str, Any]]:
        """Reads the chunks of ``wanted`` a window of chunk numbers at a time."""
        c = history_chunks.c
        with self._errors("read_history"), self._engine.connect() as conn:
            pk = conn.execute(select(runs.c.id).where(*key_filter(key))).scalar()
            if pk is None:
                return
            # A row needs every key, so the first key's chunks are the candidates.
            query = select(c.chunk).where(c.run_pk == pk, c.key == wanted[0]).order_by(c.chunk)
            if min_step is not None:
                query = query.where(c.chunk >= min_step // CHUNK)
            if max_step is not None:
                query = query.where(c.chunk <= max_step // CHUNK)
            numbers = list(conn.execute(query).scalars())
        for start in range(0, len(numbers), _PAGE_CHUNKS):
            window = numbers[start:start + _PAGE_CHUNKS]
            query = select(c.key, c.chunk, c.steps, c.vals).where(
                c.run_pk == pk, c.key.in_(wanted), c.chunk.between(window[0], window[-1])
            )
            with self._errors("read_history"), self._engine.connect() as conn:
                found = conn.execute(query).all()
            grouped: dict[int, dict[str, Series]] = {}
            for name, number, steps, vals in found:
                grouped.setdefault(number, {})[name] = (decode_steps(steps), decode_values(vals))
            for number in window:
                series = grouped.get(number, {})
                if len(series) == len(wanted):
                    yield from join(series, wanted, min_step, max_step)

    def _merge_chunks(
        self, conn: Connection, pk: int, flats: list[tuple[int, Mapping[str, Any]]],
        blocks: list[RowBlock],
    ) -> None:
        """Merges a batch's flattened rows and blocks into the chunks they touch.

        The touched chunks are read once, every key of them: a step in the
        batch replaces that step in its whole chunk, so keys that the new row
        no longer holds lose their value at that step.
        """
        batch_steps, new = combine_splits(split_by_chunk(flats), split_blocks(blocks))
        upserts: list[tuple[Any, ...]] = []
        deletes: list[dict[str, Any]] = []
        for (name, number), (old_steps, raw) in self._load_chunks(conn, pk, list(batch_steps)).items():
            steps = batch_steps[number]
            if old_steps and steps[0] > old_steps[-1]:
                # The batch's steps all follow the chunk's (the common case): its
                # encoded values are appended to, never decoded and re-encoded.
                added = new.pop((name, number), None)
                if added is not None:
                    upserts.append(_appended(pk, name, number, old_steps, raw, added))
                continue
            old = (old_steps, decode_values(raw))
            kept = without(old, steps)
            added = new.pop((name, number), None)
            merged = kept if added is None else merge(kept, added)
            if not merged[0]:
                deletes.append({"k": name, "n": number})
            elif merged is not old:
                upserts.append(chunk_params(pk, name, number, merged))
        upserts.extend(chunk_params(pk, name, number, s) for (name, number), s in new.items())
        if upserts:
            conn.exec_driver_sql(self._chunk_upsert_sql, upserts)
        if deletes:
            c = history_chunks.c
            stmt = delete(history_chunks).where(
                c.run_pk == pk, c.key == bindparam("k"), c.chunk == bindparam("n")
            )
            conn.execute(stmt, deletes)

    def _load_chunks(
        self, conn: Connection, pk: int, numbers: list[int]
    ) -> dict[tuple[str, int], tuple[list[int], bytes]]:
        """Every key's steps and encoded values in the given chunks of run ``pk``."""
        c = history_chunks.c
        out: dict[tuple[str, int], tuple[list[int], bytes]] = {}
        for start in range(0, len(numbers), IN_LIST):
            query = select(c.key, c.chunk, c.steps, c.vals).where(
                c.run_pk == pk, c.chunk.in_(numbers[start:start + IN_LIST])
            )
            for name, number, steps, vals in conn.execute(query):
                out[(name, number)] = (decode_steps(steps), bytes(vals))
        return out


def history_params(
    pk: int, rows: list[tuple[int, dict[str, Any]]], blocks: list[RowBlock]
) -> Iterator[list[tuple[Any, ...]]]:
    """The history upserts of a batch, a slice at a time (the texts of a whole
    batch at once would be the largest allocation of the service)."""
    for start in range(0, len(rows), _TEXTS_PER_STATEMENT):
        yield [(pk, step, encode_row(row, f"history row {step}"))
               for step, row in rows[start:start + _TEXTS_PER_STATEMENT]]
    for block in blocks:
        for start in range(0, len(block), _TEXTS_PER_STATEMENT):
            yield block_texts(pk, block, start, start + _TEXTS_PER_STATEMENT)


def _appended(
    pk: int, name: str, number: int, old_steps: list[int], raw: bytes, added: Series
) -> tuple[Any, ...]:
    try:
        values = append_values(raw, added[1])
    except (TypeError, ValueError) as exc:
        raise StoreError(f"values of {name!r} are not JSON-serialisable: {exc}") from exc
    return (pk, name, number, encode_steps(old_steps + added[0]), values)


def chunk_params(pk: int, name: str, number: int, series: Series) -> tuple[Any, ...]:
    try:
        values = encode_values(series[1])
    except (TypeError, ValueError) as exc:
        raise StoreError(f"values of {name!r} are not JSON-serialisable: {exc}") from exc
    return (pk, name, number, encode_steps(series[0]), values)
