#!/usr/bin/env python
"""Benchmark of distributed patterns, against the targets of the distributed issue.

Prints, for the embedded store (and for PostgreSQL + S3 when MYTRACK_BENCH_STORE
and MYTRACK_BENCH_BLOBS name them):
  * 64 processes x 2,000 steps of 10 scalars, one run each (grouped): init()
    p50/p99, aggregate steps/s until durable (every rank's flush acked) and until
    readable (every step back through Api: the runs' last step), peak RSS of the
    service;
  * 8 writers x 10,000 steps into one shared run: the same figures.

Usage: python scripts/bench/distributed.py [--ranks 64] [--steps 2000]
       [--writers 8] [--shared-steps 10000]
"""

from __future__ import annotations

import argparse
import compileall
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import psutil

import mytrack

_WORKER = r"""
import json, os, sys, time
start_file, mode, steps, rank, project = (sys.argv[1], sys.argv[2], int(sys.argv[3]),
                                          int(sys.argv[4]), sys.argv[5])
import mytrack
open(f"{start_file}.ready-{rank}", "w").close()
while not os.path.exists(start_file):
    time.sleep(0.001)
t0 = time.perf_counter()
if mode == "shared":
    run = mytrack.init(project=project, id="shared-bench", settings=mytrack.Settings(
        mode="shared", x_primary=rank == 0, x_label=f"rank-{rank}", quiet=True))
else:
    run = mytrack.init(project=project, group="grouped", job_type="worker",
                       settings=mytrack.Settings(quiet=True))
init_s = time.perf_counter() - t0
# Ranks meet after init(), as training ranks do at their first collective: init()
# is timed while every rank is starting, the log loop while every rank logs.
open(f"{start_file}.inited-{rank}", "w").close()
while not os.path.exists(f"{start_file}.go"):
    time.sleep(0.02)
began = time.time()
for i in range(steps):
    run.log({f"m{k}_{rank % 4}": i * 0.5 + k for k in range(10)})
if mode == "shared":
    run.log({f"done_{rank}": 1})  # read back once this writer's every step is applied
run._sender.flush()
durable = time.time()
run.finish()
print(json.dumps({"init_s": init_s, "began": began, "durable": durable, "path": run.path}))
"""


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _service_pid(home: str) -> int | None:
    from mytrack_common.address import service_address

    try:
        return int(open(service_address(home).pid).read().strip())
    except (OSError, ValueError):
        return None


def scenario(mode: str, procs: int, steps: int, env: dict[str, str], workdir: str) -> dict[str, Any]:
    start_file = os.path.join(workdir, f"start-{mode}")
    # A project of its own: a shared store (PostgreSQL) keeps the runs of earlier benchmarks.
    project = f"bench-dist-{uuid.uuid4().hex[:8]}"
    children = [
        subprocess.Popen([sys.executable, "-c", _WORKER, start_file, mode, str(steps), str(rank),
                          project],
                         cwd=workdir, env=env, stdout=subprocess.PIPE, text=True)
        for rank in range(procs)
    ]
    # Every interpreter has started and imported mytrack (on 2 cores, 64 imports
    # take seconds): what is timed is init() of all ranks at the same instant.
    deadline = time.monotonic() + 120
    while sum(os.path.exists(f"{start_file}.ready-{r}") for r in range(procs)) < procs:
        if time.monotonic() > deadline:
            raise RuntimeError("the ranks did not start within 120 s")
        time.sleep(0.05)
    peak = 0.0
    began = time.perf_counter()
    open(start_file, "w").close()
    while sum(os.path.exists(f"{start_file}.inited-{r}") for r in range(procs)) < procs:
        if any(child.poll() is not None for child in children):
            break  # a rank failed: its error shows below
        time.sleep(0.01)
    open(f"{start_file}.go", "w").close()
    api = mytrack.Api(settings=mytrack.Settings(service_dir=env["MYTRACK_DIR"]))
    readable_at = 0.0
    while any(child.poll() is None for child in children) or not readable_at:
        pid = _service_pid(env["MYTRACK_DIR"])
        if pid:
            try:
                peak = max(peak, psutil.Process(pid).memory_info().rss / 2**20)
            except psutil.NoSuchProcess:
                pass
        if not readable_at and _all_readable(api, project, mode, procs, steps):
            readable_at = time.time()
        if any(child.returncode not in (None, 0) for child in children):
            break  # a rank failed: its error shows below
        time.sleep(0.05)
    results = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
    wall = time.perf_counter() - began
    inits = [r["init_s"] * 1000 for r in results]
    first = min(r["began"] for r in results)
    return {
        "mode": mode, "procs": procs, "steps_each": steps,
        "init_p50_ms": _pct(inits, 0.5), "init_p99_ms": _pct(inits, 0.99),
        "durable_steps_per_s": procs * steps / (max(r["durable"] for r in results) - first),
        "readable_steps_per_s": procs * steps / (readable_at - first),
        "wall_s": wall, "service_peak_rss_mb": peak,
    }


def _all_readable(api: Any, project: str, mode: str, procs: int, steps: int) -> bool:
    """Whether every step of the scenario's runs can be read back (one ListRuns call)."""
    runs = [r for r in api.runs(project) if (r.group == "grouped") == (mode == "grouped")]
    if mode == "shared":  # applied in order per writer: its last key means all its steps
        return len(runs) == 1 and all(f"done_{w}" in runs[0].summary for w in range(procs))
    return len(runs) == procs and all(r.last_step >= steps - 1 for r in runs)


def run_all(args: argparse.Namespace, extra_env: dict[str, str], label: str) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="mytrack-dist-") as tmp:
        home = os.path.join(tmp, "home")
        env = dict(os.environ, MYTRACK_DIR=home, **extra_env)
        out = [
            scenario("grouped", args.ranks, args.steps, env, tmp),
            scenario("shared", args.writers, args.shared_steps, env, tmp),
        ]
        subprocess.run([sys.executable, "-m", "mytrack_service", "--home", home, "stop"],
                       env=env, capture_output=True, check=False)
    for result in out:
        result["backend"] = label
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--ranks", type=int, default=64)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--shared-steps", type=int, default=10000)
    args = parser.parse_args()
    # Compiled modules, as any installed package has: a source tree run with
    # PYTHONDONTWRITEBYTECODE=1 would make the service compile itself at each start.
    for package in ("mytrack", "mytrack_service", "mytrack_proto", "mytrack_common"):
        compileall.compile_dir(os.path.dirname(importlib.import_module(package).__file__),
                               quiet=1)
    results = run_all(args, {}, "embedded")
    store, blobs = os.environ.get("MYTRACK_BENCH_STORE"), os.environ.get("MYTRACK_BENCH_BLOBS")
    if store:
        extra = {"MYTRACK_STORE": store, **({"MYTRACK_BLOBS": blobs} if blobs else {})}
        results += run_all(args, extra, "postgres+s3" if blobs else "postgres")
    for r in results:
        print(f"{r['backend']:12} {r['mode']:8} {r['procs']:3} x {r['steps_each']:>6,} steps: "
              f"{r['durable_steps_per_s']:>9,.0f} steps/s durable, {r['readable_steps_per_s']:>9,.0f} "
              f"readable; init p50 {r['init_p50_ms']:.0f} ms, "
              f"p99 {r['init_p99_ms']:.0f} ms; wall {r['wall_s']:.1f} s; "
              f"service peak RSS {r['service_peak_rss_mb']:.0f} MB")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
