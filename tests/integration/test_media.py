"""Rich media through the real service: descriptors in the history, files uploaded and downloadable through Api.

Each test logs into its own project from this process (real socket, SQLite and
blob folder); finish() waits for the uploads, then `mytrack.Api` reads the rows
back and downloads the files into tmp_path.
"""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

import mytrack
from mytrack._internal.media.readback import ApiMedia
from mytrack.errors import InvalidTypeError, InvalidValueError
from tests.helpers import sha

QUIET = mytrack.Settings(quiet=True)


pytestmark = pytest.mark.usefixtures("no_current_run")


def _fetch(media: Any, root: Path) -> bytes:
    """Downloads a descriptor's file and checks its sha256 and size against the descriptor."""
    assert isinstance(media, ApiMedia)
    content = Path(media.download(str(root))).read_bytes()
    assert sha(content) == media["sha256"] and len(content) == media["size"]
    return content


def _fields(descriptor: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in descriptor.items() if k not in ("path", "sha256", "size")}


def _rows(path: str) -> list[dict[str, Any]]:
    return list(mytrack.Api().run(path).scan_history())


def test_every_type_round_trips(project: str, tmp_path: Path) -> None:
    """Image, Histogram, Video, Audio, Table, Object3D and Html come back with exact descriptors and identical
    content."""
    pixels = np.arange(6 * 4 * 3, dtype=np.uint8).reshape(6, 4, 3)
    frames = np.zeros((2, 1, 3, 4), dtype=np.uint8)
    frames[1, 0, 1, :] = 255
    samples = np.array([0, 16384, -16384, 32767, -32768], dtype=np.int16)
    values = np.array([0.5, 1.0, 1.0, 2.5, 9.0])
    cloud = np.array([[0.0, 1.0, 2.0], [1.5, -2.0, 3.0]])
    with mytrack.init(project=project, settings=QUIET) as run:
        run.log({"loss": 1.0})
        run.log({
            "samples/img": mytrack.Image(pixels, caption="cap"),
            "hist": mytrack.Histogram(values, num_bins=3),
            "clip": mytrack.Video(frames, fps=2),
            "sound": mytrack.Audio(samples, sample_rate=4000),
            "table": mytrack.Table(columns=["a", "b"], data=[[1, "x"], [2.5, None]]),
            "cloud": mytrack.Object3D(cloud),
            "page": mytrack.Html("<i>hi</i>", inject=False),
        })
        path = run.path
    rows = _rows(path)
    assert [r["_step"] for r in rows] == [0, 1]
    row = rows[1]
    assert _fields(row["samples/img"]) == {"_type": "image-file", "format": "png", "width": 4, "height": 6,
                                           "mode": "RGB", "caption": "cap"}
    img = row["samples/img"]
    assert img["path"] == f"media/images/samples/img_1_{img['sha256'][:20]}.png"
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(_fetch(img, tmp_path)))), pixels)

    counts, edges = np.histogram(values, bins=3)
    assert row["hist"] == {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
    assert not isinstance(row["hist"], ApiMedia)

    assert _fields(row["clip"]) == {"_type": "video-file", "format": "gif", "width": 4, "height": 3, "fps": 2,
                                    "frames": 2}
    gif = PILImage.open(io.BytesIO(_fetch(row["clip"], tmp_path)))
    for t in range(2):
        gif.seek(t)
        assert np.array_equal(np.asarray(gif.convert("L")), frames[t, 0])

    assert _fields(row["sound"]) == {"_type": "audio-file", "format": "wav", "sample_rate": 4000, "channels": 1,
                                     "samples": 5, "duration": 5 / 4000}
    with wave.open(io.BytesIO(_fetch(row["sound"], tmp_path))) as wav:
        assert np.frombuffer(wav.readframes(5), "<i2").tolist() == samples.tolist()

    assert _fields(row["table"]) == {"_type": "table-file", "ncols": 2, "nrows": 2}
    assert json.loads(_fetch(row["table"], tmp_path)) == {"columns": ["a", "b"], "data": [[1, "x"], [2.5, None]]}

    assert _fields(row["cloud"]) == {"_type": "object3D-file", "format": "pts.json", "points": 2, "columns": 3}
    assert json.loads(_fetch(row["cloud"], tmp_path))["points"] == cloud.tolist()

    assert _fields(row["page"]) == {"_type": "html-file"}
    assert _fetch(row["page"], tmp_path) == b"<i>hi</i>"

    files = {f.name: f for f in mytrack.Api().run(path).files()}
    for key in ("samples/img", "clip", "sound", "table", "cloud", "page"):
        assert files[row[key]["path"]].digest == row[key]["sha256"], key


def test_lists_of_images_over_steps(project: str, tmp_path: Path) -> None:
    """A list of images per step comes back as lists of downloadable descriptors named with their step."""
    with mytrack.init(project=project, settings=QUIET) as run:
        for step in range(3):
            run.log({"batch": [mytrack.Image(np.full((2, 3), 10 * step + i, dtype=np.uint8)) for i in range(2)],
                     "acc": step / 10})
        path = run.path
    rows = _rows(path)
    assert [r["acc"] for r in rows] == [0.0, 0.1, 0.2]
    for step, row in enumerate(rows):
        assert [d["_type"] for d in row["batch"]] == ["image-file", "image-file"]
        for i, media in enumerate(row["batch"]):
            assert media.path.startswith(f"media/images/batch_{i}__{step}_")
            decoded = np.asarray(PILImage.open(io.BytesIO(_fetch(media, tmp_path / str(step)))))
            assert (decoded == 10 * step + i).all() and decoded.shape == (2, 3)
    frame = mytrack.Api().run(path).history(keys=["batch"])
    assert list(frame["_step"]) == [0, 1, 2] and isinstance(frame["batch"][2][1], dict)


def test_table_with_media_cells(project: str, tmp_path: Path) -> None:
    """Media inside table cells are uploaded too; their descriptors in the table file download through ApiRun.media."""
    table = mytrack.Table(columns=["id", "image", "audio"])
    table.add_data(0, mytrack.Image(np.full((2, 2), 7, dtype=np.uint8)), None)
    table.add_data(1, mytrack.Image(np.full((2, 2), 9, dtype=np.uint8)),
                   mytrack.Audio(np.array([0.0, 1.0]), sample_rate=100))
    with mytrack.init(project=project, settings=QUIET) as run:
        run.log({"eval/table": table})
        path = run.path
    api_run = mytrack.Api().run(path)
    descriptor = next(api_run.scan_history())["eval/table"]
    content = json.loads(_fetch(descriptor, tmp_path))
    assert content["columns"] == ["id", "image", "audio"]
    assert [r[0] for r in content["data"]] == [0, 1] and content["data"][0][2] is None
    for r, fill in ((0, 7), (1, 9)):
        cell = api_run.media(content["data"][r][1])
        assert cell.path.startswith(f"media/images/eval/table/image_{r}_0_")
        assert (np.asarray(PILImage.open(io.BytesIO(_fetch(cell, tmp_path)))) == fill).all()
    audio = api_run.media(content["data"][1][2])
    with wave.open(io.BytesIO(_fetch(audio, tmp_path))) as wav:
        assert np.frombuffer(wav.readframes(2), "<i2").tolist() == [0, 32767]


def test_plots_store_exact_tables(project: str, tmp_path: Path) -> None:
    """Confusion-matrix counts and PR points come back exactly in the plot's table, with the chart spec."""
    with mytrack.init(project=project, settings=QUIET) as run:
        run.log({
            "cm": mytrack.plot.confusion_matrix(y_true=[0, 1, 1, 1], preds=[0, 1, 0, 1], class_names=["no", "yes"]),
            "pr": mytrack.plot.pr_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], title="PR"),
        })
        path = run.path
    row = _rows(path)[0]
    cm = row["cm"]
    assert cm["_type"] == "plot" and cm["spec"]["chart"] == "confusion_matrix"
    assert cm["table"]["path"].startswith("media/tables/cm_table_0_")
    assert json.loads(_fetch(cm["table"], tmp_path))["data"] == [
        ["no", "no", 1], ["no", "yes", 0], ["yes", "no", 1], ["yes", "yes", 2],
    ]
    pr = row["pr"]
    assert pr["spec"] == {"chart": "pr_curve", "title": "PR",
                          "fields": {"x": "recall", "y": "precision", "class": "class"}}
    points = [r[1:] for r in json.loads(_fetch(pr["table"], tmp_path))["data"] if r[0] == 1]
    assert points == [[0.5, 1.0], [2 / 3, 1.0], [0.5, 0.5], [1.0, 0.5], [1.0, 0.0]]


def test_matplotlib_figure_round_trip(project: str, tmp_path: Path) -> None:
    """A matplotlib figure logged directly comes back as a PNG of the figure's pixel size."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(3, 2), dpi=40)
    fig.gca().plot([0, 1, 2], [2, 0, 1])
    try:
        with mytrack.init(project=project, settings=QUIET) as run:
            run.log({"chart": fig})
            path = run.path
    finally:
        plt.close(fig)
    media = _rows(path)[0]["chart"]
    assert (media["_type"], media["width"], media["height"]) == ("image-file", 120, 80)
    assert PILImage.open(io.BytesIO(_fetch(media, tmp_path))).size == (120, 80)


def test_bad_media_is_refused_naming_the_key_and_the_run_goes_on(project: str) -> None:
    """A bad image raises ValueError naming the key; nothing of that call is recorded or uploaded, later logs work."""
    with mytrack.init(project=project, settings=QUIET) as run:
        run.log({"a": 1})
        with pytest.raises(InvalidValueError, match=r"key 'grid\[1\]': Image expects .*no NaN or infinite pixels"):
            run.log({"a": 2, "grid": [mytrack.Image(np.zeros((2, 2))), mytrack.Image(np.full((2, 2), np.nan))]})
        with pytest.raises(InvalidTypeError, match="key 'img': a Image writes a file"):
            run.config["img"] = mytrack.Image(np.zeros((2, 2)))
        run.summary["dist"] = mytrack.Histogram([1, 2, 2], num_bins=2)
        run.log({"a": 3})
        path, run_dir = run.path, Path(run.dir)
    assert [(r["_step"], r["a"]) for r in _rows(path)] == [(0, 1), (1, 3)]
    assert [p for p in (run_dir / "media").rglob("*") if p.is_file()] == []
    api_run = mytrack.Api().run(path)
    assert [f.name for f in api_run.files() if f.name.startswith("media/")] == []
    assert api_run.summary["dist"] == {"_type": "histogram", "values": [1, 2], "bins": [1.0, 1.5, 2.0]}
    assert "img" not in api_run.config
