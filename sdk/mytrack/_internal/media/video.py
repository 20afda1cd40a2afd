"""``mytrack.Video``: frames as a GIF (Pillow) or MP4/WebM (imageio, the [media] extra)."""

from __future__ import annotations

import io
import math
import os
import tempfile
from typing import Any

from mytrack._internal.media.base import Media, MediaWriter, bad, check_caption, is_path, read_path, to_numpy
from mytrack._internal.media.pixels import pil_module, to_uint8

FORMATS = ("gif", "mp4", "webm")
FILE_FORMATS = ("gif", "mp4", "webm", "ogg")
_SHAPES = "frames of shape (time, channel, height, width) or (batch, time, channel, height, width) with 1 or 3 channels"
_EXTRA = "pip install 'mytrack[media]'"


class Video(Media):
    """A video: NumPy frames (time, channel, height, width) or (batch, time,
    channel, height, width) (a batch is tiled into a grid), uint8 or floats in
    [0, 1], or a path to a .gif/.mp4/.webm/.ogg file.

    Args:
        data_or_path: the frames or the file.
        caption: shown with the video.
        fps: frames per second (default 4).
        format: "gif" (default, Pillow), "mp4" or "webm" (imageio and
            imageio-ffmpeg: the ``[media]`` extra).
    """

    kind = "videos"
    type_name = "video-file"

    def __init__(
        self, data_or_path: Any, caption: str | None = None, fps: float | None = None,
        format: str | None = None,  # noqa: A002 - W&B's name
    ) -> None:
        self._data = data_or_path
        self._caption = caption
        self._fps = fps
        self._format = format

    def to_descriptor(self, sink: MediaWriter | None, key: str) -> dict[str, Any]:
        caption = check_caption(key, "Video", self._caption)
        if is_path(self._data):
            content, ext = read_path(key, "Video", self._data)
            if ext not in FILE_FORMATS:
                raise bad(key, "Video", f"a file ending in .{', .'.join(FILE_FORMATS)}", repr(os.fspath(self._data)))
            fields = _gif_fields(content) if ext == "gif" else {}
            return self._file_descriptor(sink, key, ext, content, format=ext, caption=caption, **fields)
        fmt, fps = self._check_options(key)
        frames = self._frames(key)
        content = _gif(frames, fps) if fmt == "gif" else _ffmpeg(frames, fps, fmt)
        return self._file_descriptor(
            sink, key, fmt, content, format=fmt, width=frames.shape[2], height=frames.shape[1],
            fps=fps, frames=frames.shape[0], caption=caption,
        )

    def _check_options(self, key: str) -> tuple[str, float]:
        fmt = "gif" if self._format is None else str(self._format).lower()
        if fmt not in FORMATS:
            raise bad(key, "Video", f"format one of {', '.join(FORMATS)}", repr(self._format))
        fps = 4 if self._fps is None else self._fps
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < fps <= 1000:
            raise bad(key, "Video", "fps a number above 0 (at most 1000)", repr(self._fps))
        return fmt, fps

    def _frames(self, key: str) -> Any:
        """(time, height, width[, 3]) uint8 frames; a batch tiled into a grid."""
        try:
            array = to_numpy(self._data)
        except (TypeError, ValueError):
            raise bad(key, "Video", _SHAPES, type(self._data).__name__) from None
        if array.dtype == object or array.ndim not in (4, 5) or array.shape[-3] not in (1, 3) \
                or 0 in array.shape:
            raise bad(key, "Video", _SHAPES, f"shape {array.shape}")
        array = to_uint8(array, key, "Video")
        if array.ndim == 5:
            array = _tile(array)
        frames = array.transpose(0, 2, 3, 1)  # (time, height, width, channel)
        return frames[..., 0] if frames.shape[-1] == 1 else frames


def _tile(batch: Any) -> Any:
    """(batch, time, c, h, w) -> (time, c, rows*h, cols*w), empty cells black."""
    import numpy as np

    count, time, channels, height, width = batch.shape
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    grid = np.zeros((time, channels, rows * height, cols * width), dtype=np.uint8)
    for index in range(count):
        r, c = divmod(index, cols)
        grid[:, :, r * height:(r + 1) * height, c * width:(c + 1) * width] = batch[index]
    return grid


def _gif(frames: Any, fps: float) -> bytes:
    """An animated GIF that loops; identical consecutive frames merge (Pillow)."""
    pil = pil_module()
    images = [pil.fromarray(frame) for frame in frames]
    buffer = io.BytesIO()
    images[0].save(
        buffer, format="GIF", save_all=True, append_images=images[1:],
        duration=max(10, round(1000 / fps)), loop=0, optimize=False,
    )
    return buffer.getvalue()


def _gif_fields(content: bytes) -> dict[str, Any]:
    pil = pil_module()
    try:
        image = pil.open(io.BytesIO(content))
        return {"width": image.width, "height": image.height, "frames": getattr(image, "n_frames", 1)}
    except Exception:  # noqa: BLE001 - unreadable: stored as given, without dimensions
        return {}


def _ffmpeg(frames: Any, fps: float, fmt: str) -> bytes:
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401 - the writer imageio needs
    except ImportError:
        raise ImportError(
            f"Video(format={fmt!r}) needs imageio and imageio-ffmpeg: {_EXTRA} "
            "(or use format='gif', which needs nothing more)"
        ) from None
    import numpy as np

    if frames.ndim == 3:  # grayscale: ffmpeg wants RGB
        frames = np.repeat(frames[..., None], 3, axis=3)
    codec = "libx264" if fmt == "mp4" else "libvpx-vp9"
    fd, path = tempfile.mkstemp(suffix=f".{fmt}")
    os.close(fd)
    try:
        writer = imageio.get_writer(path, format="FFMPEG", fps=fps, codec=codec, macro_block_size=2,
                                    ffmpeg_log_level="error")
        try:
            for frame in frames:
                writer.append_data(frame)
        finally:
            writer.close()
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.unlink(path)
