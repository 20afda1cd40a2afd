"""A Hugging Face ``TrainerCallback`` logging to mytrack, with W&B's WandbCallback behaviour.

::

    from transformers import Trainer
    from mytrack.integration.transformers import MytrackCallback

    Trainer(model=model, args=args, train_dataset=data, callbacks=[MytrackCallback()]).train()

or, after ``mytrack.integration.transformers.register()``, ``TrainingArguments(report_to="mytrack")``.

Environment (read when training starts):

* ``MYTRACK_PROJECT``: the project (default ``huggingface``).
* ``MYTRACK_LOG_MODEL``: ``end`` (the final model as a ``model-<run>`` artifact,
  alias ``final_model``), ``checkpoint`` (every checkpoint the Trainer saves) or
  ``false`` (default). With either of the first two, the model's architecture
  before training is logged at setup too (alias ``base_model``), as W&B's callback does.
* ``MYTRACK_WATCH``: ``gradients``, ``parameters``, ``all`` or ``false`` (default).

Each falls back to its W&B twin (``WANDB_PROJECT``, ``WANDB_LOG_MODEL``,
``WANDB_WATCH``) when it is not set.
"""

from __future__ import annotations

import numbers
import os
import tempfile
from pathlib import Path
from typing import Any

import mytrack
from mytrack.errors import InvalidValueError
from mytrack.integration._support import plain_params, require

_transformers = require("transformers", "transformers", "transformers")

LOG_MODEL_CHOICES = ("end", "checkpoint", "false")
WATCH_CHOICES = ("gradients", "parameters", "all", "false")
# Logged once at the end of training: the run's summary, not its history (as W&B's callback).
SUMMARY_ONLY = ("train_runtime", "train_samples_per_second", "train_steps_per_second", "train_loss", "total_flos")


def _choice(variable: str, choices: tuple[str, ...]) -> str:
    # W&B's twin (WANDB_LOG_MODEL, WANDB_WATCH) when the MYTRACK_ variable is not set, as everywhere.
    twin = "WANDB_" + variable.removeprefix("MYTRACK_")
    if variable not in os.environ and twin in os.environ:
        variable = twin
    value = os.environ.get(variable, "false").strip().lower() or "false"
    value = {"true": "end", "0": "false", "no": "false"}.get(value, value) if variable.endswith("LOG_MODEL") else value
    if value not in choices:
        raise InvalidValueError(f"{variable} must be one of {', '.join(choices)}, got {os.environ[variable]!r}")
    return value


def _project() -> str:
    return os.environ.get("MYTRACK_PROJECT") or os.environ.get("WANDB_PROJECT") or "huggingface"


def rewrite_logs(logs: dict[str, Any]) -> dict[str, Any]:
    """The Trainer's log keys in sections: ``eval_loss`` -> ``eval/loss``, ``loss`` -> ``train/loss``."""
    out = {}
    for key, value in logs.items():
        for prefix in ("eval_", "test_"):
            if key.startswith(prefix):
                out[f"{prefix[:-1]}/{key[len(prefix):]}"] = value
                break
        else:
            out[f"train/{key}"] = value
    return out


class MytrackCallback(_transformers.TrainerCallback):  # type: ignore[misc,name-defined]
    """Logs a Trainer's arguments, model config, metrics and (optionally) models to a mytrack run.

    The run is started when training begins (``mytrack.init`` unless a run is
    current), on the main process only. Metrics go against ``train/global_step``.
    """

    def __init__(self) -> None:
        self._run: mytrack.Run | None = None
        self._initialized = False
        self._log_model = _choice("MYTRACK_LOG_MODEL", LOG_MODEL_CHOICES)

    def setup(self, args: Any, state: Any, model: Any, **kwargs: Any) -> None:
        """Starts (or joins) the run and records the configuration; override to customise."""
        self._initialized = True
        self._log_model = _choice("MYTRACK_LOG_MODEL", LOG_MODEL_CHOICES)
        if not state.is_world_process_zero:
            return
        combined = args.to_dict()
        model_config = getattr(model, "config", None)
        if model_config is not None:
            combined = {**(model_config if isinstance(model_config, dict) else model_config.to_dict()), **combined}
        init_args: dict[str, Any] = {}
        if state.trial_name is not None:
            init_args = {"name": state.trial_name, "group": args.run_name or args.output_dir}
        elif args.run_name is not None:
            init_args = {"name": args.run_name}
        run = mytrack.run or mytrack.init(project=_project(), **init_args)
        self._run = run
        run.config.update(plain_params(combined), allow_val_change=True)
        run.define_metric("train/global_step")
        run.define_metric("*", step_metric="train/global_step", step_sync=True)
        watch = _choice("MYTRACK_WATCH", WATCH_CHOICES)
        if watch != "false" and model is not None:
            run.watch(model, log=watch, log_freq=max(100, state.logging_steps or 0))
        if hasattr(model, "num_parameters"):
            run.config.update({"model/num_parameters": model.num_parameters()}, allow_val_change=True)
        if self._log_model != "false" and model is not None:
            self._log_base_model(args, model)

    def _log_base_model(self, args: Any, model: Any) -> None:
        """The model's architecture before training, as W&B's callback logs it (alias ``base_model``)."""
        assert self._run is not None
        to_dict = getattr(getattr(model, "config", None), "to_dict", None)
        metadata = {"model_config": to_dict() if callable(to_dict) else None,
                    "num_parameters": self._run.config.get("model/num_parameters"), "initial_model": True}
        artifact = mytrack.Artifact(self._model_name(args), type="model", metadata=metadata)
        with artifact.new_file("model_architecture.txt") as f:
            f.write(f"{model}\n")
        self._run.log_artifact(artifact, aliases=["base_model"])

    def _model_name(self, args: Any) -> str:
        run = self._run
        assert run is not None
        named = args.run_name is not None and args.run_name != args.output_dir
        return f"model-{run.name if named else run.id}"

    def _numeric_summary(self) -> dict[str, Any]:
        assert self._run is not None
        summary = dict(self._run.summary)
        return {k: v for k, v in summary.items() if isinstance(v, numbers.Number) and not k.startswith("_")}

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, **kwargs: Any) -> None:
        if state.is_hyper_param_search and self._run is not None:
            self._run.finish()  # each trial of a search is a run of its own
            self._run, self._initialized = None, False
            args.run_name = None
        if not self._initialized:
            self.setup(args, state, model, **kwargs)

    def on_log(self, args: Any, state: Any, control: Any, model: Any = None, logs: dict[str, Any] | None = None,
               **kwargs: Any) -> None:
        if not self._initialized:
            self.setup(args, state, model)
        if self._run is None or not state.is_world_process_zero:
            return
        logs = logs or {}
        for key in SUMMARY_ONLY:
            if key in logs:
                self._run.summary[key] = logs[key]
        history = rewrite_logs({k: v for k, v in logs.items() if k not in SUMMARY_ONLY})
        self._run.log({**history, "train/global_step": state.global_step})

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._log_model != "checkpoint" or self._run is None or not state.is_world_process_zero:
            return
        folder = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        metadata = {**self._numeric_summary(), "model/num_parameters": self._run.config.get("model/num_parameters")}
        artifact = mytrack.Artifact(self._model_name(args), type="model", metadata=metadata)
        artifact.add_dir(folder)
        aliases = [f"epoch_{round(state.epoch or 0, 2)}", f"checkpoint_global_step_{state.global_step}"]
        self._run.log_artifact(artifact, aliases=aliases)

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, processing_class: Any = None,
                     **kwargs: Any) -> None:
        if self._log_model != "end" or self._run is None or not state.is_world_process_zero or model is None:
            return
        metadata = self._numeric_summary()
        if args.load_best_model_at_end:
            metadata[f"eval/{args.metric_for_best_model}"] = state.best_metric
        metadata["final_model"] = True
        with tempfile.TemporaryDirectory() as folder:
            model.save_pretrained(folder)
            if processing_class is not None and hasattr(processing_class, "save_pretrained"):
                processing_class.save_pretrained(folder)
            Path(folder, "model_architecture.txt").write_text(str(model))
            artifact = mytrack.Artifact(self._model_name(args), type="model", metadata=metadata)
            artifact.add_dir(folder)
            self._run.log_artifact(artifact, aliases=["final_model"])
            if not self._run.offline:  # offline, the version is stored by `mytrack sync`
                artifact.wait()  # errors surface here, not after the folder is gone

    def on_predict(self, args: Any, state: Any, control: Any, metrics: dict[str, Any], **kwargs: Any) -> None:
        if not self._initialized:
            self.setup(args, state, kwargs.get("model"))
        if self._run is not None and state.is_world_process_zero:
            self._run.log(rewrite_logs(metrics))


def log_predictions(trainer: Any, dataset: Any, key: str = "predictions", label_names: list[str] | None = None,
                    num_samples: int = 100) -> mytrack.Table:
    """Logs a table of the first ``num_samples`` of ``dataset``'s labels and the model's predictions.

    Columns: ``index``, ``label``, ``prediction`` (the arg-max of the logits,
    as a name from ``label_names`` when given) and ``logits``. Call it after
    ``trainer.train()``, or from a callback's ``on_evaluate``.
    """
    import numpy as np

    run = mytrack.run
    if run is None:
        raise mytrack.errors.PreInitError("log_predictions() needs a run: call it during or after trainer.train()")
    samples = [dataset[i] for i in range(min(num_samples, len(dataset)))]
    output = trainer.predict(samples)
    logits = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    logits = np.asarray(logits)
    predicted = logits.argmax(axis=-1)
    labels = output.label_ids if output.label_ids is not None else [None] * len(samples)

    def name(value: Any) -> Any:
        if value is None or label_names is None:
            return None if value is None else int(value)
        return label_names[int(value)]

    table = mytrack.Table(columns=["index", "label", "prediction", "logits"])
    for i in range(len(samples)):
        table.add_data(i, name(labels[i]), name(predicted[i]), [float(x) for x in np.ravel(logits[i])])
    run.log({key: table, "train/global_step": trainer.state.global_step})
    return table


def register() -> None:
    """Makes ``TrainingArguments(report_to="mytrack")`` use `MytrackCallback` in this process.

    transformers keeps its trackers in a name table
    (``transformers.integrations.INTEGRATION_TO_CALLBACK``, exported by that
    package); this adds the name ``mytrack`` to it. ``callbacks=[MytrackCallback()]``
    needs no registration.
    """
    from transformers.integrations import INTEGRATION_TO_CALLBACK

    INTEGRATION_TO_CALLBACK["mytrack"] = MytrackCallback


__all__ = ["MytrackCallback", "log_predictions", "register", "rewrite_logs"]
