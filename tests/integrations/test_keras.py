"""W&B's Keras callbacks on mytrack (through `mytrack run`): a Keras 3 fit on the torch backend."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import mytrack
from tests.integrations.helpers import only_run, run_under_switch

pytest.importorskip("torch")
os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip("keras")

SCRIPT = """
import os, sys
os.environ.setdefault("KERAS_BACKEND", "torch")
import numpy as np
import keras
import wandb
from wandb.integration.keras import WandbEvalCallback, WandbMetricsLogger, WandbModelCheckpoint


class Predictions(WandbEvalCallback):
    def __init__(self, x, y):
        super().__init__(["idx", "y"], ["epoch", "idx", "pred"])
        self.x, self.y = x, y

    def add_ground_truth(self, logs=None):
        for i, value in enumerate(self.y[:, 0]):
            self.data_table.add_data(i, float(value))

    def add_model_predictions(self, epoch, logs=None):
        # W&B's documented pattern: the ground truth read back from the data table's artifact.
        for i, value in enumerate(self.model.predict(self.x, verbose=0)[:, 0]):
            self.pred_table.add_data(epoch, self.data_table_ref.data[i][0], float(value))


keras.utils.set_random_seed(0)
x, y = np.random.rand(16, 3).astype("float32"), np.random.rand(16, 1).astype("float32")
run = wandb.init(project=sys.argv[1], config={"epochs": 2})
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_data=(x[:4], y[:4]),
          callbacks=[WandbMetricsLogger(), WandbModelCheckpoint("model.keras"), Predictions(x[:4], y[:4])])
wandb.finish()
print(run.id)
"""


def test_keras_fit_with_wandbs_callbacks(workdir: Path, project: str) -> None:
    """Epoch metrics on epoch/epoch with the learning rate, a model version per epoch, the tables."""
    run_under_switch(workdir, SCRIPT, project, timeout=240)
    run = only_run(project)
    rows = [r for r in run.scan_history() if "epoch/epoch" in r]
    assert [r["epoch/epoch"] for r in rows] == [0, 1]
    for row in rows:
        assert {"epoch/loss", "epoch/mae", "epoch/val_loss", "epoch/val_mae"} <= set(row)
        assert row["epoch/learning_rate"] == pytest.approx(0.05)
    assert "epoch/*" in {m["name"] for m in run.metrics}
    api = mytrack.Api()
    for epoch in (0, 1):
        version = api.artifact(f"{project}/run_{run.id}_model:epoch_{epoch}")
        assert version.type == "model" and [f.name for f in version.files()] == ["model.keras"]
    assert api.artifact(f"{project}/run_{run.id}_model:latest").version == "v1"
    tables = [r for r in run.scan_history() if "eval_data" in r]
    assert len(tables) == 2 and any("val_data" in r for r in run.scan_history())
    # As W&B: the data table an artifact the run uses, each epoch's predictions a version.
    data = api.artifact(f"{project}/val:latest")
    assert data.type == "dataset" and [f.name for f in data.files()] == ["val_data.table.json"]
    assert [r.id for r in data.used_by()] == [run.id]
    assert data.get("val_data").columns == ["idx", "y"] and len(data.get("val_data").data) == 4
    for epoch in (0, 1):
        predictions = api.artifact(f"{project}/run_{run.id}_pred:v{epoch}")
        assert predictions.type == "evaluation"
        table = predictions.get("eval_data")
        assert [row[:2] for row in table.data] == [[epoch, i] for i in range(4)]
    assert api.artifact(f"{project}/run_{run.id}_pred:latest").version == "v1"
