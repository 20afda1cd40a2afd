"""Bare keys in a filter (``optimizer = adam``) resolved to ``config.optimizer`` or another prefix.

W&B's filters name config values ``config.optimizer``; a bare ``optimizer``
matches no run there, silently. Here a field that is neither a run field
(``state``, ``name``, ...) nor under a prefix (``config.``, ``summary.``,
``system.``, ``metadata.``) is looked up under each prefix in the runs being
filtered: found under one, it is rewritten to that one; found under several,
or under none, the filter is refused with an error that names the prefixes.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
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


def _where_columns(names: set[str], columns: Mapping[str, Collection[str]]) -> dict[str, list[str]] | None:
    """`_where` answered from the flattened keys the runs hold per prefix (the
    runs table's column lists), without reading a document; None when that
    cannot be told from the keys alone: a name found under no prefix (a part of
    a media value, of a redacted value, a summary key starting with "_"...)."""
    held = {prefix: _with_parents(columns.get(prefix, ())) for prefix in PREFIXES}
    out: dict[str, list[str]] = {}
    for name in names:
        if name.startswith("_"):
            return None  # the summary's own keys are in the documents, not in the columns
        found = [prefix for prefix in PREFIXES if name in held[prefix]]
        if not found:
            return None
        out[name] = found
    return out


def _with_parents(keys: Collection[str]) -> set[str]:
    """Dotted keys and every dotted key above them (``model.depth`` gives ``model`` too)."""
    out = set(keys)
    for key in keys:
        while "." in key:
            key = key.rpartition(".")[0]
            out.add(key)
    return out


def resolve_bare_keys(f: Any, docs: Iterable[Mapping[str, Any]],
                      columns: Mapping[str, Collection[str]] | None = None) -> Any:
    """``f`` with each bare field replaced by the one prefixed field the documents hold.

    ``docs``: the run documents being filtered (read only when ``f`` has a bare
    field, and ``columns`` cannot answer). With no documents at all nothing is
    resolved (nothing can match). ``columns``: per prefix, every flattened key
    the same runs hold (none left out), as the runs table lists them; the
    documents are then read only for a name the keys do not show.

    Raises:
        FilterError: a bare field found under several prefixes, or under none.
    """
    names = bare_fields(f)
    if not names:
        return f
    where = _where_columns(names, columns) if columns is not None else None
    if where is None:
        docs = list(docs)
        if not docs:
            return f
        where = _where(names, docs)
    chosen: dict[str, str] = {}
    for name, prefixes in sorted(where.items()):
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
