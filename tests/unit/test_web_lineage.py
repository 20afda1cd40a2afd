"""The lineage graph of the artifact pages (web/lineage.py) on the in-memory store: a run
that uses what it logged (a cycle) ends, a portfolio link is drawn as its source, a graph
past its node limit is cut and says so, edges only join drawn nodes."""

from __future__ import annotations

from typing import Any

import pytest

from mytrack_service.store import artifact_model as model
from mytrack_service.store.artifact_model import ArtifactOp
from mytrack_service.store.base import Batch, RunKey, RunRow
from mytrack_service.store.memory import MemoryStore
from mytrack_service.web import lineage as lineage_module
from mytrack_service.web.lineage import lineage


def art(name: str, content: str) -> dict[str, Any]:
    found = [{"path": "f.txt", "digest": content * 64, "size": 1}]
    return {"entity": "e", "project": "p", "name": name, "type": "data", "aliases": [],
            "entries": found, "digest": model.digest_of(found)}


def use(name: str, version: str = "latest") -> dict[str, Any]:
    return {"entity": "e", "project": "p", "name": name, "version": version}


def apply(store: MemoryStore, run: str, *ops: tuple[str, dict[str, Any]]) -> None:
    key = RunKey("e", "p", run)
    if store.get_run(key) is None:
        store.create_run(RunRow(key=key, name=f"name-{run}"))
    store.write_batch(Batch(key, artifacts=[ArtifactOp(a, "", key.path, d, 1.0) for a, d in ops]))


def graph(store: MemoryStore, name: str, version: str, hops: int) -> dict[str, Any]:
    with store.artifacts() as tx:
        found = model.resolve(tx, "e", "p", name, version)
        return lineage(tx, found["id"], hops, lambda path: {"path": path, "name": path[-1]})


def test_a_run_using_what_it_logged_makes_a_cycle_that_ends() -> None:
    """Run r1 logs x:v0 and uses it: both are drawn once, with an edge each way."""
    store = MemoryStore()
    apply(store, "r1", ("log", art("x", "a")), ("use", use("x")))
    g = graph(store, "x", "v0", 5)
    assert sorted(n.get("label") or n["path"] for n in g["nodes"]) == ["e/p/r1", "x:v0"]
    assert len(g["edges"]) == 2 and not g["truncated"]


def test_a_link_is_drawn_as_the_version_it_links() -> None:
    """The lineage of a portfolio version is its source's: the run that logged the source."""
    store = MemoryStore()
    apply(store, "r1", ("log", art("x", "a")))
    apply(store, "r1", ("link", {**use("x", "v0"), "target_entity": "e", "target_project": "p",
                                 "target_name": "best-x", "kind": "portfolio"}))
    g = graph(store, "best-x", "v0", 1)
    labels = sorted(n.get("label") or n["path"] for n in g["nodes"])
    assert labels == ["e/p/r1", "x:v0"]


def test_past_the_node_limit_the_graph_is_cut(monkeypatch: pytest.MonkeyPatch) -> None:
    """A version used by more runs than the limit: the graph stops at the limit, says
    truncated, and keeps no edge to a node it did not draw."""
    monkeypatch.setattr(lineage_module, "MAX_NODES", 5)
    store = MemoryStore()
    apply(store, "maker", ("log", art("x", "a")))
    for i in range(10):
        apply(store, f"user{i}", ("use", use("x")))
    g = graph(store, "x", "v0", 2)
    ids = {n["id"] for n in g["nodes"]}
    assert len(ids) == 5 and g["truncated"]
    assert all(a in ids and b in ids for a, b in g["edges"])
