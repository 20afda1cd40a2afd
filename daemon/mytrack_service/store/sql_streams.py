"""Console lines and system-metrics samples of `SqlStore`: streams beside the history."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine

from mytrack_service.store.base import ConsoleLine, RunKey, StoreError
from mytrack_service.store.jsontext import dump_json, load_json
from mytrack_service.store.sql_schema import console, runs, system

_PAGE = 5000


def write_console(conn: Connection, pk: int, lines: list[ConsoleLine]) -> None:
    """Appends lines to run ``pk``, numbered on from the last one."""
    if not lines:
        return
    last = conn.execute(select(func.max(console.c.line)).where(console.c.run_pk == pk)).scalar()
    start = 0 if last is None else int(last) + 1
    conn.execute(insert(console), [
        {"run_pk": pk, "line": start + i, "ts": x.timestamp, "stream": x.stream,
         "label": x.label, "text": x.text}
        for i, x in enumerate(lines)
    ])


def write_system(conn: Connection, pk: int, samples: list[dict[str, Any]]) -> None:
    """Appends system-metrics samples to run ``pk``."""
    if not samples:
        return
    conn.execute(insert(system), [
        {"run_pk": pk, "ts": float(s["_timestamp"]), "label": str(s.get("_label", "")),
         "data": dump_json(s, "system sample")}
        for s in samples
    ])


def _pk_query(key: RunKey) -> Any:
    return select(runs.c.id).where(
        runs.c.entity == key.entity, runs.c.project == key.project, runs.c.run_id == key.run_id
    ).scalar_subquery()


class StreamsMixin:
    """read_console/append_system/read_system on the engine of a `SqlStore`."""

    _engine: Engine

    def _errors(self, what: str) -> AbstractContextManager[None]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Connection]:
        raise NotImplementedError

    def read_console(
        self, key: RunKey, label: str | None = None, min_line: int | None = None,
        max_line: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        c = console.c
        base = select(c.line, c.ts, c.stream, c.label, c.text).where(c.run_pk == _pk_query(key))
        if label is not None:
            base = base.where(c.label == label)
        if max_line is not None:
            base = base.where(c.line <= max_line)
        after = -1 if min_line is None else min_line - 1
        while True:
            with self._errors("read_console"), self._engine.connect() as conn:
                page = conn.execute(base.where(c.line > after).order_by(c.line).limit(_PAGE)).all()
            for line, ts, stream, owner, text in page:
                yield {"_line": line, "_timestamp": ts, "stream": stream, "label": owner, "text": text}
            if len(page) < _PAGE:
                return
            after = page[-1][0]

    def append_system(self, key: RunKey, samples: list[dict[str, Any]]) -> None:
        if not samples:
            return
        with self._errors("append_system"), self._write() as conn:
            pk = conn.execute(select(_pk_query(key))).scalar()
            if pk is None:
                raise StoreError(f"no run {key.path}")
            write_system(conn, pk, samples)

    def read_system(
        self, key: RunKey, keys: list[str] | None = None, min_time: float | None = None,
        max_time: float | None = None, label: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        c = system.c
        query = select(c.data).where(c.run_pk == _pk_query(key)).order_by(c.ts)
        if min_time is not None:
            query = query.where(c.ts >= min_time)
        if max_time is not None:
            query = query.where(c.ts <= max_time)
        if label is not None:
            query = query.where(c.label == label)
        with self._errors("read_system"), self._engine.connect() as conn:
            texts = [row[0] for row in conn.execute(query)]
        for text in texts:
            sample = load_json(text)
            if keys is None:
                yield sample
            elif all(k in sample for k in keys):
                head = {k: sample[k] for k in ("_timestamp", "_runtime", "_label") if k in sample}
                yield {**head, **{k: sample[k] for k in keys}}
