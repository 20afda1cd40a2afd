"""Settings: every option of the SDK, resolved in one place.

Precedence: an explicit argument (``init(...)`` or ``Settings(...)``), then the
``MYTRACK_*`` environment variable, then the default. Each variable is declared
once, in `_SPECS`, and documented in docs/configuration.md.
"""

from __future__ import annotations

import dataclasses
import getpass
import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mytrack.errors import InvalidValueError

MODES = ("online", "offline", "disabled", "shared")
RESUME_MODES = ("allow", "must", "never", "auto")
CONSOLE_MODES = ("auto", "wrap", "off")


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


def _parse_choice(choices: tuple[str, ...]) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise ValueError(f"expected one of {', '.join(choices)}, got {value!r}")
        return text

    return parse


def _parse_str(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {type(value).__name__}")
    return value


def _parse_tags(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(t.strip() for t in value.split(",") if t.strip())
    tags = tuple(value)
    for tag in tags:
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"tags must be non-empty strings, got {tag!r}")
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
        return getpass.getuser()
    except (KeyError, OSError):
        return "user"


@dataclass(frozen=True)
class _Spec:
    env: str | None
    parse: Callable[[Any], Any]
    default: Callable[[], Any]


_SPECS: dict[str, _Spec] = {
    "mode": _Spec("MYTRACK_MODE", _parse_choice(MODES), lambda: "online"),
    "service_dir": _Spec("MYTRACK_DIR", _parse_str, _default_service_dir),
    "dir": _Spec("MYTRACK_RUN_DIR", _parse_str, os.getcwd),
    "entity": _Spec("MYTRACK_ENTITY", _parse_str, _default_entity),
    "project": _Spec("MYTRACK_PROJECT", _parse_str, lambda: "uncategorized"),
    "run_id": _Spec("MYTRACK_RUN_ID", _parse_str, lambda: None),
    "run_name": _Spec("MYTRACK_NAME", _parse_str, lambda: None),
    "run_notes": _Spec("MYTRACK_NOTES", _parse_str, lambda: None),
    "run_tags": _Spec("MYTRACK_TAGS", _parse_tags, lambda: None),
    "run_group": _Spec("MYTRACK_RUN_GROUP", _parse_str, lambda: None),
    "run_job_type": _Spec("MYTRACK_JOB_TYPE", _parse_str, lambda: None),
    "resume": _Spec("MYTRACK_RESUME", _parse_choice(RESUME_MODES), lambda: None),
    "sweep_id": _Spec("MYTRACK_SWEEP_ID", _parse_str, lambda: None),
    "quiet": _Spec("MYTRACK_SILENT", _parse_bool, lambda: False),
    "finish_timeout": _Spec("MYTRACK_FINISH_TIMEOUT", _parse_positive_float, lambda: 60.0),
    "init_timeout": _Spec("MYTRACK_INIT_TIMEOUT", _parse_positive_float, lambda: 30.0),
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
    "console": _Spec("MYTRACK_CONSOLE", _parse_choice(CONSOLE_MODES), lambda: "auto"),
    "x_redact_secrets": _Spec("MYTRACK_REDACT_SECRETS", _parse_bool, lambda: True),
    "x_primary": _Spec(None, _parse_bool, lambda: True),
    "x_stats_sampling_interval": _Spec(
        "MYTRACK_STATS_SAMPLING_INTERVAL", _parse_nonnegative_float, lambda: None
    ),
    "x_label": _Spec("MYTRACK_X_LABEL", _parse_str, _default_label),
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
                values[name] = _checked(name, spec, explicit, source=f"setting {name!r}")
            elif spec.env is not None and env.get(spec.env):
                values[name] = _checked(name, spec, env[spec.env], source=spec.env)
            else:
                values[name] = spec.default()
        return Settings(**values)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _checked(name: str, spec: _Spec, value: Any, source: str) -> Any:
    try:
        return spec.parse(value)
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"invalid value for {source}: {exc}") from None


def env_var(name: str) -> str | None:
    """The environment variable behind setting ``name`` (for docs and messages)."""
    return _SPECS[name].env
