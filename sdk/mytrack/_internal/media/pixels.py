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


def wandb_to_uint8(array: Any, key: str, what: str) -> Any:
    """W&B's pixel rule, for tensors and for images made through ``wandb.Image``:
    data with negative values is rescaled to [0, 1] (min to max); data whose
    maximum is at most 1 is scaled by 255; the rest is clipped to 0..255.
    NaN or infinite pixels are still refused (W&B would write noise)."""
    import numpy as np

    if array.dtype == np.uint8:
        return array
    if array.dtype.kind == "b":
        return array.astype(np.uint8) * 255
    if array.dtype.kind not in "iuf":
        raise bad(key, what, "numbers", f"an array of dtype {array.dtype}")
    if array.size == 0:
        raise bad(key, what, "at least one pixel", f"shape {array.shape}")
    data = array.astype(np.float64)
    if not np.isfinite(data).all():
        raise bad(key, what, "finite pixels", "NaN or infinite pixels")
    low = data.min()
    if low < 0:
        span = data.max() - low
        data = (data - low) / span if span > 0 else np.zeros_like(data)
    if data.max() <= 1.0:
        data = (data * 255).astype(np.int32)  # truncation, as W&B
    return data.clip(0, 255).astype(np.uint8)


def is_framework_array(value: Any) -> bool:
    """A PyTorch/TensorFlow/JAX tensor (or another array-like that is not NumPy's),
    by duck typing: no framework is imported here."""
    if type(value).__module__.partition(".")[0] in ("builtins", "numpy", "pandas", "PIL"):
        return False
    return hasattr(value, "numpy") or hasattr(value, "__array__")


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
