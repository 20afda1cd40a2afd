"""Bare keys in filters (`optimizer = adam`) resolve to the one prefix the runs hold, or are refused by name."""

from __future__ import annotations

from typing import Any

import pytest

from mytrack_service.query.bare_keys import resolve_bare_keys
from mytrack_service.query.documents import run_document
from mytrack_service.query.filters import FilterError, matches
from mytrack_service.store.base import RunKey, RunRow


def doc(run_id: str, config: dict[str, Any], summary: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    return run_document(RunRow(RunKey("e", "p", run_id), config=config, summary=summary or {},
                               metadata=metadata or {}))


DOCS = [
    doc("a", {"optimizer": "adam", "model": {"depth": 3}}, {"acc": 0.9, "both": 1},
        {"hostname": "box", "git": {"branch": "main"}}),
    doc("b", {"optimizer": "sgd", "both": 2}, {"acc": 0.5}),
]


def test_a_bare_config_key_resolves_to_config() -> None:
    """`optimizer` is only in configs: it becomes config.optimizer and matches the adam run."""
    f = resolve_bare_keys({"optimizer": {"$eq": "adam"}}, DOCS)
    assert f == {"config.optimizer": {"$eq": "adam"}}
    assert [d["id"] for d in DOCS if matches(d, f)] == ["a"]


def test_nested_summary_system_and_metadata_keys_resolve_inside_logical_operators() -> None:
    """Bare keys under $and/$or/$not resolve each to their own prefix; run fields stay as they are."""
    f = resolve_bare_keys({"$and": [{"model.depth": 3}, {"$or": [{"acc": {"$gt": 0.8}}]},
                                    {"$not": {"hostname": "x"}}, {"git.branch": "main"}, {"state": "running"}]},
                          DOCS)
    assert f == {"$and": [{"config.model.depth": 3}, {"$or": [{"summary.acc": {"$gt": 0.8}}]},
                          {"$not": {"system.hostname": "x"}}, {"metadata.git.branch": "main"},
                          {"state": "running"}]}


def test_a_key_in_two_prefixes_is_refused_naming_both() -> None:
    """`both` is in a config and in a summary: the error names config.both and summary.both."""
    with pytest.raises(FilterError, match=r"'both' is ambiguous.*config\.both or summary\.both"):
        resolve_bare_keys({"both": 1}, DOCS)


def test_a_key_no_run_has_is_refused_not_answered_with_zero_runs() -> None:
    """A bare key found nowhere raises an error naming the prefixes to use."""
    with pytest.raises(FilterError, match=r"no run here has 'optimiser'.*config\.optimiser"):
        resolve_bare_keys({"$or": [{"optimiser": "adam"}]}, DOCS)


def test_prefixed_keys_and_an_empty_project_are_left_alone() -> None:
    """Explicit prefixes, aliases and run fields pass unchanged, and with no runs nothing is resolved."""
    f = {"config.nothing": 1, "summary_metrics.acc": 2, "displayName": "x", "tags": "t"}
    assert resolve_bare_keys(f, DOCS) == f
    assert resolve_bare_keys({"lr": 1}, []) == {"lr": 1}


def _unread() -> Any:
    raise AssertionError("the documents were read although the column lists answer")
    yield  # pragma: no cover


COLUMNS = {"config": ["both", "model.depth", "optimizer"], "summary": ["acc", "both"],
           "system": ["hostname"], "metadata": ["git.branch"]}


def test_the_column_lists_resolve_bare_keys_without_reading_the_runs() -> None:
    """With the table's column lists, names (nested ones and their parents too) resolve without a scan,
    and a name under two prefixes is refused by the same rule."""
    assert resolve_bare_keys({"optimizer": "adam", "model": {"$ne": None}}, _unread(), COLUMNS) == \
        {"config.optimizer": "adam", "config.model": {"$ne": None}}
    assert resolve_bare_keys({"model.depth": 3, "hostname": "box", "git.branch": "x"}, _unread(), COLUMNS) == \
        {"config.model.depth": 3, "system.hostname": "box", "metadata.git.branch": "x"}
    with pytest.raises(FilterError, match="ambiguous"):
        resolve_bare_keys({"both": 1}, _unread(), COLUMNS)


def test_a_name_the_column_lists_do_not_show_falls_back_to_the_documents() -> None:
    """A summary key starting with "_" or a name in no list is looked up in the documents."""
    docs = [doc("a", {"x": 1}, {"_runtime": 3.0})]
    assert resolve_bare_keys({"_runtime": 3.0}, docs, {"config": ["x"]}) == {"summary._runtime": 3.0}
    with pytest.raises(FilterError, match="no run here has 'nothing'"):
        resolve_bare_keys({"nothing": 1}, docs, {"config": ["x"]})
