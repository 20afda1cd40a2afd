"""The artifact part of the `MetadataStore` contract, on every store (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from typing import Any

import pytest

from mytrack_service.store import artifact_model as model
from mytrack_service.store.artifact_model import ArtifactOp
from mytrack_service.store.base import Batch, MetadataStore, RunKey, RunRow, StoreError
from tests.integration.test_store_contract import store  # noqa: F401 - a fixture

KEY = RunKey("alice", "mnist", "run00001")
OTHER = RunKey("alice", "mnist", "run00002")


@pytest.fixture
def runs(store: MetadataStore) -> MetadataStore:  # noqa: F811
    store.create_run(RunRow(key=KEY, created_at=1.0))
    store.create_run(RunRow(key=OTHER, created_at=2.0))
    return store


def entries(**files: str) -> list[dict[str, Any]]:
    return [{"path": p, "digest": d * 64, "size": 3} for p, d in files.items()]


def art(name: str = "data", kind: str = "dataset", aliases: list[str] | None = None,
        **files: str) -> dict[str, Any]:
    found = entries(**files)
    return {"entity": "alice", "project": "mnist", "name": name, "type": kind,
            "aliases": aliases or [], "entries": found, "digest": model.digest_of(found),
            "metadata": {"n": 1}}


def apply(db: MetadataStore, key: RunKey, *ops: tuple[str, str, dict[str, Any]]) -> None:
    db.write_batch(Batch(key, artifacts=[
        ArtifactOp(action, cid, key.path, data, timestamp=10.0) for action, cid, data in ops
    ]))


def result(db: MetadataStore, client_id: str) -> dict[str, Any]:
    with db.artifacts() as tx:
        found = tx.result(client_id)
    assert found is not None
    return found


def test_versions_bump_only_on_new_content_and_dedup_applies_aliases(runs: MetadataStore) -> None:
    """v0, v1 on changed content; identical content returns the existing version with the new aliases."""
    apply(runs, KEY, ("log", "a", art(a="1")), ("log", "b", art(a="2")),
          ("log", "c", art(aliases=["best"], a="1")))
    assert [result(runs, c)["version"] for c in "abc"] == ["v0", "v1", "v0"]
    assert result(runs, "c")["created"] is False
    with runs.artifacts() as tx:
        doc = model.resolve(tx, "alice", "mnist", "data", "best")
        assert (doc["version"], doc["aliases"]) == ("v0", ["best"])
        assert model.resolve(tx, "alice", "mnist", "data", "latest")["version"] == "v1"
        assert [d["version"] for d in model.versions_of(tx, "alice", "mnist", "data")] == ["v0", "v1"]
        assert doc["manifest"] == [{"path": "a", "digest": "1" * 64, "size": 3, "ref": ""}]
        assert doc["metadata"] == {"n": 1} and doc["created_by"] == KEY.path


def test_an_alias_moves_to_the_version_that_takes_it(runs: MetadataStore) -> None:
    """An alias names one version per collection: logging it again takes it from the old one."""
    apply(runs, KEY, ("log", "a", art(aliases=["prod"], a="1")), ("log", "b", art(aliases=["prod"], a="2")))
    with runs.artifacts() as tx:
        assert model.resolve(tx, "alice", "mnist", "data", "v0")["aliases"] == []
        assert model.resolve(tx, "alice", "mnist", "data", "prod")["aliases"] == ["latest", "prod"]


def test_a_type_mismatch_and_an_unknown_version_are_errors(runs: MetadataStore) -> None:
    """Logging another type into a collection fails in the op's result; resolving v9 raises."""
    apply(runs, KEY, ("log", "a", art(a="1")), ("log", "b", art(kind="model", a="2")))
    assert result(runs, "b")["ok"] is False and "type 'dataset'" in result(runs, "b")["error"]
    with runs.artifacts() as tx, pytest.raises(model.ArtifactRuleError, match="data:v9 not found"):
        model.resolve(tx, "alice", "mnist", "data", "v9")


def test_lineage_is_recorded_both_ways(runs: MetadataStore) -> None:
    """The run that logged a version and the runs that used it are read back."""
    apply(runs, KEY, ("log", "a", art(a="1")))
    apply(runs, OTHER, ("use", "u", {"entity": "alice", "project": "mnist", "name": "data",
                                     "version": "v0"}))
    with runs.artifacts() as tx:
        assert [d["version"] for d in model.logged_by_run(tx, KEY.path)] == ["v0"]
        assert [d["name"] for d in model.used_by_run(tx, OTHER.path)] == ["data"]
        assert tx.users_of_version(result(runs, "a")["id"]) == [OTHER.path]


def test_distributed_upserts_commit_one_version_and_then_start_another(runs: MetadataStore) -> None:
    """Upserts of two runs merge into one pending version; finish commits it; a later upsert is new."""
    up = {**art(a="1"), "distributed_id": "g"}
    apply(runs, KEY, ("upsert", "u1", up))
    apply(runs, OTHER, ("upsert", "u2", {**art(b="2"), "distributed_id": "g"}))
    assert result(runs, "u2")["state"] == "pending"
    apply(runs, KEY, ("finish", "f", {**art(), "entries": [], "distributed_id": "g"}))
    done = result(runs, "f")
    assert (done["version"], done["state"], done["file_count"]) == ("v0", "committed", 2)
    apply(runs, KEY, ("upsert", "u3", {**art(c="3"), "distributed_id": "g"}),
          ("finish", "f2", {**art(), "entries": [], "distributed_id": "g"}))
    assert result(runs, "f2")["version"] == "v1"
    with runs.artifacts() as tx:
        assert [e["path"] for e in model.resolve(tx, "alice", "mnist", "data", "v0")["manifest"]] == ["a", "b"]


def test_links_into_a_portfolio_share_the_content_and_have_their_own_aliases(runs: MetadataStore) -> None:
    """A link is a portfolio version pointing at its source; linking it again only moves aliases."""
    apply(runs, KEY, ("log", "a", art(a="1")))
    link = {"entity": "alice", "project": "mnist", "name": "data", "version": "v0",
            "target_entity": "alice", "target_project": "reg", "target_name": "best-data",
            "aliases": ["prod"]}
    apply(runs, KEY, ("link", "l1", link), ("link", "l2", {**link, "aliases": ["gold"]}))
    with runs.artifacts() as tx:
        doc = model.resolve(tx, "alice", "reg", "best-data", "latest")
        assert (doc["version"], doc["aliases"], doc["kind"]) == ("v0", ["gold", "latest", "prod"], "portfolio")
        assert doc["manifest"][0]["digest"] == "1" * 64
        assert doc["source"]["name"] == "data"
        assert [c["name"] for c in model.collections_of(tx, "alice", "", "portfolio")] == ["best-data"]


def test_a_failed_batch_applies_no_artifact_op(runs: MetadataStore) -> None:
    """Artifact ops commit with their batch: a batch that fails leaves no version behind."""
    with pytest.raises(StoreError):
        runs.write_batch(Batch(RunKey("alice", "mnist", "nope"), artifacts=[
            ArtifactOp("log", "x", "alice/mnist/nope", art(a="1"))]))
    with runs.artifacts() as tx:
        assert tx.collection("alice", "mnist", "data") is None
