"""`MytrackLogger` built on the ``pytorch_lightning`` package (see `mytrack.integration.lightning`)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from mytrack.integration import _lightning_logger
from mytrack.integration._support import require

_package: ModuleType = require("pytorch_lightning", "lightning", "pytorch_lightning")

MytrackLogger: Any = _lightning_logger.logger_class(_package, __name__)

__all__ = ["MytrackLogger"]
