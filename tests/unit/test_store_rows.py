"""The stored text of history rows (store/rows.py)."""

from __future__ import annotations

import math

import pytest

from mytrack_service.store.base import StoreError
from mytrack_service.store.jsontext import dump_json
from mytrack_service.store.rows import decode_row, encode_row


def test_a_numeric_row_is_packed_and_comes_back_exactly() -> None:
    row = {"loss": 0.1 + 0.2, "acc": -0.0, "big": 1e308, "n": -2**63, "ok": True, "_step": 7,
           "nan": math.nan, "inf": -math.inf, 'we"ird\nkey.é': 1.0}
    text = encode_row(row, "row")
    assert text.startswith("P")
    back = decode_row(text)
    assert list(back) == list(row)  # key order kept
    assert {k: type(v) for k, v in back.items()} == {k: type(v) for k, v in row.items()}
    assert math.isnan(back.pop("nan")) and math.isnan(row.pop("nan"))
    assert back == row
    assert math.copysign(1.0, back["acc"]) == -1.0


@pytest.mark.parametrize("row", [
    {"s": "text", "_step": 1},
    {"nested": {"a": 1.0}, "_step": 1},
    {"img": {"_type": "image-file", "path": "x.png"}, "_step": 2},
    {"huge": 2**70, "_step": 3},  # beyond 64 bits: JSON keeps it exactly
    {"none": None, "_step": 4},
    {"list": [1, 2], "_step": 5},
])
def test_other_rows_stay_json(row: dict[str, object]) -> None:
    text = encode_row(row, "row")
    assert text.startswith("{")
    assert decode_row(text) == row


def test_rows_written_as_json_by_older_versions_read_back() -> None:
    row = {"loss": 0.5, "_step": 3, "_runtime": 1.25}
    assert decode_row(dump_json(row, "row")) == row


def test_a_value_json_cannot_hold_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="history row 9"):
        encode_row({"x": object(), "_step": 9}, "history row 9")


def test_rows_of_many_shapes_do_not_confuse_the_caches() -> None:
    rows = [{f"k{i % 7}": float(i), "_step": i, **({"flag": i % 2 == 0} if i % 3 else {})}
            for i in range(5000)]
    assert [decode_row(encode_row(row, "row")) for row in rows] == rows
