"""TensorBoard sync: what torch's, tensorboardX's or TF2's summary writers write reaches the run.

``mytrack.init(sync_tensorboard=True)`` patches the writers for that run; `patch()`
does it by hand (before or after ``init()``), as ``wandb.tensorboard.patch``.
Reading the event files needs the ``mytrack[tensorboard]`` extra.
"""

from __future__ import annotations

from mytrack._internal.tensorboard.patching import patch, unpatch

__all__ = ["patch", "unpatch"]
