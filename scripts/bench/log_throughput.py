#!/usr/bin/env python
"""Benchmark of the log() path, against the targets of the foundation issue.

Prints, for mytrack on the embedded store:
  * cold init() (no service running) and warm init() times;
  * 100,000 log() calls of a dict of 10 floats: calls/s, p50/p99 latency;
  * time from the end of the loop until every step is readable through Api;
  * finish() time;
  * client RSS growth and service peak RSS;
  * 8 processes x 20,000 steps in parallel: aggregate durable steps/s.
When `wandb` is importable, runs W&B in offline mode on the same work in the
same run and prints the ratios.

Usage: python scripts/bench/log_throughput.py [--steps N] [--procs P] [--proc-steps M]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from typing import Any

import psutil


def _rss_mb(pid: int | None = None) -> float:
    return psutil.Process(pid or os.getpid()).memory_info().rss / 2**20


class PeakRss:
    """Samples a process's RSS every 20 ms in a thread; keeps the peak."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0.0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.peak = max(self.peak, _rss_mb(self.pid))
            except psutil.NoSuchProcess:
                return

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak


def _loop(log: Any, steps: int) -> tuple[float, list[int]]:
    """``steps`` calls of log() with 10 fresh floats each; every call is timed."""
    keys = [(f"metric_{k}", float(k)) for k in range(10)]
    data = {key: 0.0 for key, _ in keys}
    latencies = [0] * steps
    clock = time.perf_counter_ns
    start = time.perf_counter()
    for i in range(steps):
        base = i * 0.001
        for key, offset in keys:
            data[key] = base + offset
        t0 = clock()
        log(data)
        latencies[i] = clock() - t0
    return time.perf_counter() - start, latencies


def _pct(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] / 1000.0


def bench_mytrack(steps: int, home: str, workdir: str) -> dict[str, Any]:
    import mytrack
    from mytrack_common.address import service_address

    os.environ["MYTRACK_DIR"] = home
    t0 = time.perf_counter()
    run = mytrack.init(project="bench", dir=workdir, settings=mytrack.Settings(quiet=True))
    cold_init = time.perf_counter() - t0
    run.finish()
    t0 = time.perf_counter()
    run = mytrack.init(project="bench", dir=workdir, settings=mytrack.Settings(quiet=True))
    warm_init = time.perf_counter() - t0
    service_pid = int(open(service_address(home).pid).read().strip())
    service_peak = PeakRss(service_pid)
    rss_before = _rss_mb()
    loop_seconds, latencies = _loop(run.log, steps)
    loop_end = time.perf_counter()
    rss_after_loop = _rss_mb()
    api = mytrack.Api()
    while api.run(run.path).last_step < steps - 1:
        time.sleep(0.01)
    readable = time.perf_counter() - loop_end
    t0 = time.perf_counter()
    run.finish()
    finish_seconds = time.perf_counter() - t0
    rows = sum(1 for _ in api.run(run.path).scan_history(keys=["metric_0"]))
    return {
        "cold_init_ms": cold_init * 1000, "warm_init_ms": warm_init * 1000,
        "calls_per_s": steps / loop_seconds, "p50_us": _pct(latencies, 0.50),
        "p99_us": _pct(latencies, 0.99), "readable_after_loop_s": readable,
        "finish_s": finish_seconds, "rows_read_back": rows,
        "client_rss_growth_mb": rss_after_loop - rss_before,
        "client_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "service_peak_rss_mb": service_peak.stop(),
    }


_WORKER = r"""
import sys, time, mytrack
steps = int(sys.argv[1])
run = mytrack.init(project="bench-parallel", settings=mytrack.Settings(quiet=True))
start = time.perf_counter()
for i in range(steps):
    run.log({f"metric_{k}": i * 0.001 + k for k in range(10)})
run._sender.flush()
durable = time.perf_counter() - start
run.finish()
print(durable)
"""


def bench_parallel(procs: int, steps: int, home: str, workdir: str) -> dict[str, Any]:
    env = dict(os.environ, MYTRACK_DIR=home)
    start = time.perf_counter()
    children = [
        subprocess.Popen([sys.executable, "-c", _WORKER, str(steps)], cwd=workdir, env=env,
                         stdout=subprocess.PIPE, text=True)
        for _ in range(procs)
    ]
    durations = [float(c.communicate()[0].strip().splitlines()[-1]) for c in children]
    wall = time.perf_counter() - start
    return {
        "procs": procs, "steps_each": steps, "wall_s": wall,
        "slowest_durable_s": max(durations),
        "aggregate_steps_per_s": procs * steps / max(durations),
    }


def bench_wandb(steps: int, workdir: str) -> dict[str, Any] | None:
    try:
        import wandb
    except ImportError:
        return None
    os.environ["WANDB_MODE"] = "offline"
    os.environ["WANDB_SILENT"] = "true"
    t0 = time.perf_counter()
    run = wandb.init(project="bench", dir=workdir)
    init_s = time.perf_counter() - t0
    loop_seconds, latencies = _loop(run.log, steps)
    t0 = time.perf_counter()
    run.finish()
    return {
        "init_ms": init_s * 1000, "calls_per_s": steps / loop_seconds,
        "p50_us": _pct(latencies, 0.50), "p99_us": _pct(latencies, 0.99),
        "finish_s": time.perf_counter() - t0,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--procs", type=int, default=8)
    parser.add_argument("--proc-steps", type=int, default=20_000)
    parser.add_argument("--skip-wandb", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mytrack-bench-") as tmp:
        home, workdir = os.path.join(tmp, "home"), os.path.join(tmp, "work")
        os.makedirs(workdir)
        results: dict[str, Any] = {"mytrack": bench_mytrack(args.steps, home, workdir)}
        results["parallel"] = bench_parallel(args.procs, args.proc_steps, home, workdir)
        if not args.skip_wandb:
            results["wandb"] = bench_wandb(args.steps, workdir)
        subprocess.run([sys.executable, "-m", "mytrack_service", "--home", home, "stop"],
                       capture_output=True, check=False)
    _print(results)
    return 0


def _print(results: dict[str, Any]) -> None:
    m, p, w = results["mytrack"], results["parallel"], results.get("wandb")
    print(f"log loop ({m['rows_read_back']} steps of 10 floats)")
    print(f"  calls/s            {m['calls_per_s']:>12,.0f}   (target >= 150,000)")
    print(f"  p50 latency        {m['p50_us']:>12.2f} us (target p99 <= 30 us)")
    print(f"  p99 latency        {m['p99_us']:>12.2f} us")
    print(f"  readable after     {m['readable_after_loop_s']:>12.3f} s  (target <= 2 s)")
    print(f"  finish()           {m['finish_s']:>12.3f} s")
    print(f"  cold init()        {m['cold_init_ms']:>12.1f} ms (target <= 1000 ms)")
    print(f"  warm init()        {m['warm_init_ms']:>12.1f} ms (target <= 50 ms)")
    print(f"  client RSS growth  {m['client_rss_growth_mb']:>12.1f} MB (target <= 30 MB)")
    print(f"  service peak RSS   {m['service_peak_rss_mb']:>12.1f} MB (target <= 100 MB)")
    print(f"parallel: {p['procs']} processes x {p['steps_each']:,} steps")
    print(f"  aggregate durable  {p['aggregate_steps_per_s']:>12,.0f} steps/s (target >= 50,000)")
    print(f"  wall (with start)  {p['wall_s']:>12.2f} s")
    if w:
        print("wandb offline, same work, same run")
        print(f"  calls/s            {w['calls_per_s']:>12,.0f}  -> mytrack x{m['calls_per_s'] / w['calls_per_s']:.1f}")
        print(f"  p99 latency        {w['p99_us']:>12.2f} us -> mytrack x{w['p99_us'] / m['p99_us']:.1f} lower")
        print(f"  init()             {w['init_ms']:>12.1f} ms")
        print(f"  finish()           {w['finish_s']:>12.3f} s")
    else:
        print("wandb not installed: no same-run baseline (pip install 'mytrack[bench]')")
    print(json.dumps(results))


if __name__ == "__main__":
    raise SystemExit(main())
