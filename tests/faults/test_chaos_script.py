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


def test_chaos_soak_with_postgres_and_s3_outages_loses_nothing(
    tmp_path: Path, postgres_db: str, s3_endpoint: str,
) -> None:
    """A 24-second soak on a PostgreSQL store and an S3 blob store, each behind a proxy
    the script cuts (refused, then black-holed) between kill -9s: every acknowledged step,
    saved file and artifact version reads back (digests verified), none twice."""
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--minutes", "0.4", "--rate", "1000", "--seed", "3",
         "--store", postgres_db, "--blobs", f"s3://chaos-{tmp_path.name.lower()[-20:]}/soak",
         "--s3-endpoint", s3_endpoint, "--faults", "pg-refuse,pg-blackhole,s3-refuse,s3-blackhole,kill9"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    counts = {name: int(value) for name, value in re.findall(r"^(\w+ \w+):\s+(\d+)$", out, re.M)}
    assert counts["steps logged"] > 0, out
    assert counts["steps logged"] == counts["steps acknowledged"] == counts["steps readable"], out
    assert counts["steps lost"] == counts["steps duplicated"] == 0, out
    assert counts["files saved"] > 0 and counts["files readable"] == counts["files saved"], out
    assert counts["artifacts logged"] > 0, out
    assert counts["artifacts readable"] == counts["artifacts logged"], out
    assert counts["files lost"] == counts["artifacts lost"] == counts["artifacts duplicated"] == 0, out
    faults = re.search(r"faults (\{.*\});", out)
    assert faults and "'pg-" in faults.group(1) and "'s3-" in faults.group(1), out
    for backend in ("pg", "s3"):  # the outages reached the service: it tried and was refused
        held = re.search(rf"the {backend} proxy refused or held (\d+) connections", out)
        assert held and int(held.group(1)) > 0, out
