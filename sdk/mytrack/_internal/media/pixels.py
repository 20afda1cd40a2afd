"""Pixel arrays to uint8: the one rule that Image and Video share.

Accepted: uint8; bool; other integers within 0..255; floats within [0, 1]
(scaled by 255 and rounded). NaN or infinite pixels and anything out of range
are refused with an error naming the key.
"""

from __future__ import annotations

from typing import Any

from mytrack._internal.media.base import bad

PIXELS = "uint8 values, or floats in [0, 1]"


def to_uint8(array: Any, key: str, what: str) -> Any:
    import numpy as np

    kind = array.dtype.kind
    if array.dtype == np.uint8:
        return array
    if kind == "b":
        return array.astype(np.uint8) * 255
    if array.size == 0:
        raise bad(key, what, "at least one pixel", f"shape {array.shape}")
    if kind in "iu":
        low, high = int(array.min()), int(array.max())
        if low < 0 or high > 255:
            raise bad(key, what, PIXELS, f"integers from {low} to {high}")
        return array.astype(np.uint8)
    if kind == "f":
        if not np.isfinite(array).all():
            raise bad(key, what, f"{PIXELS} (no NaN or infinite pixels)", "NaN or infinite pixels")
        lowest, highest = float(array.min()), float(array.max())
        if lowest < 0.0 or highest > 1.0:
            raise bad(key, what, PIXELS, f"floats from {lowest:g} to {highest:g}")
        return np.rint(array * 255.0).astype(np.uint8)
    raise bad(key, what, PIXELS, f"an array of dtype {array.dtype}")


def pil_module() -> Any:
    try:
        from PIL import Image as PILImage
    except ImportError:  # pragma: no cover - Pillow is a core dependency
        raise ImportError("mytrack's images need Pillow: pip install pillow") from None
    return PILImage


def is_pil_image(value: Any) -> bool:
    import sys

    module = sys.modules.get("PIL.Image")
    return module is not None and isinstance(value, module.Image)


def is_figure(value: Any) -> bool:
    """A matplotlib figure, by duck typing (matplotlib is never imported here)."""
    return hasattr(value, "savefig") and hasattr(value, "get_size_inches")
