"""W&B's sweep configuration: its JSON schema, validation with defaults, and loading.

Both sides use it: the SDK checks a configuration at ``mytrack.sweep()``, the service
before it stores one. `validate` runs the schema (``schema.json``, Draft 7, through
the ``jsonschema`` library), fills the defaults and applies the rules the schema
cannot say (`rules`); every error is a `SweepConfigError` naming the bad key's path.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from mytrack_common.sweep_config.defaults import fill
from mytrack_common.sweep_config.errors import SweepConfigError
from mytrack_common.sweep_config.loading import load
from mytrack_common.sweep_config.parameters import Leaf, leaves, lookup, nest
from mytrack_common.sweep_config.rules import check_rules, hyperband_bands
from mytrack_common.sweep_config.schema import check, schema

__all__ = ["Leaf", "SweepConfigError", "hyperband_bands", "leaves", "load", "lookup", "nest", "schema", "validate"]


def validate(config: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``config`` with its defaults filled, or `SweepConfigError` naming the bad key.

    Filled: each parameter's ``distribution`` (inferred from its keys as W&B does) and
    its defaults (``mu``, ``sigma``, ``q``, ``a``, ``b``), ``metric.goal`` (minimize),
    ``metric.impute`` (worst), ``early_terminate.eta`` (3) and ``strict`` (true),
    ``random.replacement`` (true), ``scheduler.settings.sampler`` (TPESampler).
    """
    if not isinstance(config, Mapping):
        raise SweepConfigError("", f"a sweep configuration must be a mapping of keys, got {type(config).__name__}")
    filled = copy.deepcopy(dict(config))
    check(filled)
    fill(filled)
    check_rules(filled)
    return filled
