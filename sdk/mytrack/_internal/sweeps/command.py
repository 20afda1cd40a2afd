"""A command trial's command line: W&B's macros expanded with the trial's parameters.

Each element of the sweep's ``command`` that is exactly a macro (``${args}``) is
replaced by its list of words, as W&B's agent does; ``${envvar:NAME}`` is replaced
inside any element. Values are written with Python's ``str`` (``--flag=True``,
``--opt=None``), nested parameters under dotted names (``--opt.beta=0.9``), exactly
as W&B writes them.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

DEFAULT_COMMAND = ("${env}", "${interpreter}", "${program}", "${args}")
_ENVVAR = re.compile(r"\$\{envvar:([A-Za-z0-9_]*)\}")


def build_command(command_template: Sequence[Any] | None, program: str | None, params: Mapping[str, Any], *,
                  interpreter: str = sys.executable, env_command: Sequence[str] = ("/usr/bin/env",),
                  workdir: str | os.PathLike[str] | None = None) -> list[str]:
    """The argv of one trial.

    Args:
        command_template: the sweep's ``command``; None or empty for W&B's default,
            ``${env} ${interpreter} ${program} ${args}``.
        program: the sweep's ``program`` (for ``${program}``).
        params: the trial's parameters, nested as in its ``run.config``.
        interpreter: what ``${interpreter}`` gives.
        env_command: what ``${env}`` gives.
        workdir: where ``${args_json_file}`` writes its file (a temporary folder when None).

    Raises:
        ValueError: a macro this agent does not know, or ``${program}`` with no program.
    """
    template = [str(word) for word in (command_template or DEFAULT_COMMAND)]
    flat = flatten(params)
    argv: list[str] = []
    for word in template:
        word = _ENVVAR.sub(lambda match: os.environ.get(match.group(1), match.group(1)), word)
        if word.startswith("${") and word.endswith("}"):
            argv += _expand(word[2:-1], flat, program, interpreter, env_command, workdir)
        else:
            argv.append(word)
    return argv


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested parameters under dotted names: ``{"opt": {"beta": 1}}`` as ``{"opt.beta": 1}``."""
    flat: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{prefix}{name}."))
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _expand(macro: str, flat: Mapping[str, Any], program: str | None, interpreter: str,
            env_command: Sequence[str], workdir: str | os.PathLike[str] | None) -> list[str]:
    match macro:
        case "env":
            return list(env_command)
        case "interpreter":
            return [interpreter]
        case "program":
            if program is None:
                raise ValueError("command: ${program} needs the sweep's 'program'")
            return [program]
        case "args":
            return [f"--{name}={value}" for name, value in flat.items()]
        case "args_no_equals":
            return [word for name, value in flat.items() for word in (f"--{name}", str(value))]
        case "args_no_hyphens":
            return [f"{name}={value}" for name, value in flat.items()]
        case "args_no_boolean_flags":
            # true booleans become bare flags, false ones are left out
            return [f"--{name}" if value is True else f"--{name}={value}"
                    for name, value in flat.items() if value is not False]
        case "args_json":
            return [json.dumps(dict(flat))]
        case "args_json_file":
            return [_write_json(flat, workdir)]
        case "args_append_hydra":
            return [f"+{name}={value}" for name, value in flat.items()]
        case "args_override_hydra":
            return [f"++{name}={value}" for name, value in flat.items()]
    known = "env, interpreter, program, args, args_no_equals, args_no_hyphens, args_no_boolean_flags, " \
        "args_json, args_json_file, args_append_hydra, args_override_hydra, envvar:NAME"
    raise ValueError(f"command: unknown macro ${{{macro}}} (known: {known})")


def _write_json(flat: Mapping[str, Any], workdir: str | os.PathLike[str] | None) -> str:
    folder = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="mytrack-sweep-"))
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=folder, prefix="args-", suffix=".json", delete=False,
                                     encoding="utf-8") as file:
        json.dump(dict(flat), file)
    return file.name
