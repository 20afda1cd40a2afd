"""Units of the system metrics' charts, as listed in docs/system-metrics.md."""

from __future__ import annotations

import re

_UNITS = [
    (re.compile(r"^system/gpu\.\d+\.(memory_used|memory_total|proc\.memory_used)$"), "MB"),
    (re.compile(r"^system/gpu\.\d+\.utilization$"), "%"),
    (re.compile(r"^system/gpu\.\d+\.temperature$"), "°C"),
    (re.compile(r"^system/gpu\.\d+\.power$"), "W"),
    (re.compile(r"^system/gpu\.\d+\.sm_clock$"), "MHz"),
    (re.compile(r"^system/(cpu|memory\.used_percent|disk\.used_percent)$"), "%"),
    (re.compile(r"^system/proc\.cpu$"), "% of one core"),
    (re.compile(r"^system/(memory\.available|proc\.memory\.rss)$"), "MB"),
    (re.compile(r"^system/(disk\.read|disk\.write|network\.sent|network\.recv)$"), "MB"),
    (re.compile(r"^system/proc\.threads$"), "threads"),
]


def unit(name: str) -> str:
    """The unit of a system metric (``system/cpu`` or ``system/cpu [label]``); "" when unknown."""
    bare = name.split(" [", 1)[0]
    for pattern, text in _UNITS:
        if pattern.match(bare):
            return text
    return ""
