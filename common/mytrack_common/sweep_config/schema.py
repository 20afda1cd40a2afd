"""The JSON schema of a sweep configuration, and its errors turned into readable ones.

``schema.json`` holds W&B's keys with W&B's meanings. Each parameter chooses its
definition with ``if``/``then`` on ``distribution`` (or, without one, on the keys
present, as W&B infers it), rather than W&B's ``anyOf`` of every distribution: an
error then comes from the one definition meant, with the path of the bad key,
instead of "not valid under any of the given schemas".
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from mytrack_common.sweep_config.errors import SweepConfigError

# Keys a parameter's definition is chosen by, for the message when none is there.
_CHOOSING_KEYS = frozenset({"values", "value", "min", "max", "distribution", "parameters"})
_PARAMETER_KEYS = "'values', 'value', 'min' and 'max', 'distribution' or 'parameters'"


@cache
def schema() -> dict[str, Any]:
    """The schema, read once from the package's ``schema.json``."""
    text = resources.files("mytrack_common.sweep_config").joinpath("schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


@cache
def _validator() -> jsonschema.protocols.Validator:
    return jsonschema.Draft7Validator(schema())


def check(config: Any) -> None:
    """Raises `SweepConfigError` for the most relevant schema violation of ``config``."""
    error = jsonschema.exceptions.best_match(_validator().iter_errors(config))
    if error is not None:
        raise _readable(error)


def format_path(parts: Iterable[str | int]) -> str:
    """``["parameters", "lr", "values", 0]`` as ``parameters.lr.values[0]``."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _readable(error: jsonschema.ValidationError) -> SweepConfigError:
    path = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        missing = [key for key in error.validator_value if key not in instance]
        if _is_parameter(path) and not set(instance) & _CHOOSING_KEYS:
            return SweepConfigError(format_path(path), f"expected a parameter with {_PARAMETER_KEYS}")
        return SweepConfigError(format_path([*path, missing[0]]), "is required")
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(str(key) for key in instance if key not in allowed)
        expected = ", ".join(sorted(allowed)) or "nothing"
        return SweepConfigError(format_path([*path, extra[0]]), f"unknown key (expected one of: {expected})")
    if error.validator == "const" and path and path[-1] == "type" and len(path) == 2:
        return SweepConfigError(format_path(path), f"expected 'hyperband', got {instance!r}")
    if error.validator == "anyOf" and path == ["early_terminate"]:
        return SweepConfigError(format_path(path), "expected 'min_iter', or 'max_iter' with 's'")
    if error.validator == "propertyNames":
        return SweepConfigError(format_path(path), f"parameter name {instance!r} must match [A-Za-z_][A-Za-z0-9_.-]*")
    if error.validator == "enum":
        choices = ", ".join(repr(choice) for choice in error.validator_value)
        return SweepConfigError(format_path(path), f"expected one of {choices}, got {instance!r}")
    return SweepConfigError(format_path(path), f"expected {_expectation(error)}, got {instance!r}")


def _expectation(error: jsonschema.ValidationError) -> str:
    value = error.validator_value
    match error.validator:
        case "type":
            kinds = value if isinstance(value, list) else [value]
            return " or ".join("an object" if kind == "object" else f"a {kind}" if kind != "integer"
                               else "an integer" for kind in kinds)
        case "exclusiveMinimum":
            return f"a value greater than {value}"
        case "minimum":
            return f"a value of at least {value}"
        case "minItems":
            return f"at least {value} item(s)"
        case "minProperties":
            return f"at least {value} entry(ies)"
        case "const":
            return repr(value)
        case "minLength":
            return "a non-empty string"
        case "pattern":
            return f"a string matching {value}"
    return str(error.message)


def _is_parameter(path: list[str | int]) -> bool:
    # parameters.NAME, parameters.NAME.parameters.NAME, ...
    return len(path) >= 2 and len(path) % 2 == 0 and all(path[i] == "parameters" for i in range(0, len(path), 2))
