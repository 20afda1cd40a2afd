"""W&B ``stats`` records (its system monitor's samples) as mytrack system-metrics samples.

A W&B key with a mytrack equivalent takes mytrack's name and unit
(docs/system-metrics.md); any other keeps W&B's name after ``system/wandb.``,
so nothing is dropped and nothing is passed off as what mytrack measures.
"""

from __future__ import annotations

import json
import re
from typing import Any

_MB = float(1 << 20)

# W&B key -> (mytrack key, factor to mytrack's unit).
_SAME = {
    "memory_percent": ("memory.used_percent", 1.0),
    "proc.memory.availableMB": ("memory.available", 1.0),
    "proc.memory.rssMB": ("proc.memory.rss", 1.0),
    "proc.cpu.threads": ("proc.threads", 1.0),
    "disk./.usagePercent": ("disk.used_percent", 1.0),
    "network.sent": ("network.sent", 1 / _MB),  # bytes -> MB
    "network.recv": ("network.recv", 1 / _MB),
}
_GPU = re.compile(r"gpu\.(\d+)\.(gpu|memoryAllocatedBytes|temp|powerWatts|smClock)")
_GPU_SAME = {
    "gpu": ("utilization", 1.0), "memoryAllocatedBytes": ("memory_used", 1 / _MB),
    "temp": ("temperature", 1.0), "powerWatts": ("power", 1.0), "smClock": ("sm_clock", 1.0),
}


def system_key(key: str) -> tuple[str, float]:
    """(mytrack's ``system/...`` key, factor) of a W&B stats key."""
    same = _SAME.get(key)
    if same is not None:
        return f"system/{same[0]}", same[1]
    gpu = _GPU.fullmatch(key)
    if gpu is not None:
        name, factor = _GPU_SAME[gpu.group(2)]
        return f"system/gpu.{gpu.group(1)}.{name}", factor
    return f"system/wandb.{key}", 1.0


def sample(stats: Any) -> dict[str, Any] | None:
    """A sample of a StatsRecord (numbers only; None when it holds none)."""
    out: dict[str, Any] = {}
    for item in stats.item:
        try:
            value = json.loads(item.value_json)
        except ValueError:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        key, factor = system_key(item.key)
        out[key] = value * factor if factor != 1.0 else value
    if not out or not stats.HasField("timestamp"):
        return None
    out["_timestamp"] = stats.timestamp.ToMicroseconds() / 1e6
    return out
