"""The switch: after ``mytrack.compat.install()``, ``import wandb`` gets mytrack.

    import mytrack.compat
    mytrack.compat.install()
    import wandb            # mytrack, under W&B's names
    wandb.init(project="demo")

It puts a finder first on ``sys.meta_path`` that answers ``wandb`` and the
submodules integrations import (`mytrack.compat.facade`), and a ``wandb``
distribution for ``importlib.metadata`` so that libraries checking that W&B is
installed find it (`mytrack.compat.distribution`). ``mytrack run COMMAND``
turns the switch on in every Python process of COMMAND
(`mytrack.compat.boot`). docs/migrating-from-wandb.md says what differs.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

from mytrack.compat import facade
from mytrack.compat.distribution import WANDB_VERSION, install_distribution

__all__ = ["WANDB_VERSION", "install", "is_installed", "uninstall"]

_lock = threading.Lock()


class ModuleFinder(importlib.abc.MetaPathFinder):
    """Answers ``wandb`` and ``wandb.*`` with the facade modules, ahead of any
    real ``wandb`` on ``sys.path``."""

    mytrack_compat = "modules"

    def __init__(self, modules: dict[str, types.ModuleType]) -> None:
        self.modules = modules

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != "wandb" and not fullname.startswith("wandb."):
            return None
        module = self.modules.get(fullname)
        if module is None and fullname in facade.ALIASED:
            return importlib.machinery.ModuleSpec(fullname, facade.AliasLoader(facade.ALIASED[fullname]))
        if module is None:
            # An ImportError, which integrations probing optional parts catch.
            raise ModuleNotFoundError(
                f"No module named {fullname!r}: mytrack's W&B compatibility layer "
                "(mytrack.compat) does not provide it; see docs/migrating-from-wandb.md",
                name=fullname,
            )
        return module.__spec__


def _finder() -> ModuleFinder | None:
    for entry in sys.meta_path:
        if isinstance(entry, ModuleFinder):
            return entry
    return None


def is_installed() -> bool:
    """True once `install` has run in this process (and `uninstall` has not)."""
    return _finder() is not None


def install() -> None:
    """From now on, ``import wandb`` in this process gets mytrack. Idempotent.

    A real ``wandb`` package, installed or already imported, is shadowed (the
    caller asked for the switch), which one line on stderr says.
    """
    with _lock:
        if _finder() is not None:
            return
        real = _real_wandb()
        modules = facade.build()
        for name in [n for n in sys.modules if n == "wandb" or n.startswith("wandb.")]:
            del sys.modules[name]  # a real wandb imported earlier
        sys.modules.update(modules)
        sys.meta_path.insert(0, ModuleFinder(modules))
        install_distribution()
    if real is not None:
        _say(
            f"mytrack: import wandb gets mytrack (mytrack.compat); the wandb package "
            f"installed at {real} is not used"
        )


def uninstall() -> None:
    """Turns the switch off: ``import wandb`` finds what it would without it."""
    with _lock:
        sys.meta_path[:] = [e for e in sys.meta_path if not getattr(e, "mytrack_compat", None)]
        for name in [n for n in sys.modules if n == "wandb" or n.startswith("wandb.")]:
            if isinstance(getattr(sys.modules[name], "__loader__", None), facade.Loader | facade.AliasLoader):
                del sys.modules[name]


def _real_wandb() -> str | None:
    """Where a real wandb package is, if one is on sys.path or imported."""
    imported = sys.modules.get("wandb")
    if imported is not None and getattr(imported, "__mytrack__", None) is None:
        return str(getattr(imported, "__file__", None) or "an imported module")
    spec = importlib.machinery.PathFinder.find_spec("wandb")
    if spec is None:
        return None
    return str(spec.origin or (list(spec.submodule_search_locations or []) or ["?"])[0])


def _say(line: str) -> None:
    from mytrack.errors import Error
    from mytrack.settings import Settings

    try:
        if Settings().resolve().quiet:
            return
    except Error:
        pass  # a bad variable is reported by init()
    print(line, file=sys.stderr, flush=True)
