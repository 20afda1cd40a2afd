"""``wandb.env``: the names of W&B's environment variables.

Integrations read variables through these constants (``wandb.env.PROJECT``)
or the ``get_*`` helpers; mytrack reads the same variables as fallbacks for
its own (docs/configuration.md), so the names here are W&B's.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = [
    "CONSOLE", "DIR", "DISABLED", "ENTITY", "JOB_TYPE", "LOG_MODEL", "MODE", "NAME", "NOTES",
    "PROJECT", "RESUME", "RUN_GROUP", "RUN_ID", "SILENT", "SWEEP_ID", "TAGS", "WATCH",
    "get_dir", "get_entity", "get_project",
]

CONSOLE = "WANDB_CONSOLE"
DIR = "WANDB_DIR"
DISABLED = "WANDB_DISABLED"
ENTITY = "WANDB_ENTITY"
JOB_TYPE = "WANDB_JOB_TYPE"
LOG_MODEL = "WANDB_LOG_MODEL"
MODE = "WANDB_MODE"
NAME = "WANDB_NAME"
NOTES = "WANDB_NOTES"
PROJECT = "WANDB_PROJECT"
RESUME = "WANDB_RESUME"
RUN_GROUP = "WANDB_RUN_GROUP"
RUN_ID = "WANDB_RUN_ID"
SILENT = "WANDB_SILENT"
SWEEP_ID = "WANDB_SWEEP_ID"
TAGS = "WANDB_TAGS"
WATCH = "WANDB_WATCH"


def _get(name: str, default: str | None, env: Mapping[str, str] | None) -> str | None:
    return (os.environ if env is None else env).get(name, default)


def get_project(default: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    return _get(PROJECT, default, env)


def get_entity(default: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    return _get(ENTITY, default, env)


def get_dir(default: str | None = None, env: Mapping[str, str] | None = None) -> str | None:
    return _get(DIR, default, env)
