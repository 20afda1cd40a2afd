"""Keras 3 callbacks logging to mytrack, for any Keras backend, with W&B's behaviour.

::

    from mytrack.integration.keras import MetricsLogger, ModelCheckpoint
    model.fit(x, y, callbacks=[MetricsLogger(), ModelCheckpoint("model.keras")])

* `MetricsLogger`: Keras's logs (and the learning rate) as history, per
  epoch (``epoch/...`` against ``epoch/epoch``) or every N batches
  (``batch/...`` against ``batch/batch_step``).
* `ModelCheckpoint`: Keras's ModelCheckpoint (the same arguments), each saved
  file logged as a version of the ``run_<id>_model`` artifact (aliases
  ``latest`` and ``epoch_<n>``, and ``best`` with ``save_best_only``).
* `EvalCallback`: a base class for validation tables: the data table once (the
  artifact ``val``, used by the run) and each epoch's prediction table (a
  version of ``run_<id>_pred``), as W&B logs them, and both in the history.

W&B's names (`WandbMetricsLogger`, `WandbModelCheckpoint`, `WandbEvalCallback`)
are the same callbacks; ``wandb.integration.keras`` under mytrack.compat is this
module, so code written for W&B's callbacks runs unchanged.

The callbacks are defined, and Keras imported, when one of them is first
asked for (``from mytrack.integration.keras import MetricsLogger``), so this
module imports without Keras; asking for one without Keras installed raises
`MissingExtraError` (an ImportError) naming the ``mytrack[keras]`` extra.
"""

from __future__ import annotations

import abc
import os
from typing import Any

import mytrack
from mytrack.errors import InvalidValueError, MissingExtraError, PreInitError

# Defined on first use (module __getattr__), hence not a literal __all__ of defined names.
CALLBACKS = ("EvalCallback", "MetricsLogger", "ModelCheckpoint")
WANDB_NAMES = {"WandbEvalCallback": "EvalCallback", "WandbMetricsLogger": "MetricsLogger",
               "WandbModelCheckpoint": "ModelCheckpoint"}
__all__ = [*CALLBACKS, *WANDB_NAMES]


def _current_run(what: object) -> mytrack.Run:
    run = mytrack.run
    if run is None:
        name = what if isinstance(what, str) else type(what).__name__
        raise PreInitError(f"You must call mytrack.init() (wandb.init()) before {name}()")
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
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if not _defined:
        _defined.update(_define())
    return _defined[name]


def _define() -> dict[str, type]:
    """The callback classes, subclassing Keras's (imported here), under both names."""
    try:
        import keras
    except ImportError as exc:
        raise MissingExtraError(
            "mytrack's Keras callbacks need Keras 3 and its backend (pip install 'mytrack[keras]'; "
            f"KERAS_BACKEND=torch, jax or tensorflow): {exc}"
        ) from None
    classes = {
        "MetricsLogger": _metrics_logger(keras),
        "ModelCheckpoint": _model_checkpoint(keras),
        "EvalCallback": _eval_callback(keras),
    }
    for wandb_name, name in WANDB_NAMES.items():
        # W&B's name is the same callback (a subclass, so that it prints and pickles under its own name).
        classes[wandb_name] = type(wandb_name, (classes[name],), {"__doc__": f"W&B's name of `{name}`."})
    for name, cls in classes.items():
        cls.__module__, cls.__qualname__ = __name__, name
    return classes


def _metrics_logger(keras: Any) -> type:
    class MetricsLogger(keras.callbacks.Callback):  # type: ignore[misc]
        """Logs Keras's metrics to the current run.

        Args:
            log_freq: "epoch" (default), "batch" (every batch) or N (every N batches).
            initial_global_step: where the batch step starts (when resuming).
        """

        def __init__(self, log_freq: str | int = "epoch", initial_global_step: int = 0, *args: Any,
                     **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            run = _current_run(self)
            if log_freq == "batch":
                log_freq = 1
            if not (log_freq == "epoch" or (type(log_freq) is int and log_freq > 0)):
                raise InvalidValueError(
                    f"{type(self).__name__}: log_freq must be 'epoch', 'batch' or a positive int, got {log_freq!r}")
            self.logging_batch_wise = isinstance(log_freq, int)
            self.log_freq = log_freq if self.logging_batch_wise else None
            self.global_batch = 0
            self.global_step = initial_global_step
            section = "batch" if self.logging_batch_wise else "epoch"
            step = "batch/batch_step" if self.logging_batch_wise else "epoch/epoch"
            run.define_metric(step)
            run.define_metric(f"{section}/*", step_metric=step)

        def _row(self, section: str, logs: dict[str, Any] | None, step_key: str, step: int) -> dict[str, Any]:
            row = {f"{section}/{key}": value for key, value in (logs or {}).items()}
            row[step_key] = step
            rate = _learning_rate(self.model)
            if rate is not None:
                row[f"{section}/learning_rate"] = rate
            return row

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            _current_run(self).log(self._row("epoch", logs, "epoch/epoch", epoch))

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self.global_step += 1
            if not self.logging_batch_wise or batch % int(self.log_freq or 1):
                return
            _current_run(self).log(self._row("batch", logs, "batch/batch_step", self.global_batch))
            self.global_batch += int(self.log_freq or 1)

    return MetricsLogger


def _model_checkpoint(keras: Any) -> type:
    class ModelCheckpoint(keras.callbacks.ModelCheckpoint):  # type: ignore[misc]
        """Keras's ModelCheckpoint that also logs each saved model as a version of ``run_<id>_model``.

        Whether to save is Keras's decision (frequency, best only); a file that
        its hook wrote or rewrote is logged, with aliases ``latest``,
        ``epoch_<n>`` (and ``best`` with ``save_best_only``).
        """

        def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0,
                     save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                     save_freq: str | int = "epoch", initial_value_threshold: float | None = None,
                     **kwargs: Any) -> None:
            _current_run(self)
            super().__init__(filepath=filepath, monitor=monitor, verbose=verbose, save_best_only=save_best_only,
                             save_weights_only=save_weights_only, mode=mode, save_freq=save_freq,
                             initial_value_threshold=initial_value_threshold, **kwargs)
            self._epoch_now = 0

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self._epoch_now = epoch
            super().on_epoch_begin(epoch, logs)

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            self._saving(lambda: super(ModelCheckpoint, self).on_train_batch_end(batch, logs),
                         self._epoch_now, batch, logs)

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self._saving(lambda: super(ModelCheckpoint, self).on_epoch_end(epoch, logs), epoch, None, logs)

        def _saving(self, hook: Any, epoch: int, batch: int | None, logs: dict[str, Any] | None) -> None:
            """Runs Keras's hook and logs the file it wrote, if it wrote one."""
            path = self._path(epoch, batch, logs or {})
            before = None if path is None else _mtime(path)
            hook()
            after = None if path is None else _mtime(path)
            if path is not None and after is not None and after != before:
                aliases = ["latest", f"epoch_{epoch}"] + (["best"] if self.save_best_only else [])
                self._log_checkpoint(path, aliases)

        def _path(self, epoch: int, batch: int | None, logs: dict[str, Any]) -> str | None:
            # The placeholders Keras fills in its file path ({epoch}, {batch}, a metric).
            fields = dict(logs, epoch=epoch + 1)
            if batch is not None and "batch" not in logs:
                fields["batch"] = batch + 1
            try:
                return str(self.filepath.format(**fields))
            except (KeyError, IndexError, ValueError):
                return None  # a placeholder not known yet: Keras reports it when it saves

        def _log_checkpoint(self, path: str, aliases: list[str]) -> None:
            run = _current_run(self)
            artifact = mytrack.Artifact(f"run_{run.id}_model", type="model")
            if os.path.isdir(path):
                artifact.add_dir(path)
            else:
                artifact.add_file(path, policy="mutable")  # the next save overwrites the file
            run.log_artifact(artifact, aliases=aliases)

    return ModelCheckpoint


def _eval_callback(keras: Any) -> type:
    class EvalCallback(keras.callbacks.Callback, abc.ABC):  # type: ignore[misc]
        """Base class for validation tables: subclass it and fill the tables.

        ``add_ground_truth(logs)`` adds rows to ``self.data_table`` once, at the
        start of training; ``add_model_predictions(epoch, logs)`` adds rows to
        ``self.pred_table`` after every epoch. As in W&B, the data table is
        the artifact ``val`` (type ``dataset``, entry ``val_data``) that the run
        uses, read back as ``self.data_table_ref``; each prediction table a
        version of ``run_<id>_pred`` (type ``evaluation``, alias ``latest``).
        Both are also logged to the history (``val_data`` once, ``eval_data``
        each epoch, or the names given).
        """

        def __init__(self, data_table_columns: list[str], pred_table_columns: list[str], *args: Any,
                     **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            _current_run(self)
            self.data_table_columns = data_table_columns
            self.pred_table_columns = pred_table_columns
            self.data_table: mytrack.Table | None = None
            self.data_table_ref: mytrack.Table | None = None  # the data table as stored (W&B's name)
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
            """The data table as artifact ``name`` used by the run (``self.data_table_ref`` reads it
            back, as W&B's), and in the run's history."""
            run = _current_run(self)
            artifact = mytrack.Artifact(name, type=type)
            artifact.add(self.data_table, table_name)
            if run.offline or run.disabled:  # offline: stored at `mytrack sync`, nothing to read back yet
                run.log_artifact(artifact)
                self.data_table_ref = self.data_table
            else:
                run.use_artifact(artifact)
                artifact.wait()
                self.data_table_ref = artifact.get(table_name)
            run.log({table_name: self.data_table}, commit=False)

        def log_pred_table(self, type: str = "evaluation", table_name: str = "eval_data",  # noqa: A002
                           aliases: list[str] | None = None) -> None:
            """The prediction table as a version of ``run_<id>_pred`` (aliases default ``latest``)
            and in the run's history."""
            run = _current_run(self)
            artifact = mytrack.Artifact(f"run_{run.id}_pred", type=type)
            artifact.add(self.pred_table, table_name)
            run.log_artifact(artifact, aliases=aliases or ["latest"])
            run.log({table_name: self.pred_table}, commit=False)

    return EvalCallback
