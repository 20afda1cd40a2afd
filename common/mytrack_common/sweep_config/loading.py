"""Reading a sweep configuration from a dict, a function or a YAML/JSON file."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from mytrack_common.sweep_config.errors import SweepConfigError

Source = Mapping[str, Any] | Callable[[], Mapping[str, Any]] | str | os.PathLike[str]


def load(source: Source) -> dict[str, Any]:
    """The configuration ``source`` holds, as a new dict (not validated: see `validate`).

    Args:
        source: a dict; a function returning one (as ``wandb.sweep`` takes); or the path
            of a YAML file (a ``.json`` file is read as JSON).

    Raises:
        SweepConfigError: the file cannot be read or parsed, or holds no mapping.
    """
    if isinstance(source, str | os.PathLike):
        loaded = _read(Path(source))
    elif callable(source):
        loaded = source()
    else:
        loaded = source
    if not isinstance(loaded, Mapping):
        raise SweepConfigError("", f"a sweep configuration must be a mapping of keys, got {type(loaded).__name__}")
    return copy.deepcopy(dict(loaded))


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        reason = exc.strerror or exc
        raise SweepConfigError("", f"cannot read the sweep configuration {str(path)!r}: {reason}") from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SweepConfigError("", f"cannot parse the sweep configuration {str(path)!r}: {exc}") from None
