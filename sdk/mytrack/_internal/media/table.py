"""``mytrack.Table``: rows and named columns, stored as a JSON file; cells may hold media."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mytrack._internal.media.base import Media, MediaWriter, bad, to_numpy
from mytrack._internal.transport.encode import dumps
from mytrack.errors import InvalidTypeError, InvalidValueError


class Table(Media):
    """A table: ``Table(columns=[...], data=[[...], ...])`` or
    ``Table(dataframe=df)``; ``add_data``, ``add_column`` and ``get_column``.

    Cells hold what ``log()`` takes (numbers, strings, lists, dicts) and media
    (`Image`, `Audio`...), whose files are written when the table is logged.
    The file is ``{"columns": [...], "data": [[...], ...]}`` (``.table.json``).
    """

    kind = "tables"
    type_name = "table-file"

    def __init__(
        self, columns: Sequence[str] | None = None, data: Any = None, rows: Any = None,
        dataframe: Any = None,
    ) -> None:
        if dataframe is not None:
            if data is not None or rows is not None:
                raise InvalidValueError("Table() takes either dataframe= or data=/rows=, not both")
            columns = [str(c) for c in dataframe.columns] if columns is None else columns
            data = dataframe.to_numpy(dtype=object).tolist()
        data = rows if data is None else data
        if data is not None and not isinstance(data, list | tuple):
            data = to_numpy(data).tolist()  # a 2-D array
        data = [list(r) if isinstance(r, list | tuple) else r for r in (data or [])]
        if columns is None:
            width = len(data[0]) if data and isinstance(data[0], list) else 0
            columns = [f"Column_{i + 1}" for i in range(width)]
        self.columns: list[str] = _check_columns(columns)
        self.data: list[list[Any]] = []
        for row in data:
            self.add_data(*_row(row))

    @property
    def ncols(self) -> int:
        return len(self.columns)

    @property
    def nrows(self) -> int:
        return len(self.data)

    def add_data(self, *values: Any) -> None:
        """Appends one row, a value per column."""
        if len(values) != len(self.columns):
            raise InvalidValueError(
                f"Table row has {len(values)} values; expected one per column ({len(self.columns)}: "
                f"{', '.join(self.columns)})"
            )
        self.data.append(list(values))

    def add_column(self, name: str, data: Sequence[Any]) -> None:
        """Appends a column; ``data`` holds a value for each row."""
        _check_columns([*self.columns, name])
        values = list(data)
        if self.columns and len(values) != len(self.data):
            raise InvalidValueError(
                f"Table column {name!r} has {len(values)} values; expected one per row ({len(self.data)})"
            )
        if not self.columns:
            self.data = [[] for _ in values]
        self.columns.append(name)
        for row, value in zip(self.data, values, strict=True):
            row.append(value)

    def get_column(self, name: str, convert_to: str | None = None) -> Any:
        """The values of column ``name``; ``convert_to="numpy"`` for a NumPy array."""
        if name not in self.columns:
            raise InvalidValueError(f"Table has no column {name!r} (columns: {', '.join(self.columns)})")
        index = self.columns.index(name)
        values = [row[index] for row in self.data]
        if convert_to == "numpy":
            import numpy as np

            return np.array(values)
        if convert_to is not None:
            raise InvalidValueError(f"convert_to must be None or 'numpy', got {convert_to!r}")
        return values

    def get_dataframe(self) -> Any:
        """A pandas DataFrame of the table (needs pandas)."""
        import pandas as pd

        return pd.DataFrame(self.data, columns=self.columns)

    def to_descriptor(self, sink: MediaWriter | None, key: str) -> dict[str, Any]:
        if sink is None:
            raise bad(key, "Table", "to be logged with run.log()", "no run to write its file")
        rows = [
            [sink.convert(cell, f"{key}/{column}_{r}") for cell, column in zip(row, self.columns, strict=True)]
            for r, row in enumerate(self.data)
        ]
        content = dumps({"columns": self.columns, "data": rows})
        return self._file_descriptor(sink, key, "table.json", content, ncols=self.ncols, nrows=self.nrows)

    def __repr__(self) -> str:
        return f"<mytrack.Table {self.nrows} rows x {self.ncols} columns>"


def _check_columns(columns: Any) -> list[str]:
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise InvalidTypeError(f"Table columns must be a list of strings, got {type(columns).__name__}")
    names = list(columns)
    for name in names:
        if not isinstance(name, str) or not name:
            raise InvalidTypeError(f"Table column names must be non-empty strings, got {name!r}")
    if len(set(names)) != len(names):
        raise InvalidValueError(f"Table column names must be unique, got {names}")
    return names


def _row(row: Any) -> list[Any]:
    if not isinstance(row, list):
        raise InvalidTypeError(f"Table rows must be lists or tuples, got {type(row).__name__}")
    return row
