"""Unit tests for mytrack_service.query.filters (W&B-style run filters)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mytrack_service.query.filters import FilterError, matches, validate_filter

_DOC: dict[str, Any] = {
    "id": "abc12345",
    "name": "brave-fox-3",
    "display_name": "brave-fox-3",
    "state": "finished",
    "group": "g",
    "job_type": "train",
    "tags": ["a", "b"],
    "notes": "baseline run",
    "created_at": 1700000000.0,
    "config": {"lr": 0.1, "model": {"depth": 3}, "a.b": 1, "flag": True, "name": None},
    "summary": {"acc": 0.9, "loss": {"min": 0.1}, "nan": float("nan"), "step": 10},
}


@pytest.fixture
def doc() -> dict[str, Any]:
    """Return a fresh copy of the sample run document."""
    return copy.deepcopy(_DOC)


def test_none_and_empty_filter_match_everything(doc: dict[str, Any]) -> None:
    """A None or empty filter matches any run."""
    assert matches(doc, None)
    assert matches(doc, {})


def test_implicit_equality(doc: dict[str, Any]) -> None:
    """A plain value means equality with the field."""
    assert matches(doc, {"state": "finished"})
    assert not matches(doc, {"state": "running"})


def test_several_fields_are_anded(doc: dict[str, Any]) -> None:
    """Several fields in one dict must all match."""
    assert matches(doc, {"state": "finished", "group": "g"})
    assert not matches(doc, {"state": "finished", "group": "other"})


def test_eq_and_ne(doc: dict[str, Any]) -> None:
    """$eq and $ne compare for equality and inequality."""
    assert matches(doc, {"config.lr": {"$eq": 0.1}})
    assert not matches(doc, {"config.lr": {"$ne": 0.1}})
    assert matches(doc, {"state": {"$ne": "crashed"}})


@pytest.mark.parametrize(
    ("op", "bound", "expected"),
    [("$gt", 0.8, True), ("$gt", 0.9, False), ("$gte", 0.9, True), ("$lt", 0.9, False),
     ("$lt", 1, True), ("$lte", 0.9, True), ("$lte", 0.5, False)],
)
def test_ordering_operators(doc: dict[str, Any], op: str, bound: float, expected: bool) -> None:
    """$gt, $gte, $lt and $lte compare numbers, ints and floats alike."""
    assert matches(doc, {"summary.acc": {op: bound}}) is expected


def test_ordering_on_strings(doc: dict[str, Any]) -> None:
    """Ordering operators compare strings lexicographically."""
    assert matches(doc, {"name": {"$gt": "apple", "$lt": "cat"}})


def test_several_operators_are_anded(doc: dict[str, Any]) -> None:
    """Several operators on one field must all hold."""
    assert matches(doc, {"summary.step": {"$gte": 10, "$lt": 11}})
    assert not matches(doc, {"summary.step": {"$gt": 5, "$lt": 10}})


def test_in_and_nin_on_scalars(doc: dict[str, Any]) -> None:
    """$in matches a member of the list and $nin matches a non-member."""
    assert matches(doc, {"state": {"$in": ["running", "finished"]}})
    assert not matches(doc, {"state": {"$in": ["running"]}})
    assert matches(doc, {"state": {"$nin": ["running", "crashed"]}})
    assert not matches(doc, {"state": {"$nin": ["finished"]}})


def test_exists(doc: dict[str, Any]) -> None:
    """$exists tests presence, and a stored None counts as present."""
    assert matches(doc, {"config.lr": {"$exists": True}})
    assert matches(doc, {"config.name": {"$exists": True}})
    assert matches(doc, {"config.missing": {"$exists": False}})
    assert not matches(doc, {"config.missing": {"$exists": True}})


def test_regex(doc: dict[str, Any]) -> None:
    """$regex uses re.search on string fields and is False on non-strings."""
    assert matches(doc, {"display_name": {"$regex": "fox"}})
    assert not matches(doc, {"display_name": {"$regex": "^fox"}})
    assert not matches(doc, {"config.lr": {"$regex": "0"}})
    assert not matches(doc, {"config.missing": {"$regex": ".*"}})


def test_and_or_nor(doc: dict[str, Any]) -> None:
    """$and needs all, $or needs one, and $nor needs none of its subfilters."""
    good, bad = {"state": "finished"}, {"state": "crashed"}
    assert matches(doc, {"$and": [good, {"group": "g"}]})
    assert not matches(doc, {"$and": [good, bad]})
    assert matches(doc, {"$or": [bad, good]})
    assert not matches(doc, {"$or": [bad, bad]})
    assert matches(doc, {"$nor": [bad]})
    assert not matches(doc, {"$nor": [bad, good]})


def test_not_on_field_and_filter(doc: dict[str, Any]) -> None:
    """$not negates a field's operators or, at top level, a whole subfilter."""
    assert matches(doc, {"summary.acc": {"$not": {"$lt": 0.5}}})
    assert not matches(doc, {"summary.acc": {"$not": {"$gt": 0.5}}})
    assert matches(doc, {"$not": {"state": "crashed"}})
    assert not matches(doc, {"$not": {"state": "finished"}})


def test_deep_nesting(doc: dict[str, Any]) -> None:
    """Logical operators nest arbitrarily around field conditions."""
    f = {"$and": [{"$or": [{"tags": "zzz"}, {"config.model.depth": {"$gte": 3}}]},
                  {"$nor": [{"summary.loss.min": {"$gt": 1}}]}]}
    assert matches(doc, f)


def test_nested_config_and_summary_paths(doc: dict[str, Any]) -> None:
    """Dotted paths walk nested config and summary dicts."""
    assert matches(doc, {"config.model.depth": 3})
    assert matches(doc, {"summary.loss.min": {"$lt": 0.2}})
    assert matches(doc, {"config.model": {"depth": 3}})


def test_value_suffix(doc: dict[str, Any]) -> None:
    """A trailing .value falls back to the plain path, but a real value key wins."""
    assert matches(doc, {"config.lr.value": 0.1})
    assert matches(doc, {"config.model.depth.value": {"$gt": 2}})
    doc["config"]["wrapped"] = {"value": 5}
    assert matches(doc, {"config.wrapped.value": 5})


def test_dotted_keys_prefer_longest_match(doc: dict[str, Any]) -> None:
    """A stored key containing dots is found, trying the longest key first."""
    assert matches(doc, {"config.a.b": 1})
    doc["config"]["a"] = {"b": 2}
    assert matches(doc, {"config.a.b": 1})
    doc["config"]["a"] = {"c": 2}
    assert matches(doc, {"config.a.c": 2})


def test_aliases(doc: dict[str, Any]) -> None:
    """displayName, display_name, jobType, createdAt and summary_metrics are aliases."""
    doc.pop("display_name")
    assert matches(doc, {"displayName": "brave-fox-3"})
    assert matches(doc, {"display_name": "brave-fox-3"})
    assert matches(doc, {"jobType": "train"})
    assert matches(doc, {"createdAt": {"$gte": 1700000000}})
    assert matches(doc, {"summary_metrics.acc": 0.9})
    assert matches(doc, {"summary_metrics.loss.min": 0.1})


def test_array_equality_means_contains(doc: dict[str, Any]) -> None:
    """Equality against an array field means the array contains the value."""
    assert matches(doc, {"tags": "a"})
    assert matches(doc, {"tags": {"$eq": "b"}})
    assert not matches(doc, {"tags": "c"})
    assert matches(doc, {"tags": ["a", "b"]})
    assert not matches(doc, {"tags": {"$ne": "a"}})


def test_array_in_nin_all(doc: dict[str, Any]) -> None:
    """On arrays $in means any overlap, $nin no overlap, and $all contains all."""
    assert matches(doc, {"tags": {"$in": ["x", "b"]}})
    assert not matches(doc, {"tags": {"$in": ["x", "y"]}})
    assert matches(doc, {"tags": {"$nin": ["x", "y"]}})
    assert not matches(doc, {"tags": {"$nin": ["x", "a"]}})
    assert matches(doc, {"tags": {"$all": ["b", "a"]}})
    assert not matches(doc, {"tags": {"$all": ["a", "c"]}})
    assert not matches(doc, {"tags": {"$all": []}})
    assert not matches(doc, {"state": {"$all": ["finished"]}})


def test_array_regex_matches_any_element(doc: dict[str, Any]) -> None:
    """$regex on an array matches when any string element matches."""
    assert matches(doc, {"tags": {"$regex": "^b$"}})
    assert not matches(doc, {"tags": {"$regex": "^c$"}})


def test_missing_fields(doc: dict[str, Any]) -> None:
    """A missing field fails positive operators and satisfies their negations."""
    for cond in ({"$eq": 1}, {"$gt": 0}, {"$lt": 0}, {"$in": [1]}, None):
        assert not matches(doc, {"config.nope": cond})
    assert not matches(doc, {"config.lr.deeper": 0.1})
    assert matches(doc, {"config.nope": {"$ne": 1}})
    assert matches(doc, {"config.nope": {"$nin": [1]}})


def test_type_mismatch_is_false(doc: dict[str, Any]) -> None:
    """Comparing strings with numbers is False in both directions, never an error."""
    assert not matches(doc, {"state": {"$gt": 1}})
    assert not matches(doc, {"config.lr": {"$lt": "z"}})
    assert not matches(doc, {"config.lr": "0.1"})
    assert not matches(doc, {"config.model": {"$gt": 1}})


def test_nan_compares_false(doc: dict[str, Any]) -> None:
    """A NaN value satisfies no equality or ordering comparison."""
    for cond in ({"$gt": 0}, {"$lt": 0}, {"$gte": 0}, {"$lte": 0}, float("nan")):
        assert not matches(doc, {"summary.nan": cond})


def test_booleans_are_not_numbers(doc: dict[str, Any]) -> None:
    """True matches only True, never 1, and is not ordered against numbers."""
    assert matches(doc, {"config.flag": True})
    assert not matches(doc, {"config.flag": 1})
    assert not matches(doc, {"config.flag": {"$gte": 1}})
    assert not matches(doc, {"summary.step": {"$in": [True, 0]}})
    doc["config"]["one"] = 1
    assert not matches(doc, {"config.one": True})


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"tags": {"$in": "a"}}, r"tags.*\$in"),
        ({"tags": {"$nin": 3}}, r"tags.*\$nin"),
        ({"tags": {"$all": "a"}}, r"tags.*\$all"),
        ({"state": {"$foo": 1}}, r"state.*\$foo"),
        ({"state": {"$gt": 1, "plain": 2}}, r"state.*plain"),
        ({"$and": {"state": "x"}}, r"\$and"),
        ({"$or": "state"}, r"\$or"),
        ({"$nor": []}, r"\$nor"),
        ({"$and": [{"state": "x"}, 5]}, r"int"),
        ({"$bogus": []}, r"\$bogus"),
        ({"$gt": 3}, r"\$gt"),
        ({"config.x": {"$exists": "yes"}}, r"config\.x.*\$exists"),
        ({"name": {"$regex": 5}}, r"name.*\$regex"),
        ({"name": {"$regex": "("}}, r"name.*\$regex"),
        ({"name": {"$not": "x"}}, r"name.*\$not"),
        ({"name": {"$not": {"$bad": 1}}}, r"name.*\$bad"),
        ({"summary.acc": {"$lt": None}}, r"summary\.acc.*\$lt"),
        ({"$or": [{"$and": [{"x": {"$in": 1}}]}]}, r"'x'.*\$in"),
        ({"": 1}, r"non-empty"),
        ({1: 1}, r"non-empty"),
    ],
)
def test_malformed_filters_raise(doc: dict[str, Any], bad: Any, named: str) -> None:
    """Malformed filters raise FilterError naming the offending key or operator."""
    with pytest.raises(FilterError, match=named):
        validate_filter(bad)
    with pytest.raises(FilterError, match=named):
        matches(doc, bad)


@pytest.mark.parametrize("bad", [[{"state": "x"}], "state", 3])
def test_non_dict_filter_raises(bad: Any) -> None:
    """A filter that is not a dict raises FilterError naming its type."""
    with pytest.raises(FilterError, match=type(bad).__name__):
        validate_filter(bad)


def test_filter_error_is_value_error() -> None:
    """FilterError subclasses ValueError so callers can catch either."""
    assert issubclass(FilterError, ValueError)


def test_validation_does_not_short_circuit(doc: dict[str, Any]) -> None:
    """A malformed branch raises even when an earlier branch already decides the result."""
    with pytest.raises(FilterError, match=r"\$in"):
        matches(doc, {"$or": [{"state": "finished"}, {"tags": {"$in": "a"}}]})
