"""mytrack.integration.accelerate.MytrackTracker with a real Accelerator (CPU)."""

from __future__ import annotations

import numpy as np
import pytest

import mytrack

torch = pytest.importorskip("torch")
pytest.importorskip("accelerate")

from accelerate import Accelerator  # noqa: E402

from mytrack.integration.accelerate import MytrackTracker  # noqa: E402
from tests.integrations.helpers import only_run  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_current_run")


def test_accelerator_log_with_mytrack_tracker(project: str) -> None:
    """init_trackers' config (a tensor as a list), a row per logged step, images and a table,
    get_tracker("mytrack") and end_training finishing the run."""
    tracker = MytrackTracker(run_name="acc", project=project, tags=["t1"])
    accelerator = Accelerator(log_with=tracker, cpu=True)
    accelerator.init_trackers(project, config={"lr": 0.01, "weights": torch.tensor([0.5, 0.25])})
    assert accelerator.get_tracker("mytrack", unwrap=True) is tracker.run is mytrack.run
    for step in range(3):
        accelerator.log({"loss": torch.tensor(1.0 / (step + 1))}, step=step)
    tracker.log_images({"samples": [np.zeros((4, 4, 3), dtype=np.uint8)]}, step=3)
    tracker.log_table("preds", columns=["i", "p"], data=[[0, 0.5]], step=3)
    accelerator.end_training()
    assert mytrack.run is None

    run = only_run(project)
    assert (run.name, run.tags, run.state) == ("acc", ["t1"], "finished")
    assert run.config == {"lr": 0.01, "weights": [0.5, 0.25]}
    rows = list(run.scan_history())
    assert [(r["_step"], r["loss"]) for r in rows if "loss" in r] == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    media = [r for r in rows if r["_step"] == 3]
    assert len(media) == 1 and {"samples", "preds"} <= set(media[0])
    assert MytrackTracker.name == "mytrack" and MytrackTracker.requires_logging_directory is False
