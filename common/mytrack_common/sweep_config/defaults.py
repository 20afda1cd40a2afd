"""Filling a valid configuration's defaults, read from the schema's ``default`` keywords."""

from __future__ import annotations

from typing import Any

from mytrack_common.sweep_config.parameters import infer_distribution
from mytrack_common.sweep_config.schema import schema


def fill(config: dict[str, Any]) -> None:
    """Fills ``config`` (schema-valid) in place: each parameter's distribution and defaults, metric, hyperband."""
    definitions = schema()["definitions"]
    _fill_parameters(config["parameters"], definitions) if "parameters" in config else None
    if "metric" in config:
        _fill_from(config["metric"], definitions["metric"])
    if "early_terminate" in config:
        _fill_from(config["early_terminate"], definitions["hyperband"])
    if "random" in config:
        _fill_from(config["random"], schema()["properties"]["random"])
    if "scheduler" in config:
        settings = config["scheduler"].setdefault("settings", {})
        sampler = settings.setdefault("sampler", {"type": "TPESampler"})
        sampler.setdefault("args", {})


def _fill_parameters(parameters: dict[str, Any], definitions: dict[str, Any]) -> None:
    for spec in parameters.values():
        distribution = infer_distribution(spec)
        if distribution == "dict":
            _fill_parameters(spec["parameters"], definitions)
            continue
        spec["distribution"] = distribution
        _fill_from(spec, definitions[f"param_{distribution}"])


def _fill_from(target: dict[str, Any], definition: dict[str, Any]) -> None:
    for key, sub in definition.get("properties", {}).items():
        if "default" in sub and key not in target:
            target[key] = sub["default"]
