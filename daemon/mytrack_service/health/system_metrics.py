"""System metrics: the machine and each live run's process tree, sampled here.

Every ``interval`` seconds (MYTRACK_STATS_INTERVAL, default 10, 0 = off, or
the run's own ``x_stats_sampling_interval``) one thread (`system_monitor.py`)
takes a sample for each open writer of a live run whose process runs on this
host, the first within `system_monitor.POLL_SECONDS` of the writer's start, or
of the service's first second (so a run of a few seconds has samples):
the machine (CPU, memory, disk of the run folder, disk and network traffic
since the writer was first seen), the writer's process tree (the writer pid
and its children: CPU, RSS, threads) and the NVIDIA GPUs (`gpus.py`).
Samples go to `MetadataStore.append_system`, a stream of their own beside
the step history, with ``_timestamp``, ``_runtime`` (from the run's start)
and ``_label`` (the writer's label). The keys are listed in
docs/system-metrics.md.

Sampling costs a few milliseconds of CPU per run per tick (reading /proc),
well under 1 % of a core at the default interval. Writers on other hosts,
and adopted WALs (``mytrack sync``), are not sampled: this machine is not
theirs.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psutil

from mytrack_service.health.gpus import GpuReader, GpuReading, NvmlReader
from mytrack_service.ingest.live_runs import LiveRuns, WriterState
from mytrack_service.store.base import RunKey, StoreError

logger = logging.getLogger("mytrack_service.health.system_metrics")

_MB = 1024 * 1024


@dataclass
class _Target:
    """One writer to sample this tick."""

    key: RunKey
    writer_id: str
    pid: int
    label: str
    start_time: float  # the run's (session's) start, for _runtime
    runtime_offset: float  # runtime of earlier sessions (resume)


@dataclass
class _WriterTrack:
    """What a writer's samples are computed against: the previous tick."""

    run_dir: str
    disk_base: tuple[float, float] | None
    net_base: tuple[float, float] | None
    # pid -> (create_time, cpu seconds at the last tick, wall time of the last tick)
    cpu: dict[int, tuple[float, float, float]] = field(default_factory=dict)


class Sampler:
    """Builds samples; `SystemMonitor` calls it on a timer. Usable alone in tests."""

    def __init__(
        self, live_runs: LiveRuns, gpus: GpuReader | None = None, clock: Callable[[], float] = time.time,
        host: str | None = None, default_interval: float | None = None,
    ) -> None:
        self.live_runs = live_runs
        self.default_interval = default_interval  # for writers that asked for none
        self.gpus: GpuReader = gpus if gpus is not None else NvmlReader()
        self.clock = clock
        self.host = host if host is not None else socket.gethostname()
        self._tracks: dict[str, _WriterTrack] = {}
        self._last: dict[str, float] = {}  # writer id -> when it was last sampled
        psutil.cpu_percent(interval=None)  # starts the system CPU window

    def sample_once(self) -> int:
        """Samples every live local writer and stores the samples; returns how many."""
        targets, eligible = self._targets()
        # Pruned by the writers still live, not by those due now: a writer not due
        # this tick keeps its baselines (disk, network, CPU since the last sample).
        self._tracks = {w: t for w, t in self._tracks.items() if w in eligible}
        self._last = {w: t for w, t in self._last.items() if w in eligible}
        if not targets:
            return 0
        machine = _machine()
        children = _children_by_parent()
        gpus = self.gpus.read()
        now = self.clock()
        by_run: dict[RunKey, list[dict[str, Any]]] = {}
        for target in targets:
            track = self._tracks.get(target.writer_id)
            if track is None:
                track = self._tracks[target.writer_id] = self._new_track(target.key, machine)
            sample = self._sample(target, track, machine, gpus, now, children)
            by_run.setdefault(target.key, []).append(sample)
        stored = 0
        for key, samples in by_run.items():
            try:
                self.live_runs.store.append_system(key, samples)
                stored += len(samples)
            except StoreError as exc:
                logger.warning("could not store system metrics of %s: %s", key.path, exc)
        return stored

    def close(self) -> None:
        self.gpus.close()

    # -- what to sample ----------------------------------------------------------

    def _targets(self) -> tuple[list[_Target], set[str]]:
        """The writers due now, and the ids of every writer that can be sampled."""
        live = set(self.live_runs.live_run_keys())
        targets = []
        eligible: set[str] = set()
        for writer in self.live_runs.all_writers():
            if (writer.key not in live or writer.state is not WriterState.OPEN
                    or writer.wal is None or not writer.pid or writer.dead_reason
                    or writer.host != self.host):
                continue
            eligible.add(writer.writer_id)
            if not self._due(writer):
                continue
            session = self.live_runs.session(writer.key)
            if session is None:
                continue
            assembly = session.assembly
            info = getattr(assembly, "writers", {}).get(writer.writer_id)
            targets.append(_Target(
                writer.key, writer.writer_id, writer.pid, getattr(info, "label", ""),
                assembly.start_time, assembly.runtime_offset,
            ))
        return targets, eligible

    def _due(self, writer: Any) -> bool:
        """Whether the writer's own interval (x_stats_sampling_interval) has passed."""
        interval = writer.stats_interval
        if interval is None:
            interval = self.default_interval
        if interval is None:
            return True
        if interval <= 0:
            return False
        now = time.monotonic()
        last = self._last.get(writer.writer_id)
        # A writer never sampled is due at once; after that, once per interval.
        if last is not None and now - last < interval * 0.95:
            return False
        self._last[writer.writer_id] = now
        return True

    def _new_track(self, key: RunKey, machine: _Machine) -> _WriterTrack:
        run_dir = ""
        try:
            run = self.live_runs.store.get_run(key)
            run_dir = run.run_dir if run is not None else ""
        except StoreError:
            pass
        if not run_dir or not os.path.isdir(run_dir):
            run_dir = self.live_runs.home
        return _WriterTrack(run_dir, machine.disk_io, machine.net_io)

    # -- one sample ------------------------------------------------------------------

    def _sample(
        self, target: _Target, track: _WriterTrack, machine: _Machine, gpus: list[GpuReading],
        now: float, children: dict[int, list[int]],
    ) -> dict[str, Any]:
        sample: dict[str, Any] = {
            "_timestamp": now,
            "_runtime": round(target.runtime_offset + max(0.0, now - target.start_time), 3),
            "_label": target.label,
            "system/cpu": machine.cpu,
            "system/memory.used_percent": machine.memory_percent,
            "system/memory.available": _r(machine.memory_available),
        }
        try:
            sample["system/disk.used_percent"] = psutil.disk_usage(track.run_dir).percent
        except OSError:
            pass
        if machine.disk_io is not None and track.disk_base is not None:
            sample["system/disk.read"] = _r(machine.disk_io[0] - track.disk_base[0])
            sample["system/disk.write"] = _r(machine.disk_io[1] - track.disk_base[1])
        if machine.net_io is not None and track.net_base is not None:
            sample["system/network.sent"] = _r(machine.net_io[0] - track.net_base[0])
            sample["system/network.recv"] = _r(machine.net_io[1] - track.net_base[1])
        pids = _tree_stats(target.pid, track, sample, children)
        for index, gpu in enumerate(gpus):
            prefix = f"system/gpu.{index}."
            for name, value in gpu.metrics.items():
                sample[prefix + name] = _r(value)
            if gpu.process_memory or "memory_used" in gpu.metrics:
                used = sum(mb for pid, mb in gpu.process_memory.items() if pid in pids)
                sample[prefix + "proc.memory_used"] = _r(used)
        return sample


@dataclass
class _Machine:
    """Readings of the whole machine, shared by every run of a tick."""

    cpu: float
    memory_percent: float
    memory_available: float  # MB
    disk_io: tuple[float, float] | None  # MB read, written since boot
    net_io: tuple[float, float] | None  # MB sent, received since boot


def _machine() -> _Machine:
    memory = psutil.virtual_memory()
    disk = psutil.disk_io_counters()  # None where /proc/diskstats is missing (containers)
    net = psutil.net_io_counters()
    return _Machine(
        cpu=psutil.cpu_percent(interval=None),
        memory_percent=memory.percent,
        memory_available=memory.available / _MB,
        disk_io=(disk.read_bytes / _MB, disk.write_bytes / _MB) if disk else None,
        net_io=(net.bytes_sent / _MB, net.bytes_recv / _MB) if net else None,
    )


def _children_by_parent() -> dict[int, list[int]]:
    """Every process's children, read once per tick.

    `psutil.Process.children` reads the whole process table for each call:
    64 ranks (and their console helpers) would make that 64 reads a tick.
    """
    children: dict[int, list[int]] = {}
    for process in psutil.process_iter(["ppid"]):
        ppid = process.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(process.pid)
    return children


def _tree_stats(
    pid: int, track: _WriterTrack, sample: dict[str, Any], children: dict[int, list[int]]
) -> set[int]:
    """Adds the process tree's CPU, RSS and threads to ``sample``; returns its pids.

    CPU is the rate of CPU seconds since the last tick (for a process first
    seen now: since it started), summed over the tree, in % of one core.
    ``children`` is the tick's process table (`_children_by_parent`).
    """
    tree, queue = [pid], [pid]
    members = {pid}
    while queue:
        for child in children.get(queue.pop(), ()):
            if child not in members:
                members.add(child)
                tree.append(child)
                queue.append(child)
    processes = []
    for member in tree:
        try:
            processes.append(psutil.Process(member))
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            if member == pid:
                return set()
    cpu = rss = 0.0
    threads = 0
    seen: dict[int, tuple[float, float, float]] = {}
    for process in processes:
        try:
            with process.oneshot():
                created = process.create_time()
                times = process.cpu_times()
                used = times.user + times.system
                rss += process.memory_info().rss
                threads += process.num_threads()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        now = time.time()
        previous = track.cpu.get(process.pid)
        if previous is not None and previous[0] == created:
            base_used, since = previous[1], previous[2]
        else:
            base_used, since = 0.0, created
        if now - since > 0.01:
            cpu += max(0.0, used - base_used) / (now - since) * 100.0
        seen[process.pid] = (created, used, now)
    track.cpu = seen
    if seen:
        sample["system/proc.cpu"] = _r(cpu)
        sample["system/proc.memory.rss"] = _r(rss / _MB)
        sample["system/proc.threads"] = threads
    return set(seen)


def _r(value: float) -> float:
    return round(float(value), 3)
