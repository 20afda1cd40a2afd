"""mytrack: a local-first experiment tracker with W&B's Run API.

    import mytrack
    with mytrack.init(project="demo", config={"lr": 0.1}) as run:
        run.log({"loss": 0.5})
"""

from __future__ import annotations

from mytrack import errors, plot, tensorboard
from mytrack._internal.lifecycle.init import alert, finish, init, log, restore, save, unwatch, watch
from mytrack._internal.lifecycle.module_functions import (
    define_metric,
    link_model,
    log_artifact,
    log_code,
    log_model,
    mark_preempting,
    use_artifact,
    use_model,
)
from mytrack._internal.run.alert import AlertLevel
from mytrack._internal.run.config import Config
from mytrack._internal.run.run import Run
from mytrack._internal.run.summary import Summary
from mytrack._internal.sweeps.agent import agent
from mytrack._internal.sweeps.create import sweep
from mytrack.api import Api
from mytrack.artifacts import Artifact
from mytrack.data_types import Audio, Histogram, Html, Image, Object3D, Table, Video
from mytrack.errors import Error
from mytrack.settings import Settings

__version__ = "0.1.0"

# The current run and its config/summary, set by init() and cleared by finish().
run: Run | None = None
config: Config | None = None
summary: Summary | None = None

# The public surface, pinned: tests/unit/test_public_api.py compares it with the module's namespace.
__all__ = [
    "AlertLevel",
    "Api",
    "Artifact",
    "Audio",
    "Config",
    "Error",
    "Histogram",
    "Html",
    "Image",
    "Object3D",
    "Run",
    "Settings",
    "Summary",
    "Table",
    "Video",
    "__version__",
    "agent",
    "alert",
    "config",
    "define_metric",
    "errors",
    "finish",
    "init",
    "link_model",
    "log",
    "log_artifact",
    "log_code",
    "log_model",
    "mark_preempting",
    "plot",
    "restore",
    "run",
    "save",
    "summary",
    "sweep",
    "tensorboard",
    "unwatch",
    "use_artifact",
    "use_model",
    "watch",
]
