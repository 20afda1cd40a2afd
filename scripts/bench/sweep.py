"""Sweep figures: the controller's answer time with 8 agents asking at once, and trials per
second of an agent running a trivial function.

    python scripts/bench/sweep.py [--requests 50] [--trials 30]

The first figure is the time from an agent's request to its trial's configuration
(the NextTrial call: the sweep locked, the trials read, the point chosen and recorded),
p50/p99 over 8 processes asking in a loop. Uses the service of MYTRACK_DIR (a temporary
home when unset).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time

import mytrack
from mytrack._internal.sweeps.service import SweepService
from mytrack.settings import Settings

_CONFIG = {"method": "random", "parameters": {"lr": {"min": 0.0, "max": 1.0}, "b": {"values": [16, 32, 64]}}}


def _ask(sweep_id: str, n: int, out: multiprocessing.Queue[list[float]]) -> None:
    service = SweepService.connect(Settings().resolve())
    times = []
    for _ in range(n):
        start = time.perf_counter()
        answer = service.call("next", {"sweep_id": sweep_id, "agent_id": str(os.getpid())})
        times.append(time.perf_counter() - start)
        assert answer["status"] == "trial"
    out.put(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=50, help="requests per agent")
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    os.environ.setdefault("MYTRACK_DIR", tempfile.mkdtemp(prefix="mytrack-bench-"))
    os.environ["MYTRACK_SILENT"] = "true"
    sweep_id = mytrack.sweep(_CONFIG, project="bench-sweep", quiet=True)
    SweepService.connect(Settings().resolve())  # the service is up before the clock runs
    # Spawned, not forked: a child forked from a process holding a gRPC channel can hang in gRPC.
    spawn = multiprocessing.get_context("spawn")
    out: multiprocessing.Queue[list[float]] = spawn.Queue()
    agents = [spawn.Process(target=_ask, args=(sweep_id, args.requests, out)) for _ in range(8)]
    for agent in agents:
        agent.start()
    times = sorted(t for _ in agents for t in out.get())
    for agent in agents:
        agent.join()
    p50 = statistics.median(times) * 1000
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))] * 1000
    print(f"next trial, 8 agents x {args.requests}: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    sweep_id = mytrack.sweep({**_CONFIG, "run_cap": args.trials}, project="bench-sweep", quiet=True)
    start = time.perf_counter()
    mytrack.agent(sweep_id, function=lambda: mytrack.init().log({"loss": 1.0}), project="bench-sweep")
    elapsed = time.perf_counter() - start
    print(f"trivial function trials: {args.trials / elapsed:.1f} trials/s ({args.trials} in {elapsed:.1f} s)")


if __name__ == "__main__":
    main()
