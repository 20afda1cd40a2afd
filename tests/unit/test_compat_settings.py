"""W&B's environment variables and setting names, as mytrack's Settings reads them."""

from __future__ import annotations

import warnings

import pytest

from mytrack import Settings
from mytrack.errors import InvalidValueError
from mytrack.settings import wandb_env_vars

WANDB_TWINS = {
    "project": ("WANDB_PROJECT", "wp", "wp"),
    "entity": ("WANDB_ENTITY", "we", "we"),
    "mode": ("WANDB_MODE", "offline", "offline"),
    "dir": ("WANDB_DIR", "/tmp/wdir", "/tmp/wdir"),
    "run_id": ("WANDB_RUN_ID", "abc123", "abc123"),
    "resume": ("WANDB_RESUME", "allow", "allow"),
    "run_name": ("WANDB_NAME", "n", "n"),
    "run_notes": ("WANDB_NOTES", "some notes", "some notes"),
    "run_tags": ("WANDB_TAGS", "a, b", ("a", "b")),
    "run_group": ("WANDB_RUN_GROUP", "g", "g"),
    "run_job_type": ("WANDB_JOB_TYPE", "train", "train"),
    "quiet": ("WANDB_SILENT", "true", True),
    "console": ("WANDB_CONSOLE", "off", "off"),
    "sweep_id": ("WANDB_SWEEP_ID", "s1", "s1"),
    "init_timeout": ("WANDB_INIT_TIMEOUT", "12", 12.0),
}


@pytest.mark.parametrize("setting", sorted(WANDB_TWINS))
def test_wandb_variable_is_a_fallback(setting: str) -> None:
    """A WANDB_* variable sets its setting when the MYTRACK_* twin is unset."""
    variable, raw, expected = WANDB_TWINS[setting]
    assert variable in wandb_env_vars(setting)
    assert getattr(Settings().resolve(env={variable: raw}), setting) == expected


def test_mytrack_variable_and_argument_win_over_wandb() -> None:
    """MYTRACK_PROJECT beats WANDB_PROJECT; an explicit argument beats both."""
    env = {"WANDB_PROJECT": "w", "MYTRACK_PROJECT": "m"}
    assert Settings().resolve(env=env).project == "m"
    assert Settings(project="arg").resolve(env=env).project == "arg"


@pytest.mark.parametrize(("raw", "mode"), [("dryrun", "offline"), ("run", "online"), ("disabled", "disabled")])
def test_wandb_mode_spellings(raw: str, mode: str) -> None:
    """WANDB_MODE=dryrun is offline, as in W&B; so is mode="dryrun" as an argument."""
    assert Settings().resolve(env={"WANDB_MODE": raw}).mode == mode
    assert Settings(mode=raw).resolve(env={}).mode == mode


def test_wandb_disabled_means_disabled_mode() -> None:
    """WANDB_DISABLED=true (W&B's older switch) disables runs; false changes nothing."""
    assert Settings().resolve(env={"WANDB_DISABLED": "true"}).mode == "disabled"
    assert Settings().resolve(env={"WANDB_DISABLED": "false"}).mode == "online"
    assert Settings().resolve(env={"WANDB_DISABLED": "true", "WANDB_MODE": "offline"}).mode == "offline"


@pytest.mark.parametrize(("raw", "console"), [("redirect", "auto"), ("wrap_raw", "wrap"), ("wrap_emu", "wrap")])
def test_wandb_console_methods(raw: str, console: str) -> None:
    """W&B's capture methods map to mytrack's nearest."""
    assert Settings().resolve(env={"WANDB_CONSOLE": raw}).console == console


def test_bad_wandb_value_names_the_variable() -> None:
    """A bad value in a W&B variable is an error naming that variable."""
    with pytest.raises(InvalidValueError, match="WANDB_MODE"):
        Settings().resolve(env={"WANDB_MODE": "sideways"})


def test_wandb_setting_names_are_translated() -> None:
    """silent, root_dir and _disable_stats do what they do in W&B."""
    settings = Settings(silent=True, root_dir="/tmp/r", _disable_stats=True).resolve(env={})
    assert settings.quiet is True and settings.dir == "/tmp/r"
    assert settings.x_stats_sampling_interval == 0.0
    assert Settings(x_disable_stats=False).resolve(env={}).x_stats_sampling_interval is None


def test_ignored_wandb_settings_warn_once_naming_them() -> None:
    """W&B settings without effect are accepted with one warning naming them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        Settings(show_emoji=True, sagemaker_disable=True, _some_private=1)
        Settings(show_emoji=True)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    for name in ("show_emoji", "sagemaker_disable", "_some_private"):
        assert repr(name) in messages[0]


def test_unknown_setting_is_an_error_naming_it() -> None:
    """A name neither mytrack nor W&B knows is refused, named."""
    with pytest.raises(InvalidValueError, match="'no_such_setting'"):
        Settings(no_such_setting=1)


def test_dict_settings_take_wandb_names_in_init_form() -> None:
    """init(settings={...}) builds Settings(**dict): W&B's names work there too."""
    assert Settings(**{"silent": True}).quiet is True
