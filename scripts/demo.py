#!/usr/bin/env python
"""A small training loop that logs a run to the embedded store.

Fits a logistic-regression classifier with mini-batch SGD on synthetic data
(NumPy only), logging loss and accuracy every step and validation metrics
every epoch, then prints how to look at the run.
"""

from __future__ import annotations

import numpy as np

import mytrack


def main() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4096, 16))
    true_w = rng.normal(size=16)
    y = (x @ true_w + rng.normal(scale=0.5, size=4096) > 0).astype(np.float64)
    train_x, val_x, train_y, val_y = x[:3584], x[3584:], y[:3584], y[3584:]
    config = {"lr": 0.1, "batch_size": 64, "epochs": 5, "features": 16}

    with mytrack.init(project="demo", config=config, tags=["demo", "numpy"]) as run:
        w = np.zeros(16)
        for epoch in range(config["epochs"]):
            order = rng.permutation(len(train_x))
            for start in range(0, len(order), config["batch_size"]):
                idx = order[start:start + config["batch_size"]]
                p = 1 / (1 + np.exp(-(train_x[idx] @ w)))
                w -= config["lr"] * train_x[idx].T @ (p - train_y[idx]) / len(idx)
                loss = -np.mean(train_y[idx] * np.log(p + 1e-9) + (1 - train_y[idx]) * np.log(1 - p + 1e-9))
                run.log({"train/loss": loss, "train/acc": np.mean((p > 0.5) == train_y[idx])})
            val_p = 1 / (1 + np.exp(-(val_x @ w)))
            run.log({"val/acc": np.mean((val_p > 0.5) == val_y), "epoch": epoch}, commit=False)
        run.summary["final_val_acc"] = float(np.mean((val_p > 0.5) == val_y))
        path, url = run.path, run.url
    print(f"\nLook at the run with:\n  {url or 'mytrack ui --open'}   (the web UI)"
          f"\n  mytrack runs show {path}\n  mytrack history {path} --keys train/loss,val/acc")


if __name__ == "__main__":
    main()
