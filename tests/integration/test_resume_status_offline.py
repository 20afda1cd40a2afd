"""Resume, run.status() and offline mode + ``mytrack sync``, against the real service.

Resume and offline scripts run in fresh interpreters (subprocesses, in the
test's workdir); status() runs in-process. Offline scripts get a brand-new
MYTRACK_DIR so that any contact with a service would leave a trace there;
``mytrack sync`` then uploads into the session's service.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack import errors
from mytrack._internal.lifecycle import environment
from mytrack_common.address import service_address
from tests.helpers import wait_for

QUIET = mytrack.Settings(quiet=True)
META = ("_runtime", "_timestamp")


pytestmark = pytest.mark.usefixtures("no_current_run")


def api_run(path: str) -> Any:
    return mytrack.Api().run(path)


def full_rows(path: str) -> list[dict[str, Any]]:
    return list(api_run(path).scan_history())


def rows(path: str) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k not in META} for r in full_rows(path)]


def without_meta(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if k not in META}


# Scripts report through a file, not stdout: console capture forwards stdout from
# a thread, so a line printed just before SIGKILL may never arrive.
REPORT = """
import json, os
def report(**fields):
    with open(os.environ["REPORT_FILE"], "a") as f:
        f.write(json.dumps(fields) + "\\n")
"""


def reports(path: Path) -> list[dict[str, Any]]:
    text = path.read_text() if path.exists() else ""
    return [json.loads(line) for line in text.split("\n")[:-1]]


def python(code: str, *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
           expect: int = 0) -> dict[str, Any]:
    """Runs a script to its end; returns the first thing it reported."""
    report_file = Path.cwd() / f"report-{uuid.uuid4().hex}.jsonl"
    result = subprocess.run(
        [sys.executable, "-c", REPORT + textwrap.dedent(code), *args], cwd=cwd,
        env={**os.environ, **(env or {}), "REPORT_FILE": str(report_file)},
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == expect, f"exit {result.returncode}:\n{result.stderr}"
    lines = reports(report_file)
    assert lines, f"the script reported nothing:\n{result.stdout}\n{result.stderr}"
    return lines[0]


def cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "mytrack.cli", *args],
                            capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, f"{args}: {result.stdout}\n{result.stderr}"
    return result


# -- resume --------------------------------------------------------------------------

FIRST_LIFE = """
import json, os, signal, sys, mytrack
run = mytrack.init(project=sys.argv[1], id=sys.argv[2], name="first-life", tags=["t1", "t2"],
                   notes="the notes", config={"lr": 0.1, "arch": {"depth": 3}})
for i in range(10):
    run.log({"i": i, "loss": 1.0 / (i + 1)})
run.summary["best"] = 0.5
report(path=run.path)
if sys.argv[3] == "kill -9":
    assert run._sender.flush(30)
    os.kill(os.getpid(), signal.SIGKILL)
run.finish()
"""

SECOND_LIFE = """
import json, sys, mytrack
run = mytrack.init(project=sys.argv[1], id=sys.argv[2], resume="allow", config={"epochs": 3})
seen = {
    "resumed": run.resumed, "config": dict(run.config), "summary": dict(run.summary),
    "name": run.name, "tags": list(run.tags), "notes": run.notes,
    "state": mytrack.Api().run(run.path).state,
}
for i in range(10, 15):
    run.log({"i": i, "loss": 1.0 / (i + 1)})
run.finish()
report(**seen)
"""


@pytest.mark.parametrize("first_end", ["finish", "kill -9"])
def test_resume_allow_continues_steps_runtime_config_summary_and_identity(
    project: str, first_end: str
) -> None:
    """init(id=..., resume="allow") in a new process continues at step 10 with config, summary, name, tags, notes and
    _runtime carried over."""
    run_id = "resume-" + ("finished" if first_end == "finish" else "crashed")
    killed = first_end == "kill -9"
    path = python(FIRST_LIFE, project, run_id, first_end,
                  expect=-signal.SIGKILL if killed else 0)["path"]
    if killed:
        wait_for(lambda: api_run(path).state == "crashed", timeout=30, message="crashed")
    else:
        assert api_run(path).state == "finished"
    old = full_rows(path)
    seen = python(SECOND_LIFE, project, run_id)
    assert seen["resumed"] is True
    assert seen["state"] == "running"  # a finished or crashed run runs again
    assert seen["config"] == {"lr": 0.1, "arch": {"depth": 3}, "epochs": 3}
    assert without_meta(seen["summary"]) == {"i": 9, "loss": 0.1, "best": 0.5, "_step": 9}
    assert (seen["name"], seen["tags"], seen["notes"]) == ("first-life", ["t1", "t2"], "the notes")
    stored = api_run(path)
    assert stored.state == "finished"
    assert stored.config == {"lr": 0.1, "arch": {"depth": 3}, "epochs": 3}
    assert without_meta(stored.summary) == {"i": 14, "loss": 1.0 / 15, "best": 0.5, "_step": 14}
    assert (stored.name, stored.tags, stored.notes) == ("first-life", ["t1", "t2"], "the notes")
    assert rows(path) == [{"i": i, "loss": 1.0 / (i + 1), "_step": i} for i in range(15)]
    new = full_rows(path)[10:]
    assert new[0]["_runtime"] >= old[-1]["_runtime"]
    assert [r["_runtime"] for r in new] == sorted(r["_runtime"] for r in new)


def test_resume_must_on_a_missing_run_raises_and_creates_nothing(project: str) -> None:
    """resume="must" with an unknown id raises ResumeError from init() and no run is created."""
    with pytest.raises(errors.ResumeError, match="does not exist"):
        mytrack.init(project=project, id="nosuchrun", resume="must", settings=QUIET)
    assert mytrack.run is None
    with pytest.raises(errors.RunNotFoundError):
        api_run(f"{project}/nosuchrun")
    assert mytrack.Api().runs(project) == []


def test_resume_never_on_an_existing_run_raises_and_sends_nothing(project: str) -> None:
    """resume="never" with an existing id raises ResumeError and leaves that run's state, config and history
    untouched."""
    run = mytrack.init(project=project, id="takenid", config={"a": 1}, settings=QUIET)
    run.log({"x": 1})
    run.finish()
    with pytest.raises(errors.ResumeError, match="already exists"):
        mytrack.init(project=project, id="takenid", resume="never", config={"a": 2},
                     settings=QUIET)
    assert mytrack.run is None
    stored = api_run(run.path)
    assert (stored.state, stored.config) == ("finished", {"a": 1})
    assert rows(run.path) == [{"x": 1, "_step": 0}]


AUTO_SCRIPT = """
import json, os, signal, sys, mytrack
run = mytrack.init(project=sys.argv[1], resume="auto")
report(path=run.path, resumed=run.resumed)
for i in range(5):
    run.log({"n": i})
if sys.argv[2] == "kill -9":
    assert run._sender.flush(30)
    os.kill(os.getpid(), signal.SIGKILL)
run.finish()
"""


def test_resume_auto_resumes_a_crashed_run_and_starts_anew_after_a_clean_finish(
    project: str, workdir: Path
) -> None:
    """resume="auto" from the same folder resumes the run that crashed there, and starts a new run once that one
    finished cleanly."""

    def start(end: str) -> dict[str, Any]:
        return python(AUTO_SCRIPT, project, end, cwd=workdir,
                      expect=-signal.SIGKILL if end == "kill -9" else 0)

    first = start("kill -9")
    assert first["resumed"] is False
    wait_for(lambda: api_run(first["path"]).state == "crashed", timeout=30, message="crashed")
    second = start("finish")
    assert second == {"path": first["path"], "resumed": True}
    assert api_run(first["path"]).state == "finished"
    assert rows(first["path"]) == [{"n": i % 5, "_step": i} for i in range(10)]
    third = start("finish")
    assert third["resumed"] is False
    assert third["path"] != first["path"]
    assert rows(third["path"]) == [{"n": i, "_step": i} for i in range(5)]


def test_only_resume_auto_writes_the_resume_file(project: str, workdir: Path) -> None:
    """init() writes mytrack/resume.json only for resume="auto" (as W&B does); its clean finish removes it."""
    resume_file = workdir / "mytrack-runs" / "resume.json"
    plain = mytrack.init(project=project, settings=QUIET)
    assert (workdir / "mytrack-runs").is_dir() and not resume_file.exists()
    plain.finish()
    auto = mytrack.init(project=project, resume="auto", settings=QUIET)
    assert json.loads(resume_file.read_text()) == {
        "entity": auto.entity, "project": project, "run_id": auto.id,
    }
    later = mytrack.init(project=project, settings=QUIET, reinit="create_new")
    assert json.loads(resume_file.read_text())["run_id"] == auto.id  # a plain run leaves it
    later.finish()
    auto.finish()
    assert not resume_file.exists()


# -- status() -----------------------------------------------------------------------------


def test_status_counts_are_real_and_pending_reaches_zero(project: str) -> None:
    """status() reports real sent/acked/applied counts: everything applied after a flush, nothing pending after finish,
    no error."""
    run = mytrack.init(project=project, settings=QUIET)
    environment.settle(run)  # its files are queued now, not in the middle of the checks below
    for i in range(5000):
        run.log({"a": i, "b": i * 0.5})
    during = run.status()
    assert during.sync_items_total + during.queued_calls >= 1
    # (an ack may still be on its way while the service already applied the record)
    assert max(during.records_applied, during.records_acked) <= during.sync_items_total
    assert run._sender.flush(30)

    def all_synced() -> bool:
        # Files the SDK saves by itself (metadata, console output) may still be uploading.
        status = run.status()
        return status.sync_items_pending == 0 and status.files_pending == 0

    wait_for(all_synced, timeout=10, message="every record applied and every file uploaded")
    flushed = run.status()
    assert flushed.sync_items_total >= 1
    assert flushed.records_applied == flushed.records_acked == flushed.sync_items_total
    assert (flushed.queued_calls, flushed.files_pending, flushed.bytes_pending) == (0, 0, 0)
    assert flushed.sync_time is not None
    assert flushed.last_error == ""
    # The applied count is the store's: every row is readable now.
    assert len(full_rows(run.path)) == 5000
    run.finish()
    done = run.status()
    assert done.sync_items_pending == 0
    assert done.sync_items_total > flushed.sync_items_total  # the exit record
    assert done.records_applied == done.records_acked == done.sync_items_total
    assert done.last_error == ""


def test_status_counts_queued_log_calls_as_pending(project: str) -> None:
    """Right after log() calls that the sender has not taken yet, status() reports them pending, never "all synced"."""
    run = mytrack.init(project=project, settings=QUIET)
    try:
        # Holding the sender's condition keeps its thread from taking the queue, so
        # the calls are certainly still queued while status() is asked.
        with run._sender._cond:
            for i in range(5000):
                run.log({"a": i})
            status = run.status()
        assert status.queued_calls >= 1
        assert status.sync_items_pending >= 1, status
    finally:
        run.finish()


# -- offline mode and sync --------------------------------------------------------------

SAME_SCRIPT = """
import json, os, sys, mytrack
run = mytrack.init(project=sys.argv[1], mode=sys.argv[2], name="same-" + sys.argv[2],
                   tags=["x"], notes="n", config={"lr": 0.01, "layers": [64, 32]})
for i in range(30):
    run.log({"loss": 1.0 / (i + 1), "acc": {"top1": i / 30}, "tag": "s%d" % i})
    if i % 10 == 9:
        run.log({"val": i}, commit=False)
run.summary["best"] = 7
report(path=run.path, dir=run.dir, offline=run.offline, url=run.url)
run.finish()
"""


def run_same(project: str, mode: str, home: Path | None = None,
             cwd: Path | None = None) -> dict[str, Any]:
    env = {} if home is None else {"MYTRACK_DIR": str(home)}
    out = python(SAME_SCRIPT, project, mode, cwd=cwd, env=env)
    out["folder"] = str(run_folder(cwd or Path.cwd(), out["path"]))
    return out


def run_folder(cwd: Path, path: str) -> Path:
    """The run folder: ``<cwd>/mytrack-runs/run-<YYYYmmdd_HHMMSS>-<id>/``."""
    run_id = path.rsplit("/", 1)[1]
    (folder,) = (cwd / "mytrack-runs").glob(f"run-*-{run_id}")
    return folder


def assert_no_service_trace(home: Path) -> None:
    address = service_address(str(home))
    for path in (address.socket, address.pid, address.lock, address.log):
        assert not os.path.exists(path), path


def test_offline_run_writes_only_its_run_folder(project: str, tmp_path: Path) -> None:
    """init(mode="offline") contacts no service (no socket, pid or log appears in MYTRACK_DIR), sets offline and
    url=None, and leaves a WAL in the run folder."""
    home = tmp_path / "offline-home"
    out = run_same(project, "offline", home=home)
    assert (out["offline"], out["url"]) == (True, None)
    assert_no_service_trace(home)
    folder = Path(out["folder"])
    assert Path(out["dir"]).is_relative_to(folder)  # run.dir: the run's files, inside it
    run_id = out["path"].rsplit("/", 1)[1]
    assert len(list(folder.glob(f"run-{run_id}-*.wal"))) == 1
    assert len(list(folder.glob(f"run-{run_id}-*.open"))) == 1
    with pytest.raises(errors.RunNotFoundError):
        api_run(out["path"])


def test_synced_offline_run_equals_the_online_run_and_syncing_twice_changes_nothing(
    project: str, tmp_path: Path
) -> None:
    """`mytrack sync FOLDER` uploads an offline run equal to the online run of the same script (rows, summary, config,
    state, name, tags, notes); a second sync changes nothing."""
    online = run_same(project, "online")
    assert (online["offline"], online["url"] is not None) == (False, True)
    offline = run_same(project, "offline", home=tmp_path / "offline-home")
    assert_no_service_trace(tmp_path / "offline-home")
    first = cli("sync", offline["folder"])
    assert "record(s) synced" in first.stdout and "1 writer(s) synced" in first.stdout
    wait_for(lambda: api_run(offline["path"]).state == "finished", timeout=30, message="finished")
    synced, live = api_run(offline["path"]), api_run(online["path"])
    synced_rows = full_rows(offline["path"])
    assert rows(offline["path"]) == rows(online["path"])
    assert len(synced_rows) == 31  # the last commit=False row is committed at finish
    assert without_meta(synced.summary) == without_meta(live.summary)
    assert without_meta(synced.summary)["best"] == 7
    assert synced.config == live.config == {"lr": 0.01, "layers": [64, 32]}
    assert (synced.state, synced.exit_code) == (live.state, live.exit_code) == ("finished", 0)
    assert (synced.name, synced.tags, synced.notes) == ("same-offline", ["x"], "n")
    assert (live.name, live.tags, live.notes) == ("same-online", ["x"], "n")
    cli("sync", offline["folder"])
    again = api_run(offline["path"])
    assert full_rows(offline["path"]) == synced_rows
    assert again.summary == synced.summary
    assert (again.state, again.config, again.last_step) == ("finished", synced.config, 30)


def test_sync_dir_finds_offline_runs_only_with_include_offline(
    project: str, tmp_path: Path
) -> None:
    """`mytrack sync --dir D` skips offline runs; with --include-offline it finds and uploads them."""
    root = tmp_path / "experiments"
    root.mkdir()
    out = run_same(project, "offline", home=tmp_path / "offline-home", cwd=root)
    skipped = cli("sync", "--dir", str(root))
    assert "0 writer(s) synced" in skipped.stdout
    with pytest.raises(errors.RunNotFoundError):
        api_run(out["path"])
    found = cli("sync", "--dir", str(root), "--include-offline")
    assert "1 writer(s) synced" in found.stdout
    wait_for(lambda: api_run(out["path"]).state == "finished", timeout=30, message="finished")
    assert len(rows(out["path"])) == 31


CRASHING_OFFLINE = """
import json, sys, time, mytrack
run = mytrack.init(project=sys.argv[1], mode="offline")
for i in range(1000):
    run.log({"i": i})
assert run._sender.flush(30)
report(path=run.path)
i = 1000
while True:  # killed -9 by the test
    run.log({"i": i})
    i += 1
    time.sleep(0.001)
"""


def test_crashed_offline_run_syncs_everything_it_wrote(project: str, tmp_path: Path) -> None:
    """An offline run killed -9 mid-way syncs every row its WAL holds (a contiguous prefix of at least the flushed
    1,000) and ends crashed."""
    report_file = tmp_path / "report.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", REPORT + textwrap.dedent(CRASHING_OFFLINE), project],
        env={**os.environ, "MYTRACK_DIR": str(tmp_path / "offline-home"),
             "REPORT_FILE": str(report_file)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        wait_for(lambda: reports(report_file) or process.poll() is not None, timeout=30,
                 message="the offline script to flush 1,000 rows")
        assert reports(report_file), process.communicate()[1]
    finally:
        process.kill()
        process.communicate()
    out = reports(report_file)[0]
    out["folder"] = str(run_folder(Path.cwd(), out["path"]))
    assert_no_service_trace(tmp_path / "offline-home")
    cli("sync", out["folder"])
    wait_for(lambda: api_run(out["path"]).state == "crashed", timeout=30, message="crashed")
    stored = rows(out["path"])
    assert len(stored) >= 1000
    assert stored == [{"i": s, "_step": s} for s in range(len(stored))]
    cli("sync", out["folder"])
    assert rows(out["path"]) == stored


def test_offline_summary_can_be_read_back(project: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading run.summary of an offline run returns what was set, instead of failing."""
    monkeypatch.setenv("MYTRACK_DIR", str(tmp_path / "offline-home"))
    run = mytrack.init(project=project, mode="offline", settings=QUIET)
    try:
        run.summary["best"] = 7
        assert run.summary["best"] == 7
    finally:
        run.finish()
