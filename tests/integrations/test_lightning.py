"""Lightning's own WandbLogger on mytrack (through `mytrack run`): Trainer.fit on a tiny model."""

from __future__ import annotations

from pathlib import Path

import pytest

import mytrack
from tests.integrations.helpers import only_run, run_under_switch

pytest.importorskip("torch")
pytest.importorskip("lightning")

SCRIPT = """
import sys
import torch
import lightning as L
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import WandbLogger
from torch.utils.data import DataLoader, TensorDataset


class Tiny(L.LightningModule):
    def __init__(self, lr=0.05, hidden=4):
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


torch.manual_seed(0)
x = torch.randn(32, 3)
data = TensorDataset(x, x.sum(dim=1, keepdim=True))
logger = WandbLogger(project=sys.argv[1], name="tiny", log_model=True)
checkpoint = ModelCheckpoint(dirpath="ckpt", monitor="val_loss", save_top_k=1)
trainer = L.Trainer(max_epochs=2, logger=logger, accelerator="cpu", devices=1, log_every_n_steps=1,
                    callbacks=[checkpoint], enable_progress_bar=False, enable_model_summary=False)
trainer.fit(Tiny(), DataLoader(data, batch_size=8), DataLoader(data, batch_size=16))
import wandb
wandb.finish()
print(logger.experiment.path if logger.experiment is not None else "none")
"""


def test_trainer_fit_through_wandblogger(workdir: Path, project: str) -> None:
    """2 epochs of 4 steps: 8 train_loss rows on trainer/global_step, val_loss per epoch, hparams in
    config, and the best checkpoint logged as a model artifact (log_model=True)."""
    run_under_switch(workdir, SCRIPT, project)
    run = only_run(project)
    assert run.name == "tiny" and run.state == "finished"
    assert run.config["lr"] == 0.05 and run.config["hidden"] == 4
    rows = list(run.scan_history())
    train = [r for r in rows if "train_loss" in r]
    assert [r["trainer/global_step"] for r in train] == list(range(8))
    assert all(isinstance(r["train_loss"], float) for r in train)
    val = [r for r in rows if "val_loss" in r]
    assert [r["epoch"] for r in val] == [0, 1]
    assert run.summary["train_loss"] == train[-1]["train_loss"]
    assert "trainer/global_step" in {m["name"] for m in run.metrics}
    best = mytrack.Api().artifact(f"{project}/model-{run.id}:best")
    assert best.type == "model" and [f.name for f in best.files()] == ["model.ckpt"]
    assert best.metadata["score"] == min(r["val_loss"] for r in val)
    assert best.metadata["original_filename"].endswith(".ckpt")
