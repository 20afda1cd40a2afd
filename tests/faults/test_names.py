"""Entity, project and run-id rules (W&B's, strict where a name becomes a path),
checked by the SDK at the call and again by the service for any client."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import mytrack
from mytrack import errors
from mytrack._internal.transport.service_types import OpenRun, RunKey
from mytrack_common.names import new_run_id, new_writer_id

QUIET = mytrack.Settings(quiet=True)
BAD_PROJECTS = ["a/b", "../x", "", "a\x00b", "a\\b", "q?x", "p#1", "50%", "c:d", ".", "..",
                " padded", "x" * 129, "new\nline", "\udcff"]
BAD_RUN_IDS = ["abc\n", ".", "..", "", "a/b", "a b", "x" * 129, "\udcff", "a\x00"]


@pytest.fixture(autouse=True)
def _no_current_run(workdir: Path) -> Iterator[None]:
    mytrack.finish()
    yield
    mytrack.finish()


@pytest.mark.parametrize("project", BAD_PROJECTS)
def test_init_refuses_a_bad_project_or_entity_naming_it(project: str, workdir: Path) -> None:
    with pytest.raises(errors.InvalidValueError, match="project"):
        mytrack.init(project=project, settings=QUIET)
    with pytest.raises(errors.InvalidValueError, match="entity"):
        mytrack.init(entity=project, project="fine", settings=QUIET)
    assert not list(workdir.glob("mytrack*/run-*"))  # no run folder made (mytrack-runs/, or an old mytrack/)


@pytest.mark.parametrize("run_id", BAD_RUN_IDS)
def test_init_refuses_a_bad_run_id_naming_it(run_id: str) -> None:
    with pytest.raises(errors.InvalidValueError, match="run_id|id "):
        mytrack.init(project="fine", id=run_id, settings=QUIET)


def test_environment_variables_follow_the_same_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYTRACK_PROJECT", "../x")
    with pytest.raises(errors.InvalidValueError, match="MYTRACK_PROJECT"):
        mytrack.init(settings=QUIET)


def test_good_names_open_runs_that_read_back(project: str) -> None:
    """Dots, dashes, spaces inside, Unicode: accepted and read back equal."""
    run = mytrack.init(project=f"{project} ünï.v2", id="run.id-1_a", settings=QUIET)
    run.log({"x": 1})
    run.finish()
    api_run = mytrack.Api().run(f"{run.entity}/{project} ünï.v2/run.id-1_a")
    assert (api_run.project, api_run.id) == (f"{project} ünï.v2", "run.id-1_a")


@pytest.mark.parametrize("path", ["e/p/..", "e/../x", "e/p\x00/r", "e/p/r\n", "e/p:/r"])
def test_api_paths_follow_the_rules(path: str) -> None:
    with pytest.raises(errors.InvalidValueError):
        mytrack.Api().run(path)


@pytest.mark.parametrize("path", ["e/p?", "e\x00/p", "../p"])
def test_api_project_paths_follow_the_rules(path: str) -> None:
    with pytest.raises(errors.InvalidValueError):
        mytrack.Api().runs(path)


def _gone_pid() -> int:
    """The pid of a process that has exited: the service ends such a run as crashed."""
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def _open(tmp_path: Path, **changes: object) -> OpenRun:
    fields: dict[str, object] = dict(
        run=RunKey(entity="someone", project="raw-open", run_id=new_run_id()),
        writer_id=new_writer_id(), run_dir=str(tmp_path), pid=_gone_pid(), host=socket.gethostname(),
        start_time=time.time(),
    )
    fields.update(changes)
    return OpenRun(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("changes, named", [
    ({"writer_id": "../../evil"}, "writer id"),
    ({"writer_id": "ABCDEF0123456789"}, "writer id"),
    ({"run_dir": "relative/dir"}, "run_dir"),
    ({"run_dir": "/tmp/../etc"}, "run_dir"),
    ({"run_dir": "/nonexistent/folder/for/sure"}, "run_dir"),
    ({"run": RunKey(entity="someone", project="a/b", run_id="abc")}, "project"),
    ({"run": RunKey(entity="", project="p", run_id="abc")}, "entity"),
    ({"run": RunKey(entity="e", project="p", run_id="..")}, "run id"),
    ({"adopt_wal": "/etc/passwd"}, "adopt_wal"),
])
def test_service_refuses_a_raw_open_run_that_breaks_a_rule(
    changes: dict[str, object], named: str, tmp_path: Path
) -> None:
    """Another client, past the SDK: INVALID_ARGUMENT naming the field; nothing is written."""
    client = mytrack.Api()._rpc()
    with pytest.raises(errors.InvalidValueError, match=named):
        client.open_run(_open(tmp_path, **changes))
    assert list(tmp_path.iterdir()) == []


def test_service_accepts_a_raw_open_run_that_follows_the_rules(tmp_path: Path) -> None:
    reply = mytrack.Api()._rpc().open_run(_open(tmp_path))
    assert reply.wal_path.startswith(str(tmp_path)) and reply.run.state == "running"


def test_service_refuses_a_raw_open_run_whose_config_is_not_valid_unicode(tmp_path: Path) -> None:
    with pytest.raises(errors.InvalidValueError, match="config"):
        mytrack.Api()._rpc().open_run(_open(tmp_path, config_json=b'{"k\\udcff": 1}'))
