"""mytrack.integration.transformers with a real Trainer on a tiny BERT built from a config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import mytrack

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")  # the Trainer needs it

from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments  # noqa: E402

from mytrack.integration import transformers as hf  # noqa: E402
from tests.integrations.helpers import only_run  # noqa: E402

pytestmark = pytest.mark.usefixtures("no_current_run")


class Synthetic(torch.utils.data.Dataset):  # type: ignore[misc]
    """16 random token sequences of 8, labelled by parity."""

    def __len__(self) -> int:
        return 16

    def __getitem__(self, i: int) -> dict[str, Any]:
        ids = torch.randint(1, 50, (8,), generator=torch.Generator().manual_seed(i))
        return {"input_ids": ids, "attention_mask": torch.ones(8, dtype=torch.long), "labels": torch.tensor(i % 2)}


def tiny_bert() -> Any:
    torch.manual_seed(0)
    return BertForSequenceClassification(BertConfig(
        vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=16, num_labels=2, id2label={0: "NEG", 1: "POS"}, label2id={"NEG": 0, "POS": 1}))


def arguments(workdir: Path, **kwargs: Any) -> Any:
    options = {"output_dir": str(workdir / "out"), "max_steps": 4, "logging_steps": 1,
               "per_device_train_batch_size": 4, "per_device_eval_batch_size": 8, "use_cpu": True,
               "disable_tqdm": True, "learning_rate": 1e-3, "save_strategy": "no", **kwargs}
    return TrainingArguments(**options)


def test_report_to_mytrack_with_checkpoints(workdir: Path, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """register() makes report_to="mytrack" work: model config and arguments in config, train/ and eval/
    metrics on train/global_step, the end-of-training scalars in the summary, and with
    MYTRACK_LOG_MODEL=checkpoint each saved checkpoint as a version of model-<run name>."""
    monkeypatch.setenv("MYTRACK_PROJECT", project)
    monkeypatch.setenv("MYTRACK_LOG_MODEL", "checkpoint")
    hf.register()
    args = arguments(workdir, report_to="mytrack", run_name="hf-tiny", eval_strategy="steps", eval_steps=2,
                     save_strategy="steps", save_steps=2)
    trainer = Trainer(model=tiny_bert(), args=args, train_dataset=Synthetic(), eval_dataset=Synthetic())
    assert any(isinstance(c, hf.MytrackCallback) for c in trainer.callback_handler.callbacks)
    trainer.train()
    table = hf.log_predictions(trainer, Synthetic(), label_names=["NEG", "POS"], num_samples=4)
    mytrack.finish()

    run = only_run(project)
    assert run.name == "hf-tiny" and run.state == "finished"
    assert run.config["id2label"] == {"0": "NEG", "1": "POS"} and run.config["hidden_size"] == 16
    assert run.config["learning_rate"] == 1e-3 and run.config["model/num_parameters"] > 0
    rows = list(run.scan_history())
    assert [r["train/global_step"] for r in rows if "train/loss" in r] == [1, 2, 3, 4]
    assert [r["train/global_step"] for r in rows if "eval/loss" in r] == [2, 4]
    assert run.summary["train_runtime"] > 0 and "train_loss" in run.summary
    assert not any("train/train_runtime" in r for r in rows)
    assert [r["train/global_step"] for r in rows if "predictions" in r] == [4]
    assert table.columns == ["index", "label", "prediction", "logits"] and len(table.data) == 4
    assert {row[1] for row in table.data} == {"NEG", "POS"}

    api = mytrack.Api()
    for step in (2, 4):
        version = api.artifact(f"{project}/model-hf-tiny:checkpoint_global_step_{step}")
        names = {f.name for f in version.files()}
        assert version.type == "model" and "model.safetensors" in names and "config.json" in names
    assert "checkpoint_global_step_4" in api.artifact(f"{project}/model-hf-tiny:latest").aliases
    assert api.artifact(f"{project}/model-hf-tiny:base_model").version == "v0"


def test_callback_with_log_model_end(workdir: Path, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """callbacks=[MytrackCallback()] and MYTRACK_LOG_MODEL=end: the final model (weights, config and its
    architecture) as model-<run id>:final_model; a bad MYTRACK_WATCH names the variable."""
    monkeypatch.setenv("MYTRACK_PROJECT", project)
    monkeypatch.setenv("MYTRACK_LOG_MODEL", "end")
    monkeypatch.setenv("MYTRACK_WATCH", "weights")
    trainer = Trainer(model=tiny_bert(), args=arguments(workdir, max_steps=1), train_dataset=Synthetic(),
                      callbacks=[hf.MytrackCallback()])
    with pytest.raises(mytrack.errors.InvalidValueError, match="MYTRACK_WATCH"):
        trainer.train()
    mytrack.finish()
    monkeypatch.setenv("MYTRACK_WATCH", "false")
    trainer = Trainer(model=tiny_bert(), args=arguments(workdir, max_steps=1, run_name=None),
                      train_dataset=Synthetic(), callbacks=[hf.MytrackCallback()])
    trainer.train()
    run_id = mytrack.run.id if mytrack.run is not None else None
    mytrack.finish()

    final = mytrack.Api().artifact(f"{project}/model-{run_id}:final_model")
    names = {f.name for f in final.files()}
    assert {"model.safetensors", "config.json", "model_architecture.txt"} <= names
    assert final.metadata["final_model"] is True and final.metadata["train_loss"] > 0
    # As W&B's WandbCallback: the architecture before training, at setup, aliased base_model.
    base = mytrack.Api().artifact(f"{project}/model-{run_id}:base_model")
    assert (base.version, final.version) == ("v0", "v1") and [f.name for f in base.files()] == [
        "model_architecture.txt"]
    assert base.metadata["initial_model"] is True and base.metadata["model_config"]["hidden_size"] == 16
    assert base.metadata["num_parameters"] > 0
    with base.files()[0].download(str(workdir / "base")) as f:
        assert f.read().startswith("BertForSequenceClassification(")


def test_wandb_twins_are_fallbacks(workdir: Path, project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """WANDB_PROJECT and WANDB_LOG_MODEL stand in for their unset MYTRACK_ twins; a bad one is named."""
    for name in ("MYTRACK_PROJECT", "MYTRACK_LOG_MODEL", "MYTRACK_WATCH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WANDB_PROJECT", project)
    monkeypatch.setenv("WANDB_WATCH", "everything")
    trainer = Trainer(model=tiny_bert(), args=arguments(workdir, max_steps=1, run_name=None),
                      train_dataset=Synthetic(), callbacks=[hf.MytrackCallback()])
    with pytest.raises(mytrack.errors.InvalidValueError, match="WANDB_WATCH"):
        trainer.train()
    mytrack.finish()
    monkeypatch.delenv("WANDB_WATCH")
    monkeypatch.setenv("WANDB_LOG_MODEL", "end")
    trainer = Trainer(model=tiny_bert(), args=arguments(workdir, max_steps=1, run_name=None),
                      train_dataset=Synthetic(), callbacks=[hf.MytrackCallback()])
    trainer.train()
    run_id = mytrack.run.id if mytrack.run is not None else None
    mytrack.finish()
    assert mytrack.Api().artifact(f"{project}/model-{run_id}:final_model").type == "model"
