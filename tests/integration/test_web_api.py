"""The web UI's HTTP API against the session's real service: token and cookie,
origin checks, the JSON endpoints, chart downsampling, edits and stop.

Runs are logged from this process (or a subprocess for a live run) into the
session's service; the UI's address and token come from its Status RPC, as
`mytrack ui` and `Run.url` get them.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import numpy as np
import pytest

import mytrack
from mytrack._internal.transport import launcher, webui
from tests.helpers import wait_for

QUIET = mytrack.Settings(quiet=True)


pytestmark = pytest.mark.usefixtures("no_current_run")


@pytest.fixture
def web() -> webui.WebAddress:
    """The session service's UI address and token (the service is started if needed)."""
    client = launcher.connect(os.environ["MYTRACK_DIR"])
    try:
        address = webui.web_address(client)
    finally:
        client.close()
    assert address is not None, "the service serves no web UI"
    return address


class Reply:
    def __init__(self, status: int, headers: Any, body: bytes) -> None:
        self.status, self.headers, self.body = status, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


def call(web: webui.WebAddress, path: str, *, token: bool = True, method: str = "GET",
         body: Any = None, headers: dict[str, str] | None = None) -> Reply:
    """One HTTP request to the UI; the token in the X-Mytrack-Token header unless token=False."""
    sent = dict(headers or {})
    if token:
        sent.setdefault("X-Mytrack-Token", web.token)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent.setdefault("Content-Type", "application/json")
    request = urllib.request.Request(web.base + path, data=data, headers=sent, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return Reply(reply.status, reply.headers, reply.read())
    except urllib.error.HTTPError as exc:
        return Reply(exc.code, exc.headers, exc.read())


def own_origin(web: webui.WebAddress) -> dict[str, str]:
    return {"Origin": web.base}


def run_api(run: Any) -> str:
    return f"/api/runs/{quote(run.entity)}/{quote(run.project)}/{run.id}"


def test_requests_without_the_token_get_401_and_static_assets_need_none(web: webui.WebAddress) -> None:
    """No token, or a wrong one, gives 401 on pages and API alike; the scripts and styles are public."""
    assert call(web, "/api/projects", token=False).status == 401
    assert call(web, "/", token=False).status == 401
    assert call(web, "/api/projects", token=False, headers={"X-Mytrack-Token": "nope"}).status == 401
    assert call(web, "/?token=wrong", token=False).status == 401
    assert call(web, "/api/projects").status == 200
    script = call(web, "/static/app.js", token=False)
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert call(web, "/static/../server.py", token=False).status in (401, 404)


def test_token_in_the_address_sets_a_cookie_that_keeps_access(web: webui.WebAddress) -> None:
    """GET /?token=T answers the page and sets an HttpOnly SameSite=Strict cookie with which later requests get in."""
    first = call(web, f"/?token={web.token}", token=False)
    assert first.status == 200 and b'name="mytrack-token"' in first.body
    cookie = first.headers["Set-Cookie"]
    name_value = cookie.split(";", 1)[0]
    port = urlsplit(web.base).port
    assert name_value == f"mytrack_token_{port}={web.token}"
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    later = call(web, "/api/projects", token=False, headers={"Cookie": name_value})
    assert later.status == 200 and isinstance(later.json(), list)
    assert call(web, "/api/projects", token=False,
                headers={"Cookie": f"mytrack_token_{port}=stale"}).status == 401


def test_posts_need_an_origin_that_is_the_servers_own(web: webui.WebAddress, project: str) -> None:
    """A POST with the token but no Origin, a foreign Origin or a non-loopback Host is refused with 403; the own origin
    passes."""
    with mytrack.init(project=project, settings=QUIET) as run:
        pass
    path = run_api(run) + "/notes"
    body = {"notes": "x"}
    assert call(web, path, method="POST", body=body).status == 403
    assert call(web, path, method="POST", body=body, headers={"Origin": "http://evil.example"}).status == 403
    host = urlsplit(web.base).netloc
    rebound = {"Origin": f"http://evil.example:{urlsplit(web.base).port}",
               "Host": f"evil.example:{urlsplit(web.base).port}"}
    assert call(web, path, method="POST", body=body, headers=rebound).status == 403
    assert call(web, path, method="POST", body=body,
                headers={"Referer": f"http://{host}/a/b"}).status == 200  # no Origin: the Referer counts
    ok = call(web, path, method="POST", body={"notes": "from the UI"}, headers=own_origin(web))
    assert ok.status == 200 and ok.json() == {"notes": "from the UI"}
    form = call(web, path, method="POST", body=body, headers={**own_origin(web), "Content-Type": "text/plain"})
    assert form.status == 415


def test_projects_runs_table_and_run_endpoints_return_the_logged_data(web: webui.WebAddress, project: str) -> None:
    """/api/projects counts the runs; the runs table filters, searches, sorts and pages; the run endpoint has overview,
    config, summary and charts."""
    paths = []
    for i, lr in enumerate((0.1, 0.01, 0.001)):
        # Hex ids hold no "r", so the search for "R1" below can only match a name.
        run = mytrack.init(project=project, name=f"r{i}", id=f"{i}{uuid.uuid4().hex[:8]}",
                           config={"lr": lr, "opt": {"name": "adam"}},
                           group="g" if i < 2 else "", tags=["even"] if i % 2 == 0 else ["odd"], settings=QUIET)
        run.define_metric("epoch")
        run.define_metric("val/*", step_metric="epoch")
        run.define_metric("debug", hidden=True)
        for step in range(10):
            run.log({"train/loss": 1.0 / (step + 1) + i, "debug": step,
                     **({"epoch": step // 5, "val/acc": step / 10} if step % 5 == 4 else {})})
        run.finish()
        paths.append(run)
    projects = {(p["entity"], p["project"]): p for p in call(web, "/api/projects").json()}
    entity = paths[0].entity
    assert projects[(entity, project)]["run_count"] == 3
    table_path = f"/api/projects/{quote(entity)}/{quote(project)}/runs"
    table = call(web, table_path).json()
    assert table["total"] == 3 and [r["name"] for r in table["runs"]] == ["r2", "r1", "r0"]  # newest first
    assert table["runs"][2]["config"] == {"lr": 0.1, "opt.name": "adam"}
    assert table["runs"][2]["summary"]["train/loss"] == pytest.approx(0.1)
    assert table["columns"]["config"] == ["lr", "opt.name"]
    assert {"train/loss", "epoch", "val/acc"} <= set(table["columns"]["summary"])
    assert table["runs"][0]["state"] == "finished" and table["runs"][0]["user"]

    def names(**query: str) -> list[str]:
        reply = call(web, f"{table_path}?{urlencode(query)}")
        assert reply.status == 200, reply.body
        return [r["name"] for r in reply.json()["runs"]]

    assert names(filters=json.dumps({"config.lr": {"$lt": 0.05}}), sort="config.lr") == ["r2", "r1"]
    assert names(sort="-summary.train/loss") == ["r2", "r1", "r0"]
    assert names(sort="name") == ["r0", "r1", "r2"]
    assert names(search="R1") == ["r1"]
    assert names(tags="odd") == ["r1"]
    assert names(group="g", sort="name") == ["r0", "r1"]
    assert names(state="failed") == []
    paged = call(web, f"{table_path}?limit=1&offset=1&sort=name").json()
    assert (paged["total"], [r["name"] for r in paged["runs"]]) == (3, ["r1"])
    grouped = call(web, f"{table_path}?group_by=group&sort=name").json()
    assert [r["name"] for r in grouped["runs"]] == ["r0", "r1", "r2"]
    assert {g["group"]: g["count"] for g in grouped["groups"]} == {"g": 2, "": 1}
    assert call(web, f"{table_path}?filters=%7Bbad").status == 400
    assert call(web, f"{table_path}?sort=nonsense").status == 400

    detail = call(web, run_api(paths[0])).json()
    assert detail["run"]["name"] == "r0" and detail["run"]["state"] == "finished"
    assert detail["run"]["tags"] == ["even"] and detail["run"]["group"] == "g"
    assert detail["run"]["last_step"] == 9 and detail["run"]["live"] is False
    assert detail["config"] == {"lr": 0.1, "opt": {"name": "adam"}}
    assert detail["summary"]["train/loss"] == pytest.approx(0.1)
    charts = {c["key"]: c for c in detail["charts"]}
    assert set(charts) == {"train/loss", "debug", "epoch", "val/acc"}
    assert charts["val/acc"] == {"key": "val/acc", "section": "val", "hidden": False, "step_metric": "epoch"}
    assert charts["debug"]["hidden"] is True and charts["train/loss"]["section"] == "train"
    assert {m["name"] for m in detail["metrics"]} == {"epoch", "val/*", "debug"}
    assert call(web, "/api/runs/nobody/nothing/none").status == 404


def test_downsampling_keeps_the_extremes_and_zooming_gives_exact_points(web: webui.WebAddress, project: str) -> None:
    """20,000 steps come back as at most 2,000 points holding the one-step spike and dip; a 1,000-step range comes back
    exactly."""
    rng = np.random.default_rng(0)
    values = rng.normal(0.0, 1.0, 20_000)
    values[12_345] = 1000.0
    values[777] = -1000.0
    with mytrack.init(project=project, settings=QUIET) as run:
        for v in values:
            run.log({"loss": float(v)})
    whole = call(web, f"{run_api(run)}/history?key=loss").json()
    assert whole["total"] == 20_000 and whole["sampled"] is True
    assert len(whole["y"]) <= 2000 and whole["steps"] == sorted(set(whole["steps"]))
    points = dict(zip(whole["steps"], whole["y"], strict=True))
    assert max(whole["y"]) == 1000.0 and points[12_345] == 1000.0
    assert min(whole["y"]) == -1000.0 and points[777] == -1000.0
    assert all(points[s] == values[s] for s in whole["steps"])  # real points, never averaged
    zoomed = call(web, f"{run_api(run)}/history?key=loss&min_step=12000&max_step=12999").json()
    assert zoomed["sampled"] is False and zoomed["total"] == 1000
    assert zoomed["steps"] == list(range(12_000, 13_000))
    assert zoomed["y"] == [float(v) for v in values[12_000:13_000]]


def test_history_uses_the_step_metric_as_x_and_nan_as_gaps(web: webui.WebAddress, project: str) -> None:
    """With x=epoch each point carries the epoch of its row; NaN and infinities come back as nulls (valid JSON)."""
    with mytrack.init(project=project, settings=QUIET) as run:
        run.define_metric("val/loss", step_metric="epoch")
        for step in range(6):
            run.log({"epoch": step * 10, "val/loss": float("nan") if step == 2 else float(step)})
        run.log({"epoch": 60, "val/loss": float("inf")})
    reply = call(web, f"{run_api(run)}/history?key=val/loss&x=epoch")
    data = json.loads(reply.body)  # strict JSON: no NaN/Infinity literals
    assert data["x"] == "epoch" and data["steps"] == [0, 1, 2, 3, 4, 5, 6]
    assert data["xs"] == [0, 10, 20, 30, 40, 50, 60]
    assert data["y"] == [0.0, 1.0, None, 3.0, 4.0, 5.0, None]


def test_notes_and_tags_edited_in_the_ui_are_visible_through_the_api(web: webui.WebAddress, project: str) -> None:
    """POST notes and tags change the stored run: mytrack.Api sees the new notes and the cleaned tag list."""
    with mytrack.init(project=project, notes="before", tags=["x"], settings=QUIET) as run:
        run.log({"a": 1})
    notes = call(web, f"{run_api(run)}/notes", method="POST", body={"notes": "after: good run"},
                 headers=own_origin(web))
    tags = call(web, f"{run_api(run)}/tags", method="POST", body={"tags": ["best", " best ", "", "baseline"]},
                headers=own_origin(web))
    assert (notes.status, tags.status) == (200, 200)
    assert tags.json() == {"tags": ["best", "baseline"]}
    stored = mytrack.Api().run(run.path)
    assert stored.notes == "after: good run" and stored.tags == ["best", "baseline"]
    bad = call(web, f"{run_api(run)}/tags", method="POST", body={"tags": "best"}, headers=own_origin(web))
    assert bad.status == 400
    assert call(web, "/api/runs/a/b/c/notes", method="POST", body={"notes": ""},
                headers=own_origin(web)).status == 404


_LIVE_SCRIPT = """
import sys, time, mytrack
run = mytrack.init(project=sys.argv[1], settings=mytrack.Settings(quiet=True))
run.log({"i": 0})
print(run.path, flush=True)
for i in range(1, 600):
    run.log({"i": i})
    time.sleep(0.1)
print("NOT STOPPED", flush=True)
"""


def test_stop_from_the_ui_stops_a_live_run(web: webui.WebAddress, project: str, workdir: Path) -> None:
    """POST stop on a live run reaches its writer: the script is interrupted and the run ends killed."""
    process = subprocess.Popen([sys.executable, "-c", textwrap.dedent(_LIVE_SCRIPT), project], cwd=workdir,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        path = process.stdout.readline().strip()
        entity, proj, run_id = path.split("/")
        api_path = f"/api/runs/{quote(entity)}/{quote(proj)}/{run_id}"
        assert call(web, api_path).json()["run"]["live"] is True
        stop = call(web, f"{api_path}/stop", method="POST", body={}, headers=own_origin(web))
        assert stop.status == 200 and stop.json() == {"delivered": True, "state": "running"}
        out, err = process.communicate(timeout=30)
        assert "NOT STOPPED" not in out
        wait_for(lambda: mytrack.Api().run(path).state == "killed", timeout=15, message="the run to be killed")
        assert call(web, api_path).json()["run"]["live"] is False
        again = call(web, f"{api_path}/stop", method="POST", body={}, headers=own_origin(web)).json()
        assert again == {"delivered": False, "state": "killed"}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_media_files_preview_and_console_endpoints(web: webui.WebAddress, project: str, workdir: Path) -> None:
    """Image descriptors come back per step, the file downloads byte for byte (sandboxed), text files preview."""
    pixels = np.arange(8 * 8 * 3, dtype=np.uint8).reshape(8, 8, 3)
    with mytrack.init(project=project, settings=QUIET) as run:
        for step in range(3):
            run.log({"sample": mytrack.Image(pixels + step, caption=f"c{step}"), "x": step})
        notes = Path(run.dir) / "notes.txt"
        notes.write_text("hello\nworld\n")
        run.save(str(notes), base_path=run.dir)
    media = call(web, f"{run_api(run)}/media?key=sample").json()
    assert [s["step"] for s in media["steps"]] == [0, 1, 2]
    last = media["steps"][2]["value"]
    assert last["_type"] == "image-file" and last["caption"] == "c2"
    detail = call(web, run_api(run)).json()
    assert detail["media"] == [{"key": "sample", "type": "image-file", "section": ""}]
    assert [c["key"] for c in detail["charts"]] == ["x"]
    wait_for(lambda: all(f["digest"] for f in call(web, run_api(run)).json()["files"]), timeout=30,
             message="the files to be uploaded")
    image = call(web, f"{run_api(run)}/file?{urlencode({'name': last['path'], 'inline': '1'})}")
    assert image.status == 200 and image.headers["Content-Type"] == "image/png"
    assert hashlib.sha256(image.body).hexdigest() == last["sha256"]
    assert image.headers["Content-Disposition"].startswith("inline")
    assert "sandbox" in image.headers["Content-Security-Policy"]
    text = call(web, f"{run_api(run)}/file?name=notes.txt")
    assert text.body == b"hello\nworld\n" and text.headers["Content-Disposition"].startswith("attachment")
    preview = call(web, f"{run_api(run)}/preview?name=notes.txt").json()
    assert preview == {"name": "notes.txt", "size": 12, "binary": False, "truncated": False,
                       "text": "hello\nworld\n"}
    assert call(web, f"{run_api(run)}/file?name=../../etc/passwd").status == 400
    assert call(web, f"{run_api(run)}/file?name=missing.txt").status == 404
    console = call(web, f"{run_api(run)}/console").json()
    assert isinstance(console["lines"], list)


def test_run_url_carries_the_token_and_opens_the_run_page(web: webui.WebAddress, project: str) -> None:
    """run.url, project_url and `mytrack ui` use the service's UI address with ?token=, and each opens a real page."""
    with mytrack.init(project=project, settings=QUIET) as run:
        url, project_url = run.url, run.project_url
    assert url == f"{web.base}/{quote(run.entity)}/{quote(project)}/runs/{run.id}?token={web.token}"
    assert project_url == f"{web.base}/{quote(run.entity)}/{quote(project)}?token={web.token}"
    for address in (url, project_url):
        with urllib.request.urlopen(address, timeout=30) as reply:
            page = reply.read()
        assert reply.status == 200 and b"/static/app.js" in page
    cli = subprocess.run([sys.executable, "-m", "mytrack.cli", "ui", "--print"], capture_output=True, text=True,
                         timeout=60, check=False)
    assert cli.returncode == 0, cli.stderr
    assert cli.stdout.strip() == f"{web.base}/?token={web.token}"
    token_file = Path(os.environ["MYTRACK_DIR"]) / "web.token"
    assert token_file.read_text().strip() == web.token
    assert token_file.stat().st_mode & 0o777 == 0o600


def test_run_artifacts_endpoint_shows_lineage_both_ways(
    web: webui.WebAddress, project: str, workdir: Path
) -> None:
    """/api/runs/E/P/ID/artifacts lists what a run logged (with the runs that used it) and
    what it used (with the run that logged it)."""
    (workdir / "data.txt").write_text("rows\n")
    maker = mytrack.init(project=project, settings=mytrack.Settings(quiet=True))
    art = mytrack.Artifact("dataset", "dataset")
    art.add_file(str(workdir / "data.txt"))
    maker.log_artifact(art, aliases=["best"])
    art.wait()
    maker.finish()
    user = mytrack.init(project=project, settings=mytrack.Settings(quiet=True))
    user.use_artifact("dataset:best")
    user.finish()
    logged = call(web, f"/api/runs/{maker.path}/artifacts").json()
    assert [(a["name"], a["version"], a["type"]) for a in logged["logged"]] == [
        ("dataset", "v0", "dataset")
    ]
    assert "best" in logged["logged"][0]["aliases"]
    assert logged["logged"][0]["used_by"] == [user.path]
    assert logged["used"] == []
    used = call(web, f"/api/runs/{user.path}/artifacts").json()
    assert [(a["name"], a["version"], a["created_by"]) for a in used["used"]] == [
        ("dataset", "v0", maker.path)
    ]
