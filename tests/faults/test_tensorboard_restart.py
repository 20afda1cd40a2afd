"""TensorBoard sync across a kill -9 of the service: the event files' positions commit with the rows."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

import mytrack
from tests.helpers import pid_alive, service_pid, stop_home, wait_for

torch_tb = pytest.importorskip("torch.utils.tensorboard")


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workdir: Path) -> Iterator[Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("MYTRACK_DIR", str(home))
    mytrack.finish()
    yield home
    mytrack.finish()
    mytrack.tensorboard.unpatch()
    stop_home(home)


def test_kill_9_of_the_service_mid_run_loses_nothing(own_home: Path, workdir: Path) -> None:
    """Events applied before a kill -9 of the service stay, and events written while no service
    ran are read by the next one (from the committed position): every step once, with its value."""
    run = mytrack.init(project="tb-restart", sync_tensorboard=True, settings=mytrack.Settings(quiet=True))
    writer = torch_tb.SummaryWriter(str(workdir / "logs" / "train"))
    for step in range(5):
        writer.add_scalar("loss", float(step), step)
    writer.flush()
    wait_for(lambda: len(list(mytrack.Api().run(run.path).scan_history())) == 5)
    pid = service_pid(own_home)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid))
    for step in range(5, 10):
        writer.add_scalar("loss", float(step), step)
    writer.flush()
    run.log({"own": 1}, step=20)  # reconnects, starting a new service
    path = run.path
    run.finish()
    rows = list(mytrack.Api().run(path).scan_history())
    assert [(r["_step"], r.get("train/loss")) for r in rows] == [(s, float(s)) for s in range(10)] + [(20, None)]
