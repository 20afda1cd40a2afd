"""Unit tests for mytrack.Settings: precedence, validation, immutability."""

from __future__ import annotations

import dataclasses
import getpass
import os
import socket

import pytest

import mytrack
from mytrack.errors import InvalidValueError
from mytrack.settings import env_var

S = mytrack.Settings


def test_defaults_with_empty_env() -> None:
    """With no argument and no MYTRACK_* variable every setting takes its documented default."""
    resolved = S().resolve(env={})
    assert resolved == S(
        mode="online", service_dir=os.path.join(os.path.expanduser("~"), ".mytrack"),
        dir=os.getcwd(), entity=getpass.getuser(), project="uncategorized", quiet=False,
        finish_timeout=60.0, init_timeout=30.0, heartbeat_interval=2.0, sweep_poll_interval=2.0,
        max_buffer_bytes=64 * 1024 * 1024, max_queue_entries=20_000, ui_port=6017,
        console="auto", x_redact_secrets=True,
        x_primary=True, x_label=f"{socket.gethostname()}-{os.getpid()}",
    )
    assert resolved.run_id is None and resolved.run_tags is None and resolved.resume is None


@pytest.mark.parametrize(
    ("name", "env_name", "env_value", "env_parsed", "explicit", "default"),
    [
        ("mode", "MYTRACK_MODE", "OFFLINE", "offline", "disabled", "online"),
        ("project", "MYTRACK_PROJECT", "from-env", "from-env", "from-arg", "uncategorized"),
        ("entity", "MYTRACK_ENTITY", "team-env", "team-env", "team-arg", None),
        ("quiet", "MYTRACK_SILENT", "true", True, False, False),
        ("x_redact_secrets", "MYTRACK_REDACT_SECRETS", "false", False, False, True),
        ("finish_timeout", "MYTRACK_FINISH_TIMEOUT", "2.5", 2.5, 7.0, 60.0),
        ("init_timeout", "MYTRACK_INIT_TIMEOUT", "0.25", 0.25, 3, 30.0),
        ("max_buffer_bytes", "MYTRACK_BUFFER_BYTES", "4096", 4096, 1024, 64 * 1024 * 1024),
        ("max_queue_entries", "MYTRACK_QUEUE_ENTRIES", "10", 10, 3, 20_000),
        ("run_tags", "MYTRACK_TAGS", " a, ,b ", ("a", "b"), ("x",), None),
        ("resume", "MYTRACK_RESUME", "Must", "must", "allow", None),
        ("service_dir", "MYTRACK_DIR", "/tmp/env-home", "/tmp/env-home", "/tmp/arg-home", None),
    ],
)
def test_precedence_argument_env_default(
    name: str, env_name: str, env_value: str, env_parsed: object, explicit: object,
    default: object,
) -> None:
    """An explicit Settings field beats the MYTRACK_* variable, which beats the default."""
    assert env_var(name) == env_name
    env = {env_name: env_value}
    assert getattr(S().resolve(env=env), name) == env_parsed
    assert getattr(S(**{name: explicit}).resolve(env=env), name) == explicit
    if default is not None:
        assert getattr(S().resolve(env={}), name) == default
    # overrides (the arguments of init()) beat both.
    assert getattr(S(**{name: explicit}).resolve(overrides={name: env_parsed}, env={}),
                   name) == env_parsed


def test_env_argument_replaces_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """resolve(env=...) reads only the given mapping; without it os.environ is used."""
    monkeypatch.setenv("MYTRACK_PROJECT", "from-os-environ")
    assert S().resolve(env={}).project == "uncategorized"
    assert S().resolve(env={"MYTRACK_PROJECT": "mapped"}).project == "mapped"
    assert S().resolve().project == "from-os-environ"


def test_empty_env_value_means_unset() -> None:
    """An empty MYTRACK_* variable is ignored, not parsed."""
    assert S().resolve(env={"MYTRACK_MODE": "", "MYTRACK_BUFFER_BYTES": ""}).mode == "online"


def test_overrides_none_does_not_hide_field() -> None:
    """A None override (an init() argument left out) leaves the Settings field in effect."""
    assert S(project="p").resolve(overrides={"project": None}, env={}).project == "p"


@pytest.mark.parametrize(
    ("env_name", "value", "detail"),
    [
        ("MYTRACK_MODE", "bogus", "expected one of online, offline, disabled"),
        ("MYTRACK_SILENT", "maybe", "expected a boolean"),
        ("MYTRACK_BUFFER_BYTES", "-1", "expected an integer > 0"),
        ("MYTRACK_QUEUE_ENTRIES", "0", "expected an integer > 0"),
        ("MYTRACK_QUEUE_ENTRIES", "ten", "invalid literal"),
        ("MYTRACK_FINISH_TIMEOUT", "0", "expected a number > 0"),
        ("MYTRACK_INIT_TIMEOUT", "nan", "expected a number > 0"),
        ("MYTRACK_RESUME", "sometimes", "expected one of allow, must, never, auto"),
    ],
)
def test_invalid_env_value_names_variable(env_name: str, value: str, detail: str) -> None:
    """An invalid environment value raises InvalidValueError naming the variable and the value."""
    with pytest.raises(InvalidValueError) as info:
        S().resolve(env={env_name: value})
    message = str(info.value)
    assert env_name in message
    assert detail in message
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("name", "value", "detail"),
    [
        ("mode", "bogus", "expected one of online, offline, disabled"),
        ("quiet", "maybe", "expected a boolean"),
        ("max_buffer_bytes", 0, "expected an integer > 0"),
        ("max_queue_entries", True, "expected an integer > 0"),
        ("finish_timeout", -1.0, "expected a number > 0"),
        ("heartbeat_interval", float("nan"), "expected a number > 0"),
        ("project", 123, "expected a string"),
        ("run_tags", ("ok", ""), "non-empty strings"),
    ],
)
def test_invalid_explicit_value_names_setting(name: str, value: object, detail: str) -> None:
    """An invalid explicit value raises InvalidValueError naming the setting, even when env is valid."""
    env = {env_var(name): "1"} if env_var(name) else {}
    with pytest.raises(InvalidValueError) as info:
        S(**{name: value}).resolve(env=env)
    message = str(info.value)
    assert f"setting {name!r}" in message
    assert detail in message


def test_non_integral_int_setting_refused() -> None:
    """A non-integral number for an integer setting is refused rather than truncated."""
    with pytest.raises(InvalidValueError, match="max_queue_entries"):
        S(max_queue_entries=2.7).resolve(env={})  # type: ignore[arg-type]


def test_settings_is_frozen() -> None:
    """Settings and resolved Settings cannot be modified."""
    settings = S(project="p")
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.project = "q"  # type: ignore[misc]
    resolved = settings.resolve(env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        resolved.mode = "offline"  # type: ignore[misc]
    assert settings.project == "p" and resolved.mode == "online"


def test_resolve_returns_new_object_and_to_dict() -> None:
    """resolve() leaves the original untouched; to_dict() lists every field."""
    settings = S(project="p")
    resolved = settings.resolve(env={"MYTRACK_MODE": "offline"})
    assert resolved is not settings
    assert settings.mode is None
    data = resolved.to_dict()
    assert data["project"] == "p" and data["mode"] == "offline"
    assert set(data) == {f.name for f in dataclasses.fields(S)}
