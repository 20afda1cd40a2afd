"""Bare keys in a filter (``optimizer = adam``) resolved to ``config.optimizer`` or another prefix.

W&B's filters name config values ``config.optimizer``; a bare ``optimizer``
matches no run there, silently. Here a field that is neither a run field
(``state``, ``name``, ...) nor under a prefix (``config.``, ``summary.``,
``system.``, ``metadata.``) is looked up under each prefix in the runs being
filtered: found under one, it is rewritten to that one; found under several,
or under none, the filter is refused with an error that names the prefixes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mytrack_service.query.documents import PREFIXES, RUN_FIELDS
from mytrack_service.query.filters import ALIASES, MISSING, FilterError, canonical_path, resolve

_LOGICAL = ("$and", "$or", "$nor")


def _is_bare(field: str) -> bool:
    path = canonical_path(field)
    head = path.partition(".")[0]
    return not field.startswith("$") and head not in RUN_FIELDS and head not in PREFIXES \
        and field not in ALIASES


def bare_fields(f: Any) -> set[str]:
    """The bare field names a (validated) filter uses, at any depth."""
    found: set[str] = set()
    if not isinstance(f, Mapping):
        return found
    for key, value in f.items():
        if key in _LOGICAL:
            for sub in value:
                found |= bare_fields(sub)
        elif key == "$not":
            found |= bare_fields(value)
        elif _is_bare(key):
            found.add(key)
    return found


def _rewrite(f: Any, names: Mapping[str, str]) -> Any:
    if not isinstance(f, Mapping):
        return f
    out: dict[str, Any] = {}
    for key, value in f.items():
        if key in _LOGICAL:
            out[key] = [_rewrite(sub, names) for sub in value]
        elif key == "$not":
            out[key] = _rewrite(value, names)
        else:
            out[names.get(key, key)] = value
    return out


def _where(names: set[str], docs: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """For each name, the prefixes under which at least one document holds it."""
    seen: dict[str, set[str]] = {name: set() for name in names}
    for doc in docs:
        for name, prefixes in seen.items():
            for prefix in PREFIXES:
                if prefix not in prefixes and resolve(doc, f"{prefix}.{name}") is not MISSING:
                    prefixes.add(prefix)
    # The system columns are a view of the metadata: found in both means system.
    return {name: [p for p in PREFIXES if p in found and not (p == "metadata" and "system" in found)]
            for name, found in seen.items()}


def resolve_bare_keys(f: Any, docs: Iterable[Mapping[str, Any]]) -> Any:
    """``f`` with each bare field replaced by the one prefixed field the documents hold.

    ``docs``: the run documents being filtered (read only when ``f`` has a bare
    field). With no documents at all nothing is resolved (nothing can match).

    Raises:
        FilterError: a bare field found under several prefixes, or under none.
    """
    names = bare_fields(f)
    if not names:
        return f
    docs = list(docs)
    if not docs:
        return f
    chosen: dict[str, str] = {}
    for name, prefixes in sorted(_where(names, docs).items()):
        if len(prefixes) == 1:
            chosen[name] = f"{prefixes[0]}.{name}"
        elif prefixes:
            options = " or ".join(f"{p}.{name}" for p in prefixes)
            raise FilterError(f"{name!r} is ambiguous: runs have it in {', '.join(prefixes)}; write {options}")
        else:
            raise FilterError(
                f"no run here has {name!r}: it is not a run field ({', '.join(sorted(RUN_FIELDS))}) "
                f"and no run's {', '.join(PREFIXES)} holds it; write {name!r} with a prefix, "
                f"e.g. config.{name} or summary.{name}"
            )
    return _rewrite(f, chosen)
