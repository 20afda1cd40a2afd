"""mytrack data types converted by log()'s slow path into descriptors and files (a real MediaSink in tmp_path)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import sys
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

import mytrack
from mytrack._internal.media.run_files import MediaSink, media_name
from mytrack._internal.run.values import check_log_data, convert_value
from mytrack.errors import InvalidTypeError, InvalidValueError


class Sink:
    """A MediaSink on tmp_path at a fixed step, recording the Files entries it sends."""

    def __init__(self, root: Path, step: int = 7) -> None:
        self.root = root
        self.sent: list[list[tuple[str, str, str]]] = []
        self.sink = MediaSink(str(root), lambda: step, lambda entries: self.sent.append(list(entries)))

    def log(self, data: dict[str, Any]) -> dict[str, Any]:
        return check_log_data(data, self.sink)

    def read(self, descriptor: dict[str, Any]) -> bytes:
        return (self.root / descriptor["path"]).read_bytes()


@pytest.fixture
def sink(tmp_path: Path) -> Sink:
    return Sink(tmp_path)


def _checked(sink: Sink, descriptor: dict[str, Any]) -> bytes:
    """The descriptor's file, after checking its sha256 and size."""
    content = sink.read(descriptor)
    assert descriptor["sha256"] == hashlib.sha256(content).hexdigest()
    assert descriptor["size"] == len(content)
    return content


def test_image_descriptor_and_pixels(sink: Sink) -> None:
    """A uint8 RGB array becomes a PNG under media/images/ whose pixels equal the array, and one Files record."""
    pixels = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    out = sink.log({"val/img": mytrack.Image(pixels, caption="first")})
    d = out["val/img"]
    assert {k: v for k, v in d.items() if k not in ("path", "sha256", "size")} == {
        "_type": "image-file", "format": "png", "width": 5, "height": 4, "mode": "RGB", "caption": "first",
    }
    assert d["path"] == f"media/images/val/img_7_{d['sha256'][:20]}.png"
    content = _checked(sink, d)
    assert np.array_equal(np.asarray(PILImage.open(io.BytesIO(content))), pixels)
    assert sink.sent == [[(d["path"], str(sink.root / d["path"]), "now")]]


def test_image_float_gray_and_bool(sink: Sink) -> None:
    """Floats in [0, 1] scale to 0..255 (rounded); H×W×1 is grayscale; bools are 0/255."""
    out = sink.log({"f": mytrack.Image(np.array([[0.0, 0.5], [1.0, 0.25]])[..., None]),
                    "b": mytrack.Image(np.array([[True, False]]))})
    assert out["f"]["mode"] == "L"
    assert np.asarray(PILImage.open(io.BytesIO(_checked(sink, out["f"])))).tolist() == [[0, 128], [255, 64]]
    assert np.asarray(PILImage.open(io.BytesIO(_checked(sink, out["b"])))).tolist() == [[255, 0]]


def test_image_from_path_pil_mode_and_file_type(sink: Sink, tmp_path: Path) -> None:
    """A file keeps its bytes and format; PIL images and file_type/mode conversions are honoured."""
    source = tmp_path / "in.png"
    PILImage.new("RGB", (3, 2), (10, 20, 30)).save(source)
    out = sink.log({
        "path": mytrack.Image(str(source)),
        "pil": mytrack.Image(PILImage.new("RGBA", (2, 2), (1, 2, 3, 4)), file_type="jpg"),
        "gray": mytrack.Image(PILImage.new("RGB", (2, 1), (90, 90, 90)), mode="L"),
    })
    assert _checked(sink, out["path"]) == source.read_bytes()
    assert (out["path"]["width"], out["path"]["height"], out["path"]["format"]) == (3, 2, "png")
    assert out["pil"]["format"] == "jpg" and out["pil"]["path"].endswith(".jpg")
    assert PILImage.open(io.BytesIO(_checked(sink, out["pil"]))).format == "JPEG"
    assert out["gray"]["mode"] == "L"


def test_list_of_images_is_a_list_of_descriptors(sink: Sink) -> None:
    """A list of Images in one key gives a list of descriptors, one file each."""
    out = sink.log({"batch": [mytrack.Image(np.full((2, 2), i, dtype=np.uint8)) for i in range(3)]})
    assert [d["_type"] for d in out["batch"]] == ["image-file"] * 3
    assert len({d["path"] for d in out["batch"]}) == 3
    assert len(sink.sent) == 1 and len(sink.sent[0]) == 3


def test_matplotlib_figure_logged_directly(sink: Sink) -> None:
    """A matplotlib figure passed to log() is stored as a PNG image of its pixel size."""
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1), dpi=50)
    ax.plot([0, 1], [1, 0])
    try:
        out = sink.log({"fig": fig})
    finally:
        plt.close(fig)
    assert out["fig"]["_type"] == "image-file" and out["fig"]["format"] == "png"
    assert (out["fig"]["width"], out["fig"]["height"]) == (100, 50)
    _checked(sink, out["fig"])


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (mytrack.Image(np.zeros((2, 2, 2))), r"key 'bad': Image expects an array of shape \(H, W\)"),
        (mytrack.Image(np.zeros((4,))), r"shape \(4,\)"),
        (mytrack.Image(np.array([[0.5, np.nan]])), "no NaN or infinite pixels"),
        (mytrack.Image(np.array([[0.0, 2.0]])), r"uint8 values, or floats in \[0, 1\], got floats from 0 to 2"),
        (mytrack.Image(np.array([[-1, 300]])), "integers from -1 to 300"),
        (mytrack.Image(np.zeros((2, 2)), file_type="tga"), "file_type one of png"),
        (mytrack.Image(np.zeros((2, 2)), mode="XYZ"), "mode one of"),
        (mytrack.Image("/nonexistent/x.png"), "a readable file"),
        (mytrack.Image(np.zeros((2, 2)), caption=3), "caption that is a string"),
        (mytrack.Video(np.zeros((2, 3, 3))), r"Video expects frames of shape \(time, channel, height, width\)"),
        (mytrack.Video(np.zeros((2, 2, 3, 3))), "with 1 or 3 channels"),
        (mytrack.Video(np.zeros((2, 1, 3, 3)), format="avi"), "format one of gif, mp4, webm"),
        (mytrack.Video(np.zeros((2, 1, 3, 3)), fps=0), "fps a number above 0"),
        (mytrack.Video(np.full((1, 1, 2, 2), np.nan)), "NaN or infinite pixels"),
        (mytrack.Audio(np.zeros(4)), "sample_rate, a positive int"),
        (mytrack.Audio(np.array([0.0, 1.5]), sample_rate=8000), r"floats in \[-1, 1\] or int16"),
        (mytrack.Audio(np.zeros((2, 2, 2)), sample_rate=8000), r"shape \(samples,\) or \(samples, channels\)"),
        (mytrack.Audio(np.array([0.0, np.inf]), sample_rate=8000), "no NaN or infinity"),
        (mytrack.Histogram(np.zeros(3), num_bins=513), "num_bins an int from 1 to 512"),
        (mytrack.Histogram([1.0, np.nan]), "finite numbers"),
        (mytrack.Histogram(np_histogram=([1, 2], [0.0, 1.0])), "one edge more"),
        (mytrack.Histogram(np_histogram=(np.ones(513), np.arange(514.0))), "at most 512 counts"),
        (mytrack.Object3D(np.zeros((3, 5))), r"\(N, 3\) xyz"),
        (mytrack.Object3D(np.array([[0.0, 0.0, np.nan]])), "NaN or infinite coordinates"),
        (mytrack.Html(42), "a string of HTML"),
    ],
)
def test_bad_media_name_the_key_and_expected_form(sink: Sink, value: Any, message: str) -> None:
    """Malformed media raise ValueError naming the key and the expected form; nothing is written or sent."""
    with pytest.raises(InvalidValueError, match=message) as info:
        sink.log({"ok": mytrack.Image(np.zeros((2, 2), dtype=np.uint8)), "bad": value})
    assert "key 'bad'" in str(info.value)
    assert sink.sent == []
    assert [p for p in sink.root.rglob("*") if p.is_file()] == []


def test_video_gif_frames_round_trip(sink: Sink) -> None:
    """(time, channel, height, width) uint8 frames become a looping GIF whose frames equal them."""
    frames = np.zeros((3, 3, 4, 5), dtype=np.uint8)
    for t in range(3):
        frames[t, t % 3, :, : t + 1] = 200  # distinct frames, few colours: the GIF palette is exact
    out = sink.log({"v": mytrack.Video(frames, fps=5, caption="c")})
    d = out["v"]
    assert {k: d[k] for k in ("_type", "format", "width", "height", "fps", "frames", "caption")} == {
        "_type": "video-file", "format": "gif", "width": 5, "height": 4, "fps": 5, "frames": 3, "caption": "c",
    }
    gif = PILImage.open(io.BytesIO(_checked(sink, d)))
    assert gif.n_frames == 3 and gif.info["duration"] == 200
    for t in range(3):
        gif.seek(t)
        assert np.array_equal(np.asarray(gif.convert("RGB")), frames[t].transpose(1, 2, 0))


def test_video_batch_is_tiled_into_a_grid(sink: Sink) -> None:
    """(batch, time, channel, h, w): three 2×2 videos make a 2×2 grid, the empty cell black."""
    batch = np.stack([np.full((2, 1, 2, 2), 60 * (i + 1), dtype=np.uint8) for i in range(3)])
    batch[:, 1] += 1  # the two frames differ
    d = sink.log({"grid": mytrack.Video(batch)})["grid"]
    assert (d["width"], d["height"], d["frames"], d["fps"]) == (4, 4, 2, 4)
    gif = PILImage.open(io.BytesIO(_checked(sink, d)))
    first = np.asarray(gif.convert("L"))
    assert first.tolist() == [[60, 60, 120, 120], [60, 60, 120, 120], [180, 180, 0, 0], [180, 180, 0, 0]]


def test_video_mp4_with_imageio(sink: Sink) -> None:
    """format="mp4" encodes with imageio-ffmpeg; the file decodes to the same number and size of frames."""
    imageio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    frames = np.random.default_rng(0).integers(0, 255, (5, 3, 16, 16), dtype=np.uint8)
    d = sink.log({"mp4": mytrack.Video(frames, fps=10, format="mp4")})["mp4"]
    assert (d["format"], d["frames"], d["width"], d["height"]) == ("mp4", 5, 16, 16)
    reader = imageio.get_reader(str(sink.root / d["path"]), format="FFMPEG")
    decoded = [frame for frame in reader]
    reader.close()
    assert len(decoded) == 5 and decoded[0].shape == (16, 16, 3)


def test_video_mp4_without_imageio_names_the_extra(sink: Sink, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without imageio, format="mp4" raises ImportError naming the [media] extra."""
    monkeypatch.setitem(sys.modules, "imageio", None)
    monkeypatch.setitem(sys.modules, "imageio.v2", None)
    with pytest.raises(ImportError, match=r"mytrack\[media\]"):
        sink.log({"mp4": mytrack.Video(np.zeros((2, 1, 4, 4), dtype=np.uint8), format="mp4")})


def test_audio_wav_samples_round_trip(sink: Sink) -> None:
    """int16 samples are stored exactly; floats are scaled by 32767; stereo keeps its channels."""
    mono = np.array([0, 1000, -32768, 32767], dtype=np.int16)
    stereo = np.array([[0.0, 1.0], [-1.0, 0.5]])
    out = sink.log({"mono": mytrack.Audio(mono, sample_rate=8000, caption="m"),
                    "stereo": mytrack.Audio(stereo, sample_rate=16000)})
    m = out["mono"]
    assert {k: m[k] for k in ("_type", "format", "sample_rate", "channels", "samples", "duration", "caption")} == {
        "_type": "audio-file", "format": "wav", "sample_rate": 8000, "channels": 1, "samples": 4,
        "duration": 0.0005, "caption": "m",
    }
    with wave.open(io.BytesIO(_checked(sink, m))) as wav:
        assert np.frombuffer(wav.readframes(4), "<i2").tolist() == mono.tolist()
    with wave.open(io.BytesIO(_checked(sink, out["stereo"]))) as wav:
        assert wav.getnchannels() == 2 and wav.getframerate() == 16000
        assert np.frombuffer(wav.readframes(2), "<i2").tolist() == [0, 32767, -32767, 16384]


def test_histogram_inline(sink: Sink) -> None:
    """A Histogram is stored inline with np.histogram's counts and edges; no file is written."""
    data = np.array([0.0, 1.0, 1.5, 3.0, 4.0])
    out = sink.log({"h": mytrack.Histogram(data, num_bins=4),
                    "given": mytrack.Histogram(np_histogram=(np.array([3, 1]), np.array([0, 1, 2])))})
    counts, edges = np.histogram(data, bins=4)
    assert out["h"] == {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
    assert out["given"] == {"_type": "histogram", "values": [3, 1], "bins": [0.0, 1.0, 2.0]}
    assert sink.sent == []


def test_table_with_media_cells_and_dataframe(sink: Sink) -> None:
    """A table's JSON file holds its columns and rows, media cells as descriptors of their own files."""
    table = mytrack.Table(columns=["id", "img"])
    table.add_data(1, mytrack.Image(np.zeros((2, 2), dtype=np.uint8)))
    table.add_data(2, None)
    table.add_column("score", [0.5, np.float32(0.25)])
    assert table.get_column("id") == [1, 2] and table.get_column("score", convert_to="numpy").dtype == np.float64
    d = sink.log({"preds": table})["preds"]
    assert {k: d[k] for k in ("_type", "ncols", "nrows")} == {"_type": "table-file", "ncols": 3, "nrows": 2}
    assert d["path"].startswith("media/tables/preds_7_") and d["path"].endswith(".table.json")
    content = json.loads(_checked(sink, d))
    assert content["columns"] == ["id", "img", "score"]
    cell = content["data"][0][1]
    assert cell["_type"] == "image-file" and cell["path"].startswith("media/images/preds/img_0_7_")
    _checked(sink, cell)
    assert content["data"][1] == [2, None, 0.25]
    pd = pytest.importorskip("pandas")
    frame = mytrack.Table(dataframe=pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
    assert frame.columns == ["a", "b"] and frame.data == [[1, "x"], [2, "y"]]
    assert frame.get_dataframe().equals(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))


def test_table_shape_errors() -> None:
    """Rows and columns of the wrong length, duplicate or non-string column names are refused at once."""
    table = mytrack.Table(columns=["a", "b"])
    with pytest.raises(InvalidValueError, match="expected one per column"):
        table.add_data(1)
    with pytest.raises(InvalidValueError, match="expected one per row"):
        table.add_column("c", [1, 2])
    with pytest.raises(InvalidValueError, match="unique"):
        mytrack.Table(columns=["a", "a"])
    with pytest.raises(InvalidTypeError, match="non-empty strings"):
        mytrack.Table(columns=["a", 3])
    assert mytrack.Table(data=[[1, 2]]).columns == ["Column_1", "Column_2"]


def test_object3d_files_and_point_cloud(sink: Sink, tmp_path: Path) -> None:
    """.obj paths and open files keep their bytes; a point cloud becomes .pts.json with its points."""
    obj = tmp_path / "cube.obj"
    obj.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    cloud = np.array([[0.0, 1.0, 2.0, 1.0], [3.0, 4.0, 5.0, 2.0]])
    with open(obj) as handle:
        out = sink.log({"path": mytrack.Object3D(str(obj)), "file": mytrack.Object3D(handle),
                        "cloud": mytrack.Object3D(cloud)})
    assert _checked(sink, out["path"]) == obj.read_bytes() and out["path"]["format"] == "obj"
    assert out["file"]["sha256"] == out["path"]["sha256"]
    c = out["cloud"]
    assert (c["_type"], c["format"], c["points"], c["columns"]) == ("object3D-file", "pts.json", 2, 4)
    assert json.loads(_checked(sink, c)) == {"type": "lidar/beta", "points": cloud.tolist()}
    with pytest.raises(InvalidValueError, match=r"key 'x': Object3D expects a path or open file ending in \.obj"):
        sink.log({"x": mytrack.Object3D(io.StringIO("solid"), file_type="ply")})


def test_html_fragment_and_document(sink: Sink) -> None:
    """An HTML fragment is wrapped into a UTF-8 document; inject=False keeps the text exactly."""
    out = sink.log({"frag": mytrack.Html("<b>é</b>"), "raw": mytrack.Html("<p>x</p>", inject=False)})
    assert out["frag"]["_type"] == "html-file" and out["frag"]["path"].endswith(".html")
    text = _checked(sink, out["frag"]).decode()
    assert text.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in text and "<b>é</b>" in text
    assert _checked(sink, out["raw"]) == b"<p>x</p>"


def test_media_without_a_sink_are_refused_except_inline() -> None:
    """Config/summary conversion (no sink) refuses media that write files, and accepts a Histogram."""
    with pytest.raises(InvalidTypeError,
                       match="key 'img': a Image writes a file, so it can only be logged with run.log"):
        convert_value(mytrack.Image(np.zeros((2, 2))), "img")
    assert convert_value(mytrack.Histogram([1, 2], num_bins=1), "h") == {
        "_type": "histogram", "values": [2], "bins": [1.0, 2.0]
    }


def test_media_names_stay_inside_the_media_folder() -> None:
    """Keys with '..', empty parts or odd characters cannot escape files/media/<kind>/."""
    name = media_name("images", "../a b/../../c?", 3, "f" * 64, "png")
    assert name == f"media/images/__/a_b/__/__/c__3_{'f' * 20}.png"
    assert ".." not in name.split("/")


def test_same_file_logged_twice_is_one_file(sink: Sink) -> None:
    """The same content under the same key and step is one file; a refused call keeps the earlier one."""
    first = sink.log({"img": mytrack.Image(np.zeros((2, 2), dtype=np.uint8))})["img"]
    with pytest.raises(InvalidValueError):
        sink.log({"img": mytrack.Image(np.zeros((2, 2), dtype=np.uint8)), "z": mytrack.Image(np.zeros(3))})
    assert os.path.exists(sink.root / first["path"])
    assert len(sink.sent) == 1
