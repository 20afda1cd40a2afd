"""``mytrack.Image``: an image file (PNG by default) in ``media/images/``."""

from __future__ import annotations

import io
from typing import Any

from mytrack._internal.media.base import Media, MediaWriter, bad, check_caption, is_path, is_tensor, read_path, to_numpy
from mytrack._internal.media.pixels import (
    is_figure,
    is_framework_array,
    is_pil_image,
    pil_module,
    to_uint8,
    wandb_to_uint8,
)

# file_type -> (Pillow format name, extension)
FORMATS = {
    "png": ("PNG", "png"), "jpg": ("JPEG", "jpg"), "jpeg": ("JPEG", "jpg"),
    "gif": ("GIF", "gif"), "bmp": ("BMP", "bmp"), "webp": ("WEBP", "webp"),
}
_SHAPES = "an array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4)"
_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "I", "F")


class Image(Media):
    """An image: a NumPy array (H×W, H×W×1/3/4; uint8, or floats in [0, 1]),
    a PIL image, a path to an image file, a matplotlib figure or a
    PyTorch tensor (C×H×W is turned into H×W×C).

    Tensors (PyTorch, TensorFlow, JAX) follow W&B's pixel rules: negative data
    is rescaled, data within [0, 1] is scaled by 255, the rest clipped; NumPy
    arrays must be in range (``wandb.Image`` under mytrack.compat takes W&B's
    rules for them too).

    The data is read when the image is logged; errors then name the key.

    Args:
        data_or_path: the image.
        mode: a PIL mode ("L", "RGB", "RGBA"...) to convert the image to.
        caption: shown with the image.
        file_type: "png" (default), "jpg", "gif", "bmp" or "webp"; a file
            given by path keeps its format unless this asks for another.
    """

    kind = "images"
    type_name = "image-file"
    # W&B's pixel rules (rescaled, clipped: pixels.wandb_to_uint8) for every source,
    # not only for tensors: set by the ``wandb.Image`` of mytrack.compat.
    wandb_pixels = False

    def __init__(
        self, data_or_path: Any, mode: str | None = None, caption: str | None = None,
        file_type: str | None = None,
    ) -> None:
        self._data = data_or_path
        self._mode = mode
        self._caption = caption
        self._file_type = file_type

    def to_descriptor(self, sink: MediaWriter | None, key: str) -> dict[str, Any]:
        caption = check_caption(key, "Image", self._caption)
        data, ext, width, height, mode = self.encode(key)
        return self._file_descriptor(
            sink, key, ext, data, format=ext, width=width, height=height, mode=mode,
            caption=caption,
        )

    def encode(self, key: str) -> tuple[bytes, str, int, int, str]:
        """(file content, extension, width, height, PIL mode)."""
        pil = pil_module()
        wanted = self._check_options(key)
        source = self._data
        if is_path(source):
            content, _ = read_path(key, "Image", source)
            image = _open(pil, content, key)
            own = (image.format or "").lower()
            if own in FORMATS and (wanted is None or FORMATS[wanted][0] == FORMATS[own][0]) \
                    and self._mode in (None, image.mode):
                return content, FORMATS[own][1], image.width, image.height, image.mode
        elif is_pil_image(source):
            image = source
        elif is_figure(source):
            buffer = io.BytesIO()
            source.savefig(buffer, format="png")
            image = _open(pil, buffer.getvalue(), key)
        else:
            image = pil.fromarray(self._pixels(key))
        if self._mode is not None and image.mode != self._mode:
            image = image.convert(self._mode)
        return _save(image, wanted or "png")

    def _check_options(self, key: str) -> str | None:
        wanted = self._file_type
        if wanted is not None:
            wanted = str(wanted).lower().lstrip(".")
            if wanted not in FORMATS:
                raise bad(key, "Image", f"file_type one of {', '.join(FORMATS)}", repr(self._file_type))
        if self._mode is not None and self._mode not in _MODES:
            raise bad(key, "Image", f"mode one of {', '.join(_MODES)}", repr(self._mode))
        return wanted

    def _pixels(self, key: str) -> Any:
        source = self._data
        try:
            array = to_numpy(source)
        except (TypeError, ValueError):
            raise bad(key, "Image", f"{_SHAPES}, a PIL image, a file path or a figure",
                      type(source).__name__) from None
        wandb_rules = self.wandb_pixels or is_framework_array(source)
        if (is_tensor(source) or wandb_rules) and array.ndim == 3 and array.shape[0] in (1, 3, 4) \
                and array.shape[-1] not in (1, 3, 4):
            array = array.transpose(1, 2, 0)  # PyTorch's C×H×W
        if array.dtype == object or array.ndim not in (2, 3) or (
            array.ndim == 3 and array.shape[2] not in (1, 3, 4)
        ) or 0 in array.shape:
            raise bad(key, "Image", _SHAPES, f"shape {array.shape} ({array.dtype})")
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        return wandb_to_uint8(array, key, "Image") if wandb_rules else to_uint8(array, key, "Image")


def _open(pil: Any, content: bytes, key: str) -> Any:
    try:
        image = pil.open(io.BytesIO(content))
        image.load()
    except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds
        raise bad(key, "Image", "an image file Pillow can read", f"{type(exc).__name__}: {exc}") from None
    return image


def _save(image: Any, file_type: str) -> tuple[bytes, str, int, int, str]:
    pil_format, ext = FORMATS[file_type]
    if pil_format == "JPEG" and image.mode not in ("L", "RGB", "CMYK"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format=pil_format)
    return buffer.getvalue(), ext, image.width, image.height, image.mode
