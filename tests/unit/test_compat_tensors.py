"""Tensors in log(), summary and config, and images from tensors, by W&B's rules."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage

import mytrack
from mytrack._internal.media.run_files import MediaSink
from mytrack._internal.run.config import sanitize
from mytrack._internal.run.values import check_log_data, convert_value
from mytrack.compat.facade import Image as WandbImage
from mytrack.errors import InvalidTypeError, InvalidValueError


class FakeEagerTensor:
    """TensorFlow's eager tensor, as duck typing sees it: a numpy() method."""

    __module__ = "tensorflow.python.framework.ops"

    def __init__(self, data: Any) -> None:
        self._data = np.asarray(data)

    def numpy(self) -> Any:
        return self._data


class FakeJaxArray:
    """A JAX array, as duck typing sees it: __array__ only."""

    __module__ = "jaxlib.xla_extension"

    def __init__(self, data: Any) -> None:
        self._data = np.asarray(data)

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return self._data if dtype is None else self._data.astype(dtype)


def sink(tmp_path: Path) -> MediaSink:
    return MediaSink(str(tmp_path), lambda: 0, lambda entries: None)


def test_duck_typed_tensors_are_numbers_or_histograms() -> None:
    """0-d TF/JAX-like values become numbers; larger ones 32-bin histograms of their values."""
    out = check_log_data({
        "tf0": FakeEagerTensor(2.5), "jax0": FakeJaxArray(np.int32(4)),
        "tf": FakeEagerTensor(np.arange(100.0)), "jax": FakeJaxArray(np.ones((4, 4))),
    })
    assert out["tf0"] == 2.5 and out["jax0"] == 4 and type(out["jax0"]) is int
    expected_counts, expected_edges = np.histogram(np.arange(100.0), bins=32)
    assert out["tf"] == {"_type": "histogram", "values": expected_counts.tolist(), "bins": expected_edges.tolist()}
    assert out["jax"]["_type"] == "histogram" and sum(out["jax"]["values"]) == 16


def test_summary_takes_tensors_config_gets_lists() -> None:
    """Summary values convert like log(); config keeps tensors as numbers and nested lists."""
    assert convert_value(FakeEagerTensor(1.0), "s") == 1.0
    assert convert_value(FakeEagerTensor([1.0, 2.0]), "s")["_type"] == "histogram"
    assert sanitize({"w": FakeJaxArray([[1, 2], [3, 4]]), "s": FakeEagerTensor(0.5)}) == {
        "w": [[1, 2], [3, 4]], "s": 0.5,
    }


def test_plain_objects_are_still_refused() -> None:
    """Duck typing needs numpy() or __array__: other objects are still refused by name."""
    with pytest.raises(InvalidTypeError, match="key 'x'"):
        check_log_data({"x": object()})


def test_torch_tensors() -> None:
    """PyTorch: 0-d is a number, bfloat16 too; larger is a histogram; no grad needed."""
    torch = pytest.importorskip("torch")
    weights = torch.randn(8, 16, requires_grad=True)
    out = check_log_data({
        "loss": torch.tensor(0.25), "step": torch.tensor(3), "bf": torch.tensor(1.5, dtype=torch.bfloat16),
        "w": weights,
    })
    assert out["loss"] == 0.25 and out["step"] == 3 and out["bf"] == 1.5
    counts, edges = np.histogram(weights.detach().numpy().astype(np.float64), bins=32)
    assert out["w"]["values"] == counts.tolist() and out["w"]["bins"] == pytest.approx(edges.tolist())
    assert sanitize({"t": torch.tensor([1, 2])}) == {"t": [1, 2]}


def decoded(tmp_path: Path, image: mytrack.Image) -> Any:
    out = check_log_data({"img": image}, sink(tmp_path))
    return np.asarray(PILImage.open(io.BytesIO((tmp_path / out["img"]["path"]).read_bytes())))


def test_wandb_image_rescales_negative_scales_unit_floats_and_clips(tmp_path: Path) -> None:
    """wandb.Image: [-1, 1] rescaled, [0, 1] times 255 (truncated), above 255 clipped."""
    assert decoded(tmp_path, WandbImage(np.array([[-1.0, 0.0, 1.0]]))).tolist() == [[0, 127, 255]]
    assert decoded(tmp_path, WandbImage(np.array([[0.0, 0.5, 1.0]]))).tolist() == [[0, 127, 255]]
    assert decoded(tmp_path, WandbImage(np.array([[0.0, 2.0, 300.0]]))).tolist() == [[0, 2, 255]]
    assert decoded(tmp_path, WandbImage(np.array([[0, 100, 1000]]))).tolist() == [[0, 100, 255]]


def test_wandb_image_chw_and_grayscale(tmp_path: Path) -> None:
    """A C×H×W array is turned to H×W×C; 1×H×W and H×W are grayscale."""
    chw = np.zeros((3, 2, 5), dtype=np.uint8)
    chw[0] = 200
    got = decoded(tmp_path, WandbImage(chw))
    assert got.shape == (2, 5, 3) and (got[..., 0] == 200).all() and (got[..., 1] == 0).all()
    assert decoded(tmp_path, WandbImage(np.full((1, 2, 5), 0.5))).shape == (2, 5)
    assert decoded(tmp_path, WandbImage(np.full((2, 5), 7, dtype=np.uint8))).shape == (2, 5)


def test_image_from_torch_tensor_uses_wandb_rules(tmp_path: Path) -> None:
    """mytrack.Image of a normalised CHW tensor ([-1, 1]) is rescaled, not refused."""
    torch = pytest.importorskip("torch")
    tensor = torch.linspace(-1, 1, 3 * 4 * 6).reshape(3, 4, 6)
    got = decoded(tmp_path, mytrack.Image(tensor))
    assert got.shape == (4, 6, 3) and got.min() == 0 and got.max() == 255


def test_image_batch_from_tensor_list(tmp_path: Path) -> None:
    """log({"x": [Image, ...]}) of tensors gives one descriptor per image."""
    images = [WandbImage(FakeEagerTensor(np.full((2, 2), i / 4))) for i in range(3)]
    out = check_log_data({"x": images}, sink(tmp_path))
    assert [d["_type"] for d in out["x"]] == ["image-file"] * 3


def test_numpy_images_through_mytrack_image_stay_strict(tmp_path: Path) -> None:
    """mytrack.Image keeps refusing NumPy pixels out of range (only wandb.Image rescales them)."""
    with pytest.raises(InvalidValueError, match=r"floats in \[0, 1\]"):
        decoded(tmp_path, mytrack.Image(np.array([[0.0, 2.0]])))


class FakeCudaTensor:
    """A PyTorch tensor on a GPU, as duck typing sees it; counts host copies."""

    __module__ = "torch"

    def __init__(self, data: Any, on_gpu: bool = True, copies: list[int] | None = None) -> None:
        self._data = np.asarray(data)
        self.device = type("Device", (), {"type": "cuda" if on_gpu else "cpu"})()
        self.copies = copies if copies is not None else []

    def detach(self) -> FakeCudaTensor:
        return self

    def cpu(self) -> FakeCudaTensor:
        self.copies.append(1)
        return FakeCudaTensor(self._data, on_gpu=False, copies=self.copies)

    def numpy(self) -> Any:
        if self.device.type != "cpu":
            raise TypeError("can't convert cuda tensor to numpy")
        return self._data


def test_gpu_tensor_is_copied_to_the_host_once() -> None:
    """A CUDA tensor is moved to the host exactly once, in the calling thread."""
    scalar, matrix = FakeCudaTensor(3.0), FakeCudaTensor(np.arange(10.0))
    out = check_log_data({"s": scalar, "m": matrix})
    assert out["s"] == 3.0 and out["m"]["_type"] == "histogram"
    assert scalar.copies == [1] and matrix.copies == [1]
