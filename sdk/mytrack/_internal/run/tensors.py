"""Tensors of PyTorch, TensorFlow, JAX (and anything array-like) as logged values.

W&B's rules: a 0-d tensor is a number; a larger one is a histogram of its
values (32 bins, as W&B makes them) in ``log()`` and the summary, and a
(nested) list in the config. Frameworks are recognised by duck typing (a
``numpy()`` method or ``__array__``), never imported. A tensor on a GPU is
copied to the host once, here, in the caller's thread, so that the sender
thread never touches the framework.

Only `convert_value` calls this, after the checks for plain values failed,
so logging plain floats costs nothing more.
"""

from __future__ import annotations

from typing import Any

# Histograms made from logged tensors: W&B's bin count for them.
TENSOR_HISTOGRAM_BINS = 32

# Array-likes left to their own rules (pandas: tables; NumPy: values.py).
_NOT_TENSORS = ("builtins", "numpy", "pandas")


def as_array(value: Any) -> Any:
    """A NumPy array holding ``value``'s data, or None when it is not a tensor."""
    if type(value).__module__.partition(".")[0] in _NOT_TENSORS:
        return None
    import numpy as np

    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        return _torch_to_numpy(value)
    to_numpy = getattr(value, "numpy", None)
    if callable(to_numpy):  # TensorFlow's eager tensors, JAX arrays
        return np.asarray(to_numpy())
    if hasattr(value, "__array__"):
        return np.asarray(value)
    return None


def _torch_to_numpy(tensor: Any) -> Any:
    tensor = tensor.detach()
    device = getattr(tensor, "device", None)
    if getattr(device, "type", "cpu") != "cpu":
        tensor = tensor.cpu()  # the one host copy
    try:
        return tensor.numpy()
    except TypeError:  # bfloat16, float8...: no NumPy dtype; float32 holds them exactly
        return tensor.float().numpy()


def to_config_value(array: Any) -> Any:
    """A config value: a number for a 0-d array, else nested lists."""
    return array.item() if array.ndim == 0 else array.tolist()
