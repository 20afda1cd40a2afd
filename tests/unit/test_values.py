"""Unit tests for the validation and conversion of logged values (mytrack._internal.run.values)."""

from __future__ import annotations

import collections
import enum
import math
from typing import Any

import numpy as np
import pytest

from mytrack._internal.run.values import MAX_ARRAY_ELEMENTS, check_log_data
from mytrack.errors import InvalidKeyError, InvalidTypeError


def _types(value: Any) -> Any:
    """The exact Python types of a converted value, recursively."""
    if isinstance(value, dict):
        return {k: _types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_types(v) for v in value]
    return type(value)


def test_fast_path_returns_private_copy() -> None:
    """A dict of plain scalars comes back equal but as a new dict; later changes to the input do not leak."""
    data = {"loss": 0.5, "epoch": 3, "name": "x", "ok": True, "none": None}
    out = check_log_data(data)
    assert out == {"loss": 0.5, "epoch": 3, "name": "x", "ok": True, "none": None}
    assert out is not data
    data["loss"] = 99.0
    data["new"] = 1
    del data["epoch"]
    assert out == {"loss": 0.5, "epoch": 3, "name": "x", "ok": True, "none": None}


def test_nested_dicts_and_lists_are_deep_copies() -> None:
    """Nested dicts and lists are copied at every level, so mutating the input afterwards changes nothing."""
    inner = {"x": 1, "deep": {"y": [1, 2]}}
    data = {"n": inner, "l": [1, [2, 3]]}
    out = check_log_data(data)
    assert out == {"n": {"x": 1, "deep": {"y": [1, 2]}}, "l": [1, [2, 3]]}
    inner["x"] = 100
    inner["deep"]["y"].append(3)
    data["l"][1].append(4)  # type: ignore[union-attr]
    assert out == {"n": {"x": 1, "deep": {"y": [1, 2]}}, "l": [1, [2, 3]]}
    assert out["n"] is not inner
    assert out["n"]["deep"] is not inner["deep"]


def test_tuples_become_lists() -> None:
    """Tuples (also nested) become lists."""
    out = check_log_data({"t": (1, (2.5, "a")), "n": {"t": ()}})
    assert out == {"t": [1, [2.5, "a"]], "n": {"t": []}}
    assert _types(out) == {"t": [int, [float, str]], "n": {"t": []}}


def test_mapping_input_is_accepted() -> None:
    """Any Mapping is accepted and comes back as a plain dict."""
    out = check_log_data(collections.OrderedDict([("b", 1), ("a", 2.0)]))
    assert type(out) is dict
    assert list(out.items()) == [("b", 1), ("a", 2.0)]


def test_numpy_scalars_convert_to_python_numbers() -> None:
    """NumPy scalars and 0-d arrays become bool/int/float of the same value."""
    out = check_log_data({
        "f32": np.float32(1.5), "f64": np.float64(0.25), "i8": np.int8(-3), "u64": np.uint64(7),
        "b": np.bool_(True), "zero_d": np.array(2.5), "zero_d_int": np.array(4, dtype=np.int16),
        "s": np.str_("txt"),
    })
    assert out == {
        "f32": 1.5, "f64": 0.25, "i8": -3, "u64": 7, "b": True, "zero_d": 2.5, "zero_d_int": 4,
        "s": "txt",
    }
    assert _types(out) == {
        "f32": float, "f64": float, "i8": int, "u64": int, "b": bool, "zero_d": float,
        "zero_d_int": int, "s": str,
    }


def test_numpy_arrays_convert_to_lists() -> None:
    """NumPy arrays become nested lists of Python numbers/strings, also inside lists and dicts."""
    out = check_log_data({
        "v": np.array([1, 2, 3], dtype=np.int32),
        "m": np.array([[0.5, 1.5], [2.5, 3.5]], dtype=np.float32),
        "b": np.array([True, False]),
        "s": np.array(["a", "bc"]),
        "o": np.array([1, "x", None], dtype=object),
        "nested": {"arr": [np.array([1.0]), np.float16(0.5)]},
    })
    assert out == {
        "v": [1, 2, 3], "m": [[0.5, 1.5], [2.5, 3.5]], "b": [True, False], "s": ["a", "bc"],
        "o": [1, "x", None], "nested": {"arr": [[1.0], 0.5]},
    }
    assert _types(out) == {
        "v": [int, int, int], "m": [[float, float], [float, float]], "b": [bool, bool],
        "s": [str, str], "o": [int, str, type(None)], "nested": {"arr": [[float], float]},
    }


def test_nan_and_inf_kept() -> None:
    """NaN and +-inf (plain and NumPy) are kept exactly."""
    out = check_log_data({
        "nan": math.nan, "inf": math.inf, "np_nan": np.float32("nan"),
        "arr": np.array([np.inf, -np.inf, np.nan]),
    })
    assert math.isnan(out["nan"]) and out["inf"] == math.inf and math.isnan(out["np_nan"])
    assert out["arr"][:2] == [math.inf, -math.inf] and math.isnan(out["arr"][2])


def test_array_at_size_limit_accepted_and_over_refused() -> None:
    """An array of MAX_ARRAY_ELEMENTS is logged; one more element is refused naming the key, size and limit."""
    assert MAX_ARRAY_ELEMENTS == 10_000
    out = check_log_data({"ok": np.arange(MAX_ARRAY_ELEMENTS)})
    assert out["ok"][:3] == [0, 1, 2] and len(out["ok"]) == MAX_ARRAY_ELEMENTS
    with pytest.raises(InvalidTypeError) as info:
        check_log_data({"big": {"w": np.zeros((101, 100))}})
    message = str(info.value)
    assert "'big.w'" in message
    assert "10100 elements" in message
    assert "at most 10000" in message


def test_unsupported_array_dtype_refused() -> None:
    """A complex or datetime array is refused with its dtype named."""
    with pytest.raises(InvalidTypeError, match=r"key 'c': .*dtype complex128"):
        check_log_data({"c": np.array([1j, 2j])})
    with pytest.raises(InvalidTypeError, match=r"key 'd': .*dtype datetime64"):
        check_log_data({"d": np.array(["2020-01-01"], dtype="datetime64[D]")})


@pytest.mark.parametrize(
    ("data", "key", "type_name"),
    [
        ({"obj": object()}, "obj", "builtins.object"),
        ({"a": {"b": {"c": {1, 2}}}}, "a.b.c", "builtins.set"),
        ({"a": [1, {"b": b"bytes"}]}, "a[1].b", "builtins.bytes"),
        ({"a": (0, 1, 2j)}, "a[2]", "builtins.complex"),
        ({"s": {"t": np.complex64(1j)}}, "s.t", "builtins.complex"),
    ],
    ids=["top", "nested", "list_in_dict", "tuple", "numpy_complex"],
)
def test_type_error_names_dotted_key_and_type(data: dict[str, Any], key: str, type_name: str) -> None:
    """An unsupported value raises InvalidTypeError (a TypeError) naming its dotted key and its type."""
    with pytest.raises(InvalidTypeError) as info:
        check_log_data(data)
    assert isinstance(info.value, TypeError)
    message = str(info.value)
    assert f"key {key!r}" in message
    assert type_name in message


def test_non_dict_data_refused() -> None:
    """log() data that is not a mapping is refused naming its type."""
    with pytest.raises(InvalidTypeError, match="got list"):
        check_log_data([("a", 1)])
    with pytest.raises(InvalidTypeError, match="got float"):
        check_log_data(1.0)


@pytest.mark.parametrize(
    ("data", "error", "pattern"),
    [
        ({1: 2.0}, InvalidTypeError, r"keys must be strings, got int \(1\)"),
        ({"a": {2: 1}}, InvalidTypeError, r"got int \(2\) inside 'a'"),
        ({"": 1}, InvalidKeyError, r"non-empty"),
        ({"a": {"": 1}}, InvalidKeyError, r"empty key inside 'a'"),
        ({"_step": 1}, InvalidKeyError, r"'_step'.*reserved"),
        ({"_x": {"y": 1}}, InvalidKeyError, r"'_x'.*reserved"),
    ],
    ids=["int_key", "nested_int_key", "empty", "nested_empty", "reserved", "reserved_nested_value"],
)
def test_bad_keys(data: dict[Any, Any], error: type[Exception], pattern: str) -> None:
    """Non-string, empty and reserved ('_' prefixed) top-level keys raise naming the key."""
    with pytest.raises(error, match=pattern):
        check_log_data(data)


def test_int_enum_converts_to_int() -> None:
    """IntEnum members become plain ints of their value."""

    class Phase(enum.IntEnum):
        TRAIN = 3

    out = check_log_data({"phase": Phase.TRAIN, "n": {"p": [Phase.TRAIN]}})
    assert out == {"phase": 3, "n": {"p": [3]}}
    assert _types(out) == {"phase": int, "n": {"p": [int]}}


def test_str_enum_and_float_subclass_convert_to_base_types() -> None:
    """StrEnum members and float subclasses become plain str/float of their value."""

    class Split(enum.StrEnum):
        VALID = "valid"

    class Meters(float):
        pass

    out = check_log_data({"split": Split.VALID, "d": Meters(2.5)})
    assert out == {"split": "valid", "d": 2.5}
    assert _types(out) == {"split": str, "d": float}


def test_str_mixin_enum_converts_to_its_value() -> None:
    """A `class Mode(str, Enum)` member (and any str subclass with its own __str__) logs its string value."""

    class Mode(str, enum.Enum):
        FAST = "fast"

    class Tagged(str):
        def __str__(self) -> str:
            return "<tagged>"

    out = check_log_data({"mode": Mode.FAST, "tag": Tagged("raw")})
    assert out == {"mode": "fast", "tag": "raw"}
    assert _types(out) == {"mode": str, "tag": str}


def test_converted_values_are_exact_base_types() -> None:
    """Nothing of a subclass or NumPy type survives conversion anywhere in the structure."""

    class Level(enum.IntEnum):
        HIGH = 2

    out = check_log_data({
        "a": [np.int64(1), Level.HIGH, (np.float32(0.5), {"b": np.array([1, 2])})],
    })
    assert out == {"a": [1, 2, [0.5, {"b": [1, 2]}]]}
    assert _types(out) == {"a": [int, int, [float, {"b": [int, int]}]]}
