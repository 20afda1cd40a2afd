"""The ``init()`` keywords that W&B has and mytrack's reference API did not.

Code written for W&B passes them (Lightning passes ``anonymous=None``, HF
``config_exclude_keys`` through ``WANDB_*``-driven arguments...). What mytrack
implements does what W&B does: ``config_exclude_keys``/``config_include_keys``
filter the initial config, ``allow_val_change`` lets later config updates
change values, ``save_code`` saves the program's main file with the run,
``force`` is always satisfied (no login). The others are accepted, and one
warning a process names those given a value that asks for something mytrack
does not do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mytrack._internal.run.config import config_from_source
from mytrack._internal.wandb_settings import warn_ignored
from mytrack.errors import InvalidTypeError, UsageError

if TYPE_CHECKING:
    from mytrack._internal.run.run import Run


def warn_unsupported(**given: Any) -> None:
    """One warning naming the W&B keywords given a value mytrack cannot honour."""
    warn_ignored([name for name, value in given.items() if value not in (None, False)], "init() argument")


def filtered_config(
    source: Any, include: Sequence[str] | None, exclude: Sequence[str] | None
) -> Any:
    """``source`` with only ``include``'s keys, or without ``exclude``'s, as W&B does."""
    if include is None and exclude is None:
        return source
    if include is not None and exclude is not None:
        raise UsageError("init(): config_include_keys and config_exclude_keys cannot both be given")
    keys = _key_list(include if include is not None else exclude,
                     "config_include_keys" if include is not None else "config_exclude_keys")
    items = config_from_source(source)
    if include is not None:
        return {k: v for k, v in items.items() if k in keys}
    return {k: v for k, v in items.items() if k not in keys}


def _key_list(keys: Any, argument: str) -> set[str]:
    if isinstance(keys, str) or not isinstance(keys, Sequence | set | frozenset):
        raise InvalidTypeError(f"init(): {argument} must be a list of config keys, got {keys!r}")
    return {str(key) for key in keys}


def after_start(run: Run, allow_val_change: bool | None, save_code: bool | None) -> None:
    """What the keywords ask of a started run."""
    if allow_val_change:
        run.config._allow_val_change()
    if save_code and not run.disabled:
        main = _main_file()
        if main is not None:
            run.save(main, base_path=os.path.dirname(main), policy="now")


def _main_file() -> str | None:
    """The program's main script, if it is a file (not -c, a notebook or the REPL)."""
    path = getattr(sys.modules.get("__main__"), "__file__", None)
    if isinstance(path, str) and os.path.isfile(path):
        return os.path.abspath(path)
    return None
