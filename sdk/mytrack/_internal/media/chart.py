"""`Plot`: what the ``mytrack.plot`` helpers return, a table plus a chart spec."""

from __future__ import annotations

from typing import Any

from mytrack._internal.media.base import Media, MediaWriter, bad
from mytrack._internal.media.table import Table


class Plot(Media):
    """A chart: its data (``table``) and how to draw it (``spec``).

    Logged under ``key``, the row holds ``{"_type": "plot", "spec": ...,
    "table": <descriptor of the table, file "<key>_table...">}``.
    """

    kind = "tables"  # its file is the table's
    type_name = "plot"

    def __init__(self, chart: str, table: Table, fields: dict[str, Any], title: str | None = None) -> None:
        self.table = table
        self.spec: dict[str, Any] = {"chart": chart, "title": title or "", "fields": fields}

    def to_descriptor(self, sink: MediaWriter | None, key: str) -> dict[str, Any]:
        if sink is None:
            raise bad(key, "a plot", "to be logged with run.log()", "no run to write its table")
        return {"_type": "plot", "spec": self.spec, "table": self.table.to_descriptor(sink, f"{key}_table")}

    def __repr__(self) -> str:
        return f"<mytrack.plot {self.spec['chart']} ({self.table.nrows} rows)>"
