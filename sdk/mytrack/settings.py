"""Settings: every option of the SDK, resolved in one place.

Precedence: an explicit argument (``init(...)`` or ``Settings(...)``), then the
``MYTRACK_*`` environment variable, then its W&B twin (``WANDB_*``, so that
programs and launch scripts written for W&B keep working), then the default.
Each variable is declared once, in `_SPECS`, and documented in
docs/configuration.md. ``Settings(...)`` also takes W&B's setting names
(`mytrack._internal.wandb_settings`).
"""

from __future__ import annotations

import dataclasses
import functools
import getpass
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mytrack._internal import wandb_settings
from mytrack.errors import InvalidValueError
from mytrack_common.names import name_problem, run_id_problem

MODES = ("online", "offline", "disabled", "shared")
RESUME_MODES = ("allow", "must", "never", "auto")
CONSOLE_MODES = ("auto", "wrap", "off")
# W&B's other spellings: its legacy modes and its console capture methods.
MODE_ALIASES = {"dryrun": "offline", "run": "online"}
CONSOLE_ALIASES = {"redirect": "auto", "wrap_raw": "wrap", "wrap_emu": "wrap"}


def _parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected a boolean, got {value!r}")


def _parse_positive_float(value: Any) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(f"expected a number > 0, got {value!r}")
    return number


def _parse_nonnegative_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected a number >= 0, got {value!r}")
    number = float(value)
    if not number >= 0:
        raise ValueError(f"expected a number >= 0, got {value!r}")
    return number


def _parse_positive_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected an integer > 0, got {value!r}")
    number = int(value)
    if number <= 0:
        raise ValueError(f"expected an integer > 0, got {value!r}")
    return number


def _parse_port(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"expected a port number (0-65535), got {value!r}")
    number = int(value)
    if not 0 <= number <= 65535:
        raise ValueError(f"expected a port number (0-65535), got {value!r}")
    return number


def _parse_choice(choices: tuple[str, ...], aliases: Mapping[str, str] | None = None) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        text = (aliases or {}).get(text, text)
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def _parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{value!r} is not valid Unicode text (a lone surrogate)") from None
    return value


def _parse_name(value: Any) -> str:
    """An entity or project: it becomes part of paths, URLs and run folders."""
    problem = name_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return str(value)


def _parse_run_id(value: Any) -> str:
    problem = run_id_problem(value)
    if problem is not None:
        raise ValueError(problem)
    return str(value)


def _parse_tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    tags = tuple(value)
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"tags must be non-empty strings, got {tag!r}")
        _parse_str(tag)
    return tags


def _default_service_dir() -> str:
    return os.path.join(os.path.expanduser("~"), ".mytrack")


def _default_label() -> str:
    """host-rank from the launcher's variables (torchrun, SLURM), else host-pid."""
    host = socket.gethostname()
    for variable in ("RANK", "SLURM_PROCID", "LOCAL_RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK"):
        if os.environ.get(variable, "").isdigit():
            return f"{host}-rank{os.environ[variable]}"
    return f"{host}-{os.getpid()}"


def _default_entity() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        return "user"
    # A login such as DOMAIN\name is not a valid entity; the default must be.
    return user if name_problem(user) is None else "user"


def _parse_wandb_disabled(value: Any) -> str | None:
    """WANDB_DISABLED=true, W&B's older switch, means mode "disabled"."""
    return "disabled" if _parse_bool(value) else None


@dataclass(frozen=True)
class _Spec:
    env: str | None
    parse: Callable[[Any], Any]
    default: Callable[[], Any]
    # W&B's variables read when ``env`` is unset, in order, each with its parser
    # (None: the setting's own); a parser returning None passes to the next.
    wandb: tuple[tuple[str, Callable[[Any], Any] | None], ...] = ()


_SPECS: dict[str, _Spec] = {
    "mode": _Spec(
        "MYTRACK_MODE", _parse_choice(MODES, MODE_ALIASES), lambda: "online",
        (("WANDB_MODE", None), ("WANDB_DISABLED", _parse_wandb_disabled)),
    ),
    "service_dir": _Spec("MYTRACK_DIR", _parse_str, _default_service_dir),
    "dir": _Spec("MYTRACK_RUN_DIR", _parse_str, os.getcwd, (("WANDB_DIR", None),)),
    "entity": _Spec("MYTRACK_ENTITY", _parse_name, _default_entity, (("WANDB_ENTITY", None),)),
    "project": _Spec("MYTRACK_PROJECT", _parse_name, lambda: "uncategorized", (("WANDB_PROJECT", None),)),
    "run_id": _Spec("MYTRACK_RUN_ID", _parse_run_id, lambda: None, (("WANDB_RUN_ID", None),)),
    "run_name": _Spec("MYTRACK_NAME", _parse_str, lambda: None, (("WANDB_NAME", None),)),
    "run_notes": _Spec("MYTRACK_NOTES", _parse_str, lambda: None, (("WANDB_NOTES", None),)),
    "run_tags": _Spec("MYTRACK_TAGS", _parse_tags, lambda: None, (("WANDB_TAGS", None),)),
    "run_group": _Spec("MYTRACK_RUN_GROUP", _parse_str, lambda: None, (("WANDB_RUN_GROUP", None),)),
    "run_job_type": _Spec("MYTRACK_JOB_TYPE", _parse_str, lambda: None, (("WANDB_JOB_TYPE", None),)),
    "resume": _Spec(
        "MYTRACK_RESUME", _parse_choice(RESUME_MODES), lambda: None, (("WANDB_RESUME", None),)
    ),
    "sweep_id": _Spec("MYTRACK_SWEEP_ID", _parse_str, lambda: None, (("WANDB_SWEEP_ID", None),)),
    "quiet": _Spec("MYTRACK_SILENT", _parse_bool, lambda: False, (("WANDB_SILENT", None),)),
    "finish_timeout": _Spec("MYTRACK_FINISH_TIMEOUT", _parse_positive_float, lambda: 60.0),
    "init_timeout": _Spec(
        "MYTRACK_INIT_TIMEOUT", _parse_positive_float, lambda: 30.0, (("WANDB_INIT_TIMEOUT", None),)
    ),
    "sweep_poll_interval": _Spec("MYTRACK_SWEEP_POLL_INTERVAL", _parse_positive_float, lambda: 2.0),
    "heartbeat_interval": _Spec(
        "MYTRACK_HEARTBEAT_INTERVAL", _parse_positive_float, lambda: 2.0
    ),
    "max_buffer_bytes": _Spec(
        "MYTRACK_BUFFER_BYTES", _parse_positive_int, lambda: 64 * 1024 * 1024
    ),
    "max_queue_entries": _Spec(
        "MYTRACK_QUEUE_ENTRIES", _parse_positive_int, lambda: 20_000
    ),
    "ui_port": _Spec("MYTRACK_UI_PORT", _parse_port, lambda: 6017),
    "console": _Spec(
        "MYTRACK_CONSOLE", _parse_choice(CONSOLE_MODES, CONSOLE_ALIASES), lambda: "auto",
        (("WANDB_CONSOLE", None),),
    ),
    "x_redact_secrets": _Spec("MYTRACK_REDACT_SECRETS", _parse_bool, lambda: True),
    "x_primary": _Spec(None, _parse_bool, lambda: True, (("WANDB_X_PRIMARY", None),)),
    "x_stats_sampling_interval": _Spec(
        "MYTRACK_STATS_SAMPLING_INTERVAL", _parse_nonnegative_float, lambda: None,
        (("WANDB_X_STATS_SAMPLING_INTERVAL", None),),
    ),
    "x_label": _Spec("MYTRACK_X_LABEL", _parse_str, _default_label, (("WANDB_X_LABEL", None),)),
}


@dataclass(frozen=True)
class Settings:
    """Every option of a run. Unset fields (None) are filled by `resolve`.

    Attributes:
        mode: "online" (default), "offline", "disabled", or "shared" (one run,
            several writers: pass the run's id to every writer).
        service_dir: the service's home: socket, logs, embedded store (MYTRACK_DIR).
        dir: where run folders are created (a ``mytrack-runs/`` folder inside it).
        entity: defaults to the OS user.
        project: defaults to "uncategorized".
        run_id, run_name, run_notes, run_tags, run_group, run_job_type, resume:
            defaults for the ``init()`` arguments of the same meaning.
        sweep_id: the sweep the run belongs to.
        quiet: no console lines from init() and finish() (MYTRACK_SILENT).
        finish_timeout: seconds finish() waits for the service before returning.
        init_timeout: seconds init() waits for the service to start and answer.
        heartbeat_interval: seconds between the sender's heartbeats.
        sweep_poll_interval: seconds between a sweep agent's questions to the controller
            (stop this trial? is the paused sweep resumed?).
        max_buffer_bytes: encoded records kept until acked; past it, log() waits.
        max_queue_entries: log() calls queued before encoding; past it, log() waits.
        ui_port: the web UI's port (MYTRACK_UI_PORT, read by the service too, which
            falls back to a free port when it is taken; 0: no UI). ``run.url`` uses
            the address the service reports; this port only when it reports none.
        console: capture of stdout/stderr into the run's ``output.log``: "auto"
            (default: at the file-descriptor level, so child processes are
            captured too; "wrap" where that is impossible), "wrap" (Python's
            sys.stdout/sys.stderr only) or "off" (MYTRACK_CONSOLE).
        x_redact_secrets: record secret-looking command-line and variable values as
            "***" and show such config values as "***" in the web UI (default True;
            MYTRACK_REDACT_SECRETS=false records and shows them verbatim).
        x_primary: mode="shared": this writer's end sets the run's final state.
        x_label: mode="shared": this writer's label (default host-rank, from
            RANK/SLURM_PROCID/LOCAL_RANK, else host-pid).
        x_stats_sampling_interval: seconds between this run's system-metrics
            samples (0 turns them off; default: the service's MYTRACK_STATS_INTERVAL).
    """

    mode: str | None = None
    service_dir: str | None = None
    dir: str | None = None
    entity: str | None = None
    project: str | None = None
    run_id: str | None = None
    run_name: str | None = None
    run_notes: str | None = None
    run_tags: tuple[str, ...] | None = None
    run_group: str | None = None
    run_job_type: str | None = None
    resume: str | None = None
    sweep_id: str | None = None
    quiet: bool | None = None
    finish_timeout: float | None = None
    init_timeout: float | None = None
    heartbeat_interval: float | None = None
    sweep_poll_interval: float | None = None
    max_buffer_bytes: int | None = None
    max_queue_entries: int | None = None
    ui_port: int | None = None
    console: str | None = None
    x_redact_secrets: bool | None = None
    x_primary: bool | None = None
    x_label: str | None = None
    x_stats_sampling_interval: float | None = None

    def resolve(
        self, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """A complete copy: ``overrides`` > this object's set fields > env > default.

        Raises:
            InvalidValueError: a value (from any source) is invalid; the message
                names the setting and, for environment values, the variable.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for name, spec in _SPECS.items():
            explicit = (overrides or {}).get(name)
            if explicit is None:
                explicit = getattr(self, name)
            if explicit is not None:
                values[name] = _checked(name, spec.parse, explicit, source=f"setting {name!r}")
            elif spec.env is not None and env.get(spec.env):
                values[name] = _checked(name, spec.parse, env[spec.env], source=spec.env)
            else:
                values[name] = _from_wandb_env(name, spec, env)
        return Settings(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _from_wandb_env(name: str, spec: _Spec, env: Mapping[str, str]) -> Any:
    """The first of the W&B twins that is set and means something, else the default."""
    for variable, parse in spec.wandb:
        if env.get(variable):
            value = _checked(name, parse or spec.parse, env[variable], source=variable)
            if value is not None:
                return value
    return spec.default()


def _checked(name: str, parse: Callable[[Any], Any], value: Any, source: str) -> Any:
    try:
        return parse(value)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"invalid value for {source}: {exc}") from None


_OWN_NAMES = frozenset(_SPECS)
_dataclass_init = Settings.__init__


@functools.wraps(_dataclass_init)
def _init_with_wandb_names(self: Settings, *args: Any, **kwargs: Any) -> None:
    """Settings(...) with mytrack's names or W&B's (translated, or ignored with a warning)."""
    _dataclass_init(self, *args, **wandb_settings.translate(kwargs, _OWN_NAMES))


Settings.__init__ = _init_with_wandb_names  # type: ignore[method-assign]


def env_var(name: str) -> str | None:
    """The environment variable behind setting ``name`` (for docs and messages)."""
    return _SPECS[name].env


def wandb_env_vars(name: str) -> tuple[str, ...]:
    """The W&B variables read for setting ``name`` when its own is unset."""
    return tuple(variable for variable, _ in _SPECS[name].wandb)
