"""`RunState`: where a `Run` is in its life, and the fork rule that sets one.

Kept apart from `Run` so that the modules that act on a run (finishing,
status) can ask its state without importing the class that imports them.
"""

from __future__ import annotations

import enum


class RunState(enum.Enum):
    RUNNING = "running"  # accepting data
    FINISHING = "finishing"  # finish() under way: no new data
    FINISHED = "finished"  # finish() returned; every method that records data raises
    FORKED = "forked"  # a copy in a forked child: the parent owns the run
