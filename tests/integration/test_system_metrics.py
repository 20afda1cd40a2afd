"""System metrics: sampled by the real service with real psutil, read back as their own stream.

Tests that need a sampling interval other than the session's use a fresh
service home (MYTRACK_STATS_INTERVAL is a variable of the service), handed to
subprocess scripts through MYTRACK_DIR; the fixture stops that service. The
NVML path is checked against an injected fake reader, and against the real
library where it is installed (no GPU there must not be an error).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mytrack_service.health.gpus import FakeGpuReader, GpuReading, NvmlReader
from mytrack_service.health.system_metrics import Sampler
from mytrack_service.ingest.live_runs import LiveRuns, OpenRequest
from mytrack_service.store.base import RunKey
from mytrack_service.store.memory import MemoryStore
from tests.helpers import ServiceHome, stop_service

INTERVAL = 0.2


class Home(ServiceHome):
    """A fresh service home whose service samples at a given interval."""

    @classmethod
    def sampling(cls, path: Path, interval: float) -> Home:
        env = {**os.environ, "MYTRACK_DIR": str(path),
               "MYTRACK_STATS_INTERVAL": str(interval), "MYTRACK_SILENT": "true"}
        return cls(path, env, workdir=path)

    def run(self, code: str, cwd: Path) -> dict[str, Any]:
        """Runs a script that prints one JSON line last; returns it."""
        result = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=self.env, text=True,
            capture_output=True, timeout=120,
        )
        assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
        out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
        return out


@pytest.fixture(scope="module")
def sampling_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    home = Home.sampling(tmp_path_factory.mktemp("stats-home"), INTERVAL)
    yield home
    stop_service(home.path)


LIVE_FOR = """
    import json, sys, time
    import mytrack
    run = mytrack.init(project={project!r}, settings=mytrack.Settings(console="off"))
    start = time.time()
    step = 0
    while time.time() - start < {seconds}:
        run.log({{"loss": 1.0 / (step + 1)}})
        step += 1
        time.sleep(0.02)
    lived = time.time() - start
    run.finish()
    print(json.dumps({{"path": run.path, "lived": lived, "steps": step}}))
"""


def test_system_stream_is_present_and_separate_from_step_history(
    sampling_home: Home, workdir: Path, project: str
) -> None:
    """Samples come back with stream="system" (system/ keys, _timestamp, _runtime, _label) and never appear in the step
    history."""
    out = sampling_home.run(LIVE_FOR.format(project=project, seconds=1.5), workdir)
    run = sampling_home.api().run(out["path"])
    history = run.history(pandas=False)
    assert len(history) == out["steps"]
    assert all(not k.startswith("system/") for row in history for k in row)
    samples = run.history(stream="system", pandas=False)
    assert samples, "no system sample was stored"
    for sample in samples:
        assert {"_timestamp", "_runtime", "_label", "system/cpu", "system/memory.used_percent",
                "system/memory.available", "system/disk.used_percent",
                "system/proc.cpu", "system/proc.memory.rss", "system/proc.threads"} <= set(sample)
        assert sample["_label"] == ""
        assert 0 <= sample["system/cpu"] <= 100
        assert sample["system/proc.memory.rss"] > 5  # a Python process
        assert sample["system/proc.threads"] >= 2  # main + the sender at least
    assert "_step" not in samples[0]
    timestamps = [s["_timestamp"] for s in samples]
    assert timestamps == sorted(timestamps)
    assert 0 <= samples[0]["_runtime"] <= samples[-1]["_runtime"] <= out["lived"] + 5
    # scan_history with keys keeps the stream's own columns and the asked key.
    cpu = list(run.scan_history(keys=["system/cpu"], stream="system"))
    assert len(cpu) == len(samples)
    assert set(cpu[0]) == {"_timestamp", "_runtime", "_label", "system/cpu"}


def test_sample_count_over_a_known_time_is_within_bounds(
    sampling_home: Home, workdir: Path, project: str
) -> None:
    """At a 0.2 s interval a run live for 3 s gets about 15 samples: neither a burst nor a stall."""
    out = sampling_home.run(LIVE_FOR.format(project=project, seconds=3.0), workdir)
    count = len(sampling_home.api().run(out["path"]).history(stream="system", pandas=False))
    expected = out["lived"] / INTERVAL
    # Loose below (a loaded CI machine delays ticks), tight above (no double sampling).
    assert expected * 0.4 <= count <= expected + 3, (count, expected)


def test_busy_loop_child_shows_process_tree_cpu(
    sampling_home: Home, workdir: Path, project: str
) -> None:
    """A child process spinning on the CPU counts in system/proc.cpu (the writer's process tree)."""
    code = f"""
        import json, subprocess, sys, time
        import mytrack
        run = mytrack.init(project={project!r}, settings=mytrack.Settings(console="off"))
        spin = "import time\\nend = time.time() + 3\\nwhile time.time() < end: pass"
        child = subprocess.Popen([sys.executable, "-c", spin])
        child.wait()
        run.finish()
        print(json.dumps({{"path": run.path}}))
    """
    out = sampling_home.run(code, workdir)
    samples = sampling_home.api().run(out["path"]).history(stream="system", pandas=False)
    busiest = max(s.get("system/proc.cpu", 0.0) for s in samples)
    assert busiest >= 40.0, [s.get("system/proc.cpu") for s in samples]


def test_interval_zero_disables_sampling(tmp_path: Path, workdir: Path, project: str) -> None:
    """With MYTRACK_STATS_INTERVAL=0 the service stores no system sample at all."""
    home = Home.sampling(tmp_path / "off-home", 0)
    try:
        out = home.run(LIVE_FOR.format(project=project, seconds=1.0), workdir)
        run = home.api().run(out["path"])
        assert run.history(stream="system", pandas=False) == []
        assert len(run.history(pandas=False)) == out["steps"]
    finally:
        stop_service(home.path)


LIVE_WITH_INTERVAL = """
    import json, time
    import mytrack
    run = mytrack.init(project={project!r}, settings=mytrack.Settings(
        console="off", x_stats_sampling_interval={interval}))
    start = time.time()
    while time.time() - start < {seconds}:
        run.log({{"loss": 1.0}})
        time.sleep(0.02)
    lived = time.time() - start
    run.finish()
    print(json.dumps({{"path": run.path, "lived": lived}}))
"""


def test_per_run_interval_setting(sampling_home: Home, workdir: Path, project: str) -> None:
    """Settings(x_stats_sampling_interval=...) sets a run's own interval: 0 samples nothing,
    a longer interval samples less often than the service's default."""
    off = sampling_home.run(
        LIVE_WITH_INTERVAL.format(project=project, interval=0, seconds=1.2), workdir)
    slow = sampling_home.run(
        LIVE_WITH_INTERVAL.format(project=project, interval=0.6, seconds=2.4), workdir)
    api = sampling_home.api()
    assert api.run(off["path"]).history(stream="system", pandas=False) == []
    samples = api.run(slow["path"]).history(stream="system", pandas=False)
    # 2.4 s at 0.6 s a sample: about 4 (the service default would give about 12).
    assert 1 <= len(samples) <= 6, len(samples)


def test_short_run_is_sampled_from_its_first_second(tmp_path: Path, workdir: Path, project: str) -> None:
    """With the service's default 10 s interval, a run that asked for 1 s and lived 3 s
    has at least 2 samples, the first within about a second of its start."""
    home = Home.sampling(tmp_path / "default-home", 10)
    try:
        out = home.run(LIVE_WITH_INTERVAL.format(project=project, interval=1, seconds=3.0), workdir)
        samples = home.api().run(out["path"]).history(stream="system", pandas=False)
        assert len(samples) >= 2, samples
        # Well before the service's 10 s interval (with room for a loaded machine).
        assert samples[0]["_runtime"] < 3.0, samples[0]["_runtime"]
        # A run that asked for nothing still gets its first sample promptly.
        plain = home.run(LIVE_FOR.format(project=project, seconds=2.0), workdir)
        assert len(home.api().run(plain["path"]).history(stream="system", pandas=False)) >= 1
    finally:
        stop_service(home.path)


# -- the sampler in-process: injected GPU reader, cost ---------------------------------


def _hub_with_writer(tmp_path: Path, pid: int) -> tuple[LiveRuns, RunKey]:
    live_runs = LiveRuns(MemoryStore(), str(tmp_path))
    key = RunKey("e", "p", "r1")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    live_runs.open_run(OpenRequest(
        key=key, writer_id="w1", name="n", group="", job_type="", tags=[], notes="",
        config={}, resume="", run_dir=str(run_dir), start_time=time.time() - 5.0, pid=pid,
        host=socket.gethostname(), sweep_id="",
    ))
    return live_runs, key


def test_gpu_metrics_from_an_injected_reader(tmp_path: Path) -> None:
    """Each GPU reading becomes system/gpu.N.* keys; proc.memory_used sums only the run's process tree."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live_runs, key = _hub_with_writer(tmp_path, os.getpid())
        fake = FakeGpuReader([
            GpuReading(
                {"utilization": 87.0, "memory_used": 30000.0, "memory_total": 81920.0,
                 "temperature": 61.0, "power": 312.5, "sm_clock": 1980.0},
                # ours, our child's, and a stranger's (pid 1) memory on GPU 0
                {os.getpid(): 1000.0, child.pid: 500.0, 1: 9999.0},
            ),
            GpuReading({"utilization": 0.0, "memory_used": 10.0, "memory_total": 81920.0}, {}),
        ])
        sampler = Sampler(live_runs, gpus=fake)
        assert sampler.sample_once() == 1
        (sample,) = list(live_runs.store.read_system(key))
        assert sample["system/gpu.0.utilization"] == 87.0
        assert sample["system/gpu.0.memory_used"] == 30000.0
        assert sample["system/gpu.0.memory_total"] == 81920.0
        assert sample["system/gpu.0.temperature"] == 61.0
        assert sample["system/gpu.0.power"] == 312.5
        assert sample["system/gpu.0.sm_clock"] == 1980.0
        assert sample["system/gpu.0.proc.memory_used"] == 1500.0
        assert sample["system/gpu.1.utilization"] == 0.0
        assert sample["system/gpu.1.proc.memory_used"] == 0.0
        assert "system/gpu.2.utilization" not in sample
        assert 4.0 <= sample["_runtime"] <= 60.0
        sampler.close()
        assert fake.closed
    finally:
        child.kill()
        child.wait()


def test_real_nvml_library_without_a_gpu_is_not_an_error() -> None:
    """NvmlReader never raises: no library, no driver or no GPU gives no reading; a GPU gives its metrics."""
    reader = NvmlReader()
    readings = reader.read()
    assert reader.read() == readings or len(reader.read()) == len(readings)
    for reading in readings:  # only on a machine with an NVIDIA GPU
        assert {"memory_used", "memory_total"} <= set(reading.metrics)
    reader.close()


def test_sampling_costs_under_one_percent_of_a_core_at_ten_seconds(tmp_path: Path) -> None:
    """One tick for a run costs well under 100 ms of CPU (1 % of a core at the 10 s default)."""
    live_runs, _ = _hub_with_writer(tmp_path, os.getpid())
    sampler = Sampler(live_runs, gpus=FakeGpuReader([]))
    sampler.sample_once()  # the first tick sets up the writer's track
    start = time.thread_time()
    ticks = 20
    for _ in range(ticks):
        sampler.sample_once()
    per_tick = (time.thread_time() - start) / ticks
    assert per_tick < 0.02, f"{per_tick * 1000:.1f} ms of CPU per tick"
