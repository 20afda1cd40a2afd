"""What every framework integration needs: its framework imported or a clear
error naming the extra, hyperparameters made storable, and the run to log to."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import importlib
import os
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from mytrack.errors import MissingExtraError

# A config value of these types is stored as it is; anything else is made plain first.
_SCALARS = (str, int, float, bool, type(None))


def require(module: str, extra: str, integration: str) -> ModuleType:
    """``module`` imported, or MissingExtraError naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"mytrack.integration.{integration} needs {module.split('.')[0]} ({exc}): "
            f"pip install 'mytrack[{extra}]'"
        ) from None


def first_installed(candidates: tuple[str, ...], extra: str, integration: str) -> ModuleType:
    """The first of ``candidates`` that imports (``lightning.pytorch`` before ``pytorch_lightning``)."""
    for name in candidates[:-1]:
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    return require(candidates[-1], extra, integration)


def plain_params(params: Any) -> dict[str, Any]:
    """Hyperparameters (a mapping, Namespace or dataclass) as a config dict.

    Frameworks pass what users put in their hyperparameters: callables,
    classes, enums, paths, modules. As W&B's integrations do, a callable or
    class is stored by its name, an enum by its value, and any other object
    that is not a number, string, list, mapping or tensor by its ``str()``, so
    that one odd value never loses the rest.
    """
    if isinstance(params, argparse.Namespace):
        params = vars(params)
    elif dataclasses.is_dataclass(params) and not isinstance(params, type):
        params = dataclasses.asdict(params)
    if not isinstance(params, Mapping):
        raise TypeError(f"hyperparameters must be a mapping, Namespace or dataclass, got {type(params).__name__}")
    return {str(key): _plain(value) for key, value in params.items()}


def _plain(value: Any, depth: int = 0) -> Any:
    if isinstance(value, _SCALARS) or depth > 20:
        return value if isinstance(value, _SCALARS) else str(value)
    if isinstance(value, enum.Enum):
        return _plain(value.value, depth + 1)
    if isinstance(value, Mapping):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(item, depth + 1) for item in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "__array__") or hasattr(value, "numpy"):
        return value  # a tensor or array: the config turns it into numbers
    if isinstance(value, type) or callable(value):
        return getattr(value, "__qualname__", None) or getattr(value, "__name__", None) or str(value)
    return str(value)
