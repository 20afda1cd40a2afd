"""A project's saved views of the runs table, as the store keeps them.

A view is a name and the state of the runs page (filters, sort, grouping,
columns, selected runs, chart settings) as the page's query parameters. Views
live in the store, so every service sharing a PostgreSQL store sees the same
ones. Saving a name that exists replaces its state (its ``created_at`` stays).
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ViewRow:
    entity: str
    project: str
    name: str
    # The page's query parameters: name -> value (values are strings).
    state: dict[str, str] = field(default_factory=dict)
    created_at: float = 0.0
    updated_at: float = 0.0
