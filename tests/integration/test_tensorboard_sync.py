"""TensorBoard sync: real writers' event files read by the service into the run, asserted on what the store holds."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mytrack
from mytrack.errors import UsageError
from tests.helpers import wait_for

torch_tb = pytest.importorskip("torch.utils.tensorboard")
tensorboardX = pytest.importorskip("tensorboardX")

QUIET = mytrack.Settings(quiet=True)


@pytest.fixture(autouse=True)
def _clean(workdir: Path) -> Iterator[None]:
    mytrack.finish()
    mytrack.tensorboard.unpatch()
    yield
    mytrack.finish()
    mytrack.tensorboard.unpatch()


def _history(path: str) -> list[dict[str, Any]]:
    return list(mytrack.Api().run(path).scan_history())


def test_torch_summary_writer_with_sync_tensorboard(project: str, workdir: Path) -> None:
    """Scalars of train/ and val/ writers (interleaved steps), a histogram and an image reach the run at
    TensorBoard's global step with the sub-folder as key prefix, merged with the run's own rows;
    the event files are saved with the run."""
    run = mytrack.init(project=project, sync_tensorboard=True, settings=QUIET)
    train = torch_tb.SummaryWriter(str(workdir / "logs" / "train"))
    val = torch_tb.SummaryWriter(str(workdir / "logs" / "val"))
    for step in range(6):
        train.add_scalar("loss", 1.0 / (step + 1), step)
        if step % 3 == 2:
            val.add_scalar("loss", 10.0 + step, step)
    train.add_histogram("weights", np.array([0.0, 1.0, 1.0, 2.0]), 5, bins=4)
    train.add_image("sample", np.full((3, 4, 6), 0.5), 5)
    run.log({"own": 1.5})  # the run's own step 0
    path = run.path
    run.finish()

    rows = _history(path)
    assert [r["_step"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r["global_step"] for r in rows] == [0, 1, 2, 3, 4, 5]
    assert [r["train/loss"] for r in rows] == pytest.approx([1.0, 0.5, 1 / 3, 0.25, 0.2, 1 / 6])
    assert [(r["_step"], r["val/loss"]) for r in rows if "val/loss" in r] == [(2, 12.0), (5, 15.0)]
    assert rows[0]["own"] == 1.5
    hist = rows[5]["train/weights"]
    assert hist["_type"] == "histogram" and sum(hist["values"]) == 4
    assert hist["bins"][0] == 0.0 and hist["bins"][-1] == 2.0
    stored = mytrack.Api().run(path)
    assert stored.summary["train/loss"] == pytest.approx(1 / 6) and stored.summary["val/loss"] == 15.0
    names = {f.name for f in stored.files()}
    assert sum(n.startswith("tensorboard/train/events.out.tfevents.") for n in names) == 1
    assert sum(n.startswith("tensorboard/val/events.out.tfevents.") for n in names) == 1
    image = [n for n in names if n.startswith("media/images/train/sample_5_")]
    assert len(image) == 1
    assert rows[5]["train/sample"]["_type"] == "image-file"
    assert (rows[5]["train/sample"]["width"], rows[5]["train/sample"]["height"]) == (6, 4)


def test_events_arrive_while_the_run_is_live(project: str, workdir: Path) -> None:
    """The service follows the event files: a flushed scalar is in the history before finish()."""
    run = mytrack.init(project=project, sync_tensorboard=True, settings=QUIET)
    writer = torch_tb.SummaryWriter(str(workdir / "runs"))
    writer.add_scalar("acc", 0.75, 7)
    writer.flush()
    wait_for(lambda: any(r.get("acc") == 0.75 and r["_step"] == 7 for r in _history(run.path)))
    writer.add_scalar("acc", 0.875, 9)  # not flushed by the program: finish() flushes it
    path = run.path
    run.finish()
    assert [(r["_step"], r["acc"]) for r in _history(path)] == [(7, 0.75), (9, 0.875)]


def test_tensorboardx_with_patch_before_init_and_root_logdir(project: str, workdir: Path) -> None:
    """patch(root_logdir=...) before init(): a tensorboardX writer opened after init gets the path
    below the root as prefix; the run's own steps and TensorBoard's merge by step."""
    mytrack.tensorboard.patch(root_logdir=str(workdir / "tb"))
    run = mytrack.init(project=project, settings=QUIET)
    writer = tensorboardX.SummaryWriter(str(workdir / "tb" / "a" / "b"))
    writer.add_scalar("x", 3.0, 1)
    writer.add_scalar("x", 4.0, 3)
    writer.close()
    run.log({"y": 1})
    run.log({"y": 2})
    path = run.path
    run.finish()
    rows = _history(path)
    assert [(r["_step"], r.get("y"), r.get("a/b/x")) for r in rows] == [(0, 1, None), (1, 2, 3.0), (3, None, 4.0)]
    assert any(f.name.startswith("tensorboard/a/b/events.out.tfevents.") for f in mytrack.Api().run(path).files())


def test_patching_twice_is_refused_and_unpatch_restores_the_writer(workdir: Path) -> None:
    """A second patch() raises UsageError; unpatch() puts torch's own writer class back."""
    from torch.utils.tensorboard import writer as torch_writer

    original = torch_writer.EventFileWriter
    mytrack.tensorboard.patch()
    assert torch_writer.EventFileWriter is not original
    with pytest.raises(UsageError, match="already patched"):
        mytrack.tensorboard.patch()
    mytrack.tensorboard.unpatch()
    assert torch_writer.EventFileWriter is original


def test_sync_tensorboard_without_the_package_names_the_extra(
    project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """init(sync_tensorboard=True) without the tensorboard package raises UsageError naming the extra."""
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(UsageError, match=r"mytrack\[tensorboard\]"):
        mytrack.init(project=project, sync_tensorboard=True, settings=QUIET)
    assert mytrack.run is None
