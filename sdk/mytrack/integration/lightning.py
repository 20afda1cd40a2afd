"""A Lightning logger with WandbLogger's constructor and behaviour, logging to mytrack.

::

    from lightning.pytorch import Trainer
    from mytrack.integration.lightning import MytrackLogger

    trainer = Trainer(logger=MytrackLogger(project="mnist", log_model=True))

Built on ``lightning.pytorch`` when it is installed, else on
``pytorch_lightning``; ``mytrack.integration.pytorch_lightning`` is the same
logger built on ``pytorch_lightning`` always (for programs that import that
package while both are installed). Importing either without its package
raises `MissingExtraError` naming the extra (``mytrack[lightning]``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from mytrack.integration import _lightning_logger
from mytrack.integration._support import first_installed

_package: ModuleType = first_installed(("lightning.pytorch", "pytorch_lightning"), "lightning", "lightning")

MytrackLogger: Any = _lightning_logger.logger_class(_package, __name__)

__all__ = ["MytrackLogger"]
