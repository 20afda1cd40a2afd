"""Importers: runs of W&B, TensorBoard and MLflow brought into mytrack.

``mytrack.importers.wandb.import_runs(paths, ...)``,
``mytrack.importers.tensorboard.import_runs(logdir, ...)`` and
``mytrack.importers.mlflow.import_runs(tracking_uri, ...)`` return an
`ImportReport`; the ``mytrack import`` command calls them. Importing twice
changes nothing (see `importing.py`); docs/importing.md says what each source
carries over.
"""

from __future__ import annotations

from mytrack.importers.importing import ImportReport, RunOutcome

__all__ = ["ImportReport", "RunOutcome"]
