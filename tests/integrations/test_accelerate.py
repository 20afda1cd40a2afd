"""accelerate's WandBTracker on mytrack (through `mytrack run`): init_trackers, log, end_training."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integrations.helpers import only_run, run_under_switch

pytest.importorskip("torch")
pytest.importorskip("accelerate")

SCRIPT = """
import sys
import torch
from accelerate import Accelerator

accelerator = Accelerator(log_with="wandb", cpu=True)
accelerator.init_trackers(sys.argv[1], config={"lr": 0.01, "batch": 4, "weights": torch.tensor([0.5, 0.25])},
                          init_kwargs={"wandb": {"name": "acc", "tags": ["t1"], "anonymous": None}})
for step in range(3):
    accelerator.log({"loss": torch.tensor(1.0 / (step + 1)), "lr": 0.01}, step=step)
accelerator.end_training()
print("done")
"""


def test_accelerate_tracker(workdir: Path, project: str) -> None:
    """The tracker's config (a tensor as a list), tags, and one row per logged step reach the store."""
    run_under_switch(workdir, SCRIPT, project)
    run = only_run(project)
    assert (run.name, run.tags, run.state) == ("acc", ["t1"], "finished")
    assert run.config == {"lr": 0.01, "batch": 4, "weights": [0.5, 0.25]}
    rows = list(run.scan_history())
    assert [(r["_step"], r["loss"]) for r in rows] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
