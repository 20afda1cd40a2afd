"""Client memory under backpressure: large rows logged against a SIGSTOPped service.

Starts a run, stops the service (SIGSTOP) so that nothing is acknowledged, logs
rows of about ``--row-kb`` KB from a thread until log() blocks, and prints the
process's resident memory growth next to MYTRACK_BUFFER_BYTES. Then resumes the
service (SIGCONT), finishes, and checks every row arrived.

    python scripts/bench/backpressure_memory.py --buffer-mb 32 --seconds 8
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import psutil


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--buffer-mb", type=int, default=32)
    parser.add_argument("--row-kb", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="mytrack-bp-")
    os.environ.update(MYTRACK_DIR=home, MYTRACK_BUFFER_BYTES=str(args.buffer_mb << 20),
                      MYTRACK_SILENT="true")
    import mytrack
    from mytrack_common.address import service_address

    run = mytrack.init(project="backpressure", settings=mytrack.Settings(console="off"))
    run.log({"warmup": 1.0})
    assert run._sender is not None
    run._sender.flush(30)
    service_pid = int(open(service_address(home).pid).read().strip())
    me = psutil.Process()
    base = me.memory_info().rss
    width = max(1, args.row_kb * 1024 // 20)  # ~20 bytes of JSON per float
    logged = [0] * args.threads
    stop = threading.Event()

    def produce(index: int) -> None:
        while not stop.is_set():
            run.log({f"row{index}": [float(i) + 0.123456789 for i in range(width)]})
            logged[index] += 1

    os.kill(service_pid, signal.SIGSTOP)
    peak = 0
    try:
        threads = [threading.Thread(target=produce, args=(i,), daemon=True) for i in range(args.threads)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            peak = max(peak, me.memory_info().rss - base)
            time.sleep(0.05)
        stop.set()
    finally:
        os.kill(service_pid, signal.SIGCONT)
    for thread in threads:
        thread.join(120)
    run.finish()
    assert run._sender is not None
    stats = run._sender.stats
    rows = len(mytrack.Api().run(run.path).history(pandas=False))
    buffer = args.buffer_mb << 20
    print(f"buffer {args.buffer_mb} MiB, rows of ~{args.row_kb} KB, {args.threads} thread(s): "
          f"peak RSS growth {peak / 2**20:.0f} MiB = {peak / buffer:.2f}x the buffer; "
          f"logged {sum(logged)} rows, readable {rows - 1}; log() waited {stats.backpressure_seconds:.1f}s "
          f"(wall {args.seconds:.0f}s)")
    subprocess.run([sys.executable, "-m", "mytrack_service", "stop"], capture_output=True, check=False)


if __name__ == "__main__":
    main()
