"""log() semantics end to end: steps, commit, values, summary, threads and reads.

Every test logs through the real service (socket, WAL, SQLite) and asserts on
what `mytrack.Api()` reads back.
"""

from __future__ import annotations

import math
import re
import struct
import threading
import time
import warnings
from typing import Any

import numpy as np
import pytest

import mytrack
from mytrack.errors import StepWarning
from tests.helpers import wait_for

QUIET = mytrack.Settings(quiet=True)
META = ("_runtime", "_timestamp")


pytestmark = pytest.mark.usefixtures("no_current_run")


def start(project: str, **kwargs: Any) -> mytrack.Run:
    kwargs.setdefault("settings", QUIET)
    return mytrack.init(project=project, **kwargs)


def read(run: mytrack.Run) -> Any:
    return mytrack.Api().run(run.path)


def rows_of(run: mytrack.Run, **kwargs: Any) -> list[dict[str, Any]]:
    return list(read(run).scan_history(**kwargs))


def strip(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in row.items() if k not in META} for row in rows]


def user_keys(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if not k.startswith("_")}


def bits(x: float) -> bytes:
    return struct.pack("<d", x)


# -- steps and commit -----------------------------------------------------------


def test_three_reference_patterns_give_identical_history(project: str) -> None:
    """The three equivalent step patterns of the reference produce the same rows."""
    one = start(project)
    one.log({"train-loss": 0.5, "accuracy": 0.8})
    one.log({"train-loss": 0.4, "accuracy": 0.9})
    one.finish()

    two = start(project)
    two.log({"train-loss": 0.5}, commit=False)
    two.log({"accuracy": 0.8})
    two.log({"train-loss": 0.4}, commit=False)
    two.log({"accuracy": 0.9})
    two.finish()

    three = start(project)
    s = 0
    three.log({"train-loss": 0.5}, step=s)
    three.log({"accuracy": 0.8}, step=s)
    s += 1
    three.log({"train-loss": 0.4}, step=s)
    three.log({"accuracy": 0.9}, step=s)
    three.finish()

    expected = [
        {"train-loss": 0.5, "accuracy": 0.8, "_step": 0},
        {"train-loss": 0.4, "accuracy": 0.9, "_step": 1},
    ]
    histories = [strip(rows_of(r)) for r in (one, two, three)]
    assert histories == [expected, expected, expected]
    for r in (one, two, three):
        api_run = read(r)
        assert api_run.state == "finished"
        assert user_keys(api_run.summary) == {"train-loss": 0.4, "accuracy": 0.9}
        assert api_run.summary["_step"] == 1


def test_commit_false_accumulates_into_one_row(project: str) -> None:
    """commit=False calls merge into one row (a later value of a key wins) until a commit."""
    run = start(project)
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    run.log({"a": 10}, commit=False)
    run.log({"c": 3})
    run.log({"d": 4})
    run.log({"e": 5}, commit=False)
    run.log({"f": 6}, commit=True)
    run.finish()
    assert strip(rows_of(run)) == [
        {"a": 10, "b": 2, "c": 3, "_step": 0},
        {"d": 4, "_step": 1},
        {"e": 5, "f": 6, "_step": 2},
    ]


def test_empty_log_commits_the_pending_row_like_commit_true(project: str) -> None:
    """log({}) commits the pending row exactly as log({}, commit=True) does."""
    results = []
    for commit in (True, None):
        run = start(project)
        run.log({"a": 1}, commit=False)
        run.log({}, commit=commit)
        run.log({"b": 2})
        run.log({"c": 3}, step=2)
        run.finish()
        results.append(strip(rows_of(run)))
    expected = [{"a": 1, "_step": 0}, {"b": 2, "_step": 1}, {"c": 3, "_step": 2}]
    assert results == [expected, expected]


def test_pending_commit_false_row_is_committed_by_finish(project: str) -> None:
    """Data left pending by commit=False is committed as the last row at finish()."""
    run = start(project)
    run.log({"a": 1})
    run.log({"b": 2}, commit=False)
    run.finish()
    assert strip(rows_of(run)) == [{"a": 1, "_step": 0}, {"b": 2, "_step": 1}]


def test_step_jumps_without_empty_rows(project: str) -> None:
    """step= jumps forward without creating empty rows, and later calls continue after it."""
    run = start(project)
    run.log({"x": 0}, step=0)
    run.log({"x": 5}, step=5)
    run.log({"y": 5}, step=5)
    run.log({"x": 100}, step=100)
    run.log({"z": 100})  # no step: joins the pending step 100 and commits it
    run.log({"x": 101})  # next step
    run.log({"x": 200}, step=200, commit=True)
    run.log({"x": 201})
    run.finish()
    assert strip(rows_of(run)) == [
        {"x": 0, "_step": 0},
        {"x": 5, "y": 5, "_step": 5},
        {"x": 100, "z": 100, "_step": 100},
        {"x": 101, "_step": 101},
        {"x": 200, "_step": 200},
        {"x": 201, "_step": 201},
    ]
    assert read(run).summary["_step"] == 201


def test_lower_step_is_dropped_with_warning_and_run_goes_on(project: str) -> None:
    """A lower step warns (StepWarning naming both steps), is dropped, and logging continues."""
    run = start(project)
    for i in range(3):
        run.log({"x": i})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.log({"x": 99, "late": True}, step=1)
    step_warnings = [w for w in caught if issubclass(w.category, StepWarning)]
    assert len(step_warnings) == 1
    message = str(step_warnings[0].message)
    assert re.search(r"\bstep 1\b", message), message
    assert re.search(r"current step 3\b", message), message
    assert step_warnings[0].filename == __file__  # points at the caller's line

    run.log({"x": 3})
    with pytest.warns(StepWarning, match=r"step 0\b.*current step 4\b"):
        run.log({"x": -1}, step=0, commit=True)
    run.log({"x": 10}, step=10)
    run.log({"x": 11})
    run.finish()
    rows = strip(rows_of(run))
    assert rows == [
        {"x": 0, "_step": 0},
        {"x": 1, "_step": 1},
        {"x": 2, "_step": 2},
        {"x": 3, "_step": 3},
        {"x": 11, "_step": 10},
    ]
    assert read(run).state == "finished"


# -- values ---------------------------------------------------------------------


def test_nested_dicts_round_trip_and_read_by_dotted_key(project: str) -> None:
    """Nested dicts come back as nested dicts, and dotted keys read their leaves."""
    run = start(project)
    run.log({"a": {"b": 1, "c": {"d": "deep", "e": 2.5}}, "top": 0})
    run.log({"top": 1})
    run.log({"a": {"b": 3, "c": {"d": "deeper", "e": 4.5}}, "top": 2})
    run.finish()
    api_run = read(run)
    assert strip(list(api_run.scan_history())) == [
        {"a": {"b": 1, "c": {"d": "deep", "e": 2.5}}, "top": 0, "_step": 0},
        {"top": 1, "_step": 1},
        {"a": {"b": 3, "c": {"d": "deeper", "e": 4.5}}, "top": 2, "_step": 2},
    ]
    assert list(api_run.scan_history(keys=["a.b"])) == [
        {"_step": 0, "a.b": 1},
        {"_step": 2, "a.b": 3},
    ]
    assert list(api_run.scan_history(keys=["a.c.d", "top"])) == [
        {"_step": 0, "a.c.d": "deep", "top": 0},
        {"_step": 2, "a.c.d": "deeper", "top": 2},
    ]
    assert list(api_run.scan_history(keys=["a.c.e"], min_step=1)) == [{"_step": 2, "a.c.e": 4.5}]
    assert api_run.summary["a"] == {"b": 3, "c": {"d": "deeper", "e": 4.5}}
    frame = api_run.history(keys=["a.b", "a.c.e"])
    assert frame["a.b"].tolist() == [1, 3]
    assert frame["a.c.e"].tolist() == [2.5, 4.5]


def test_numpy_values_round_trip_as_python_values(project: str) -> None:
    """NumPy scalars, 0-d arrays and small arrays come back as plain Python values."""
    run = start(project)
    run.log(
        {
            "f32": np.float32(0.375),
            "f64": np.float64(0.1),
            "f64_whole": np.float64(2.0),
            "i64": np.int64(-7),
            "i32": np.int32(2**31 - 1),
            "u8": np.uint8(255),
            "u64": np.uint64(2**64 - 1),
            "b_true": np.bool_(True),
            "b_false": np.bool_(False),
            "zero_d_float": np.array(3.25),
            "zero_d_int": np.array(42),
            "zero_d_bool": np.array(True),
            "arr_int": np.array([1, 2, 3]),
            "arr_float": np.array([0.5, -1.5], dtype=np.float32),
            "arr_bool": np.array([True, False]),
            "arr_2d": np.arange(6).reshape(2, 3),
            "nested": {"v": np.float64(1.5), "w": np.array([7, 8])},
        }
    )
    run.finish()
    (row,) = strip(rows_of(run))
    expected: dict[str, Any] = {
        "f32": 0.375, "f64": 0.1, "f64_whole": 2.0, "i64": -7, "i32": 2**31 - 1, "u8": 255,
        "u64": 2**64 - 1, "b_true": True, "b_false": False, "zero_d_float": 3.25,
        "zero_d_int": 42, "zero_d_bool": True, "arr_int": [1, 2, 3], "arr_float": [0.5, -1.5],
        "arr_bool": [True, False], "arr_2d": [[0, 1, 2], [3, 4, 5]],
        "nested": {"v": 1.5, "w": [7, 8]}, "_step": 0,
    }
    assert row == expected
    # Exact Python types, not just equal values (True == 1 == 1.0).
    for key in ("f32", "f64", "f64_whole", "zero_d_float"):
        assert type(row[key]) is float, key
    for key in ("i64", "i32", "u8", "u64", "zero_d_int"):
        assert type(row[key]) is int, key
    for key in ("b_true", "b_false", "zero_d_bool"):
        assert type(row[key]) is bool, key
    assert [type(v) for v in row["arr_bool"]] == [bool, bool]
    assert [type(v) for v in row["arr_int"]] == [int, int, int]
    assert [type(v) for v in row["arr_float"]] == [float, float]


def _check_special_floats(values: dict[str, Any]) -> None:
    assert math.isnan(values["nan"]) and type(values["nan"]) is float
    assert values["pinf"] == math.inf
    assert values["ninf"] == -math.inf


@pytest.mark.parametrize("form", ["flat_floats", "with_step", "nested"])
def test_nan_and_infinities_round_trip_exactly(project: str, form: str) -> None:
    """NaN, +inf and -inf come back exactly in rows, summary and keyed reads."""
    run = start(project)
    special = {"nan": math.nan, "pinf": math.inf, "ninf": -math.inf}
    if form == "flat_floats":  # all-float dicts take the compact columnar path
        run.log({"nan": 0.0, "pinf": 0.0, "ninf": 0.0})
        run.log(special)
    elif form == "with_step":
        run.log({"nan": 0.0, "pinf": 0.0, "ninf": 0.0}, step=0)
        run.log(special, step=1)
        run.log({"other": 1}, step=2)
    else:
        run.log({"m": {"nan": 0.0, "pinf": 0.0, "ninf": 0.0}, "l": [0.0]})
        run.log({"m": dict(special), "l": [math.nan, math.inf, -math.inf]})
    run.finish()
    api_run = read(run)
    rows = list(api_run.scan_history())
    if form == "nested":
        _check_special_floats(rows[1]["m"])
        assert math.isnan(rows[1]["l"][0]) and rows[1]["l"][1:] == [math.inf, -math.inf]
        _check_special_floats(api_run.summary["m"])
        keyed = list(api_run.scan_history(keys=["m.nan", "m.pinf", "m.ninf"]))
        assert [r["_step"] for r in keyed] == [0, 1]
        _check_special_floats({k[2:]: v for k, v in keyed[1].items() if k != "_step"})
        return
    _check_special_floats(rows[1])
    assert rows[0]["nan"] == 0.0
    if form == "flat_floats":
        _check_special_floats(api_run.summary)
    else:
        assert api_run.summary["other"] == 1
        _check_special_floats(api_run.summary)
    keyed = list(api_run.scan_history(keys=["nan", "pinf", "ninf"]))
    assert [r["_step"] for r in keyed] == [0, 1]
    assert keyed[0] == {"_step": 0, "nan": 0.0, "pinf": 0.0, "ninf": 0.0}
    _check_special_floats(keyed[1])
    frame = api_run.history(keys=["nan"])
    assert math.isnan(frame["nan"].tolist()[1])


def test_floats_round_trip_bit_exact(project: str) -> None:
    """Floats come back with the same bits (no rounding), on both encoding paths."""
    values = {
        "tenth": 0.1, "third": 1 / 3, "sum": 0.1 + 0.2, "tiny": 5e-324, "huge": 1.7976931348623157e308,
        "small": 1e-300, "neg": -123456.789012345678, "whole": 3.0, "negzero": -0.0,
    }
    run = start(project)
    run.log(dict(values))  # flat floats: columnar path
    run.log({**values, "tag": "json"})  # mixed: JSON path
    run.finish()
    rows = rows_of(run)
    assert len(rows) == 2
    for row in rows:
        for key, value in values.items():
            assert type(row[key]) is float, key
            assert bits(row[key]) == bits(value), (key, row[key], value)
    keyed = list(read(run).scan_history(keys=list(values)))
    for row in keyed:
        for key, value in values.items():
            assert bits(row[key]) == bits(value), key


def test_lists_tuples_none_str_bool_big_ints_round_trip(project: str) -> None:
    """Lists, tuples (as lists), None, strings, bools and big ints come back unchanged."""
    data: dict[str, Any] = {
        "list": [1, "a", None, True, 2.5, [1, [2]], {"k": "v"}],
        "tuple": (1, 2, (3, 4)),
        "empty_list": [],
        "none": None,
        "str": "héllo ✓ \"quoted\" \n newline \x00 nul",
        "empty_str": "",
        "t": True,
        "f": False,
        "zero": 0,
        "big": 2**63 + 1,
        "huge": 10**30,
        "negbig": -(2**70),
        "i64max": 2**63 - 1,
        "i64min": -(2**63),
    }
    run = start(project)
    run.log(data)
    run.log({"str": "second", "none": None})
    run.finish()
    api_run = read(run)
    rows = strip(list(api_run.scan_history()))
    expected = {**data, "tuple": [1, 2, [3, 4]], "_step": 0}
    assert rows == [expected, {"str": "second", "none": None, "_step": 1}]
    assert type(rows[0]["t"]) is bool and type(rows[0]["f"]) is bool
    assert type(rows[0]["zero"]) is int
    summary = user_keys(api_run.summary)
    assert summary == {**data, "tuple": [1, 2, [3, 4]], "str": "second", "none": None}
    keyed = list(api_run.scan_history(keys=["big", "huge", "negbig", "none"]))
    assert keyed == [{"_step": 0, "big": 2**63 + 1, "huge": 10**30, "negbig": -(2**70), "none": None}]


def test_keys_with_slashes_and_dots_round_trip(project: str) -> None:
    """Section keys ("train/loss") and literal dotted keys round-trip and read by name."""
    run = start(project)
    run.log({"train/loss": 0.5, "val/acc/top1": 0.25, "x.y": 2})
    run.log({"train/loss": 0.25})
    run.finish()
    api_run = read(run)
    assert strip(list(api_run.scan_history())) == [
        {"train/loss": 0.5, "val/acc/top1": 0.25, "x.y": 2, "_step": 0},
        {"train/loss": 0.25, "_step": 1},
    ]
    assert list(api_run.scan_history(keys=["train/loss"])) == [
        {"_step": 0, "train/loss": 0.5}, {"_step": 1, "train/loss": 0.25},
    ]
    assert list(api_run.scan_history(keys=["x.y"])) == [{"_step": 0, "x.y": 2}]


def test_every_row_has_step_runtime_and_timestamp(project: str) -> None:
    """Rows carry _step, _runtime (>= 0, non-decreasing, from the start) and _timestamp."""
    before = time.time()
    run = start(project)
    for i in range(30):
        if i % 3 == 0:
            run.log({"a": i}, commit=False)
        run.log({"b": i})
    run.log({"c": 1}, step=50)
    run.finish()
    after = time.time()
    rows = rows_of(run)
    assert [r["_step"] for r in rows] == [*range(30), 50]
    runtimes = [r["_runtime"] for r in rows]
    stamps = [r["_timestamp"] for r in rows]
    assert all(type(v) is float for v in runtimes + stamps)
    assert runtimes[0] >= 0
    assert runtimes == sorted(runtimes)
    assert stamps == sorted(stamps)
    assert before <= stamps[0] and stamps[-1] <= after
    assert run.start_time <= stamps[0]
    for row in rows:
        assert row["_runtime"] == pytest.approx(row["_timestamp"] - run.start_time, abs=0.05)
    assert type(rows[0]["_step"]) is int


def test_summary_holds_last_value_of_each_key(project: str) -> None:
    """The summary holds each key's last logged value, also while the run is live."""
    run = start(project)
    run.log({"a": 1, "b": "first", "n": {"x": 1, "y": 1}})
    run.log({"a": 2})
    run.log({"c": 3.5}, step=7)
    run.log({"a": 3}, step=8)
    run.log({"n": {"x": 2}})
    assert user_keys(dict(run.summary.items())) == {
        "a": 3, "b": "first", "c": 3.5, "n": {"x": 2},
    }
    assert run.summary["a"] == 3
    run.finish()
    summary = read(run).summary
    assert user_keys(summary) == {"a": 3, "b": "first", "c": 3.5, "n": {"x": 2}}
    assert summary["_step"] == 8


def test_concurrent_log_from_eight_threads_loses_nothing(project: str) -> None:
    """8 threads x 500 log() calls: every value lands exactly once, in each thread's order."""
    run = start(project)
    threads_n, calls = 8, 500
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        try:
            barrier.wait(timeout=30)
            for i in range(calls):
                if t % 2:  # all-float dicts (columnar path)
                    run.log({f"t{t}": float(i), f"t{t}_v": float(t * 10_000 + i)})
                else:  # mixed types (JSON path)
                    run.log({f"t{t}": i, f"t{t}_v": t * 10_000 + i, "who": f"thread-{t}"})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    run.finish()
    rows = rows_of(run)
    assert len(rows) == threads_n * calls
    assert [r["_step"] for r in rows] == list(range(threads_n * calls))
    seen: dict[int, list[int]] = {t: [] for t in range(threads_n)}
    for row in rows:
        keys = {k for k in row if not k.startswith("_")}
        (t,) = {int(k[1:].split("_")[0]) for k in keys if k != "who"}
        assert row[f"t{t}_v"] == t * 10_000 + row[f"t{t}"]
        if t % 2 == 0:
            assert keys == {f"t{t}", f"t{t}_v", "who"} and row["who"] == f"thread-{t}"
        else:
            assert keys == {f"t{t}", f"t{t}_v"}
        seen[t].append(row[f"t{t}"])
    for t in range(threads_n):
        assert seen[t] == list(range(calls)), f"thread {t}"


def test_history_pandas_and_list(project: str) -> None:
    """history(pandas=True) is a DataFrame of every row; pandas=False the same rows as a list."""
    pd = pytest.importorskip("pandas")
    run = start(project)
    for i in range(10):
        run.log({"a": float(i), "b": {"c": i * 2}})
    run.finish()
    api_run = read(run)
    frame = api_run.history()
    assert isinstance(frame, pd.DataFrame)
    assert frame.shape == (10, 5)
    assert set(frame.columns) == {"a", "b.c", "_step", "_runtime", "_timestamp"}
    assert frame["_step"].tolist() == list(range(10))
    assert frame["a"].tolist() == [float(i) for i in range(10)]
    assert frame["b.c"].tolist() == [i * 2 for i in range(10)]
    keyed = api_run.history(keys=["a"])
    assert keyed.shape == (10, 2) and set(keyed.columns) == {"_step", "a"}
    rows = api_run.history(pandas=False)
    assert isinstance(rows, list)
    assert rows == list(api_run.scan_history())
    assert strip(rows) == [{"a": float(i), "b": {"c": i * 2}, "_step": i} for i in range(10)]
    assert api_run.history(keys=["b.c"], pandas=False) == [
        {"_step": i, "b.c": i * 2} for i in range(10)
    ]


def test_min_and_max_step_filter_rows(project: str) -> None:
    """min_step/max_step keep rows with min_step <= _step <= max_step, with and without keys."""
    run = start(project)
    for i in range(20):
        run.log({"a": i})
    for step in (30, 40, 50):
        run.log({"a": step, "b": step}, step=step)
    run.finish()
    api_run = read(run)

    def steps(**kwargs: Any) -> list[int]:
        return [r["_step"] for r in api_run.scan_history(**kwargs)]

    assert steps() == [*range(20), 30, 40, 50]
    assert steps(min_step=5, max_step=9) == [5, 6, 7, 8, 9]
    assert steps(min_step=18) == [18, 19, 30, 40, 50]
    assert steps(max_step=2) == [0, 1, 2]
    assert steps(min_step=25, max_step=45) == [30, 40]
    assert steps(min_step=31, max_step=39) == []
    assert steps(min_step=7, max_step=7) == [7]
    assert steps(keys=["b"], min_step=35) == [40, 50]
    assert list(api_run.scan_history(keys=["a"], min_step=3, max_step=4)) == [
        {"_step": 3, "a": 3}, {"_step": 4, "a": 4},
    ]
    rows = api_run.history(pandas=False, min_step=10, max_step=12)
    assert [r["a"] for r in rows] == [10, 11, 12]


# -- Api.runs filters -------------------------------------------------------------


def test_api_runs_filters(project: str) -> None:
    """Api.runs filters on state, tags, group, job_type, config and summary values."""
    first = start(project, name="first", tags=["a", "b"], group="g1", job_type="train",
                  config={"lr": 0.1, "model": {"depth": 3}})
    first.log({"acc": 0.9, "loss": 0.1})
    first.finish()
    second = start(project, name="second", tags=["b"], group="g2", job_type="eval",
                   config={"lr": 0.01, "model": {"depth": 5}})
    second.log({"acc": 0.5, "loss": 0.7})
    second.finish(exit_code=2)
    third = start(project, name="third", tags=["c"], group="g1", job_type="train",
                  config={"lr": 0.5, "model": {"depth": 3}})
    third.log({"acc": 0.7, "loss": 0.3})
    try:
        api = mytrack.Api()
        path = f"{third.entity}/{project}"
        wait_for(lambda: api.run(third.path).summary.get("acc") == 0.7, timeout=30,
                 message="the live run's summary")

        def names(filters: dict[str, Any] | None = None) -> set[str]:
            return {r.name for r in api.runs(path, filters=filters)}

        assert names() == {"first", "second", "third"}
        assert names({"state": "finished"}) == {"first"}
        assert names({"state": "failed"}) == {"second"}
        assert names({"state": "running"}) == {"third"}
        assert names({"state": {"$in": ["finished", "failed"]}}) == {"first", "second"}
        assert names({"tags": "b"}) == {"first", "second"}
        assert names({"tags": {"$in": ["a", "c"]}}) == {"first", "third"}
        assert names({"group": "g1"}) == {"first", "third"}
        assert names({"job_type": "eval"}) == {"second"}
        assert names({"config.lr": {"$lt": 0.2}}) == {"first", "second"}
        assert names({"config.model.depth": 3}) == {"first", "third"}
        assert names({"summary_metrics.acc": {"$gte": 0.7}}) == {"first", "third"}
        assert names({"summary.loss": {"$gt": 0.5}}) == {"second"}
        assert names({"$and": [{"group": "g1"}, {"state": "running"}]}) == {"third"}
        assert names({"$or": [{"job_type": "eval"}, {"config.lr": 0.5}]}) == {"second", "third"}
        assert names({"state": "crashed"}) == set()
        (found,) = api.runs(path, filters={"job_type": "eval"})
        assert (found.id, found.state, found.group, found.tags) == (second.id, "failed", "g2", ["b"])
        assert found.config == {"lr": 0.01, "model": {"depth": 5}}
        assert api.runs(f"{third.entity}/{project}-other-project") == []
    finally:
        third.finish()
