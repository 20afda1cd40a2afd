"""A tiny Lightning model and data for the logger tests, importable by spawned DDP workers."""

from __future__ import annotations

from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset

try:
    import lightning.pytorch as pl
except ImportError:  # pragma: no cover - pytorch_lightning alone
    import pytorch_lightning as pl  # type: ignore[no-redef]


class Tiny(pl.LightningModule):  # type: ignore[misc]
    """Regression of the sum of 3 inputs; logs train_loss each step and val_loss each epoch."""

    def __init__(self, lr: float = 0.05, hidden: int = 4, activation: type = torch.nn.ReLU) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = torch.nn.Sequential(torch.nn.Linear(3, hidden), activation(), torch.nn.Linear(hidden, 1))

    def training_step(self, batch: Any, batch_idx: int) -> Any:
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.net(x), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch: Any, batch_idx: int) -> None:
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.net(x), y), sync_dist=True)

    def configure_optimizers(self) -> Any:
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)


def loaders() -> tuple[DataLoader[Any], DataLoader[Any]]:
    """32 samples: 4 training batches of 8, one validation batch of 16."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(32, 3, generator=generator)
    data = TensorDataset(x, x.sum(dim=1, keepdim=True))
    return DataLoader(data, batch_size=8), DataLoader(data, batch_size=16)


def trainer(logger: Any, callbacks: list[Any], **kwargs: Any) -> Any:
    """A quiet CPU Trainer for 2 epochs, logging every step."""
    options = {"max_epochs": 2, "accelerator": "cpu", "devices": 1, "log_every_n_steps": 1,
               "enable_progress_bar": False, "enable_model_summary": False, **kwargs}
    return pl.Trainer(logger=logger, callbacks=callbacks, **options)
