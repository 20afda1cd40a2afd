"""define_metric in the service: step metrics, step_sync and summary aggregates.

A definition names a metric or a glob (``train/*``, ``*``); for a key the exact
definition wins, else the most specific matching glob (the longest pattern
without its wildcards); keys starting with ``_`` never match a glob. With
``overwrite`` false, a definition merges with the earlier one of the same name
(options given now replace those given before); true replaces it.

Summaries: a key without a definition (or with no ``summary`` option) keeps its
last value. With ``summary="min,max"`` and the like, the key's summary becomes
``{"min": ..., "max": ...}``, computed over the numeric values logged since the
definition; ``none`` removes the key from the summary; ``best`` is the min or
the max according to ``goal``; ``copy`` (deprecated) is ``last``.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterator
from typing import Any

SUMMARY_KINDS = ("min", "max", "mean", "last", "first", "best", "copy", "none")
_OPTIONS = ("step_metric", "step_sync", "hidden", "summary", "goal")


class MetricRegistry:
    """The definitions of one run and the aggregate state they need."""

    def __init__(self, definitions: list[dict[str, Any]], state: dict[str, Any]) -> None:
        self.definitions: dict[str, dict[str, Any]] = {}
        self.aggregates: dict[str, dict[str, Any]] = dict(state.get("aggregates", {}))
        self.step_values: dict[str, Any] = dict(state.get("step_values", {}))
        self._cache: dict[str, dict[str, Any] | None] = {}
        self.timestamp = 0.0  # of the row being applied
        for definition in definitions:
            self.define(definition)

    def define(self, definition: dict[str, Any]) -> None:
        name = str(definition["name"])
        options = {k: definition[k] for k in _OPTIONS if definition.get(k) is not None}
        old = self.definitions.get(name)
        if old is None or definition.get("overwrite"):
            self.definitions[name] = {"name": name, **options}
        else:
            old.update(options)
        self._cache.clear()

    def state(self) -> dict[str, Any]:
        return {"aggregates": self.aggregates, "step_values": self.step_values}

    def resolve(self, key: str) -> dict[str, Any] | None:
        """The definition that applies to ``key``, if any."""
        if key in self._cache:
            return self._cache[key]
        found = self.definitions.get(key)
        if found is None and not key.startswith("_"):
            best = -1
            for pattern, definition in self.definitions.items():
                if "*" in pattern or "?" in pattern or "[" in pattern:
                    weight = len(pattern.replace("*", ""))
                    if weight > best and fnmatch.fnmatchcase(key, pattern):
                        found, best = definition, weight
        self._cache[key] = found
        return found

    def hidden(self) -> list[str]:
        return sorted(name for name, d in self.definitions.items() if d.get("hidden"))

    # -- per committed row -------------------------------------------------

    def apply(self, row: dict[str, Any], summary: dict[str, Any]) -> None:
        """Completes ``row`` (step_sync) and folds it into ``summary``."""
        self.timestamp = float(row.get("_timestamp", 0.0))
        if not self.definitions:
            summary.update(row)
            return
        paths = dict(_leaves(row))
        leaves = {key: _get_path(row, path) for key, path in paths.items()}
        for key in list(leaves):
            definition = self.resolve(key)
            step_metric = definition.get("step_metric") if definition else None
            if step_metric and step_metric not in leaves and definition is not None \
                    and definition.get("step_sync", True) and step_metric in self.step_values:
                row[step_metric] = leaves[step_metric] = self.step_values[step_metric]
                paths[step_metric] = (step_metric,)
        for definition in self.definitions.values():
            metric = definition.get("step_metric")
            if metric and metric in leaves:
                self.step_values[metric] = leaves[metric]
        for key, value in leaves.items():
            self._summarize(key, paths[key], value, summary)

    def _summarize(
        self, key: str, path: tuple[str, ...], value: Any, summary: dict[str, Any]
    ) -> None:
        definition = self.resolve(key)
        kinds = _kinds(definition)
        if not kinds or kinds == ["copy"]:  # copy (deprecated): the plain last value
            _set_path(summary, path, value)
            return
        if "none" in kinds:
            _pop_path(summary, path)
            return
        aggregate = self.aggregates.setdefault(key, {"path": list(path)})
        aggregate["last"] = value
        aggregate["last_ts"] = self.timestamp
        if "first" not in aggregate:
            aggregate["first"], aggregate["first_ts"] = value, self.timestamp
        if _is_number(value):
            aggregate["min"] = value if "min" not in aggregate else min(aggregate["min"], value)
            aggregate["max"] = value if "max" not in aggregate else max(aggregate["max"], value)
            aggregate["sum"] = aggregate.get("sum", 0.0) + value
            aggregate["count"] = aggregate.get("count", 0) + 1
        _set_path(summary, path, summarize(aggregate, kinds, definition))


def summarize(
    aggregate: dict[str, Any], kinds: list[str], definition: dict[str, Any] | None
) -> dict[str, Any]:
    """The summary value of an aggregated metric: the requested kinds."""
    goal = definition.get("goal") if definition else None
    out: dict[str, Any] = {}
    for kind in kinds:
        if kind == "mean" and aggregate.get("count"):
            out["mean"] = aggregate["sum"] / aggregate["count"]
        elif kind == "best" and "min" in aggregate:
            out["best"] = aggregate["max"] if goal == "maximize" else aggregate["min"]
        elif kind in aggregate:
            out[kind] = aggregate[kind]
    return out


def combine_nodes(service_state: dict[str, Any], summary: dict[str, Any]) -> None:
    """A shared run whose writers live in several services: sets each aggregated
    metric's summary from the aggregates of every service (in the store's
    transaction, with every service's latest snapshot at hand)."""
    nodes = list(service_state.get("nodes", {}).values())
    if len(nodes) < 2:
        return
    definitions: dict[str, dict[str, Any]] = {}
    for node in nodes:
        definitions.update((d["name"], d) for d in node.get("metrics", []))
    registry = MetricRegistry(list(definitions.values()), {})
    keys = {k for node in nodes for k in node.get("metric_state", {}).get("aggregates", {})}
    for key in keys:
        parts = [n["metric_state"]["aggregates"][key] for n in nodes
                 if key in n.get("metric_state", {}).get("aggregates", {})]
        definition = registry.resolve(key)
        kinds = _kinds(definition)
        if kinds and "none" not in kinds:
            _set_path(summary, tuple(parts[0]["path"]), summarize(_combined(parts), kinds, definition))


def _combined(parts: list[dict[str, Any]]) -> dict[str, Any]:
    first = min(parts, key=lambda p: p.get("first_ts", 0.0))
    last = max(parts, key=lambda p: p.get("last_ts", 0.0))
    out: dict[str, Any] = {"first": first.get("first"), "last": last.get("last")}
    numeric = [p for p in parts if "min" in p]
    if numeric:
        out["min"] = min(p["min"] for p in numeric)
        out["max"] = max(p["max"] for p in numeric)
        out["sum"] = sum(p["sum"] for p in numeric)
        out["count"] = sum(p["count"] for p in numeric)
    return out


def _kinds(definition: dict[str, Any] | None) -> list[str]:
    if not definition or not definition.get("summary"):
        return []
    return [k.strip() for k in str(definition["summary"]).split(",") if k.strip()]


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and not (type(value) is float and math.isnan(value))


def _leaves(row: dict[str, Any], prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, tuple[str, ...]]]:
    """(dotted key, path) of every leaf; a media descriptor or empty dict is a leaf."""
    for key, value in row.items():
        path = (*prefix, key)
        if type(value) is dict and "_type" not in value and value:
            yield from _leaves(value, path)
        else:
            yield ".".join(path), path


def _get_path(row: dict[str, Any], path: tuple[str, ...]) -> Any:
    value: Any = row
    for part in path:
        value = value[part]
    return value


def _set_path(summary: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = summary
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


def _pop_path(summary: dict[str, Any], path: tuple[str, ...]) -> None:
    node: Any = summary
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)
