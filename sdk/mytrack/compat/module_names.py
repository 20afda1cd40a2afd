"""W&B's module-level functions that have no meaning for a local tracker.

``wandb.login()`` checks an API key, ``wandb.setup()`` starts W&B's service
process, ``wandb.require("service")`` opts into features: code calls them
before ``init()``, so they must exist and succeed. mytrack needs none of it
(the service starts on ``init()``), so they do nothing but keep their
return types. The console helpers print as W&B's do, with mytrack's prefix.
"""

from __future__ import annotations

import sys
from typing import Any

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

__all__ = [
    "define_metric", "link_model", "log_artifact", "log_code", "log_model", "login",
    "mark_preempting", "require", "setup", "teardown", "termerror", "termlog", "termwarn",
    "use_artifact", "use_model",
]


def login(*args: Any, **kwargs: Any) -> bool:
    """Always logged in: a local service needs no API key (W&B returns True)."""
    return True


def setup(settings: Any = None) -> None:
    """W&B starts its service here; mytrack's starts with the first ``init()``."""


def teardown(exit_code: int | None = None) -> None:
    """W&B stops its service here; mytrack finishes the current run, if any."""
    import mytrack

    mytrack.finish(exit_code=exit_code)


def require(requirement: str | list[str] | None = None, experiment: str | list[str] | None = None) -> None:
    """W&B's feature switches ("service", "core"...) are what mytrack always does."""


def _term(prefix: str, string: str, newline: bool = True, repeat: bool = True, prefix_enabled: bool = True,
          **kwargs: Any) -> None:
    # W&B's termlog is silenced by WANDB_SILENT; ours by MYTRACK_SILENT or WANDB_SILENT.
    from mytrack.errors import Error
    from mytrack.settings import Settings

    try:
        if Settings().resolve().quiet:
            return
    except Error:
        pass  # a bad variable is reported by init(); it must not break a log line
    lines = [f"{prefix}{line}" if prefix_enabled else line for line in str(string).split("\n")]
    sys.stderr.write("\n".join(lines) + ("\n" if newline else ""))
    sys.stderr.flush()


def termlog(string: str = "", newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """Prints ``mytrack: string`` on stderr, as W&B's ``wandb: string``."""
    _term("mytrack: ", string, newline, repeat, prefix)


def termwarn(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """Prints ``mytrack: WARNING string`` on stderr."""
    _term("mytrack: WARNING ", string, newline, repeat, prefix)


def termerror(string: str, newline: bool = True, repeat: bool = True, prefix: bool = True) -> None:
    """Prints ``mytrack: ERROR string`` on stderr."""
    _term("mytrack: ERROR ", string, newline, repeat, prefix)
