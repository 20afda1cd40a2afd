"""mytrack.integration.keras's own names (MetricsLogger, ModelCheckpoint, EvalCallback) in a real
Keras 3 fit on the torch backend."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mytrack

pytest.importorskip("torch")
os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")

from mytrack.integration import keras as callbacks  # noqa: E402
from tests.integrations.helpers import only_run  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_current_run")


def model_and_data() -> tuple[Any, Any, Any]:
    keras.utils.set_random_seed(0)
    x, y = np.random.rand(16, 3).astype("float32"), np.random.rand(16, 1).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse", metrics=["mae"])
    return model, x, y


def test_fit_with_mytrack_callbacks(workdir: Path, project: str) -> None:
    """Batch metrics every 2 batches on batch/batch_step; a checkpoint per epoch (file name with the
    epoch) as versions with latest and epoch_N; a prediction table per epoch."""

    class Predictions(callbacks.EvalCallback):  # type: ignore[misc,name-defined]
        def add_ground_truth(self, logs: Any = None) -> None:
            for i, value in enumerate(y[:4, 0]):
                self.data_table.add_data(i, float(value))

        def add_model_predictions(self, epoch: int, logs: Any = None) -> None:
            for i, value in enumerate(self.model.predict(x[:4], verbose=0)[:, 0]):
                self.pred_table.add_data(epoch, i, float(value))

    run = mytrack.init(project=project)
    model, x, y = model_and_data()
    fit_callbacks = [callbacks.MetricsLogger(log_freq=2), callbacks.ModelCheckpoint("m-{epoch:02d}.keras"),
                     Predictions(["idx", "y"], ["epoch", "idx", "pred"])]
    model.fit(x, y, epochs=2, batch_size=4, verbose=0, validation_data=(x[:4], y[:4]), callbacks=fit_callbacks)
    mytrack.finish()

    stored = only_run(project)
    rows = list(stored.scan_history())
    batches = [r for r in rows if "batch/loss" in r]
    assert [r["batch/batch_step"] for r in batches] == [0, 2, 4, 6]  # batches 0 and 2 of each epoch
    assert all(r["batch/learning_rate"] == pytest.approx(0.05) for r in batches)
    api = mytrack.Api()
    for epoch in (0, 1):
        version = api.artifact(f"{project}/run_{run.id}_model:epoch_{epoch}")
        assert version.type == "model" and [f.name for f in version.files()] == [f"m-{epoch + 1:02d}.keras"]
    assert api.artifact(f"{project}/run_{run.id}_model:latest").version == "v1"
    tables = [r for r in rows if "eval_data" in r]
    assert len(tables) == 2 and sum("val_data" in r for r in rows) == 1
    data = api.artifact(f"{project}/val:v0")
    assert [r.id for r in data.used_by()] == [run.id] and data.get("val_data").data == [
        [i, pytest.approx(float(v))] for i, v in enumerate(y[:4, 0])]
    predictions = api.artifact(f"{project}/run_{run.id}_pred:latest")
    assert predictions.version == "v1" and predictions.type == "evaluation"
    assert [row[:2] for row in predictions.get("eval_data").data] == [[1, i] for i in range(4)]


def test_eval_callback_offline_logs_both_tables_for_sync(workdir: Path, project: str) -> None:
    """Offline, the data table is logged (not used: nothing to read back) and data_table_ref is
    the table itself; `mytrack sync` stores both artifacts."""

    class Predictions(callbacks.EvalCallback):  # type: ignore[misc,name-defined]
        def add_ground_truth(self, logs: Any = None) -> None:
            self.data_table.add_data(0, 1.0)

        def add_model_predictions(self, epoch: int, logs: Any = None) -> None:
            self.pred_table.add_data(epoch, self.data_table_ref.data[0][1])

    run = mytrack.init(project=project, mode="offline")
    model, x, y = model_and_data()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[Predictions(["idx", "y"], ["epoch", "y"])])
    mytrack.finish()
    (folder,) = (workdir / "mytrack-runs").glob(f"run-*-{run.id}")
    subprocess.run([sys.executable, "-m", "mytrack.cli", "sync", str(folder)], check=True,
                   capture_output=True, timeout=120)
    api = mytrack.Api()
    assert api.artifact(f"{project}/val:latest").get("val_data").data == [[0, 1.0]]
    assert api.artifact(f"{project}/run_{run.id}_pred:latest").get("eval_data").data == [[0, 1.0]]


def test_best_only_checkpoints_and_wandb_names(project: str) -> None:
    """save_best_only logs only improving epochs, aliased best; W&B's names are the same callbacks."""
    assert issubclass(callbacks.WandbModelCheckpoint, callbacks.ModelCheckpoint)
    assert issubclass(callbacks.WandbMetricsLogger, callbacks.MetricsLogger)
    assert callbacks.WandbEvalCallback.__name__ == "WandbEvalCallback"
    with pytest.raises(mytrack.errors.PreInitError, match="MetricsLogger"):
        callbacks.MetricsLogger()
    run = mytrack.init(project=project)
    with pytest.raises(mytrack.errors.InvalidValueError, match="log_freq"):
        callbacks.MetricsLogger(log_freq=0)
    model, x, y = model_and_data()
    checkpoint = callbacks.ModelCheckpoint("best.keras", monitor="loss", save_best_only=True)
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0, callbacks=[checkpoint])
    mytrack.finish()
    losses = history.history["loss"]
    improving = [e for e in range(3) if losses[e] == min(losses[: e + 1])]
    api = mytrack.Api()
    assert "best" in api.artifact(f"{project}/run_{run.id}_model:latest").aliases
    for epoch in range(3):
        if epoch in improving:
            assert api.artifact(f"{project}/run_{run.id}_model:epoch_{epoch}").type == "model"
        else:
            with pytest.raises(mytrack.errors.ArtifactNotFoundError):
                api.artifact(f"{project}/run_{run.id}_model:epoch_{epoch}")
