"""The error raised when the optional `tensorboard` package is missing."""

from __future__ import annotations

__all__ = ["TensorBoardMissing"]

INSTALL_HINT = "pip install 'mytrack[tensorboard]'"


class TensorBoardMissing(ImportError):
    """Reading event files needs the `tensorboard` package (the ``mytrack[tensorboard]`` extra)."""

    def __init__(self) -> None:
        super().__init__(
            f"reading TensorBoard event files needs the 'tensorboard' package: {INSTALL_HINT}"
        )
