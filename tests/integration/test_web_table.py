"""The runs table as a workspace, over HTTP against the session's real service: columns of every kind, sorting and
grouping by any column with aggregate rows, bare filter keys (also through `Api().runs`), saved views and bulk edits.

Runs are logged with the SDK; what the edits changed is read back through `mytrack.Api()`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest

import mytrack
from mytrack._internal.transport import webui
from tests.integration.test_web_api import QUIET, call, own_origin, web  # noqa: F401 - web is a fixture

pytestmark = pytest.mark.usefixtures("no_current_run")

CONFIGS = [
    {"optimizer": "adam", "model": {"depth": 2, "width": 64}, "lr": 0.1},
    {"optimizer": "sgd", "model": {"depth": 2, "width": 128}, "lr": 0.01},
    {"optimizer": "adam", "model": {"depth": 4, "width": 64}, "lr": 0.001},
    {"optimizer": "adam", "lr": 0.5, "acc": "configured"},
]


def log_runs(project: str) -> list[Any]:
    runs = []
    for i, config in enumerate(CONFIGS):
        with mytrack.init(project=project, name=f"r{i}", config=config, settings=QUIET) as run:
            run.log({"acc": 0.5 + i / 10, "loss": 1.0 - i / 10})
        runs.append(run)
    return runs


def table(web: webui.WebAddress, run: Any, **query: str) -> Any:  # noqa: F811
    reply = call(web, f"/api/projects/{quote(run.entity)}/{quote(run.project)}/runs?{urlencode(query)}")
    assert reply.status == 200, reply.body
    return reply.json()


def test_columns_of_every_kind_sort_and_group_with_aggregates(web: webui.WebAddress, project: str) -> None:  # noqa: F811
    """Config, summary, system and metadata columns are offered; any of them sorts; grouping by a nested config key
    orders runs by group and gives each group its count, states and the mean/min/max of the aggregated columns."""
    runs = log_runs(project)
    full = table(web, runs[0])
    assert {"model.depth", "model.width", "optimizer", "lr"} <= set(full["columns"]["config"])
    assert {"acc", "loss"} <= set(full["columns"]["summary"])
    assert {"hostname", "python"} <= set(full["columns"]["system"])
    assert "program" in full["columns"]["metadata"] and "python" not in full["columns"]["metadata"]
    assert {"name", "state", "created_at", "tags"} <= set(full["columns"]["run"])
    assert full["runs"][0]["system"]["python"] and full["runs"][0]["metadata"]["program"]

    names = [r["name"] for r in table(web, runs[0], sort="-config.model.width")["runs"]]
    assert names[0] == "r1" and names[-1] == "r3"  # r3 has no width: last either way
    assert [r["name"] for r in table(web, runs[0], sort="summary.loss")["runs"]] == ["r3", "r2", "r1", "r0"]
    assert len(table(web, runs[0], sort="system.hostname")["runs"]) == 4

    grouped = table(web, runs[0], group_by="config.model.depth", sort="name",
                    aggregate=json.dumps(["summary.acc", "config.lr"]))
    assert [r["name"] for r in grouped["runs"]] == ["r0", "r1", "r2", "r3"]
    groups = {g["value"]: g for g in grouped["groups"]}
    assert [g["value"] for g in grouped["groups"]] == [2, 4, None]
    assert groups[2]["count"] == 2 and groups[2]["states"] == {"finished": 2}
    assert groups[2]["aggregates"]["summary.acc"] == pytest.approx({"mean": 0.55, "min": 0.5, "max": 0.6, "count": 2})
    assert groups[4]["aggregates"]["config.lr"]["mean"] == pytest.approx(0.001)
    by_default = table(web, runs[0], group_by="config.optimizer")
    assert {g["value"]: g["count"] for g in by_default["groups"]} == {"adam": 3, "sgd": 1}
    assert "summary.loss" in by_default["groups"][0]["aggregates"]
    bad = call(web, f"/api/projects/{quote(runs[0].entity)}/{quote(project)}/runs?group_by=nonsense")
    assert bad.status == 400 and "config.KEY" in bad.json()["error"]


def test_bare_filter_keys_resolve_or_name_the_prefixes(web: webui.WebAddress, project: str) -> None:  # noqa: F811
    """`optimizer = adam` finds the adam runs in the table and in Api().runs; `acc` (in config and summary) and an
    unknown key are refused with errors that name the prefixes, instead of 0 runs."""
    runs = log_runs(project)
    found = table(web, runs[0], filters=json.dumps({"optimizer": "adam"}), sort="name")
    assert [r["name"] for r in found["runs"]] == ["r0", "r2", "r3"]
    nested = table(web, runs[0], filters=json.dumps({"model.depth": {"$gte": 3}}))
    assert [r["name"] for r in nested["runs"]] == ["r2"]
    path = f"/api/projects/{quote(runs[0].entity)}/{quote(project)}/runs?"
    ambiguous = call(web, path + urlencode({"filters": json.dumps({"acc": "configured"})}))
    assert ambiguous.status == 400 and "config.acc or summary.acc" in ambiguous.json()["error"]
    unknown = call(web, path + urlencode({"filters": json.dumps({"optimiser": "adam"})}))
    assert unknown.status == 400 and "no run here has 'optimiser'" in unknown.json()["error"]

    api = mytrack.Api()
    assert sorted(r.name for r in api.runs(f"{runs[0].entity}/{project}", filters={"optimizer": "adam"})) == [
        "r0", "r2", "r3"]
    with pytest.raises(Exception, match="config.acc or summary.acc"):
        list(api.runs(f"{runs[0].entity}/{project}", filters={"acc": "configured"}))


def test_saved_views_are_kept_replaced_and_deleted(web: webui.WebAddress, project: str) -> None:  # noqa: F811
    """A view saved with a state (the token dropped) is listed for the project; saving the name again replaces it;
    delete removes it; a POST from elsewhere is refused."""
    runs = log_runs(project)
    views = f"/api/projects/{quote(runs[0].entity)}/{quote(project)}/views"
    state = {"sort": "-summary.acc", "group_by": "config.optimizer", "chart.smoothing": "0.6", "token": "secret"}
    saved = call(web, views, method="POST", body={"name": "best", "state": state}, headers=own_origin(web))
    assert saved.status == 200, saved.body
    assert call(web, views, method="POST", body={"name": "x", "state": {}}).status == 403
    listed = call(web, views).json()
    assert [(v["name"], v["state"]) for v in listed] == [
        ("best", {"sort": "-summary.acc", "group_by": "config.optimizer", "chart.smoothing": "0.6"})]
    call(web, views, method="POST", body={"name": "best", "state": {"sort": "name"}}, headers=own_origin(web))
    assert [v["state"] for v in call(web, views).json()] == [{"sort": "name"}]
    assert call(web, views, method="POST", body={"name": "", "state": {}}, headers=own_origin(web)).status == 400
    assert call(web, views, method="POST", body={"name": "n", "state": {"a": 1}}, headers=own_origin(web)).status == 400
    gone = call(web, views + "/delete", method="POST", body={"name": "best"}, headers=own_origin(web))
    assert gone.json() == {"deleted": True} and call(web, views).json() == []


def test_bulk_tag_untag_and_move_to_a_group(web: webui.WebAddress, project: str) -> None:  # noqa: F811
    """Bulk edits change exactly the runs named, as Api() reads back; an unknown run changes nothing."""
    runs = log_runs(project)
    paths = [r.path for r in runs[:2]]
    tagged = call(web, "/api/runs/tags", method="POST", body={"runs": paths, "add": ["best", "v2"]},
                  headers=own_origin(web))
    assert tagged.status == 200 and tagged.json()["updated"] == 2
    untagged = call(web, "/api/runs/tags", method="POST", body={"runs": paths[:1], "remove": ["v2"]},
                    headers=own_origin(web))
    assert untagged.status == 200
    moved = call(web, "/api/runs/group", method="POST", body={"runs": paths[1:] + [runs[3].path], "group": "ablation"},
                 headers=own_origin(web))
    assert moved.status == 200 and moved.json()["updated"] == 2
    refused = call(web, "/api/runs/tags", method="POST", body={"runs": [runs[2].path, "nobody/none/zzz"], "add": ["x"]},
                   headers=own_origin(web))
    assert refused.status == 404 and "nobody/none/zzz" in refused.json()["error"]
    api = mytrack.Api()
    read = {r.name: r for r in api.runs(f"{runs[0].entity}/{project}")}
    assert (read["r0"].tags, read["r1"].tags, read["r2"].tags) == (["best"], ["best", "v2"], [])
    assert (read["r0"].group, read["r1"].group, read["r3"].group) == ("", "ablation", "ablation")
