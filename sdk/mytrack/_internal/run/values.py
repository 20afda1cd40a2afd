"""Validation and conversion of logged values, in the caller's thread.

`check_log_data` is on log()'s hot path: a dict of plain scalars costs one pass
over its items and a shallow copy (the caller may reuse its dict). Anything else
goes through `_convert`, which builds JSON-ready copies (NumPy scalars and
arrays become Python numbers and lists, tuples become lists) and raises an error
naming the key for what cannot be recorded.

Media (`mytrack.Image`, `mytrack.Table`..., lists of them, matplotlib figures)
are turned into descriptors there too, their files written through the run's
`MediaSink` (one batch per call: committed when the whole call converted,
discarded when a later value is refused). Without a sink (config, summary)
values that write files are refused.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mytrack._internal.media.base import Media
from mytrack._internal.run.tensors import TENSOR_HISTOGRAM_BINS, as_array
from mytrack.errors import InvalidKeyError, InvalidTypeError, InvalidValueError

if TYPE_CHECKING:
    from mytrack._internal.media.run_files import MediaBatch, MediaSink

_PLAIN = frozenset({float, int, str, bool, type(None)})
# Arrays larger than this are refused until the data types (Histogram, ...) take
# them; a silent conversion of a big tensor would flood the history.
MAX_ARRAY_ELEMENTS = 10_000
# Dicts and lists nested deeper than this are refused: Python's recursion limit
# (the JSON encoder's too) would otherwise fail with a RecursionError, and a
# dict that contains itself would never end.
MAX_DEPTH = 100


def check_log_data(data: Any, media: MediaSink | None = None) -> dict[str, Any]:
    """Returns a private, JSON-ready copy of ``data`` or raises naming the key.

    ``media``: where the files of media values go (a run's log()); None refuses them.
    """
    if type(data) is not dict:
        if not isinstance(data, Mapping):
            raise InvalidTypeError(
                f"log() takes a dict of key -> value, got {type(data).__name__}"
            )
        data = dict(data)
    for key, value in data.items():
        if type(key) is not str:
            raise InvalidTypeError(
                f"log() keys must be strings, got {type(key).__name__} ({key!r})"
            )
        if key not in _CHECKED_KEYS:
            _check_new_key(key)
        kind = type(value)
        if kind not in _PLAIN:
            return _convert_with_media(data, media)
        if kind is str and not value.isascii():
            check_text(value, f"key {key!r}")
    return dict(data)


# Keys that passed the checks: a training loop logs the same few keys millions of
# times, and a set lookup (the str's hash is cached) is the cheapest check there is.
_CHECKED_KEYS: set[str] = set()
_MAX_CHECKED_KEYS = 100_000


def _check_new_key(key: str) -> None:
    if not key or key[0] == "_":
        _bad_key(key)
    check_text(key, "log() key", key=True)
    if len(_CHECKED_KEYS) >= _MAX_CHECKED_KEYS:
        _CHECKED_KEYS.clear()  # bounded: a run logging ever-new keys pays the checks again
    _CHECKED_KEYS.add(key)


def check_text(text: str, what: str, key: bool = False) -> str:
    """Refuses a string that cannot be encoded as UTF-8 (a lone surrogate).

    Such a string passes JSON but nothing after it: the wire, the store and
    the UI all need UTF-8, so it is refused here, where the caller can fix it.
    A key must not hold NUL either (PostgreSQL cannot keep it in a name); a
    value may. ``isascii()`` first keeps the common case at one C-speed scan.
    """
    if key and "\x00" in text:
        raise InvalidKeyError(f"{what}: {text[:80]!r} contains a NUL character (\\x00)")
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        error = InvalidKeyError if key else InvalidValueError
        raise error(
            f"{what}: {text[:80]!r} is not valid Unicode text (a lone surrogate "
            f"{text[exc.start]!r} at position {exc.start}); keys and strings must encode as UTF-8"
        ) from None
    return text


def _convert_with_media(data: Mapping[Any, Any], media: MediaSink | None) -> dict[str, Any]:
    if media is None:
        return _convert_dict(data, "", None)
    batch = media.batch()
    try:
        out = _convert_dict(data, "", batch)
    except BaseException:
        batch.discard()  # nothing of a refused call is recorded
        raise
    batch.commit()
    return out


def check_texts(value: Any, where: str) -> None:
    """`check_text` on every key and string inside ``value`` (iterative: any depth).

    For what is sent as JSON without conversion (an artifact's metadata): JSON
    carries a lone surrogate, the service cannot store it.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            check_text(item, where)
        elif isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def check_key(key: Any, where: str) -> str:
    if type(key) is not str:
        raise InvalidTypeError(f"{where} keys must be strings, got {type(key).__name__} ({key!r})")
    if not key or key[0] == "_":
        _bad_key(key)
    return check_text(key, f"{where} key", key=True)


def _bad_key(key: str) -> None:
    if not key:
        raise InvalidKeyError("log() keys must be non-empty strings")
    raise InvalidKeyError(f"key {key!r}: keys starting with '_' are reserved for mytrack")


def _convert_dict(
    data: Mapping[Any, Any], prefix: str, media: MediaBatch | None, depth: int = 0
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        if type(key) is not str:
            raise InvalidTypeError(
                f"log() keys must be strings, got {type(key).__name__} ({key!r})"
                + (f" inside {prefix!r}" if prefix else "")
            )
        if not prefix:
            check_key(key, "log()")
        elif not key:
            raise InvalidKeyError(f"empty key inside {prefix!r}")
        else:
            check_text(key, f"key inside {prefix!r}", key=True)
        out[key] = convert_value(value, f"{prefix}.{key}" if prefix else key, media, depth)
    return out


def convert_value(value: Any, name: str, media: MediaBatch | None = None, depth: int = 0) -> Any:
    """A JSON-ready copy of ``value``; ``name`` is the dotted key for errors.

    Media become descriptors, their files written through ``media``. ``depth``:
    how many dicts and lists ``value`` is inside (bounded by `MAX_DEPTH`).
    """
    kind = type(value)
    if kind in _PLAIN:
        return check_text(value, f"key {name!r}") if kind is str else value
    if isinstance(value, Mapping) or kind is list or kind is tuple:
        if depth >= MAX_DEPTH:
            too_deep(name)
        if isinstance(value, Mapping):
            return _convert_dict(value, name, media, depth + 1)
        return [convert_value(item, f"{name}[{i}]", media, depth + 1) for i, item in enumerate(value)]
    if isinstance(value, Media):
        return _media_descriptor(value, name, media)
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.generic):
            item = value.item()
            if isinstance(item, numpy.generic):  # longdouble: no Python type holds it
                _wide_float(name, value.dtype)
            return convert_value(item, name)
        if isinstance(value, numpy.ndarray):
            return _convert_array(value, name, numpy, media, depth)
    if isinstance(value, enum.Enum):
        return convert_value(value.value, name)
    for base in (bool, int, float, str):  # subclasses of the plain types
        if isinstance(value, base):
            # base.__str__/__int__... of the base class, not the subclass's override
            if base is str:
                return check_text(str.__str__(value), f"key {name!r}")
            return base(value)
    if hasattr(value, "savefig") and hasattr(value, "get_size_inches"):  # a matplotlib figure
        from mytrack._internal.media.image import Image

        return _media_descriptor(Image(value), name, media)
    array = as_array(value)
    if array is not None:  # a PyTorch/TensorFlow/JAX tensor: W&B's rules
        return _convert_tensor(array, name, media)
    raise InvalidTypeError(
        f"key {name!r}: cannot log a value of type {kind.__module__}.{kind.__qualname__}; "
        "expected bool, int, float, str, None, a NumPy number or array, "
        "a list/tuple or a dict of these, a tensor, or a mytrack data type (Image, Histogram, Table...)"
    )


def _convert_tensor(array: Any, name: str, media: MediaBatch | None) -> Any:
    """A number for a 0-d tensor, else a histogram of its values, as W&B logs them."""
    if array.ndim == 0:
        return convert_value(array.item(), name)
    from mytrack._internal.media.histogram import Histogram

    return _media_descriptor(Histogram(array, num_bins=TENSOR_HISTOGRAM_BINS), name, media)


def too_deep(name: str) -> None:
    shown = name if len(name) <= 60 else name[:57] + "..."
    raise InvalidValueError(
        f"key {shown!r}: dicts and lists nested more than {MAX_DEPTH} levels deep cannot be "
        "recorded (or the value contains itself)"
    )


def _wide_float(name: str, dtype: Any) -> None:
    raise InvalidTypeError(
        f"key {name!r}: cannot log a NumPy {dtype} (wider than a float64); "
        "convert it with float() or .astype(numpy.float64)"
    )


def _media_descriptor(value: Media, name: str, media: MediaBatch | None) -> dict[str, Any]:
    if media is None and value.needs_files:
        raise InvalidTypeError(
            f"key {name!r}: a {type(value).__name__} writes a file, so it can only be logged "
            "with run.log(); config and summary take plain values"
        )
    return value.to_descriptor(media, name)


def _convert_array(
    array: Any, name: str, numpy: Any, media: MediaBatch | None = None, depth: int = 0
) -> Any:
    if array.ndim == 0:
        return convert_value(array.item(), name)
    if array.size > MAX_ARRAY_ELEMENTS:
        raise InvalidTypeError(
            f"key {name!r}: a NumPy array of {array.size} elements is too large to log "
            f"as a value (at most {MAX_ARRAY_ELEMENTS}); log a summary statistic or a "
            "mytrack.Histogram of it instead"
        )
    if array.dtype.kind in "biufc" and array.dtype.kind != "c":
        if array.dtype.itemsize > 8:  # longdouble: tolist() keeps NumPy scalars
            _wide_float(name, array.dtype)
        return array.tolist()
    if array.dtype.kind in "US":
        texts = array.astype(str).tolist()
        for i, text in enumerate(array.astype(str).ravel().tolist()):
            check_text(text, f"key {name!r} element {i}")
        return texts
    if array.dtype.kind == "O":
        return [convert_value(item, f"{name}[{i}]", media, depth + 1) for i, item in enumerate(array.tolist())]
    raise InvalidTypeError(
        f"key {name!r}: cannot log a NumPy array of dtype {array.dtype}; "
        "expected a bool, int, float or str array"
    )
