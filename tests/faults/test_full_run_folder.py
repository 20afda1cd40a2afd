"""A full disk under the run folder: a log() whose media file cannot be written is
refused whole, with a mytrack error naming the key and the folder, and the run
goes on."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

import mytrack
from mytrack._internal.media import run_files
from mytrack.errors import UsageError


def test_a_media_file_on_a_full_disk_refuses_the_call_clearly(
    workdir: Path, project: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ENOSPC while writing an image: log() raises UsageError naming the key and the folder, nothing of that call
    is logged, and the next calls are (the step goes on)."""
    run = mytrack.init(project=project, dir=str(workdir), settings=mytrack.Settings(quiet=True))
    real_replace = run_files.os.replace

    def full(src: str, dst: str) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(run_files.os, "replace", full)
    with pytest.raises(UsageError, match=r"media file of 'picture' cannot be written in .*No space left") as caught:
        run.log({"picture": mytrack.Image(np.zeros((4, 4, 3), dtype=np.uint8)), "i": 0})
    assert str(workdir) in str(caught.value)
    monkeypatch.setattr(run_files.os, "replace", real_replace)
    run.log({"picture": mytrack.Image(np.ones((4, 4, 3), dtype=np.uint8)), "i": 1})
    run.finish()
    assert run.status().confirmed
    rows = list(mytrack.Api().run(run.path).scan_history(keys=["i"]))
    assert [r["i"] for r in rows] == [1]
    assert not list(Path(run.dir).rglob(".mytrack-*"))  # no temp file left behind
