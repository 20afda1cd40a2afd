"""`mytrack import tensorboard`: logs written by torch's SummaryWriter become one run per folder."""

from __future__ import annotations

from pathlib import Path

import pytest

import mytrack
from mytrack.importers import tensorboard as tb_import
from mytrack_common.tensorboard import iter_events

torch_tb = pytest.importorskip("torch.utils.tensorboard")
pytest.importorskip("tensorboard")

pytestmark = pytest.mark.usefixtures("no_current_run")


def _write_logs(logdir: Path) -> None:
    import numpy as np

    for name, scale in (("train", 1.0), ("eval/fold1", 2.0)):
        writer = torch_tb.SummaryWriter(str(logdir / name))
        for step in range(5):
            writer.add_scalar("loss", scale / (step + 1), step)
            writer.add_scalar("lr", 0.1 * scale, step)
        writer.add_histogram("weights", np.arange(100, dtype=np.float32), 4)
        writer.add_image("sample", np.zeros((3, 4, 6), dtype=np.uint8), 2)
        writer.add_text("note", f"hello {name}", 0)
        writer.close()


def test_tensorboard_logs_are_imported_value_for_value_and_a_second_import_changes_nothing(
    tmp_path: Path, project: str,
) -> None:
    """Scalars with steps and wall times, histograms, images (as files) and text, per folder."""
    logdir = tmp_path / "logs"
    _write_logs(logdir)
    report = tb_import.import_runs(logdir, project=project)
    assert report.ok and [o.action for o in report.runs] == ["imported", "imported"], report
    api = mytrack.Api()
    runs = {r.name: r for r in api.runs(project)}
    assert sorted(runs) == ["eval/fold1", "train"]
    for name, run in runs.items():
        assert (run.state, run.group) == ("finished", "logs")
        events = [e for f in sorted((logdir / name).iterdir()) for e in iter_events(f)]
        rows = {row["_step"]: row for row in run.scan_history()}
        assert sorted(rows) == [0, 1, 2, 3, 4]
        for event in events:
            row = rows[event.step]
            assert row["_timestamp"] >= event.wall_time
            if event.kind == "scalar":
                assert row[event.tag] == event.value
        for step, row in rows.items():
            assert row["_timestamp"] == max(e.wall_time for e in events if e.step == step)
        assert rows[0]["note/text_summary"] == f"hello {name}"  # the tag torch writes text under
        assert rows[4]["weights"]["_type"] == "histogram" and sum(rows[4]["weights"]["values"]) == 100
        image = rows[2]["sample"]
        assert (image["_type"], image["width"], image["height"]) == ("image-file", 6, 4)
        assert image["path"] in [f.name for f in run.files()]
    scale = {"train": 1.0, "eval/fold1": 2.0}
    assert all(rows_loss == pytest.approx(scale[n] / (s + 1))
               for n, r in runs.items() for s, rows_loss in ((x["_step"], x["loss"]) for x in r.scan_history()))

    before = {n: (list(r.scan_history()), r.updated_at) for n, r in runs.items()}
    again = tb_import.import_runs(logdir, project=project)
    assert [o.action for o in again.runs] == ["skipped", "skipped"]
    after = {r.name: (list(r.scan_history()), r.updated_at) for r in api.runs(project)}
    assert after == before
