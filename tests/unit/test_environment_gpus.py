"""The GPU part of a run's environment metadata, with a stand-in NVML module."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from mytrack._internal.lifecycle import environment


class _FakeNvml(types.ModuleType):
    """Two GPUs behind the few NVML calls the environment makes; counts nvmlInit."""

    class NVMLError(Exception):
        pass

    def __init__(self) -> None:
        super().__init__("pynvml")
        self.inits = 0

    def nvmlInit(self) -> None:  # noqa: N802 - NVML's names
        self.inits += 1

    def nvmlShutdown(self) -> None:  # noqa: N802
        pass

    def nvmlDeviceGetCount(self) -> int:  # noqa: N802
        return 2

    def nvmlDeviceGetHandleByIndex(self, index: int) -> int:  # noqa: N802
        return index

    def nvmlDeviceGetName(self, handle: int) -> bytes:  # noqa: N802
        return b"NVIDIA H100"

    def nvmlDeviceGetMemoryInfo(self, handle: int) -> Any:  # noqa: N802
        return types.SimpleNamespace(total=80 * 2**30)

    def nvmlSystemGetDriverVersion(self) -> str:  # noqa: N802
        return "550.54"

    def nvmlSystemGetCudaDriverVersion(self) -> int:  # noqa: N802
        return 12040


@pytest.fixture
def nvml(monkeypatch: pytest.MonkeyPatch) -> Iterator[_FakeNvml]:
    fake = _FakeNvml()
    monkeypatch.setitem(sys.modules, "pynvml", fake)
    driver_check = environment._nvidia_driver_possible  # a test may replace it
    environment._gpus.cache_clear()
    driver_check.cache_clear()
    yield fake
    environment._gpus.cache_clear()
    driver_check.cache_clear()


def test_gpus_are_read_through_nvml_where_a_driver_may_be(nvml: _FakeNvml, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "_nvidia_driver_possible", lambda: True)
    assert environment._gpus() == {
        "count": 2, "driver": "550.54", "cuda_version": "12.4",
        "devices": [{"name": "NVIDIA H100", "memory_total_mb": 81920}] * 2,
    }
    assert nvml.inits == 1


def test_nvml_is_not_started_on_a_linux_machine_without_an_nvidia_driver(
    nvml: _FakeNvml, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(environment.os.path, "exists", lambda path: False)
    assert environment._gpus() == {}
    assert nvml.inits == 0  # neither imported for real nor started


def test_the_driver_check_looks_for_the_driver_or_wsl_gpu_device(monkeypatch: pytest.MonkeyPatch) -> None:
    environment._nvidia_driver_possible.cache_clear()
    monkeypatch.setattr(sys, "platform", "linux")
    seen: list[str] = []
    monkeypatch.setattr(environment.os.path, "exists", lambda path: seen.append(path) or path == "/dev/dxg")
    try:
        assert environment._nvidia_driver_possible() is True
        assert seen == ["/proc/driver/nvidia/version", "/dev/dxg"]
    finally:
        environment._nvidia_driver_possible.cache_clear()
