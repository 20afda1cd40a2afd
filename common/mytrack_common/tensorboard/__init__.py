"""TensorBoard event files read as typed records (`TBEvent`), shared by the service's
TensorBoard sync and the `mytrack import tensorboard` importer.

The `tensorboard` package is imported only when a file is read: it is an optional
extra (``mytrack[tensorboard]``); without it `EventReader` raises `TensorBoardMissing`.
"""

from __future__ import annotations

from mytrack_common.tensorboard.errors import TensorBoardMissing
from mytrack_common.tensorboard.events import (
    EventReader,
    Kind,
    TBEvent,
    TBHistogram,
    TBImage,
    is_event_file,
    iter_events,
)

__all__ = [
    "EventReader",
    "Kind",
    "TBEvent",
    "TBHistogram",
    "TBImage",
    "TensorBoardMissing",
    "is_event_file",
    "iter_events",
]
