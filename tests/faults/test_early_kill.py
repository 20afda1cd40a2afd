"""A returned log() survives a kill -9 of the training process a few ms later, whatever the moment.

Each test uses a fresh service home so that the session's service is never
part of the fault; the service is stopped at the end.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import mytrack
from tests.conftest import stop_service, wait_for

KILLED_AFTER_INIT = """
    import json, os, signal, sys, time
    import mytrack
    run = mytrack.init(project=sys.argv[1], settings=mytrack.Settings(console="off", quiet=True))
    print(json.dumps({"path": run.path}), flush=True)
    if sys.argv[3] == "late":
        time.sleep(1.0)  # the stream is long open and the sender idle
    for step in range(int(sys.argv[2])):
        run.log({"step_value": step})
    time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "home"
    yield path
    stop_service(path)


def _killed_run(home: Path, workdir: Path, project: str, steps: int, moment: str) -> list[int]:
    env = {**os.environ, "MYTRACK_DIR": str(home), "MYTRACK_SILENT": "true"}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(KILLED_AFTER_INIT), project, str(steps), moment],
        cwd=workdir, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == -signal.SIGKILL, result.stderr
    path = json.loads(result.stdout.strip().splitlines()[0])["path"]
    api = mytrack.Api(settings=mytrack.Settings(service_dir=str(home)))
    # The service ends the vanished writer as crashed once its WAL is applied.
    wait_for(lambda: api.run(path).state == "crashed", timeout=60)
    return [row["step_value"] for row in api.run(path).history(pandas=False)]


@pytest.mark.parametrize("moment", ["early", "late"])
def test_logs_right_after_init_survive_kill_9(home: Path, workdir: Path, project: str, moment: str) -> None:
    """100 steps logged right after init() (or after an idle second), then kill -9 50 ms later: all 100 read back."""
    assert _killed_run(home, workdir, project, 100, moment) == list(range(100))
