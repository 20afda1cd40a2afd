"""Large log() calls against the real service.

Rows of ~200 KB logged while the service is stopped (SIGSTOP) pile up in the
SDK; when it resumes they must arrive whole: records are cut near 1 MB (one
record of 2,000 such calls was over gRPC's message limit, and the stream broke
again at every resend), and read back in pages under that limit too. While the
service is stopped the process holds about twice MYTRACK_BUFFER_BYTES, not the
queued calls (scripts/bench/backpressure_memory.py measures it).
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import mytrack
from tests.helpers import service_pid


def test_large_rows_queued_behind_a_stopped_service_all_arrive(workdir: Path, project: str) -> None:
    """400 rows of ~240 KB (96 MB) logged against a SIGSTOPped service: every row is stored and readable."""
    # A 4 MiB buffer: the rest of the 96 MB waits in the SDK, unencoded.
    settings = mytrack.Settings(quiet=True, console="off", max_buffer_bytes=4 << 20)
    run = mytrack.init(project=project, dir=str(workdir), settings=settings)
    run.log({"i": -1})
    assert run._sender is not None and run._sender.flush(30.0)
    pid = service_pid(Path(os.environ["MYTRACK_DIR"]))
    assert pid is not None
    width = 20_000
    done = threading.Event()

    def produce() -> None:
        for i in range(400):
            run.log({"i": i, "row": [i + 0.123456789] * width})
        done.set()

    os.kill(pid, signal.SIGSTOP)
    try:
        threading.Thread(target=produce, daemon=True).start()
        done.wait(5.0)  # log() waits once the buffer and the queue are full (or all 400 fit)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert done.wait(120.0)
    run.finish()
    assert run.status().confirmed
    assert not run._sender.stats.last_error or "lost the stream" not in run._sender.stats.last_error
    rows = list(mytrack.Api().run(run.path).scan_history(keys=["i", "row"]))
    assert [r["i"] for r in rows] == list(range(400))
    assert all(len(r["row"]) == width and r["row"][0] == r["i"] + 0.123456789 for r in rows)
