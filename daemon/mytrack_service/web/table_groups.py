"""The runs table grouped by a column: runs ordered by their group, and a row of aggregates per group.

A group is every run with one value in the column (``config.model.depth = 3``;
runs without the key, or with "", form the last groups). Its row counts the
runs and their states and, for each numeric column asked for, gives the mean,
min and max over the runs that have a number there (W&B's group rows show the
mean; min and max come with it).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from mytrack_service.web.table_columns import Cells, sortable

MAX_GROUPS = 1000  # group rows in one answer; the runs of further groups still page


def order_by_group(cells: list[Cells], column: str) -> None:
    """Sorts in place (stable) by the group value: numbers, then strings, then no value ("" too)."""
    def key(cell: Cells) -> tuple[int, Any]:
        value = cell.value(column)
        found = None if value == "" else sortable(value)
        return (2, 0) if found is None else found

    cells.sort(key=key)


def groups(cells: list[Cells], column: str, aggregate: list[str]) -> list[dict[str, Any]]:
    """One entry per group, in the order of `order_by_group`."""
    out: list[dict[str, Any]] = []
    members: dict[Any, list[Cells]] = {}
    for cell in cells:
        value = cell.value(column)
        name = _hashable(value)
        if name not in members:
            members[name] = []
            out.append({"key": column, "value": value})
        members[name].append(cell)
    for entry in out[:MAX_GROUPS]:
        runs = members[_hashable(entry["value"])]
        entry["group"] = entry["value"]  # the name earlier clients read
        entry["count"] = len(runs)
        entry["states"] = dict(Counter(c.run.state for c in runs))
        entry["aggregates"] = {col: agg for col in aggregate if (agg := _numbers(runs, col))}
    return out[:MAX_GROUPS]


def _hashable(value: Any) -> Any:
    return value if isinstance(value, (str, int, float, bool, type(None))) else repr(value)


def _numbers(runs: list[Cells], column: str) -> dict[str, float] | None:
    values = [v for c in runs if isinstance(v := c.value(column), (int, float))
              and not isinstance(v, bool) and v == v]
    if not values:
        return None
    return {"mean": sum(values) / len(values), "min": min(values), "max": max(values),
            "count": len(values)}
