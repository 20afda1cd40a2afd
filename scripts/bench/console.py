#!/usr/bin/env python
"""Benchmark of console capture: how much it slows a script that prints a lot.

A child script runs a training-like loop: about 100 us of work and one printed
line per iteration, i.e. 10,000 lines per second, for a few seconds. It runs
with ``console="off"`` (the baseline), ``"wrap"`` and ``"auto"`` (fd level;
through a pipe, and through a pseudo-terminal as on a person's screen),
alternating, several times each; the median (and the fastest) loop time of
each mode gives the slowdown against the baseline (target: under 5 %), and
"main CPU" the extra CPU time of the training thread itself (what capture
costs the program where the machine has a core to spare). Also printed: the
client's peak RSS growth, the one-time cost of the environment
collection (waited for before the loop), and the rate of a loop that only
prints. On a machine with few cores, other load (and the service, which
stores the lines) weighs on the figures: run it on a quiet machine.

Usage: python scripts/bench/console.py [--seconds S] [--repeats R]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading

CHILD = r"""
import json, os, sys, time
import psutil
import mytrack
from mytrack._internal.lifecycle import environment
mode, iterations, work = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
run = mytrack.init(project="bench-console", settings=mytrack.Settings(console=mode, quiet=True))
t0 = time.perf_counter()
environment.settle(run, 30)  # a one-time cost, measured apart from the loop
settle = time.perf_counter() - t0
process = psutil.Process()
before = peak = process.memory_info().rss
start, cpu_start = time.perf_counter(), time.thread_time()
for i in range(iterations):
    acc = 0
    for j in range(work):          # the "training step"
        acc += j * j
    print(f"step {i:7d} loss={1.0 / (i + 1):.6f} acc={acc % 1000:4d} " + "-" * 20)
    if i % 2000 == 0:
        peak = max(peak, process.memory_info().rss)
elapsed = time.perf_counter() - start
cpu = time.thread_time() - cpu_start
peak = max(peak, process.memory_info().rss)
run.finish()
os.write(int(sys.argv[4]), json.dumps(
    {"elapsed": elapsed, "cpu": cpu, "growth": peak - before, "settle": settle}).encode())
"""


def _calibrate(target_seconds: float) -> int:
    """Inner-loop length that takes about ``target_seconds`` in this interpreter."""
    import time

    work = 1000
    start = time.perf_counter()
    for _ in range(200):
        acc = 0
        for j in range(work):
            acc += j * j
    per = (time.perf_counter() - start) / 200
    return max(1, int(work * target_seconds / per))


def _run(mode: str, iterations: int, work: int, env: dict[str, str], pty: bool) -> dict[str, float]:
    read_fd, write_fd = os.pipe()
    args = [sys.executable, "-c", CHILD, mode, str(iterations), str(work), str(write_fd)]
    if pty:
        master, slave = os.openpty()
        out: int = slave
    else:
        master, out = -1, subprocess.DEVNULL
    drain = None
    if pty:  # someone must read the terminal, as a terminal emulator would
        def read_all() -> None:
            try:
                while os.read(master, 65536):
                    pass
            except OSError:
                pass
        drain = threading.Thread(target=read_all, daemon=True)
        drain.start()
    process = subprocess.Popen(args, stdout=out, stderr=out, env=env, pass_fds=(write_fd,))
    os.close(write_fd)
    if pty:
        os.close(slave)
    result = b""
    while chunk := os.read(read_fd, 65536):
        result += chunk
    os.close(read_fd)
    code = process.wait()
    if drain is not None:
        drain.join(5)
        os.close(master)
    if code != 0:
        raise SystemExit(f"child ({mode}) failed with {code}")
    data: dict[str, float] = json.loads(result)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="loop length per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per mode")
    args = parser.parse_args()
    rate = 10_000
    iterations = int(args.seconds * rate)
    work = _calibrate(1.0 / rate * 0.9)  # leave room for the print itself
    home = tempfile.mkdtemp(prefix="mytrack-bench-console-")
    env = {**os.environ, "MYTRACK_DIR": home, "MYTRACK_RUN_DIR": home, "MYTRACK_SILENT": "true"}
    modes = [("off", "off", False), ("wrap", "wrap", False), ("auto (pipe)", "auto", False),
             ("off (pty)", "off", True), ("auto (pty)", "auto", True)]
    results: dict[str, list[dict[str, float]]] = {name: [] for name, _, _ in modes}
    try:
        _run("off", 1000, work, env, False)  # start the service, warm caches
        for _ in range(3):  # the child's own speed: iterations of 1/rate seconds
            probe = _run("off", 5000, work, env, False)["elapsed"] / 5000
            work = max(1, int(work * (1.0 / rate) / probe))
        for _ in range(args.repeats):
            for name, mode, pty in modes:
                results[name].append(_run(mode, iterations, work, env, pty))
        print(f"{iterations} lines at ~{rate} lines/s ({args.seconds:.0f} s loops), "
              f"{args.repeats} runs per mode, {os.cpu_count()} CPUs; slowdown against the "
              "same output without capture, by the median and by the fastest run (the "
              "one least disturbed by other load)")
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.2f}")
        print(f"{'mode':14} {'median s':>9} {'slowdown':>9} {'min s':>7} {'slowdown':>9} "
              f"{'main CPU':>9} {'lines/s':>8} {'RSS growth MB':>14} {'env s':>6}")
        for name, _, pty in modes:
            runs = [r["elapsed"] for r in results[name]]
            base = [r["elapsed"] for r in results["off (pty)" if pty else "off"]]
            median, fastest = statistics.median(runs), min(runs)
            growth = max(r["growth"] for r in results[name]) / 2**20
            settle = statistics.median(r["settle"] for r in results[name])
            cpu = statistics.median(r["cpu"] for r in results[name])
            base_cpu = statistics.median(r["cpu"] for r in results["off (pty)" if pty else "off"])
            print(f"{name:14} {median:9.3f} {100 * (median / statistics.median(base) - 1):8.1f}% "
                  f"{fastest:7.3f} {100 * (fastest / min(base) - 1):8.1f}% "
                  f"{100 * (cpu / base_cpu - 1):8.1f}% "
                  f"{iterations / median:8.0f} {growth:14.1f} {settle:6.3f}")
        flat = {name: _run(mode, 200_000, 0, env, pty) for name, mode, pty in modes}
        print("printing only (200,000 lines, no work):")
        for name, _, pty in modes:
            base = flat["off (pty)" if pty else "off"]["elapsed"]
            elapsed = flat[name]["elapsed"]
            print(f"  {name:14} {200_000 / elapsed:9.0f} lines/s ({100 * (elapsed / base - 1):+.1f}%)")
    finally:
        subprocess.run([sys.executable, "-m", "mytrack_service", "--home", home, "stop"],
                       capture_output=True, check=False, timeout=60)


if __name__ == "__main__":
    main()
