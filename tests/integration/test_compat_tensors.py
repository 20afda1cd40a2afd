"""Tensors logged through a real run: what the history, summary and config hold."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

import mytrack

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _no_current_run(workdir: Path) -> Iterator[None]:
    mytrack.finish()
    yield
    mytrack.finish()


def test_tensors_in_log_summary_and_config(project: str) -> None:
    """0-d tensors are numbers, larger ones histograms (history and summary); config gets lists."""
    weights = torch.arange(64, dtype=torch.float32).reshape(8, 8)
    with mytrack.init(project=project, config={"scale": torch.tensor(2.0), "shape": torch.tensor([8, 8])},
                      settings=mytrack.Settings(quiet=True)) as run:
        for step in range(2):
            run.log({"loss": torch.tensor(1.0 / (step + 1)), "w": weights})
        run.summary["best"] = torch.tensor(0.5)
        run.summary["final_w"] = weights
    stored = mytrack.Api().run(run.path)
    rows = list(stored.scan_history())
    assert [r["loss"] for r in rows] == [1.0, 0.5]
    counts, edges = np.histogram(weights.numpy().astype(np.float64), bins=32)
    assert rows[0]["w"] == {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
    assert stored.summary["best"] == 0.5 and stored.summary["loss"] == 0.5
    assert stored.summary["final_w"]["_type"] == "histogram"
    assert stored.config == {"scale": 2.0, "shape": [8, 8]}
