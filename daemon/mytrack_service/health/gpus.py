"""GPU readings for system metrics: a small reader interface, NVML, and a fake.

`NvmlReader` reads NVIDIA GPUs through NVML (the optional `nvidia-ml-py`
package, imported lazily on the first read). No library, no driver or no GPU
is never an error: the reader then has no GPUs, and it does not try again.
A single reading that a GPU does not support (power on some boards, the
process list under MIG) is left out of that GPU's metrics.

`FakeGpuReader` returns readings given to it, for tests on machines without
a GPU; `Sampler(gpus=...)` takes either.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

logger = logging.getLogger("mytrack_service.health.gpus")

_MB = 1024 * 1024


@dataclass
class GpuReading:
    """One GPU at one moment."""

    # Metric name (the part after ``system/gpu.N.``) -> value: utilization (%),
    # memory_used / memory_total (MB), temperature (C), power (W), sm_clock (MHz).
    metrics: dict[str, float] = field(default_factory=dict)
    # pid -> MB of this GPU's memory the process uses (for the run's share).
    process_memory: dict[int, float] = field(default_factory=dict)


class GpuReader(Protocol):
    def read(self) -> list[GpuReading]:
        """One reading per GPU, in index order; [] when there is none."""

    def close(self) -> None: ...


class FakeGpuReader:
    """Returns copies of the readings it was given (a test double that ships with the code)."""

    def __init__(self, readings: Sequence[GpuReading]) -> None:
        self.readings = list(readings)
        self.reads = 0
        self.closed = False

    def read(self) -> list[GpuReading]:
        self.reads += 1
        return [GpuReading(dict(r.metrics), dict(r.process_memory)) for r in self.readings]

    def close(self) -> None:
        self.closed = True


class NvmlReader:
    """NVIDIA GPUs through NVML; see the module docstring."""

    def __init__(self) -> None:
        self._nvml: Any = None
        self._handles: list[Any] = []
        self._tried = False

    def _open(self) -> bool:
        if self._tried:
            return self._nvml is not None
        self._tried = True
        try:
            import pynvml  # type: ignore[import-untyped,import-not-found,unused-ignore]
        except ImportError:
            logger.info("nvidia-ml-py is not installed: no GPU metrics")
            return False
        try:
            pynvml.nvmlInit()
            count = pynvml.nvmlDeviceGetCount()
            self._handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        except pynvml.NVMLError as exc:
            logger.info("NVML is not usable (%s): no GPU metrics", exc)
            return False
        self._nvml = pynvml
        logger.info("NVML: %d GPU(s)", len(self._handles))
        return True

    def read(self) -> list[GpuReading]:
        if not self._open():
            return []
        return [self._read_one(handle) for handle in self._handles]

    def _read_one(self, handle: Any) -> GpuReading:
        nvml = self._nvml
        reading = GpuReading()
        metrics = reading.metrics

        def attempt(name: str, fn: Any) -> None:
            try:
                metrics[name] = float(fn())
            except nvml.NVMLError:
                pass  # not supported on this GPU

        attempt("utilization", lambda: nvml.nvmlDeviceGetUtilizationRates(handle).gpu)
        try:
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            metrics["memory_used"] = memory.used / _MB
            metrics["memory_total"] = memory.total / _MB
        except nvml.NVMLError:
            pass
        attempt("temperature",
                lambda: nvml.nvmlDeviceGetTemperature(handle, nvml.NVML_TEMPERATURE_GPU))
        attempt("power", lambda: nvml.nvmlDeviceGetPowerUsage(handle) / 1000.0)  # mW
        attempt("sm_clock", lambda: nvml.nvmlDeviceGetClockInfo(handle, nvml.NVML_CLOCK_SM))
        for list_processes in (nvml.nvmlDeviceGetComputeRunningProcesses,
                               nvml.nvmlDeviceGetGraphicsRunningProcesses):
            try:
                processes = list_processes(handle)
            except nvml.NVMLError:
                continue
            for process in processes:
                used = process.usedGpuMemory  # None where the driver cannot tell
                if used is not None:
                    # A process in both lists reports the same memory twice: keep one.
                    pid = int(process.pid)
                    reading.process_memory[pid] = max(
                        reading.process_memory.get(pid, 0.0), used / _MB
                    )
        return reading

    def close(self) -> None:
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError:
                pass
            self._nvml = None
