"""Benchmark: history writes and reads of `SqlStore` on SQLite.

Writes ``--steps`` steps of ``--keys`` float keys (plus ``_step``, ``_runtime``
and ``_timestamp``) through ``write_batch`` in batches of ``--batch`` rows,
then times a keyed read of one key over every step and a full-row scan of
``--scan`` rows. With ``--wide N`` it also writes ``--wide-rows`` rows that each
hold a list of N floats (as the applier does: small batches, one chunk) and
reads the list key back. Run from the repository root::

    PYTHONPATH=daemon python scripts/bench/store_history.py
    PYTHONPATH=daemon python scripts/bench/store_history.py --steps 0 --wide 20000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from typing import Any

try:
    from mytrack_service.store.base import Batch, RunKey, RunRow
    from mytrack_service.store.sql import SqlStore
except ImportError:  # not installed: use the checkout
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "daemon"))
    from mytrack_service.store.base import Batch, RunKey, RunRow
    from mytrack_service.store.sql import SqlStore

KEY = RunKey("bench", "history", "run1")


def make_rows(start: int, count: int, keys: int, rng: random.Random) -> list[tuple[int, dict[str, Any]]]:
    """``count`` history rows from step ``start``, each with ``keys`` random floats."""
    names = [f"train/metric_{i}" for i in range(keys)]
    return [
        (step, {"_step": step, "_runtime": step * 0.01, "_timestamp": 1.7e9 + step * 0.01,
                **{name: rng.random() for name in names}})
        for step in range(start, start + count)
    ]


def bench_write(store: SqlStore, steps: int, keys: int, batch: int) -> float:
    """Writes every batch; returns the seconds spent inside write_batch."""
    rng = random.Random(0)
    spent = 0.0
    worst = 0.0
    for start in range(0, steps, batch):
        rows = make_rows(start, min(batch, steps - start), keys, rng)
        began = time.perf_counter()
        store.write_batch(Batch(KEY, rows, {"last_step": rows[-1][0]}))
        took = time.perf_counter() - began
        spent += took
        worst = max(worst, took)
    print(f"write: {steps:,} rows x {keys} keys in {spent:.2f} s = {steps / spent:,.0f} rows/s "
          f"({spent / (steps / batch) * 1000:.0f} ms per {batch}-row batch, worst {worst * 1000:.0f} ms)")
    return spent


def bench_read_key(store: SqlStore, steps: int) -> None:
    began = time.perf_counter()
    count = sum(1 for _ in store.read_history(KEY, keys=["train/metric_0"]))
    took = time.perf_counter() - began
    assert count == steps, count
    print(f"read one key over {count:,} steps: {took:.2f} s ({count / took:,.0f} rows/s)")


def bench_scan(store: SqlStore, rows: int) -> None:
    began = time.perf_counter()
    count = sum(1 for _ in store.read_history(KEY, max_step=rows - 1))
    took = time.perf_counter() - began
    assert count == rows, count
    print(f"full-row scan of {count:,} rows: {took:.2f} s ({count / took:,.0f} rows/s)")


WIDE = RunKey("bench", "history", "wide")


def bench_wide(store: SqlStore, rows: int, width: int, batch: int) -> None:
    """Rows of one key holding ``width`` floats, ``batch`` rows per write (a 1 MB record
    holds about four such rows): every batch lands in the same chunk."""
    store.create_run(RunRow(key=WIDE, created_at=time.time()))
    spent = worst = 0.0
    for start in range(0, rows, batch):
        chunk = [(step, {"_step": step, "i": step, "row": [step + 0.123456789] * width})
                 for step in range(start, min(rows, start + batch))]
        began = time.perf_counter()
        store.write_batch(Batch(WIDE, chunk, {"last_step": chunk[-1][0]}))
        took = time.perf_counter() - began
        spent, worst = spent + took, max(worst, took)
    print(f"wide write: {rows} rows of a {width:,}-float list, {batch} per batch: {spent:.2f} s "
          f"(last batches {worst * 1000:.0f} ms worst)")
    began = time.perf_counter()
    read = list(store.read_history(WIDE, keys=["i", "row"]))
    assert [r["i"] for r in read] == list(range(rows)) and len(read[-1]["row"]) == width
    print(f"wide read of both keys: {time.perf_counter() - began:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--scan", type=int, default=100_000)
    parser.add_argument("--wide", type=int, default=0, help="floats per list value (0: skip)")
    parser.add_argument("--wide-rows", type=int, default=400)
    parser.add_argument("--wide-batch", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "bench.db")
        store = SqlStore(f"sqlite:///{path}")
        store.create_run(RunRow(key=KEY, created_at=time.time()))
        if args.steps:
            bench_write(store, args.steps, args.keys, args.batch)
            print(f"database size: {os.path.getsize(path) / 2**20:,.0f} MiB (+ WAL)")
            bench_read_key(store, args.steps)
            bench_scan(store, min(args.scan, args.steps))
        if args.wide:
            bench_wide(store, args.wide_rows, args.wide, args.wide_batch)
        store.close()


if __name__ == "__main__":
    main()
