"""``mytrack.Audio``: samples as a 16-bit PCM WAV file (stdlib ``wave``), or an audio file."""

from __future__ import annotations

import io
import os
import wave
from typing import Any

from mytrack._internal.media.base import Media, MediaWriter, bad, check_caption, is_path, read_path, to_numpy

FILE_FORMATS = ("wav", "mp3", "ogg", "flac")
_SHAPES = "samples of shape (samples,) or (samples, channels) with at most 32 channels"
_VALUES = "floats in [-1, 1] or int16 values"


class Audio(Media):
    """Audio: a NumPy array of samples (floats in [-1, 1] or int16; shape
    (samples,) or (samples, channels)) with its ``sample_rate``, or a path to
    a .wav/.mp3/.ogg/.flac file.

    Arrays are stored as 16-bit PCM WAV: floats are scaled by 32767 and rounded.
    """

    kind = "audio"
    type_name = "audio-file"

    def __init__(self, data_or_path: Any, sample_rate: int | None = None, caption: str | None = None) -> None:
        self._data = data_or_path
        self._sample_rate = sample_rate
        self._caption = caption

    def to_descriptor(self, sink: MediaWriter | None, key: str) -> dict[str, Any]:
        caption = check_caption(key, "Audio", self._caption)
        if is_path(self._data):
            content, ext = read_path(key, "Audio", self._data)
            if ext not in FILE_FORMATS:
                raise bad(key, "Audio", f"a file ending in .{', .'.join(FILE_FORMATS)}",
                          repr(os.fspath(self._data)))
            fields = _wav_fields(content) if ext == "wav" else {"sample_rate": self._sample_rate}
            return self._file_descriptor(sink, key, ext, content, format=ext, caption=caption, **fields)
        rate = self._sample_rate
        if isinstance(rate, bool) or not isinstance(rate, int) or not 0 < rate <= 10_000_000:
            raise bad(key, "Audio", "sample_rate, a positive int, with an array", repr(rate))
        samples = self._samples(key)
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(samples.shape[1])
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(samples.astype("<i2").tobytes())
        return self._file_descriptor(
            sink, key, "wav", buffer.getvalue(), format="wav", sample_rate=rate,
            channels=samples.shape[1], samples=samples.shape[0],
            duration=samples.shape[0] / rate, caption=caption,
        )

    def _samples(self, key: str) -> Any:
        """(samples, channels) int16."""
        import numpy as np

        try:
            array = to_numpy(self._data)
        except (TypeError, ValueError):
            raise bad(key, "Audio", _SHAPES, type(self._data).__name__) from None
        if array.dtype == object or array.ndim not in (1, 2) or array.shape[0] == 0 or (
            array.ndim == 2 and not 1 <= array.shape[1] <= 32
        ):
            raise bad(key, "Audio", _SHAPES, f"shape {array.shape}")
        if array.ndim == 1:
            array = array[:, None]
        kind = array.dtype.kind
        if kind == "f":
            if not np.isfinite(array).all():
                raise bad(key, "Audio", f"{_VALUES} (no NaN or infinity)", "NaN or infinite samples")
            low, high = float(array.min()), float(array.max())
            if low < -1.0 or high > 1.0:
                raise bad(key, "Audio", _VALUES, f"floats from {low:g} to {high:g}")
            return np.rint(array * 32767.0).astype(np.int16)
        if kind in "iu":
            low, high = int(array.min()), int(array.max())
            if low < -32768 or high > 32767:
                raise bad(key, "Audio", _VALUES, f"integers from {low} to {high}")
            return array.astype(np.int16)
        raise bad(key, "Audio", _VALUES, f"an array of dtype {array.dtype}")


def _wav_fields(content: bytes) -> dict[str, Any]:
    try:
        with wave.open(io.BytesIO(content), "rb") as wav:
            frames, rate = wav.getnframes(), wav.getframerate()
            return {"sample_rate": rate, "channels": wav.getnchannels(), "samples": frames,
                    "duration": frames / rate if rate else None}
    except (wave.Error, EOFError):
        return {}  # not PCM WAV that the stdlib reads: stored as given
