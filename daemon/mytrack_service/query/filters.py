"""Evaluate W&B-style (MongoDB-like) run filters against plain run documents.

The filters are the ones ``wandb.Api().runs(path, filters=...)`` accepts, e.g.
``{"$and": [{"state": "finished"}, {"config.lr": {"$lt": 0.1}}]}``.

Semantics otherwise follow MongoDB: a missing field never equals
anything, so ``$ne``/``$nin``/``$nor``/``$not`` (the negations) match it; ordering
operators only compare number-with-number or string-with-string; booleans are not
numbers; and array fields match element-wise (equality means "contains").

``$regex`` (and the UI's ``~``, which becomes ``$regex``) runs on RE2, whose
time is linear in the text: a pattern such as ``(a+)+$`` that takes Python's
backtracking ``re`` minutes takes RE2 microseconds. RE2 has no backreferences
or lookaround; such a pattern is refused with an error naming the filter.
A filter is bounded in size (query/limits.py) before it is evaluated.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any, Final

from mytrack_service.query.limits import MAX_FILTER_DEPTH, MAX_FILTER_NODES, MAX_PATTERN_CHARS


class FilterError(ValueError):
    """Raised when a filter is malformed."""


MISSING: Final = object()  # sentinel for a field path that does not resolve
ALIASES: Final[dict[str, str]] = {
    "displayName": "name",
    "display_name": "name",
    "jobType": "job_type",
    "createdAt": "created_at",
}
_LOGICAL: Final = frozenset({"$and", "$or", "$nor"})
_ORDERING: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "$gt": operator.gt,
    "$gte": operator.ge,
    "$lt": operator.lt,
    "$lte": operator.le,
}


def canonical_path(field: str) -> str:
    """Apply the top-level aliases and the ``summary_metrics`` prefix alias."""
    if field in ALIASES:
        return ALIASES[field]
    head, dot, rest = field.partition(".")
    return f"summary{dot}{rest}" if head == "summary_metrics" else field


def _lookup(node: Any, parts: list[str]) -> Any:
    """Walk ``parts`` through nested mappings, preferring the longest dotted key."""
    if not parts:
        return node
    if not isinstance(node, Mapping):
        return MISSING
    for size in range(len(parts), 0, -1):
        key = ".".join(parts[:size])
        if key in node:
            found = _lookup(node[key], parts[size:])
            if found is not MISSING:
                return found
    return MISSING


def resolve(doc: Mapping[str, Any], field: str) -> Any:
    """Resolve ``field`` in ``doc``, dropping a trailing ``.value`` if the full path is missing."""
    path = canonical_path(field)
    value = _lookup(doc, path.split("."))
    if value is MISSING and path.endswith(".value"):
        value = _lookup(doc, path[: -len(".value")].split("."))
    return value


def _is_number(value: object) -> bool:
    """Return whether ``value`` is an int or float but not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_operator_dict(value: object) -> bool:
    """Return whether ``value`` is a mapping whose keys are ``$operators``."""
    return isinstance(value, Mapping) and any(str(k).startswith("$") for k in value)


def _validate_operand(field: str, op: str, operand: object) -> None:
    """Check one ``{op: operand}`` pair applied to ``field``."""
    where = f"field {field!r}: {op}"
    if op in _ORDERING and not (_is_number(operand) or isinstance(operand, str)):
        raise FilterError(f"{where} expects a number or string, got {operand!r}")
    if op in ("$in", "$nin", "$all") and not isinstance(operand, (list, tuple)):
        raise FilterError(f"{where} expects a list, got {type(operand).__name__}")
    if op == "$exists" and not isinstance(operand, bool):
        raise FilterError(f"{where} expects true or false, got {operand!r}")
    if op == "$regex":
        if not isinstance(operand, str):
            raise FilterError(f"{where} expects a string, got {type(operand).__name__}")
        _compiled_for(where, operand)
    if op == "$not":
        if not _is_operator_dict(operand):
            raise FilterError(f"{where} expects a dict of operators, got {operand!r}")
        _validate_condition(field, operand)


def _validate_condition(field: str, cond: object) -> None:
    """Check the condition for one field (a literal or a dict of operators)."""
    if not isinstance(cond, Mapping) or not _is_operator_dict(cond):
        return
    for op, operand in cond.items():
        if op not in _FIELD_OPS:
            raise FilterError(f"field {field!r}: unknown operator {op!r}")
        _validate_operand(field, op, operand)


def _validate_entry(key: object, value: object) -> None:
    """Check one top-level ``key: value`` entry of a filter dict."""
    if not isinstance(key, str) or not key:
        raise FilterError(f"filter keys must be non-empty strings, got {key!r}")
    if key in _LOGICAL:
        if not isinstance(value, (list, tuple)) or not value:
            raise FilterError(f"{key} expects a non-empty list of filters, got {value!r}")
        for sub in value:
            _validate_filter(sub)
    elif key == "$not":
        _validate_filter(value)
    elif key in _FIELD_OPS:
        raise FilterError(f"operator {key!r} must be applied to a field")
    elif key.startswith("$"):
        raise FilterError(f"unknown operator {key!r}")
    else:
        _validate_condition(key, value)


def validate_filter(f: object) -> None:
    """Raise ``FilterError`` if ``f`` is not a well-formed filter.

    Args:
        f: The candidate filter.

    Raises:
        FilterError: With a message naming the offending key or operator.
    """
    _check_size(f)
    _validate_filter(f)


def _check_size(f: object) -> None:
    """Bounds depth and node count before anything recurses into ``f`` (iterative)."""
    nodes = 0
    stack: list[tuple[object, int]] = [(f, 1)]
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if nodes > MAX_FILTER_NODES:
            raise FilterError(f"the filter is too large: more than {MAX_FILTER_NODES} keys and values")
        if depth > MAX_FILTER_DEPTH:
            raise FilterError(f"the filter is nested too deeply: more than {MAX_FILTER_DEPTH} levels")
        if isinstance(item, Mapping):
            stack.extend((value, depth + 1) for value in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((value, depth + 1) for value in item)


def _validate_filter(f: object) -> None:
    if not isinstance(f, Mapping):
        raise FilterError(f"filter must be a dict, got {type(f).__name__}")
    for key, value in f.items():
        _validate_entry(key, value)


def _same(a: Any, b: Any) -> bool:
    """Compare two values strictly: bools never equal numbers, at any depth."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    if _is_number(a) != _is_number(b):
        return False
    return bool(a == b)


def _elements(actual: Any) -> list[Any]:
    """Return the candidates to test: an array's elements, else the value itself."""
    return list(actual) if isinstance(actual, (list, tuple)) else [actual]


def _eq(actual: Any, expected: Any) -> bool:
    """Match equality; an array also matches if it contains ``expected``."""
    if actual is MISSING:
        return False
    if _same(actual, expected):
        return True
    return isinstance(actual, (list, tuple)) and any(_same(x, expected) for x in actual)


def _in(actual: Any, candidates: list[Any]) -> bool:
    """Match when ``actual`` (or any element of it) equals any candidate."""
    return any(_eq(actual, c) for c in candidates)


def _all(actual: Any, candidates: list[Any]) -> bool:
    """Match when array ``actual`` contains every candidate (never for ``[]``)."""
    return isinstance(actual, (list, tuple)) and bool(candidates) and all(
        _eq(actual, c) for c in candidates
    )


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    """Build an ordering matcher that ignores incompatible types and NaN."""

    def match(actual: Any, bound: Any) -> bool:
        return any(
            (_is_number(x) and _is_number(bound) or isinstance(x, str) and isinstance(bound, str))
            and compare(x, bound)
            for x in _elements(actual)
        )

    return match


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    re2 = _re2()
    options = re2.Options()
    options.max_mem = 8 << 20  # a huge pattern is refused, not built
    options.log_errors = False  # a user's bad pattern is their error, not the service log's
    return re2.compile(pattern, options)


def _compiled_for(where: str, pattern: str) -> Any:
    """The RE2 program of ``pattern``, or a FilterError naming the filter."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise FilterError(f"{where}: the pattern is longer than {MAX_PATTERN_CHARS} characters")
    re2 = _re2()
    try:
        return _compiled(pattern)
    except (re2.error, ValueError, TypeError) as exc:  # TypeError: a pattern re2 cannot take
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise FilterError(
            f"{where} has a pattern RE2 cannot compile ({reason}); "
            "backreferences and lookaround are not supported"
        ) from None


def _re2() -> Any:
    """google-re2, imported at the first pattern rather than at the service's start."""
    import re2  # type: ignore[import-untyped]  # google-re2 ships no type information

    return re2


def _regex(actual: Any, pattern: str) -> bool:
    """Match when ``actual`` (or any element of it) is a string matching ``pattern``."""
    program = _compiled(pattern)
    return any(isinstance(x, str) and _search(program, x) for x in _elements(actual))


def _search(program: Any, text: str) -> bool:
    try:
        return program.search(text) is not None
    except (UnicodeError, ValueError):  # a stored string UTF-8 cannot encode: no match
        return False


def _match_condition(actual: Any, cond: Any) -> bool:
    """Match a resolved value against a literal or a dict of operators (ANDed)."""
    if not _is_operator_dict(cond):
        return _eq(actual, cond)
    return all(_FIELD_OPS[op](actual, operand) for op, operand in cond.items())


_FIELD_OPS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "$eq": _eq,
    "$ne": lambda actual, value: not _eq(actual, value),
    **{op: _ordered(fn) for op, fn in _ORDERING.items()},
    "$in": _in,
    "$nin": lambda actual, values: not _in(actual, values),
    "$all": _all,
    "$exists": lambda actual, flag: (actual is not MISSING) == flag,
    "$regex": _regex,
    "$not": lambda actual, cond: not _match_condition(actual, cond),
}


def _match_entry(doc: Mapping[str, Any], key: str, value: Any) -> bool:
    """Match one top-level entry: a logical operator or a field condition."""
    if key == "$and":
        return all(_match(doc, sub) for sub in value)
    if key == "$or":
        return any(_match(doc, sub) for sub in value)
    if key == "$nor":
        return not any(_match(doc, sub) for sub in value)
    if key == "$not":
        return not _match(doc, value)
    return _match_condition(resolve(doc, key), value)


def _match(doc: Mapping[str, Any], f: Mapping[str, Any]) -> bool:
    """Match an already validated filter; all entries are ANDed."""
    return all(_match_entry(doc, key, value) for key, value in f.items())


def matches(doc: Mapping[str, Any], f: Mapping[str, Any] | None) -> bool:
    """Return whether run document ``doc`` satisfies filter ``f``.

    Args:
        doc: The run document (``id``, ``name``, ``state``, ``config``, ...).
        f: A W&B-style filter; ``None`` or ``{}`` matches every run.

    Returns:
        True if the run matches.

    Raises:
        FilterError: If ``f`` is malformed.
    """
    if f is None:
        return True
    validate_filter(f)
    return _match(doc, f)


def matcher(f: Mapping[str, Any] | None) -> Callable[[Mapping[str, Any]], bool]:
    """`matches` for many documents: ``f`` validated once.

    Raises:
        FilterError: If ``f`` is malformed or over the size limits.
    """
    if not f:
        return lambda doc: True
    validate_filter(f)
    return lambda doc: _match(doc, f)
