"""Hugging Face Trainer with report_to="wandb" on mytrack (through `mytrack run`): a tiny model from a config."""

from __future__ import annotations

from pathlib import Path

import pytest

import mytrack
from tests.integrations.helpers import only_run, run_under_switch

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # the Trainer needs it

SCRIPT = """
import os, sys
import torch
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

os.environ["WANDB_PROJECT"] = sys.argv[1]
os.environ["WANDB_LOG_MODEL"] = "end"
torch.manual_seed(0)
config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                    intermediate_size=32, max_position_embeddings=16, num_labels=2,
                    id2label={0: "NEG", 1: "POS"}, label2id={"NEG": 0, "POS": 1})
model = BertForSequenceClassification(config)


class Synthetic(torch.utils.data.Dataset):
    def __len__(self):
        return 16

    def __getitem__(self, i):
        ids = torch.randint(1, 50, (8,), generator=torch.Generator().manual_seed(i))
        return {"input_ids": ids, "attention_mask": torch.ones(8, dtype=torch.long), "labels": torch.tensor(i % 2)}


args = TrainingArguments(output_dir="out", report_to="wandb", run_name="hf-tiny", max_steps=4, logging_steps=1,
                         per_device_train_batch_size=4, use_cpu=True, save_strategy="no", disable_tqdm=True,
                         learning_rate=1e-3)
Trainer(model=model, args=args, train_dataset=Synthetic()).train()
import wandb
print(wandb.run.path if wandb.run is not None else "finished")
wandb.finish()
"""


def test_trainer_with_report_to_wandb(workdir: Path, project: str) -> None:
    """4 logged steps on train/global_step, the model's config (int keys as strings) and the run's summary."""
    run_under_switch(workdir, SCRIPT, project)
    run = only_run(project)
    assert run.name == "hf-tiny"
    assert run.config["id2label"] == {"0": "NEG", "1": "POS"}
    assert run.config["hidden_size"] == 16 and run.config["learning_rate"] == 1e-3
    assert run.config["model/num_parameters"] > 0
    rows = [r for r in run.scan_history() if "train/loss" in r]
    assert [r["train/global_step"] for r in rows] == [1, 2, 3, 4]
    assert all(isinstance(r["train/loss"], float) for r in rows)
    assert run.summary["train_runtime"] > 0 and "train_loss" in run.summary
    # WANDB_LOG_MODEL=end: W&B's callback logs the architecture at setup, then the trained model.
    api = mytrack.Api()
    base = api.artifact(f"{project}/model-hf-tiny:base_model")
    assert base.metadata["initial_model"] is True and [f.name for f in base.files()] == ["model_architecture.txt"]
    final = api.artifact(f"{project}/model-hf-tiny:final_model")
    assert final.version == "v1" and "model.safetensors" in {f.name for f in final.files()}
