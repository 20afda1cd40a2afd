"""Client memory while the service is stopped (SIGSTOP) stays near MYTRACK_BUFFER_BYTES, and nothing is lost.

Runs scripts/bench/backpressure_memory.py (its own service home), which logs
~200 KB rows from a thread against a SIGSTOPped service until log() blocks,
then resumes the service and reads every row back.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench" / "backpressure_memory.py"


def test_memory_under_backpressure_is_bounded_and_nothing_is_lost(tmp_path: Path) -> None:
    """Peak RSS growth is under 2.5x a 32 MiB buffer (it was 3-14x), every logged row is readable,
    and the wait is reported."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--buffer-mb", "32", "--row-kb", "200", "--seconds", "5"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        # One malloc arena: freed memory kept by per-thread arenas is not data mytrack holds.
        env={**os.environ, "MALLOC_ARENA_MAX": "1"},
    )
    assert result.returncode == 0, result.stderr
    line = result.stdout.strip().splitlines()[-1]
    match = re.search(r"= ([\d.]+)x the buffer; logged (\d+) rows, readable (\d+); log\(\) waited ([\d.]+)s", line)
    assert match, line
    ratio, logged, readable, waited = float(match[1]), int(match[2]), int(match[3]), float(match[4])
    assert ratio < 2.5, line
    assert logged == readable and logged > 0, line
    assert waited > 0.0, line  # log() blocked while nothing was acknowledged
