"""W&B's setting names, as ``Settings(...)`` and ``init(settings=...)`` take them.

Code written for W&B passes ``wandb.Settings(silent=True)``,
``settings={"start_method": "thread"}`` or ``_disable_stats=True``. A name
that means the same as one of mytrack's settings is translated to it
(`RENAMED`); every other W&B setting is accepted and ignored, with one warning
a process naming it, because it has no effect here; a name that neither
knows is an error naming it.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from mytrack.errors import InvalidValueError

# W&B name -> (mytrack setting, value converter).
RENAMED: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "silent": ("quiet", lambda v: v),
    "root_dir": ("dir", lambda v: v),
    "x_disable_stats": ("x_stats_sampling_interval", lambda v: 0.0 if v else None),
    "_disable_stats": ("x_stats_sampling_interval", lambda v: 0.0 if v else None),
    "_stats_sample_rate_seconds": ("x_stats_sampling_interval", lambda v: v),
}

# W&B settings with no effect in mytrack (the online service, its login, git and
# code capture, process start method...). Names starting with "_" or "x_" are
# W&B's private settings and are treated the same way.
IGNORED = frozenset({
    "allow_offline_artifacts", "allow_val_change", "anonymous", "api_key", "base_url",
    "code_dir", "config_paths", "console_multipart", "credentials_file", "disable_code",
    "disable_git", "disable_job_creation", "docker", "email", "force", "fork_from",
    "git_commit", "git_remote", "git_remote_url", "git_root", "heartbeat_seconds", "host",
    "http_proxy", "https_proxy", "identity_token_file", "ignore_globs", "insecure_disable_ssl",
    "job_name", "job_source", "label_disable", "launch", "launch_config_path", "login_timeout",
    "notebook_name", "organization", "program", "program_abspath", "program_relpath", "reinit",
    "relogin", "resume_from", "resumed", "sagemaker_disable", "save_code", "settings_system",
    "show_colors", "show_emoji", "show_errors", "show_info", "show_warnings", "start_method",
    "strict", "summary_timeout", "summary_warnings", "sweep_param_path", "symlink",
    "sync_tensorboard", "table_raise_on_max_row_limit_exceeded", "username",
})

_warned: set[str] = set()
_warned_lock = threading.Lock()


def translate(kwargs: Mapping[str, Any], own: frozenset[str]) -> dict[str, Any]:
    """mytrack's settings from ``kwargs``, which may use W&B's names.

    ``own``: mytrack's setting names (kept as they are).

    Raises:
        InvalidValueError: a name that is neither mytrack's nor W&B's.
    """
    out: dict[str, Any] = {}
    ignored: list[str] = []
    for name, value in kwargs.items():
        if name in own:
            out[name] = value
        elif name in RENAMED:
            target, convert = RENAMED[name]
            converted = convert(value) if value is not None else None
            if converted is not None and out.get(target) is None:
                out[target] = converted
        elif name in IGNORED or name.startswith(("_", "x_")):
            ignored.append(name)
        else:
            raise InvalidValueError(
                f"unknown setting {name!r}: expected one of mytrack's ({', '.join(sorted(own))}) "
                "or a W&B setting name"
            )
    warn_ignored(ignored, "setting")
    return out


def warn_ignored(names: list[str], what: str) -> None:
    """One warning (a process, per name) that W&B's ``names`` have no effect here."""
    with _warned_lock:
        fresh = [name for name in dict.fromkeys(names) if f"{what}:{name}" not in _warned]
        _warned.update(f"{what}:{name}" for name in fresh)
    if fresh:
        warnings.warn(
            f"mytrack ignores the W&B {what}{'s' if len(fresh) > 1 else ''} "
            f"{', '.join(repr(n) for n in fresh)}: no effect in mytrack (see docs/migrating-from-wandb.md)",
            UserWarning,
            stacklevel=4,
        )
