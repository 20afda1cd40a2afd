"""A ``wandb`` distribution for ``importlib.metadata``, standing for mytrack.

Libraries check that W&B is installed before they import it: Lightning with
``RequirementCache("wandb>=0.12.10")``, accelerate with ``find_spec`` and
``importlib.metadata.metadata("wandb")``, others with ``version("wandb")``.
With the switch on, they find this one: a recent W&B version number, and a
``Summary`` and ``Author`` that say it is mytrack.

This module imports nothing of mytrack: ``mytrack run``'s start-up hook loads
it by path in every Python process, where importing mytrack (a quarter of a
second) would tax processes that never use W&B.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
from typing import Any

# The W&B version the switch reports: recent enough for every integration's
# minimum (Lightning asks for >= 0.12.10), and what this layer was checked against.
WANDB_VERSION = "0.21.1"

_METADATA = f"""Metadata-Version: 2.1
Name: wandb
Version: {WANDB_VERSION}
Summary: mytrack's W&B compatibility layer (mytrack.compat): import wandb gets mytrack
Author: mytrack
License: see mytrack

"""


class MytrackWandbDistribution(importlib.metadata.Distribution):
    """The ``wandb`` distribution that the switch provides (it has no files)."""

    mytrack_compat = True

    def read_text(self, filename: str) -> str | None:
        if filename in ("METADATA", "PKG-INFO"):
            return _METADATA
        if filename == "top_level.txt":
            return "wandb\n"
        return None

    def locate_file(self, path: Any) -> Any:
        # No files: a path that does not exist keeps `files()` readers honest.
        return os.path.join(os.path.dirname(os.path.abspath(__file__)), "no-such-file", str(path))


class DistributionFinder(importlib.metadata.DistributionFinder):
    """A meta-path entry that only answers ``importlib.metadata`` for "wandb"."""

    # Found by this marker, not by class: the start-up hook loads this file under
    # another module name, so its class is not this module's class.
    mytrack_compat = "distribution"

    def find_spec(self, *args: Any, **kwargs: Any) -> None:
        return None  # imports are the module finder's business

    def find_distributions(
        self, context: importlib.metadata.DistributionFinder.Context | None = None
    ) -> list[importlib.metadata.Distribution]:
        name = getattr(context, "name", None) if context is not None else None
        if name is None or _normalized(name) == "wandb":
            return [MytrackWandbDistribution()]
        return []


def _normalized(name: str) -> str:
    return name.replace("-", "_").replace(".", "_").lower()


def install_distribution() -> None:
    """Puts the finder first on ``sys.meta_path``, once, ahead of a real wandb."""
    if not any(getattr(entry, "mytrack_compat", None) == "distribution" for entry in sys.meta_path):
        sys.meta_path.insert(0, DistributionFinder())
