"""A command trial's argv: every W&B macro, formatted exactly as W&B's agent formats it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mytrack._internal.sweeps.command import build_command

PARAMS = {"lr": 0.1, "fast": True, "slow": False, "opt": {"beta": 0.9, "name": "adam"}}


def _build(*template: str, **kwargs: object) -> list[str]:
    return build_command(list(template), "train.py", PARAMS, interpreter="python3", **kwargs)  # type: ignore[arg-type]


def test_the_default_command_is_env_interpreter_program_args() -> None:
    """No command: /usr/bin/env python train.py --k=v ..., nested names dotted."""
    assert build_command(None, "train.py", PARAMS, interpreter="py") == [
        "/usr/bin/env", "py", "train.py", "--lr=0.1", "--fast=True", "--slow=False", "--opt.beta=0.9",
        "--opt.name=adam"]


@pytest.mark.parametrize(("macro", "expected"), [
    ("${env}", ["/usr/bin/env"]),
    ("${interpreter}", ["python3"]),
    ("${program}", ["train.py"]),
    ("${args}", ["--lr=0.1", "--fast=True", "--slow=False", "--opt.beta=0.9", "--opt.name=adam"]),
    ("${args_no_equals}", ["--lr", "0.1", "--fast", "True", "--slow", "False", "--opt.beta", "0.9",
                           "--opt.name", "adam"]),
    ("${args_no_hyphens}", ["lr=0.1", "fast=True", "slow=False", "opt.beta=0.9", "opt.name=adam"]),
    ("${args_no_boolean_flags}", ["--lr=0.1", "--fast", "--opt.beta=0.9", "--opt.name=adam"]),
    ("${args_append_hydra}", ["+lr=0.1", "+fast=True", "+slow=False", "+opt.beta=0.9", "+opt.name=adam"]),
    ("${args_override_hydra}", ["++lr=0.1", "++fast=True", "++slow=False", "++opt.beta=0.9",
                                "++opt.name=adam"]),
])
def test_each_macro(macro: str, expected: list[str]) -> None:
    """Each macro expands to W&B's words, between literal words."""
    assert _build("run", macro, "--end") == ["run", *expected, "--end"]


def test_args_json_is_one_json_word() -> None:
    """${args_json}: one word holding the flat parameters as JSON."""
    [word] = _build("${args_json}")
    assert json.loads(word) == {"lr": 0.1, "fast": True, "slow": False, "opt.beta": 0.9, "opt.name": "adam"}


def test_args_json_file_writes_the_parameters_in_workdir(tmp_path: Path) -> None:
    """${args_json_file}: the path of a JSON file in workdir holding the parameters."""
    [path] = _build("${args_json_file}", workdir=tmp_path)
    assert Path(path).parent == tmp_path
    assert json.loads(Path(path).read_text())["opt.name"] == "adam"


def test_envvar_is_replaced_inside_words(monkeypatch: pytest.MonkeyPatch) -> None:
    """${envvar:NAME} takes the variable's value anywhere in a word; an unset one leaves its name (W&B)."""
    monkeypatch.setenv("DATA_DIR", "/data")
    monkeypatch.delenv("UNSET_VAR", raising=False)
    assert _build("--data=${envvar:DATA_DIR}/x", "${envvar:UNSET_VAR}") == ["--data=/data/x", "UNSET_VAR"]


def test_a_word_that_only_contains_a_macro_is_left_as_is() -> None:
    """Only whole-word macros expand, as in W&B's agent."""
    assert _build("x${args}") == ["x${args}"]


def test_unknown_macro_and_missing_program_are_errors() -> None:
    """A typo'd macro is an error naming it, not silently dropped; ${program} needs a program."""
    with pytest.raises(ValueError, match=r"\$\{argz\}"):
        _build("${argz}")
    with pytest.raises(ValueError, match="program"):
        build_command(["${program}"], None, {})
