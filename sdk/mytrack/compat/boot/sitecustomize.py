"""Turns mytrack's W&B switch on at interpreter start (``mytrack run``).

``mytrack run`` puts this folder first on PYTHONPATH, so every Python process
of the command, and the ones they start (torchrun's and accelerate's
workers), import this file at start-up. It costs almost nothing: it loads
mytrack only when ``wandb`` is imported, and registers the ``wandb``
distribution for ``importlib.metadata`` from a file that imports nothing
heavy. Then it runs the ``sitecustomize`` that would have run without it, as
opentelemetry-instrument and ddtrace-run do.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Sequence
from typing import Any

_HERE = os.path.dirname(os.path.abspath(__file__))


class _SwitchOnImport:
    """On the first ``import wandb``: imports mytrack and turns the switch on."""

    mytrack_compat = "boot"

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "wandb" and not fullname.startswith("wandb."):
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        try:
            import mytrack.compat
        except ImportError as exc:
            sys.stderr.write(
                f"mytrack run: {sys.executable} cannot import mytrack ({exc}); "
                "import wandb is not switched to mytrack\n"
            )
            return None
        mytrack.compat.install()
        return importlib.util.find_spec(fullname)


class _DistributionOnDemand:
    """Answers ``importlib.metadata`` for "wandb" (``version("wandb")`` before any
    ``import wandb``), loading the distribution only when asked: importing
    importlib.metadata at every interpreter start would cost tens of ms."""

    mytrack_compat = "distribution"

    def find_spec(self, *args: Any, **kwargs: Any) -> None:
        return None

    def find_distributions(self, context: Any = None) -> list[Any]:
        name = getattr(context, "name", None)
        if name is not None and name.replace("-", "_").lower() != "wandb":
            return []
        module = sys.modules.get("_mytrack_compat_distribution") or _load_distribution()
        return module.DistributionFinder().find_distributions(context)  # type: ignore[no-any-return]


def _load_distribution() -> Any:
    path = os.path.join(os.path.dirname(_HERE), "distribution.py")
    spec = importlib.util.spec_from_file_location("_mytrack_compat_distribution", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # the Distribution's class needs its module importable
    spec.loader.exec_module(module)
    return module


def _chain() -> None:
    """Runs the next ``sitecustomize`` on sys.path, the one this file hides."""
    others = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", others)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)


if os.environ.get("MYTRACK_COMPAT", "1") != "0":
    if not any(getattr(entry, "mytrack_compat", None) == "distribution" for entry in sys.meta_path):
        sys.meta_path.insert(0, _DistributionOnDemand())
    if not any(getattr(entry, "mytrack_compat", None) in ("boot", "modules") for entry in sys.meta_path):
        sys.meta_path.insert(0, _SwitchOnImport())
_chain()
