"""The UI's artifact endpoints against the session's real service: the project's
artifacts, an artifact's versions, a version's files, previews and lineage, read
back after a chain of runs logged them (prepare -> dataset -> train -> model -> eval)."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest

import mytrack
from mytrack._internal.transport import webui
from tests.integration.test_web_api import call, web  # noqa: F401 - a fixture

QUIET = mytrack.Settings(quiet=True)
pytestmark = pytest.mark.usefixtures("no_current_run")


@dataclass
class Chain:
    prepare: Any
    train: Any
    evaluate: Any
    png: bytes


def png_bytes() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def log_chain(project: str, workdir: Path) -> Chain:
    """prepare logs dataset v0 (then v1, "best"); train uses dataset:v0 and logs model;
    eval uses model:latest and logs results."""
    data = workdir / "data"
    (data / "sub").mkdir(parents=True)
    (data / "train.csv").write_text("x,y\n1,2\n3,4\n")
    (data / "sub" / "notes.txt").write_text("hello from a sub folder\n")
    png = png_bytes()
    with mytrack.init(project=project, name="prepare", settings=QUIET) as prepare:
        art = mytrack.Artifact("dataset", "dataset", metadata={"rows": 2, "source": "unit"})
        art.add_dir(str(data), name="data")
        with art.new_file("info.json") as f:
            json.dump({"classes": ["a", "b"], "seed": 7}, f)
        with art.new_file("table.json") as f:
            json.dump({"columns": ["id", "label"], "data": [[1, "cat"], [2, "dog"]]}, f)
        with art.new_file("image.png", mode="xb") as f:
            f.write(png)
        with art.new_file("weights.bin", mode="xb") as f:
            f.write(b"\0\1\2" * 100)
        (workdir / "far.txt").write_text("kept elsewhere")
        art.add_reference((workdir / "far.txt").as_uri(), name="remote.txt")
        prepare.log_artifact(art)
        art.wait()
        second = mytrack.Artifact("dataset", "dataset")
        with second.new_file("info.json") as f:
            f.write("{}")
        prepare.log_artifact(second, aliases=["best"])
        second.wait()
    with mytrack.init(project=project, name="train", settings=QUIET) as train:
        train.use_artifact("dataset:v0")
        model = mytrack.Artifact("model", "model")
        with model.new_file("model.txt") as f:
            f.write("weights")
        train.log_artifact(model)
        model.wait()
    with mytrack.init(project=project, name="eval", settings=QUIET) as evaluate:
        evaluate.use_artifact("model:latest")
        results = mytrack.Artifact("results", "evaluation")
        with results.new_file("scores.json") as f:
            f.write('{"acc": 0.9}')
        evaluate.log_artifact(results)
        results.wait()
    return Chain(prepare, train, evaluate, png)


def art_api(run: Any, *parts: str, **query: Any) -> str:
    path = "/".join(quote(p, safe="") for p in (run.entity, run.project, *parts))
    return f"/api/artifacts/{path}" + (f"?{urlencode(query)}" if query else "")


@pytest.fixture
def chain(project: str, workdir: Path) -> Chain:
    return log_chain(project, workdir)


def test_project_lists_its_artifacts_and_an_artifact_its_versions(
    web: webui.WebAddress, chain: Chain,  # noqa: F811
) -> None:
    """The project's artifacts by type and name; an artifact's versions newest first, with
    aliases, the run that logged each (by name) and how many runs used it."""
    listed = call(web, art_api(chain.prepare)).json()
    assert [(c["type"], c["name"], c["versions"], c["latest"]) for c in listed] == [
        ("dataset", "dataset", 2, "v1"), ("evaluation", "results", 1, "v0"), ("model", "model", 1, "v0"),
    ]
    versions = call(web, art_api(chain.prepare, "dataset")).json()
    assert versions["type"] == "dataset"
    rows = versions["versions"]
    assert [r["version"] for r in rows] == ["v1", "v0"]
    assert rows[0]["aliases"] == ["best", "latest"] and rows[1]["aliases"] == []
    assert {r["producer"]["name"] for r in rows} == {"prepare"}
    assert [r["consumers"] for r in rows] == [0, 1]
    assert call(web, art_api(chain.prepare, "nothing")).status == 404


def test_a_version_shows_metadata_producer_and_consumers_by_name(
    web: webui.WebAddress, chain: Chain,  # noqa: F811
) -> None:
    """A version, named by index or alias: metadata, aliases, size, digest, the producing
    run and the consuming runs with their names and states."""
    model = call(web, art_api(chain.train, "model", "v0")).json()
    assert model["producer"] == {"path": chain.train.path, "name": "train", "state": "finished",
                                 "missing": False}
    assert [c["name"] for c in model["consumers"]] == ["eval"]
    dataset = call(web, art_api(chain.prepare, "dataset", "v0")).json()
    assert dataset["metadata"] == {"rows": 2, "source": "unit"}
    assert dataset["file_count"] == 7 and dataset["size"] > 300 and len(dataset["digest"]) == 64
    assert [c["path"] for c in dataset["consumers"]] == [chain.train.path]
    best = call(web, art_api(chain.prepare, "dataset", "best")).json()
    assert best["version"] == "v1" and best["consumers"] == []
    missing = call(web, art_api(chain.prepare, "dataset", "v9"))
    assert missing.status == 404 and "dataset:v9 not found" in missing.json()["error"]


def test_files_browse_by_folder_and_preview_by_kind(
    web: webui.WebAddress, chain: Chain,  # noqa: F811
) -> None:
    """Folders list their sub-folders (with counts) and files; previews tell an image, a
    table (W&B table JSON, CSV), JSON, text, a binary file and a reference apart; a file
    downloads byte for byte, an image inline."""
    root = call(web, art_api(chain.prepare, "dataset", "v0", "files")).json()
    assert [(e["name"], e["folder"]) for e in root["entries"]] == [
        ("data", True), ("image.png", False), ("info.json", False), ("remote.txt", False),
        ("table.json", False), ("weights.bin", False),
    ]
    assert root["entries"][0]["files"] == 2
    sub = call(web, art_api(chain.prepare, "dataset", "v0", "files", dir="data")).json()
    assert [e["path"] for e in sub["entries"]] == ["data/sub", "data/train.csv"] and sub["parent"] == ""
    assert call(web, art_api(chain.prepare, "dataset", "v0", "files", dir="nope")).status == 404

    def preview(path: str) -> Any:
        return call(web, art_api(chain.prepare, "dataset", "v0", "preview", path=path))

    assert preview("image.png").json()["kind"] == "image"
    table = preview("table.json").json()
    assert (table["kind"], table["columns"], table["rows"], table["total"]) == (
        "table", ["id", "label"], [[1, "cat"], [2, "dog"]], 2)
    csv = preview("data/train.csv").json()
    assert (csv["kind"], csv["columns"], csv["rows"]) == ("table", ["x", "y"], [["1", "2"], ["3", "4"]])
    info = preview("info.json").json()
    assert info["kind"] == "json" and json.loads(info["text"]) == {"classes": ["a", "b"], "seed": 7}
    assert preview("data/sub/notes.txt").json()["text"] == "hello from a sub folder\n"
    assert preview("weights.bin").json()["kind"] == "binary"
    remote = preview("remote.txt")
    assert remote.status == 409 and "far.txt" in remote.json()["error"]
    assert preview("absent.txt").status == 404
    image = call(web, art_api(chain.prepare, "dataset", "v0", "file", path="image.png", inline="1"))
    assert image.body == chain.png and image.headers["Content-Type"] == "image/png"
    assert "sandbox" in image.headers["Content-Security-Policy"]
    blob = call(web, art_api(chain.prepare, "dataset", "v0", "file", path="weights.bin"))
    assert blob.body == b"\0\1\2" * 100 and blob.headers["Content-Disposition"].startswith("attachment")


def test_lineage_reaches_as_many_hops_as_asked_each_way(
    web: webui.WebAddress, chain: Chain,  # noqa: F811
) -> None:
    """From model:v0, one hop reaches the run that logged it and the run that used it; two
    hops the dataset that run used and the results the other logged, three the run that
    logged the dataset; each in its layer, edges in the data's direction."""
    def graph(hops: int) -> dict[str, Any]:
        return dict(call(web, art_api(chain.train, "model", "v0", "lineage", hops=hops)).json())

    def layers(g: dict[str, Any]) -> dict[str, int]:
        return {n.get("label") or n["name"]: n["layer"] for n in g["nodes"]}

    one = graph(1)
    assert layers(one) == {"model:v0": 0, "train": -1, "eval": 1}
    two = graph(2)
    assert layers(two) == {"model:v0": 0, "train": -1, "eval": 1, "dataset:v0": -2, "results:v0": 2}
    ids = {n.get("label") or n["name"]: n["id"] for n in two["nodes"]}
    assert sorted(tuple(e) for e in two["edges"]) == sorted([
        (ids["dataset:v0"], ids["train"]), (ids["train"], ids["model:v0"]),
        (ids["model:v0"], ids["eval"]), (ids["eval"], ids["results:v0"]),
    ])
    assert two["focal"] == ids["model:v0"] and not two["truncated"]
    assert layers(graph(3)) == {**layers(two), "prepare": -3}


def test_artifact_pages_are_served(web: webui.WebAddress, chain: Chain) -> None:  # noqa: F811
    """The list, versions and version pages answer HTML naming their page for the script."""
    base = f"/{chain.prepare.entity}/{chain.prepare.project}/artifacts"
    for path, page in ((base, "artifacts"), (f"{base}/dataset/dataset", "artifact"),
                       (f"{base}/dataset/dataset/v0", "artifact-version")):
        reply = call(web, path)
        assert reply.status == 200 and f'data-page="{page}"' in reply.body.decode()
    assert b"/static/artifacts.js" in call(web, base).body
