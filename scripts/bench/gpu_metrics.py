#!/usr/bin/env python
"""Checks the NVML path of system metrics on a machine with an NVIDIA GPU.

Starts a service in a temporary home sampling every 0.5 s, runs a run that
logs while a CUDA matmul loop (torch) keeps GPU 0 busy for ``--seconds``, then
reads the run's system stream back and prints, per GPU key, the samples'
min / median / max, and whether the run's own GPU memory was seen. Exits 1
when no GPU key came back (nvidia-ml-py missing, no driver, no GPU).

Usage: python scripts/bench/gpu_metrics.py [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap

CHILD = """
import sys, time
import torch
import mytrack
run = mytrack.init(project="gpu-metrics-check", settings=mytrack.Settings(console="off"))
a = torch.randn(8192, 8192, device="cuda")
end = time.time() + float(sys.argv[1])
step = 0
while time.time() < end:
    b = a @ a
    torch.cuda.synchronize()
    run.log({"step_norm": float(b[0, 0])})
    step += 1
run.finish()
print(run.path)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="mytrack-gpu-")
    env = {**os.environ, "MYTRACK_DIR": home, "MYTRACK_RUN_DIR": home,
           "MYTRACK_STATS_INTERVAL": "0.5", "MYTRACK_SILENT": "true"}
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD), str(args.seconds)],
                              env=env, capture_output=True, text=True, timeout=args.seconds + 120)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        path = done.stdout.strip().splitlines()[-1]
        import mytrack

        run = mytrack.Api(settings=mytrack.Settings(service_dir=home)).run(path)
        samples = run.history(stream="system", pandas=False)
        keys = sorted({k for s in samples for k in s if k.startswith("system/gpu.")})
        print(f"{len(samples)} samples over {args.seconds:.0f} s; metadata gpu: {run.metadata.get('gpu')}")
        for key in keys:
            values = [s[key] for s in samples if key in s]
            print(f"  {key:36} min {min(values):10.1f}  median {statistics.median(values):10.1f}"
                  f"  max {max(values):10.1f}")
        return 0 if keys else 1
    finally:
        subprocess.run([sys.executable, "-m", "mytrack_service", "--home", home, "stop"],
                       capture_output=True, check=False, timeout=60)


if __name__ == "__main__":
    raise SystemExit(main())
