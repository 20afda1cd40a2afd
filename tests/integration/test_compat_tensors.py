"""Tensors logged through a real run: what the history, summary and config hold."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mytrack
from mytrack._internal.run.config import sanitize
from mytrack._internal.run.values import check_log_data, convert_value

torch = pytest.importorskip("torch")


class FakeCudaTensor(torch.Tensor):
    """A CPU tensor that behaves like a CUDA one where mytrack looks: its device says cuda,
    numpy() refuses as torch does on a GPU, and each cpu() (a host copy) is recorded with
    the thread that made it."""

    copies: list[int] = []

    @property
    def device(self) -> Any:
        return torch.device("cuda", 0)

    @property
    def is_cuda(self) -> bool:
        return True

    def cpu(self, *args: Any, **kwargs: Any) -> Any:
        FakeCudaTensor.copies.append(threading.get_ident())
        return torch.Tensor.cpu(self).as_subclass(torch.Tensor).clone()

    def numpy(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("can't convert cuda:0 device type tensor to numpy. "
                        "Use Tensor.cpu() to copy the tensor to host memory first.")


def on_gpu(data: Any, **kwargs: Any) -> Any:
    return torch.as_tensor(data, **kwargs).as_subclass(FakeCudaTensor)


@pytest.fixture
def copies() -> Iterator[list[int]]:
    FakeCudaTensor.copies.clear()
    yield FakeCudaTensor.copies


@pytest.fixture(autouse=True)
def _no_current_run(workdir: Path) -> Iterator[None]:
    mytrack.finish()
    yield
    mytrack.finish()


def test_tensors_in_log_summary_and_config(project: str) -> None:
    """0-d tensors are numbers, larger ones histograms (history and summary); config gets lists."""
    weights = torch.arange(64, dtype=torch.float32).reshape(8, 8)
    with mytrack.init(project=project, config={"scale": torch.tensor(2.0), "shape": torch.tensor([8, 8])},
                      settings=mytrack.Settings(quiet=True)) as run:
        for step in range(2):
            run.log({"loss": torch.tensor(1.0 / (step + 1)), "w": weights})
        run.summary["best"] = torch.tensor(0.5)
        run.summary["final_w"] = weights
    stored = mytrack.Api().run(run.path)
    rows = list(stored.scan_history())
    assert [r["loss"] for r in rows] == [1.0, 0.5]
    counts, edges = np.histogram(weights.numpy().astype(np.float64), bins=32)
    assert rows[0]["w"] == {"_type": "histogram", "values": counts.tolist(), "bins": edges.tolist()}
    assert stored.summary["best"] == 0.5 and stored.summary["loss"] == 0.5
    assert stored.summary["final_w"]["_type"] == "histogram"
    assert stored.config == {"scale": 2.0, "shape": [8, 8]}


def test_a_gpu_tensor_is_copied_to_the_host_once_per_value(tmp_path: Path, copies: list[int]) -> None:
    """log() values, summary values, config values and images: one cpu() each, never numpy() first."""
    out = check_log_data({"loss": on_gpu(0.5), "w": on_gpu(np.arange(12.0).reshape(3, 4)),
                          "bf": on_gpu(1.5, dtype=torch.bfloat16)})
    assert out["loss"] == 0.5 and out["bf"] == 1.5 and out["w"]["_type"] == "histogram"
    assert len(copies) == 3
    assert convert_value(on_gpu([1.0, 2.0]), "s")["_type"] == "histogram" and len(copies) == 4
    assert sanitize({"c": on_gpu([[1, 2], [3, 4]])}) == {"c": [[1, 2], [3, 4]]} and len(copies) == 5
    mytrack.Image(on_gpu(np.random.rand(3, 4, 5))).encode("img")
    assert len(copies) == 6


def test_gpu_tensors_through_a_run_are_copied_in_the_callers_thread(project: str, copies: list[int]) -> None:
    """Through a real run: each tensor copied once, by the thread that called log()/summary/config."""
    weights = np.arange(64.0).reshape(8, 8)
    with mytrack.init(project=project, config={"scale": on_gpu(2.0)}, settings=mytrack.Settings(quiet=True)) as run:
        for step in range(3):
            run.log({"loss": on_gpu(0.5**step), "w": on_gpu(weights)})
        run.summary["best"] = on_gpu(0.25)
    assert len(copies) == 1 + 3 * 2 + 1
    assert set(copies) == {threading.get_ident()}
    stored = mytrack.Api().run(run.path)
    assert [r["loss"] for r in stored.scan_history()] == [1.0, 0.5, 0.25]
    assert stored.summary["best"] == 0.25 and stored.config == {"scale": 2.0}
    assert stored.summary["w"]["values"] == np.histogram(weights, bins=32)[0].tolist()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
def test_real_cuda_tensors_in_log_summary_config_and_images(project: str) -> None:
    """Real CUDA tensors: numbers, histograms, config lists and an image, read back from the store."""
    device = torch.device("cuda")
    weights = torch.arange(64, dtype=torch.float32, device=device).reshape(8, 8)
    with mytrack.init(project=project, config={"scale": torch.tensor(2.0, device=device)},
                      settings=mytrack.Settings(quiet=True)) as run:
        run.log({"loss": torch.tensor(0.5, device=device), "w": weights,
                 "img": mytrack.Image(torch.rand(3, 4, 5, device=device))})
        run.summary["best"] = torch.tensor(0.25, device=device, dtype=torch.bfloat16)
    stored = mytrack.Api().run(run.path)
    (row,) = stored.scan_history()
    assert row["loss"] == 0.5 and row["img"]["width"] == 5 and row["img"]["height"] == 4
    assert row["w"]["values"] == np.histogram(weights.cpu().numpy().astype(np.float64), bins=32)[0].tolist()
    assert stored.summary["best"] == 0.25 and stored.config == {"scale": 2.0}
