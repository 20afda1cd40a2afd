"""`mytrack run torchrun ...`: every worker torchrun starts gets the switch (its own import wandb is mytrack)."""

from __future__ import annotations

from pathlib import Path

import pytest

import mytrack
from tests.integrations.helpers import run_under_switch

pytest.importorskip("torch")

SCRIPT = """
import os, subprocess, sys
if os.environ.get("RANK") is None:  # the launcher: torchrun starts the workers
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", "0",
           "--rdzv-backend", "c10d", "--rdzv-endpoint", "127.0.0.1:0", __file__, sys.argv[1]]
    raise SystemExit(subprocess.run(cmd).returncode)
import wandb
rank = int(os.environ["RANK"])
with wandb.init(project=sys.argv[1], group="ddp", name=f"rank{rank}", config={"rank": rank}) as run:
    run.log({"loss": 1.0 + rank})
print("done")
"""


def test_torchrun_workers_are_switched(workdir: Path, project: str) -> None:
    """Both ranks' runs are stored, each with its own config and row."""
    run_under_switch(workdir, SCRIPT, project, timeout=240)
    runs = {r.name: r for r in mytrack.Api().runs(project)}
    assert sorted(runs) == ["rank0", "rank1"]
    for rank in (0, 1):
        run = runs[f"rank{rank}"]
        assert run.group == "ddp" and run.config == {"rank": rank}
        assert [r["loss"] for r in run.scan_history()] == [1.0 + rank]
