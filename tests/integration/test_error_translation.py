"""Values Python cannot encode, and filters that are not filters, raise mytrack errors at the call.

A NumPy longdouble, dicts nested 5,000 deep or containing themselves (in log,
config and summary), and a filter that is a list, a string or 2,000 levels
deep each raise a `mytrack.errors.Error` naming the key or argument; the run
goes on and holds exactly its good rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mytrack
from mytrack import errors
from mytrack._internal.transport.filters import MAX_FILTER_DEPTH, encode_filters

QUIET = mytrack.Settings(quiet=True, console="off")


def _deep(levels: int) -> dict[str, Any]:
    deep: dict[str, Any] = {}
    inner = deep
    for _ in range(levels):
        inner["a"] = {}
        inner = inner["a"]
    return deep


def _circular() -> dict[str, Any]:
    value: dict[str, Any] = {"n": 1}
    value["self"] = value
    return value


def _circular_list() -> list[Any]:
    value: list[Any] = [1]
    value.append(value)
    return value


BAD_VALUES: dict[str, tuple[Callable[[], Any], type[errors.Error]]] = {
    "longdouble": (lambda: np.longdouble(1.5), errors.InvalidTypeError),
    "longdouble array": (lambda: np.array([1.5], dtype=np.longdouble), errors.InvalidTypeError),
    "5000 deep": (lambda: _deep(5000), errors.InvalidValueError),
    "circular": (_circular, errors.InvalidValueError),
    "circular list": (lambda: _circular_list(), errors.InvalidValueError),
}


@pytest.fixture
def run(workdir: Path, project: str) -> Iterator[mytrack.Run]:
    mytrack.finish()
    live = mytrack.init(project=project, settings=QUIET)
    yield live
    live.finish()


@pytest.mark.parametrize("case", sorted(BAD_VALUES))
def test_unencodable_values_raise_naming_the_key_in_log_config_and_summary(
    run: mytrack.Run, case: str
) -> None:
    """Each bad value raises a mytrack error naming 'bad' in log(), config and summary; good data goes on."""
    make, error = BAD_VALUES[case]
    run.log({"good": 0})
    calls: list[Callable[[], object]] = [
        lambda: run.log({"bad": make()}),
        lambda: run.config.update({"bad": make()}),
        lambda: run.config.__setitem__("bad", make()),
        lambda: run.summary.update({"bad": make()}),
        lambda: run.summary.__setitem__("bad", make()),
    ]
    for call in calls:
        with pytest.raises(error, match="'bad"):
            call()
    run.log({"good": 1})
    run.config.update({"ok": 1})
    run.finish()
    api_run = mytrack.Api().run(run.path)
    assert [row["good"] for row in api_run.scan_history()] == [0, 1]
    assert "bad" not in api_run.config and api_run.config["ok"] == 1
    assert "bad" not in api_run.summary


def test_init_config_too_deep_raises_naming_the_key(workdir: Path, project: str) -> None:
    """init(config=...) with a self-containing dict raises before any run is made."""
    mytrack.finish()
    with pytest.raises(errors.InvalidValueError, match="nested more than"):
        mytrack.init(project=project, config={"model": _circular()}, settings=QUIET)


def test_nesting_up_to_the_bound_is_recorded(run: mytrack.Run) -> None:
    """A value nested 50 levels deep is accepted and read back equal."""
    value = _deep(50)
    run.config.update({"nested": value})
    run.log({"nested": value})
    run.finish()
    api_run = mytrack.Api().run(run.path)
    assert api_run.config["nested"] == value
    assert next(iter(api_run.scan_history()))["nested"] == value


@pytest.mark.parametrize(("filters", "error", "fragment"), [
    ([{"state": "finished"}], errors.InvalidTypeError, "got list"),
    ("state=finished", errors.InvalidTypeError, "got str"),
    (3, errors.InvalidTypeError, "got int"),
    ({"config.x": {"$in": [object()]}}, errors.InvalidValueError, "cannot be encoded"),
])
def test_filters_that_are_not_documents_raise_naming_filters(
    workdir: Path, filters: Any, error: type[errors.Error], fragment: str
) -> None:
    """Api().runs(filters=list/str/int/unencodable) raises a mytrack error naming filters."""
    with pytest.raises(error, match="filters") as info:
        mytrack.Api().runs("nobody/none", filters=filters)
    assert fragment in str(info.value)


def test_a_2000_deep_filter_raises_and_a_real_one_still_works(run: mytrack.Run) -> None:
    """A 2,000-level $and raises InvalidValueError; a normal filter finds the run."""
    deep: dict[str, Any] = {"state": "finished"}
    for _ in range(2000):
        deep = {"$and": [deep]}
    with pytest.raises(errors.InvalidValueError, match="filters nest more than"):
        mytrack.Api().runs(f"{run.entity}/{run.project}", filters=deep)
    run.finish()
    found = mytrack.Api().runs(f"{run.entity}/{run.project}", filters={"$and": [{"state": "finished"}]})
    assert [r.id for r in found] == [run.id]
    assert encode_filters({}) == b"" and encode_filters(None) == b""
    at_bound: dict[str, Any] = {"state": "finished"}
    for _ in range(MAX_FILTER_DEPTH // 2 - 1):
        at_bound = {"$and": [at_bound]}
    assert encode_filters(at_bound)
