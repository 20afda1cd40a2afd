"""Secrets at rest: owner-only run folders, redacted command lines, config hidden in the UI only."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import mytrack
from mytrack._internal.transport import launcher, webui

SCRIPT = """
import sys
import mytrack
run = mytrack.init(project=sys.argv[1], config={"lr": 0.1, "db": {"password": "pw-in-config"},
                   "hf_token": "hf_config"}, settings=mytrack.Settings(console="off"))
run.log({"x": 1})
run.finish()
print(run.path)
print(run.dir)
"""

ARGS = ["--password=hunter2", "--lr", "0.1", "--api-key", "abc123", "HF_TOKEN=hf_argv"]


def _run(cwd: Path, project: str, **env: str) -> tuple[Any, Path]:
    (cwd / "train.py").write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, "train.py", project, *ARGS], cwd=cwd, text=True,
        capture_output=True, timeout=120, env={**os.environ, "MYTRACK_SILENT": "true", **env},
    )
    assert result.returncode == 0, result.stderr
    path, files = result.stdout.strip().splitlines()[-2:]
    return mytrack.Api().run(path), Path(files).parent


def _ui(route: str) -> Any:
    """GET one route of the session service's web UI, with its token."""
    client = launcher.connect(os.environ["MYTRACK_DIR"])
    try:
        web = webui.web_address(client)
    finally:
        client.close()
    assert web is not None
    request = urllib.request.Request(f"{web.base}{route}", headers={"X-Mytrack-Token": web.token})
    with urllib.request.urlopen(request, timeout=30) as reply:
        return json.loads(reply.read())


def _ui_config(path: str) -> Any:
    return _ui(f"/api/runs/{path}")


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_run_folder_and_its_config_files_are_owner_only(workdir: Path, project: str) -> None:
    """The run folder is 0700; the .open file (the whole config) and the WAL are 0600."""
    run, folder = _run(workdir, project)
    assert _mode(folder) == 0o700
    opens = list(folder.glob("run-*.open"))
    wals = list(folder.glob("run-*.wal"))
    assert opens and wals
    assert {_mode(p) for p in opens + wals} == {0o600}
    assert run.config["lr"] == 0.1


def test_argv_redacted_by_default_config_verbatim_and_hidden_in_ui(workdir: Path, project: str) -> None:
    """Secret-looking argv values are stored as ***; config is stored verbatim, shown as *** in the UI."""
    run, _ = _run(workdir, project)
    argv = run.metadata["argv"]
    assert argv[2:] == ["--password=***", "--lr", "0.1", "--api-key", "***", "HF_TOKEN=***"]
    assert "hunter2" not in json.dumps(run.metadata) and "abc123" not in json.dumps(run.metadata)
    assert run.metadata["redact_secrets"] is True
    assert run.config["db"]["password"] == "pw-in-config" and run.config["hf_token"] == "hf_config"
    detail = _ui_config(run.path)
    assert detail["config"] == {"lr": 0.1, "db": {"password": "***"}, "hf_token": "***"}
    assert "hunter2" not in detail["run"]["command"] and "***" in detail["run"]["command"]
    table = _ui_table(run.path)
    assert table["config"]["db.password"] == "***" and table["config"]["lr"] == 0.1


def test_opting_out_keeps_everything_verbatim(workdir: Path, project: str) -> None:
    """MYTRACK_REDACT_SECRETS=false: argv stored as given and config shown as logged."""
    run, _ = _run(workdir, project, MYTRACK_REDACT_SECRETS="false")
    assert run.metadata["argv"][2:] == ARGS
    assert run.metadata["redact_secrets"] is False
    detail = _ui_config(run.path)
    assert detail["config"]["db"] == {"password": "pw-in-config"}


def _ui_table(path: str) -> Any:
    """The run's row in its project's runs table."""
    entity, project, run_id = path.split("/")
    rows = _ui(f"/api/projects/{entity}/{project}/runs")["runs"]
    (row,) = [r for r in rows if r["id"] == run_id]
    return row
