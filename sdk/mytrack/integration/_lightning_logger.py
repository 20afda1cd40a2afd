"""`MytrackLogger`, built for whichever Lightning package is given (``lightning.pytorch``
or ``pytorch_lightning``: two packages with the same public API but distinct classes).

The behaviour is WandbLogger's: the run is created on first use of
``experiment``, on rank 0 only; metrics go against ``trainer/global_step``;
checkpoints become versions of the ``model-<run id>`` artifact (``log_model``).
Pickled into spawned DDP workers it carries the run's id, so the worker of
rank 0 logs into the run the main process named. With ``log_all_ranks=True``
every rank writes into that one run as a writer of a shared run (rank 0 the
primary, the others' metrics under ``rank<N>/``).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from types import ModuleType
from typing import Any

import mytrack
from mytrack.errors import InvalidTypeError, InvalidValueError, UsageError
from mytrack.integration._lightning_checkpoints import CheckpointLog
from mytrack.integration._support import plain_params
from mytrack_common.names import new_run_id

_LOG_MODEL = (False, True, "all")


def logger_class(package: ModuleType, module: str) -> type:
    """The MytrackLogger class on ``package``'s ``loggers.Logger``, named as living in ``module``."""
    import importlib

    loggers = importlib.import_module(f"{package.__name__}.loggers")
    logger_module = importlib.import_module(f"{package.__name__}.loggers.logger")
    rank_zero_only = importlib.import_module(f"{package.__name__}.utilities").rank_zero_only
    rank_zero_experiment = logger_module.rank_zero_experiment

    class MytrackLogger(loggers.Logger):  # type: ignore[misc,name-defined]
        """Logs a Lightning Trainer's hyperparameters, metrics and checkpoints to a mytrack run.

        Args:
            name: the run's display name.
            save_dir / dir: where the run's folder goes (``init(dir=...)``).
            version / id: the run's id, to resume a run (``resume="allow"``).
            offline: write the run's WAL only (``mode="offline"``; ``mytrack sync`` later).
            anonymous: accepted for W&B compatibility (no effect).
            project: the project (default ``MYTRACK_PROJECT``, ``WANDB_PROJECT``, else ``lightning_logs``).
            log_model: False, True (checkpoints at the end of training, or as saved with
                ``save_top_k=-1``) or "all" (every checkpoint as it is saved).
            experiment: a run to log to instead of starting one.
            prefix: put before every metric key (joined with ``-``).
            checkpoint_name: the model artifact's name (default ``model-<run id>``).
            add_file_policy: "mutable" (copy the checkpoint) or "immutable".
            log_all_ranks: every DDP rank writes into the one run (mytrack's shared runs).
            **init_kwargs: passed on to `mytrack.init`.
        """

        LOGGER_JOIN_CHAR = "-"

        def __init__(
            self, name: str | None = None, save_dir: str | os.PathLike[str] = ".", version: str | None = None,
            offline: bool = False, dir: str | os.PathLike[str] | None = None,  # noqa: A002 - WandbLogger's name
            id: str | None = None, anonymous: bool | None = None,  # noqa: A002
            project: str | None = None, log_model: bool | str = False, experiment: mytrack.Run | None = None,
            prefix: str = "", checkpoint_name: str | None = None, add_file_policy: str = "mutable",
            log_all_ranks: bool = False, **init_kwargs: Any,
        ) -> None:
            super().__init__()
            if log_model not in _LOG_MODEL:
                raise InvalidValueError(f"MytrackLogger: log_model must be False, True or 'all', got {log_model!r}")
            if add_file_policy not in ("mutable", "immutable"):
                raise InvalidValueError(
                    f"MytrackLogger: add_file_policy must be 'mutable' or 'immutable', got {add_file_policy!r}")
            folder = save_dir if save_dir is not None else dir
            self._save_dir = None if folder is None else os.fspath(folder)
            self._project = (project or os.environ.get("MYTRACK_PROJECT") or os.environ.get("WANDB_PROJECT")
                             or "lightning_logs")
            self._name = name
            self._id = version or id
            self._offline = offline
            self._prefix = prefix
            self._log_model = log_model
            self._log_all_ranks = log_all_ranks
            self._experiment = experiment
            self._init_kwargs = dict(init_kwargs)
            self._checkpoints = CheckpointLog(checkpoint_name, add_file_policy)

        def __getstate__(self) -> dict[str, Any]:
            # Spawned DDP workers get a pickled copy: they must log into the run this
            # process names, so its id is fixed now (a run already started keeps its id).
            if self._experiment is not None:
                self._id = self._experiment.id
            elif self._id is None:
                self._id = new_run_id()
            state = self.__dict__.copy()
            state["_experiment"] = None  # a Run holds threads and a connection
            return state

        # -- the run ----------------------------------------------------------------

        @property
        def experiment(self) -> Any:
            """The mytrack Run (started on first use; a stand-in on ranks other than 0)."""
            if self._log_all_ranks:
                return self._open()
            return self._open_on_rank_zero()

        def _open(self) -> mytrack.Run:
            if self._experiment is None:
                if mytrack.run is not None and not self._log_all_ranks:
                    warnings.warn("MytrackLogger: a mytrack run is already in progress; logging into it. Call "
                                  "mytrack.finish() before creating the logger to get a run of its own.", stacklevel=3)
                    self._experiment = mytrack.run
                else:
                    self._experiment = mytrack.init(**self._init_arguments())
                self._id = self._experiment.id
                self._experiment.define_metric("trainer/global_step")
                self._experiment.define_metric("*", step_metric="trainer/global_step", step_sync=True)
            return self._experiment

        _open_on_rank_zero = rank_zero_experiment(_open)

        def _init_arguments(self) -> dict[str, Any]:
            arguments: dict[str, Any] = {
                "name": self._name, "project": self._project, "dir": self._save_dir, "id": self._id,
                "resume": "allow", **self._init_kwargs,
            }
            if self._offline:
                arguments["mode"] = "offline"
            if self._log_all_ranks:
                rank = self._rank()
                if self._id is None and rank > 0:
                    raise UsageError("MytrackLogger(log_all_ranks=True): ranks started by a launcher other than "
                                     "ddp_spawn need the run's id (MytrackLogger(id=...)) to find the shared run")
                arguments.pop("resume")
                arguments["settings"] = _shared_settings(arguments.get("settings"), rank)
            return arguments

        @staticmethod
        def _rank() -> int:
            return int(getattr(rank_zero_only, "rank", 0) or 0)

        def _logs_here(self) -> bool:
            return self._rank() == 0 or self._log_all_ranks

        # -- Logger's interface -------------------------------------------------------

        @property
        def name(self) -> str:
            return self._project

        @property
        def version(self) -> str | None:
            return self._experiment.id if self._experiment is not None else self._id

        @property
        def save_dir(self) -> str | None:
            return self._save_dir

        def log_hyperparams(self, params: Any) -> None:
            if self._logs_here():
                self.experiment.config.update(plain_params(params), allow_val_change=True)

        def log_metrics(self, metrics: dict[str, Any], step: int | None = None) -> None:
            if not self._logs_here():
                return
            row = {self._key(key): value for key, value in metrics.items()}
            if step is not None:
                row["trainer/global_step"] = step
            self.experiment.log(row)

        def _key(self, key: str) -> str:
            if self._prefix:
                key = f"{self._prefix}{self.LOGGER_JOIN_CHAR}{key}"
            rank = self._rank()
            return f"rank{rank}/{key}" if rank > 0 else key

        def log_table(self, key: str, columns: list[str] | None = None, data: list[list[Any]] | None = None,
                      dataframe: Any = None, step: int | None = None) -> None:
            """Logs a mytrack.Table from columns and rows, or from a pandas DataFrame."""
            self.log_metrics({key: mytrack.Table(columns=columns, data=data, dataframe=dataframe)}, step)

        def log_text(self, key: str, columns: list[str] | None = None, data: list[list[str]] | None = None,
                     dataframe: Any = None, step: int | None = None) -> None:
            """Logs text as a table (W&B's log_text)."""
            self.log_table(key, columns, data, dataframe, step)

        def log_image(self, key: str, images: list[Any], step: int | None = None, **kwargs: list[Any]) -> None:
            """Logs images; each keyword (caption=[...]) gives one value per image."""
            self._log_media(key, mytrack.Image, images, step, kwargs)

        def log_audio(self, key: str, audios: list[Any], step: int | None = None, **kwargs: list[Any]) -> None:
            """Logs audio clips; each keyword (sample_rate=[...], caption=[...]) gives one value per clip."""
            self._log_media(key, mytrack.Audio, audios, step, kwargs)

        def log_video(self, key: str, videos: list[Any], step: int | None = None, **kwargs: list[Any]) -> None:
            """Logs videos; each keyword (fps=[...], caption=[...]) gives one value per video."""
            self._log_media(key, mytrack.Video, videos, step, kwargs)

        def _log_media(self, key: str, kind: Any, items: list[Any], step: int | None,
                       options: dict[str, list[Any]]) -> None:
            if not isinstance(items, list):
                raise InvalidTypeError(f"MytrackLogger: {key!r} must be a list of media, not {type(items).__name__}")
            for option, values in options.items():
                if len(values) != len(items):
                    raise InvalidValueError(
                        f"MytrackLogger: {option} has {len(values)} values for {len(items)} items of {key!r}")
            media = [kind(item, **{option: values[i] for option, values in options.items()})
                     for i, item in enumerate(items)]
            self.log_metrics({key: media}, step)

        def watch(self, model: Any, log: str | None = "gradients", log_freq: int = 100,
                  log_graph: bool = True) -> None:
            """Logs the model's gradients and/or parameters (``Run.watch``)."""
            if self._logs_here():
                self.experiment.watch(model, log=log, log_freq=log_freq, log_graph=log_graph)

        def after_save_checkpoint(self, checkpoint_callback: Any) -> None:
            if not self._logs_here() or self._rank() > 0 or not self._log_model:
                return
            if self._log_model == "all" or getattr(checkpoint_callback, "save_top_k", None) == -1:
                self._checkpoints.log_new(self.experiment, checkpoint_callback)
            else:  # True: the best and last checkpoints once training ends well
                self._checkpoints.remember(checkpoint_callback)

        def finalize(self, status: str) -> None:
            if status != "success" or self._rank() > 0 or self._experiment is None:
                return  # as WandbLogger: checkpoints are logged on success only
            self._checkpoints.log_remembered(self._experiment)

        def use_artifact(self, artifact: str, artifact_type: str | None = None) -> mytrack.Artifact:
            """Declares an artifact as the run's input (``Run.use_artifact``)."""
            used: mytrack.Artifact = self.experiment.use_artifact(artifact, type=artifact_type)
            return used

        @staticmethod
        @rank_zero_only  # type: ignore[untyped-decorator]
        def download_artifact(artifact: str, save_dir: str | os.PathLike[str] | None = None,
                              artifact_type: str | None = None, use_artifact: bool = True) -> str:
            """Downloads an artifact (through the current run, which then uses it, when there is one)."""
            if mytrack.run is not None and use_artifact:
                found = mytrack.run.use_artifact(artifact, type=artifact_type)
            else:
                found = mytrack.Api().artifact(artifact, type=artifact_type)
            return found.download(root=None if save_dir is None else os.fspath(save_dir))

    MytrackLogger.__module__, MytrackLogger.__qualname__ = module, "MytrackLogger"
    return MytrackLogger


def _shared_settings(given: Any, rank: int) -> Any:
    """The user's settings for one writer of the shared run: rank 0 is the primary."""
    shared: dict[str, Any] = {"mode": "shared", "x_primary": rank == 0, "x_label": f"rank{rank}"}
    if given is None:
        return mytrack.Settings(**shared)
    if isinstance(given, dict):
        return mytrack.Settings(**{**given, **shared})
    if dataclasses.is_dataclass(given) and not isinstance(given, type):
        return dataclasses.replace(given, **shared)
    raise InvalidValueError(f"MytrackLogger: settings must be a mytrack.Settings or a dict, got {type(given).__name__}")


