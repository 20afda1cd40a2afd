"""Run config: attribute and item access, recorded changes."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from mytrack._internal.run.tensors import as_array, to_config_value
from mytrack._internal.run.values import MAX_DEPTH, check_text, convert_value, too_deep
from mytrack.errors import InvalidKeyError, InvalidTypeError, InvalidValueError, UsageError

# Sends the changed keys (already converted) to the service.
Publish = Callable[[dict[str, Any]], None]


# Config keys mytrack keeps for itself (W&B keeps "_wandb" the same way); every
# other key starting with "_" is the user's, as in W&B.
RESERVED_KEYS = ("_wandb", "_mytrack")


def config_from_source(source: Any) -> dict[str, Any]:
    """A dict from a dict, argparse.Namespace, dataclass instance, YAML/JSON path,
    or any other object with a ``__dict__`` (SimpleNamespace...), as W&B takes."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        return dict(source)
    if isinstance(source, argparse.Namespace):
        return dict(vars(source))
    if dataclasses.is_dataclass(source) and not isinstance(source, type):
        return dataclasses.asdict(source)
    if isinstance(source, str | os.PathLike):
        return _load_file(os.fspath(source))
    if hasattr(source, "__dict__") and not isinstance(source, type):
        return dict(vars(source))
    raise InvalidTypeError(
        "config must be a dict, an argparse.Namespace, a dataclass instance, an object "
        f"with attributes or the path of a YAML or JSON file, got {type(source).__name__}"
    )


def _load_file(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as exc:
        raise InvalidValueError(f"cannot read config file {path!r}: {exc}") from None
    if path.endswith((".yaml", ".yml")):
        try:
            import yaml
        except ImportError:
            raise UsageError(f"reading {path!r} needs PyYAML: pip install pyyaml") from None
        data = yaml.safe_load(text)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidValueError(f"config file {path!r} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidValueError(f"config file {path!r} must hold a mapping at the top level")
    data.pop("wandb_version", None)  # the header of W&B's config.yaml
    # W&B's config-defaults.yaml form: {key: {"value": v, "desc": ...}}.
    return {k: v["value"] if isinstance(v, dict) and "value" in v else v for k, v in data.items()}


def sanitize(items: Mapping[Any, Any]) -> dict[str, Any]:
    """Checked, JSON-ready copies of config items; errors name the key.

    W&B's rules: keys that are not strings become strings (``id2label`` with
    int keys), at every depth; keys starting with "_" are kept, but for
    mytrack's `RESERVED_KEYS`.
    """
    out: dict[str, Any] = {}
    for key, value in items.items():
        key = _config_key(key)
        out[key] = convert_value(_plain_keys(value, key), key)
    return out


def _config_key(key: Any) -> str:
    text: str = key if type(key) is str else str(key)
    if not text:
        raise InvalidKeyError("config keys must be non-empty")
    if text.startswith(RESERVED_KEYS):
        raise InvalidKeyError(
            f"config key {text!r} is reserved for mytrack (config keys may not start with "
            f"{' or '.join(repr(k) for k in RESERVED_KEYS)})"
        )
    return check_text(text, "config key", key=True)


def _plain_keys(value: Any, name: str, depth: int = 0) -> Any:
    """``value`` with the keys of its nested mappings turned into strings, and
    tensors turned into numbers or lists (W&B's config rules); ``name`` is the
    key for errors (a value nested too deep, or containing itself)."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, Mapping) or type(value) is list or type(value) is tuple:
        if depth >= MAX_DEPTH:
            too_deep(name)
        if isinstance(value, Mapping):
            return {k if type(k) is str else str(k): _plain_keys(v, f"{name}.{k}", depth + 1)
                    for k, v in value.items()}
        return [_plain_keys(item, f"{name}[{i}]", depth + 1) for i, item in enumerate(value)]
    array = as_array(value)
    return value if array is None else to_config_value(array)


_PLAIN = frozenset({float, int, str, bool, type(None)})


class Config:
    """The run's config. ``config.lr`` and ``config["lr"]`` read and write alike.

    Changing the value of an existing key raises unless
    ``update(..., allow_val_change=True)`` is used, as in W&B.
    """

    def __init__(self, items: Mapping[str, Any] | None = None, publish: Publish | None = None) -> None:
        object.__setattr__(self, "_items", dict(items or {}))
        object.__setattr__(self, "_publish", publish)
        object.__setattr__(self, "_always_allow_val_change", False)
        # Keys a sweep set: the script's writes to them are ignored, with one warning each.
        object.__setattr__(self, "_locked", {})

    def _lock(self, keys: Iterable[str], message: Callable[[str], str], warned: Iterable[str] = ()) -> None:
        """Locks ``keys``; a later write to one warns once with ``message(key)`` (unless
        ``warned`` already) and is ignored."""
        done = set(warned)
        self._locked.update((key, None if key in done else message) for key in keys)

    def _allow_val_change(self) -> None:
        """Every later change of a value is allowed (``init(allow_val_change=True)``)."""
        object.__setattr__(self, "_always_allow_val_change", True)

    # -- writes ----------------------------------------------------------------

    def update(self, d: Any, allow_val_change: bool = False) -> None:
        """Merges ``d`` (any accepted config source) into the config."""
        self._set(sanitize(config_from_source(d)), allow_val_change)

    def setdefaults(self, d: Any) -> None:
        """Sets the keys of ``d`` that are not set yet."""
        items = sanitize(config_from_source(d))
        self._set({k: v for k, v in items.items() if k not in self._items}, True)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._set(sanitize({key: value}), False)

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def _set(self, items: dict[str, Any], allow_val_change: bool) -> None:
        if self._locked:
            items = self._unlocked(items)
        if not allow_val_change and not self._always_allow_val_change:
            for key, value in items.items():
                if key in self._items and not _same(self._items[key], value):
                    raise UsageError(
                        f"config key {key!r} already has the value {self._items[key]!r}; "
                        f"to change it to {value!r}, use "
                        "config.update({...}, allow_val_change=True)"
                    )
        changed = {k: v for k, v in items.items() if k not in self._items or not _same(self._items[k], v)}
        if not changed:
            return
        if self._publish is not None:
            self._publish(changed)  # first: it raises on a finished run, changing nothing
        self._items.update(changed)

    def _unlocked(self, items: dict[str, Any]) -> dict[str, Any]:
        for key in sorted(set(items) & set(self._locked)):
            message = self._locked[key]
            if message is not None:
                warnings.warn(message(key), UserWarning, stacklevel=5)
                self._locked[key] = None  # once per key
        return {key: value for key, value in items.items() if key not in self._locked}

    # -- reads -----------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        return self._items[key]

    def __getattr__(self, key: str) -> Any:
        if key.startswith("__"):
            raise AttributeError(key)
        try:
            return self._items[key]
        except KeyError:
            raise AttributeError(f"config has no key {key!r}") from None

    def get(self, key: str, default: Any = None) -> Any:
        return self._items.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> Any:
        return self._items.keys()

    def items(self) -> Any:
        return self._items.items()

    def values(self) -> Any:
        return self._items.values()

    def as_dict(self) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(self._items))  # a deep copy
        return copy

    def __repr__(self) -> str:
        return f"Config({self._items!r})"


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # NaN is NaN for this purpose
    return bool(a == b)


class ConfigStatic:
    """A read-only view of a config: attribute and item reads, no writes."""

    _config: Config  # set through object.__setattr__: this class refuses writes

    def __init__(self, config: Config) -> None:
        object.__setattr__(self, "_config", config)

    def __getattr__(self, key: str) -> Any:
        return getattr(self._config, key)

    def __getitem__(self, key: str) -> Any:
        return self._config[key]

    def __setattr__(self, key: str, value: Any) -> None:
        raise UsageError("config_static is read-only; use run.config to change the config")

    __setitem__ = __setattr__

    def __contains__(self, key: object) -> bool:
        return key in self._config

    def __iter__(self) -> Iterator[str]:
        return iter(self._config)

    def __len__(self) -> int:
        return len(self._config)

    def keys(self) -> Any:
        return self._config.keys()

    def items(self) -> Any:
        return self._config.items()

    def as_dict(self) -> dict[str, Any]:
        return self._config.as_dict()

    def __repr__(self) -> str:
        return f"ConfigStatic({self._config.as_dict()!r})"
