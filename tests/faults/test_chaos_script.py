"""scripts/chaos.py end to end, briefly: it injects faults, reads the run back and reports 0 lost, 0 duplicated."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "chaos.py"


def test_short_chaos_soak_loses_nothing(tmp_path: Path) -> None:
    """A 12-second soak (kill -9 and SIGSTOP of the service) prints every count and exits 0 with none lost."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--minutes", "0.2", "--rate", "2000", "--seed", "3"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    counts = {name: int(value) for name, value in re.findall(r"steps (\w+):\s+(\d+)", out)}
    assert set(counts) == {"logged", "acknowledged", "readable", "lost", "duplicated"}, out
    assert counts["logged"] > 0 and counts["logged"] == counts["acknowledged"] == counts["readable"], out
    assert counts["lost"] == 0 and counts["duplicated"] == 0, out
    assert re.search(r"faults \{.+\}", out), out  # at least one fault was injected
