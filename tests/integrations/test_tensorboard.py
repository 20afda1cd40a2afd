"""TensorBoard sync through the W&B switch: wandb.tensorboard.patch() and wandb.init(sync_tensorboard=True)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integrations.helpers import only_run, run_under_switch

pytest.importorskip("torch.utils.tensorboard")

SCRIPT = """
import sys
import wandb
from torch.utils.tensorboard import SummaryWriter

wandb.tensorboard.patch(root_logdir="logs")
run = wandb.init(project=sys.argv[1], sync_tensorboard=True)
writer = SummaryWriter("logs/train")
for step in range(3):
    writer.add_scalar("loss", 1.0 / (step + 1), step)
wandb.log({"epoch": 0})
wandb.finish()
print("done")
"""


def test_wandb_tensorboard_patch_and_sync(workdir: Path, project: str) -> None:
    """Unmodified W&B code: the writer's scalars are in the run as train/loss at TensorBoard's steps."""
    assert run_under_switch(workdir, SCRIPT, project) == "done"
    run = only_run(project)
    rows = list(run.scan_history())
    assert [(r["_step"], r.get("train/loss")) for r in rows] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    assert rows[0]["epoch"] == 0
    assert any(f.name.startswith("tensorboard/train/events.out.tfevents.") for f in run.files())
