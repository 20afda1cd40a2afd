"""``wandb.util``: the helpers that integrations call.

Lightning and Hugging Face reach into ``wandb.util`` for a few functions
(``add_import_hook`` to run code when a framework is imported, ``get_module``
to import an optional dependency with a message, ``generate_id``). Only those
are provided.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any

from mytrack_common.names import new_run_id

__all__ = ["add_import_hook", "generate_id", "get_module", "make_artifact_name_safe"]

# Hooks for modules not imported yet, run by `_HookFinder` once each is.
_pending: dict[str, list[Callable[[Any], None]]] = {}
_lock = threading.Lock()


def add_import_hook(fullname: str, on_import: Callable[[Any], None]) -> None:
    """Calls ``on_import(module)`` now if ``fullname`` is imported, else once it is."""
    module = sys.modules.get(fullname)
    if module is not None:
        on_import(module)
        return
    with _lock:
        _pending.setdefault(fullname, []).append(on_import)
        if not any(isinstance(entry, _HookFinder) for entry in sys.meta_path):
            sys.meta_path.insert(0, _HookFinder())


class _HookFinder(importlib.abc.MetaPathFinder):
    """Finds a hooked module with the other finders and runs its hooks after it
    executed (the import system offers no "after import" event)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in _pending:
            return None
        spec: importlib.machinery.ModuleSpec | None = None
        for finder in [entry for entry in sys.meta_path if entry is not self]:
            find = getattr(finder, "find_spec", None)
            spec = find(fullname, path, target) if find is not None else None
            if spec is not None:
                break
        if spec is None:
            return None
        loader = spec.loader
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        original = loader.exec_module

        def exec_module(module: Any) -> None:
            original(module)
            with _lock:
                hooks = _pending.pop(fullname, [])
            for hook in hooks:
                hook(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def get_module(name: str, required: str | None = None, lazy: bool = True) -> Any:
    """Imports ``name``; None if missing, or ImportError with ``required`` as the message."""
    try:
        return importlib.import_module(name)
    except ImportError:
        if required:
            raise ImportError(required) from None
        return None


def generate_id(length: int = 8) -> str:
    """A new run id (W&B's ids are 8 characters; mytrack's own form is used)."""
    return new_run_id()


def make_artifact_name_safe(name: str) -> str:
    """Replaces what an artifact name may not hold by ``_``, as W&B does."""
    cleaned = re.sub(r"[^a-zA-Z0-9_\-.]", "_", name)
    return cleaned[:128]
