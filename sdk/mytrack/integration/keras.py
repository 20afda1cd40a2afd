"""Keras 3 callbacks with W&B's names and behaviour, for any Keras backend.

``wandb.integration.keras`` under mytrack.compat is this module, so code
written for W&B's callbacks runs unchanged::

    from wandb.integration.keras import WandbMetricsLogger, WandbModelCheckpoint
    model.fit(x, y, callbacks=[WandbMetricsLogger(), WandbModelCheckpoint("model.keras")])

* `WandbMetricsLogger`: Keras's logs (and the learning rate) as history,
  per epoch (``epoch/...`` against ``epoch/epoch``) or every N batches
  (``batch/...`` against ``batch/batch_step``), as W&B's.
* `WandbModelCheckpoint`: Keras's ModelCheckpoint, each saved file logged as
  a version of the ``run_<id>_model`` artifact (aliases ``latest`` and
  ``epoch_<n>``), as W&B's.
* `WandbEvalCallback`: W&B's base class for validation tables; the data
  table and each epoch's prediction table are logged to the run's history
  (W&B stores them in artifacts; mytrack's artifacts hold files only).

The callbacks are defined, and Keras imported, when one of them is first
asked for (``from mytrack.integration.keras import WandbMetricsLogger``), so
this module imports without Keras; asking for one without Keras installed is
an ImportError saying so.
"""

from __future__ import annotations

import abc
import os
from typing import Any

import mytrack
from mytrack.errors import PreInitError

# Defined on first use (module __getattr__), hence not a literal __all__ of defined names.
CALLBACKS = ("WandbEvalCallback", "WandbMetricsLogger", "WandbModelCheckpoint")
__all__ = [*CALLBACKS]


def _current_run(what: str) -> mytrack.Run:
    run = mytrack.run
    if run is None:
        raise PreInitError(f"You must call mytrack.init() (wandb.init()) before {what}()")
    return run


def _mtime(path: str) -> int | None:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def _learning_rate(model: Any) -> float | None:
    import keras

    optimizer = getattr(model, "optimizer", None)
    rate = getattr(optimizer, "learning_rate", None)
    if rate is None:
        return None
    try:
        return float(keras.ops.convert_to_numpy(rate))
    except (TypeError, ValueError):
        return None  # a schedule object that is not a value


_defined: dict[str, type] = {}


def __getattr__(name: str) -> Any:
    if name not in CALLBACKS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _defined:
        _defined.update(_define())
    return _defined[name]


def _define() -> dict[str, type]:
    """The callback classes, subclassing Keras's (imported here)."""
    try:
        import keras
    except ImportError as exc:
        raise ImportError(
            "W&B's Keras callbacks need Keras 3 and its backend (pip install keras; "
            f"KERAS_BACKEND=torch, jax or tensorflow): {exc}"
        ) from None

    class WandbMetricsLogger(keras.callbacks.Callback):  # type: ignore[misc]
        """Logs Keras's metrics to the current run.

        Args:
            log_freq: "epoch" (default), "batch" (every batch) or N (every N batches).
            initial_global_step: where the batch step starts (when resuming).
        """

        def __init__(self, log_freq: str | int = "epoch", initial_global_step: int = 0, *args: Any,
                     **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            run = _current_run("WandbMetricsLogger")
            if log_freq == "batch":
                log_freq = 1
            if not (log_freq == "epoch" or (isinstance(log_freq, int) and log_freq > 0)):
                raise mytrack.errors.InvalidValueError(
                    f"WandbMetricsLogger: log_freq must be 'epoch', 'batch' or a positive int, got {log_freq!r}")
            self.logging_batch_wise = isinstance(log_freq, int)
            self.log_freq = log_freq if self.logging_batch_wise else None
            self.global_batch = 0
            self.global_step = initial_global_step
            if self.logging_batch_wise:
                run.define_metric("batch/batch_step")
                run.define_metric("batch/*", step_metric="batch/batch_step")
            else:
                run.define_metric("epoch/epoch")
                run.define_metric("epoch/*", step_metric="epoch/epoch")

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            row = {f"epoch/{key}": value for key, value in (logs or {}).items()}
            row["epoch/epoch"] = epoch
            rate = _learning_rate(self.model)
            if rate is not None:
                row["epoch/learning_rate"] = rate
            _current_run("WandbMetricsLogger").log(row)

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self.global_step += 1
            if not self.logging_batch_wise or batch % int(self.log_freq or 1):
                return
            row = {f"batch/{key}": value for key, value in (logs or {}).items()}
            row["batch/batch_step"] = self.global_batch
            rate = _learning_rate(self.model)
            if rate is not None:
                row["batch/learning_rate"] = rate
            _current_run("WandbMetricsLogger").log(row)
            self.global_batch += int(self.log_freq or 1)


    class WandbModelCheckpoint(keras.callbacks.ModelCheckpoint):  # type: ignore[misc]
        """Keras's ModelCheckpoint that also logs each saved model as an artifact version."""

        def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                     save_weights_only: bool = False, mode: str = "auto", save_freq: str | int = "epoch",
                     initial_value_threshold: float | None = None, **kwargs: Any) -> None:
            _current_run("WandbModelCheckpoint")
            super().__init__(filepath=filepath, monitor=monitor, verbose=verbose, save_best_only=save_best_only,
                             save_weights_only=save_weights_only, mode=mode, save_freq=save_freq,
                             initial_value_threshold=initial_value_threshold, **kwargs)

        def _save_model(self, epoch: int, batch: int | None, logs: dict[str, Any] | None) -> None:
            # Keras decides whether to save (best only, frequency); a file written now is logged.
            path = self._get_file_path(epoch, batch, logs)
            before = _mtime(path)
            super()._save_model(epoch, batch, logs)
            after = _mtime(path)
            if after is not None and after != before:
                aliases = ["latest", f"epoch_{epoch}"] + (["best"] if self.save_best_only else [])
                self._log_checkpoint(path, aliases)

        def _log_checkpoint(self, path: str, aliases: list[str]) -> None:
            run = _current_run("WandbModelCheckpoint")
            artifact = mytrack.Artifact(f"run_{run.id}_model", type="model")
            if os.path.isdir(path):
                artifact.add_dir(path)
            else:
                artifact.add_file(path, policy="mutable")  # the next save overwrites the file
            run.log_artifact(artifact, aliases=aliases)



    class WandbEvalCallback(keras.callbacks.Callback, abc.ABC):  # type: ignore[misc]
        """W&B's base class for validation tables: subclass it and fill the tables.

        ``add_ground_truth(logs)`` adds rows to ``self.data_table`` once, at the
        start of training; ``add_model_predictions(epoch, logs)`` adds rows to
        ``self.pred_table`` after every epoch. Both are logged to the run
        (``val_data`` once, ``eval_data`` each epoch, or the names given).
        """

        def __init__(self, data_table_columns: list[str], pred_table_columns: list[str], *args: Any,
                     **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            _current_run("WandbEvalCallback")
            self.data_table_columns = data_table_columns
            self.pred_table_columns = pred_table_columns
            self.data_table: mytrack.Table | None = None
            self.pred_table: mytrack.Table | None = None

        def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
            self.init_data_table(column_names=self.data_table_columns)
            self.add_ground_truth(logs)
            self.log_data_table()

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.init_pred_table(column_names=self.pred_table_columns)
            self.add_model_predictions(epoch, logs)
            self.log_pred_table()

        @abc.abstractmethod
        def add_ground_truth(self, logs: dict[str, Any] | None = None) -> None:
            """Adds the validation data's rows to ``self.data_table``."""

        @abc.abstractmethod
        def add_model_predictions(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            """Adds this epoch's predictions to ``self.pred_table``."""

        def init_data_table(self, column_names: list[str]) -> None:
            self.data_table = mytrack.Table(columns=column_names)

        def init_pred_table(self, column_names: list[str]) -> None:
            self.pred_table = mytrack.Table(columns=column_names)

        def log_data_table(self, name: str = "val", type: str = "dataset",  # noqa: A002 - W&B's name
                           table_name: str = "val_data") -> None:
            _current_run("WandbEvalCallback").log({table_name: self.data_table}, commit=False)

        def log_pred_table(self, type: str = "evaluation", table_name: str = "eval_data",  # noqa: A002
                           aliases: list[str] | None = None) -> None:
            _current_run("WandbEvalCallback").log({table_name: self.pred_table}, commit=False)

    classes: dict[str, type] = {
        "WandbEvalCallback": WandbEvalCallback,
        "WandbMetricsLogger": WandbMetricsLogger,
        "WandbModelCheckpoint": WandbModelCheckpoint,
    }
    for cls in classes.values():
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
    return classes
