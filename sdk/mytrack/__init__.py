"""mytrack: a local-first experiment tracker with W&B's Run API.

    import mytrack
    with mytrack.init(project="demo", config={"lr": 0.1}) as run:
        run.log({"loss": 0.5})
"""

from __future__ import annotations

from mytrack import errors
from mytrack._config import Config
from mytrack._init import finish, init, log, restore, save
from mytrack._run import Run
from mytrack._summary import Summary
from mytrack.api import Api
from mytrack.errors import Error
from mytrack.settings import Settings

__version__ = "0.1.0"

# The current run and its config/summary, set by init() and cleared by finish().
run: Run | None = None
config: Config | None = None
summary: Summary | None = None

__all__ = sorted(
    [
        "Api",
        "Config",
        "Error",
        "Run",
        "Settings",
        "Summary",
        "__version__",
        "config",
        "errors",
        "finish",
        "init",
        "log",
        "restore",
        "run",
        "save",
        "summary",
    ]
)
