"""Unit tests for TensorBoard event files as typed records (mytrack_common.tensorboard)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mytrack_common.tensorboard import EventReader, TBHistogram, TensorBoardMissing, is_event_file, iter_events

torch_tb = pytest.importorskip("torch.utils.tensorboard")
tensorboardX = pytest.importorskip("tensorboardX")


def _event_file(logdir: Path) -> Path:
    (path,) = [p for p in logdir.iterdir() if is_event_file(p.name)]
    return path


def test_torch_writer_scalars_histogram_image_text(tmp_path: Path) -> None:
    """What torch's SummaryWriter writes comes back typed, with its step and tag."""
    writer = torch_tb.SummaryWriter(str(tmp_path))
    writer.add_scalar("loss", 0.5, 3)
    writer.add_scalar("acc", 0.25, 4, new_style=True)  # a tensor summary, as TF2 writes
    writer.add_histogram("weights", np.array([0.0, 1.0, 1.0, 2.0]), 5, bins=4)
    writer.add_image("sample", np.full((3, 4, 6), 0.5), 6)
    writer.add_text("note", "hello", 7)
    writer.close()

    events = list(iter_events(_event_file(tmp_path)))
    by_tag = {e.tag: e for e in events}
    assert (by_tag["loss"].step, by_tag["loss"].kind, by_tag["loss"].value) == (3, "scalar", 0.5)
    assert (by_tag["acc"].step, by_tag["acc"].kind, by_tag["acc"].value) == (4, "scalar", 0.25)
    hist = by_tag["weights"].value
    assert isinstance(hist, TBHistogram) and by_tag["weights"].step == 5
    assert len(hist.bins) == len(hist.counts) + 1 and sum(hist.counts) == 4
    assert hist.bins[0] == 0.0 and hist.bins[-1] == 2.0
    images = by_tag["sample"].value
    assert isinstance(images, tuple) and len(images) == 1
    assert (images[0].width, images[0].height) == (6, 4)
    assert Image.open(io.BytesIO(images[0].encoded)).size == (6, 4)
    assert by_tag["note/text_summary"].kind == "text" and by_tag["note/text_summary"].value == "hello"
    assert all(e.wall_time > 1e9 for e in events)


def test_tensorboardx_writer(tmp_path: Path) -> None:
    """tensorboardX's legacy simple_value scalars and histograms are read the same way."""
    writer = tensorboardX.SummaryWriter(str(tmp_path))
    for step in range(3):
        writer.add_scalar("train/loss", 1.0 / (step + 1), step)
    writer.add_histogram("h", np.arange(10.0), 2)
    writer.close()
    events = list(iter_events(_event_file(tmp_path)))
    losses = [(e.step, e.value) for e in events if e.tag == "train/loss"]
    assert losses == [(0, 1.0), (1, 0.5), (2, pytest.approx(1 / 3))]
    (hist,) = [e for e in events if e.tag == "h"]
    assert hist.kind == "histogram" and isinstance(hist.value, TBHistogram) and sum(hist.value.counts) == 10


def test_reader_follows_a_growing_file_and_resumes_by_record_count(tmp_path: Path) -> None:
    """read() returns only what was appended since; skip=records goes on where another reader stopped."""
    writer = torch_tb.SummaryWriter(str(tmp_path))
    writer.add_scalar("x", 1.0, 0)
    writer.flush()
    reader = EventReader(_event_file(tmp_path))
    assert [(e.tag, e.step) for e in reader.read()] == [("x", 0)]
    assert reader.read() == []
    writer.add_scalar("x", 2.0, 1)
    writer.add_scalar("x", 3.0, 2)
    writer.flush()
    assert [e.value for e in reader.read(limit=1)] == [2.0]
    position = reader.records
    assert [e.value for e in reader.read()] == [3.0]
    writer.close()
    assert [e.value for e in EventReader(_event_file(tmp_path), skip=position).read()] == [3.0]


def test_a_truncated_last_record_waits_for_the_rest(tmp_path: Path) -> None:
    """A record cut in the middle (a writer mid-write) is not returned until it is whole."""
    writer = torch_tb.SummaryWriter(str(tmp_path))
    writer.add_scalar("x", 1.0, 0)
    writer.add_scalar("x", 2.0, 1)
    writer.close()
    full = _event_file(tmp_path).read_bytes()
    partial = tmp_path / "cut" / "events.out.tfevents.1.host"
    partial.parent.mkdir()
    partial.write_bytes(full[:-5])
    reader = EventReader(partial)
    assert [e.value for e in reader.read()] == [1.0]
    with partial.open("ab") as f:
        f.write(full[-5:])
    assert [e.value for e in reader.read()] == [2.0]


def test_without_tensorboard_the_error_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading without the tensorboard package raises TensorBoardMissing naming mytrack[tensorboard]."""
    for name in [m for m in sys.modules if m == "tensorboard" or m.startswith("tensorboard.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(TensorBoardMissing, match=r"mytrack\[tensorboard\]"):
        EventReader(tmp_path / "events.out.tfevents.1")


def test_is_event_file() -> None:
    """Event files are recognised by TensorBoard's name pattern."""
    assert is_event_file("/a/events.out.tfevents.1700000000.host.1.0")
    assert not is_event_file("/a/tfevents_dir/model.ckpt")
