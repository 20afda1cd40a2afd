"""Sweep configurations: W&B's schema with readable errors, defaults, rules, and loading."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mytrack_common.sweep_config import SweepConfigError, load, validate

# Every distribution with the keys it needs (W&B's names and meanings).
DISTRIBUTIONS: dict[str, dict[str, Any]] = {
    "constant": {"value": 3},
    "categorical": {"values": [1, "a", None]},
    "categorical_w_probabilities": {"values": [1, 2], "probabilities": [0.3, 0.7]},
    "int_uniform": {"min": 1, "max": 5},
    "uniform": {"min": 0.0, "max": 1.0},
    "q_uniform": {"min": 0.0, "max": 10.0, "q": 2},
    "log_uniform": {"min": -5.0, "max": 0.0},
    "log_uniform_values": {"min": 1e-5, "max": 1.0},
    "inv_log_uniform": {"min": 0.0, "max": 5.0},
    "inv_log_uniform_values": {"min": 1e-3, "max": 1.0},
    "q_log_uniform": {"min": 0.0, "max": 5.0, "q": 1},
    "q_log_uniform_values": {"min": 1.0, "max": 100.0, "q": 5},
    "normal": {"mu": 1.0, "sigma": 2.0},
    "q_normal": {"mu": 0.0, "sigma": 5.0, "q": 0.5},
    "log_normal": {"mu": 0.0, "sigma": 0.5},
    "q_log_normal": {"mu": 2.0, "sigma": 0.5, "q": 1},
    "beta": {"a": 2.0, "b": 3.0},
    "q_beta": {"a": 2.0, "b": 3.0, "q": 0.1},
}
REQUIRED = {"categorical": "values", "categorical_w_probabilities": "probabilities", "int_uniform": "min",
            "uniform": "max", "q_uniform": "min", "log_uniform": "min", "log_uniform_values": "max",
            "inv_log_uniform": "min", "inv_log_uniform_values": "max", "q_log_uniform": "max",
            "q_log_uniform_values": "min", "constant": "value"}


def _random(parameters: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"method": "random", "parameters": parameters, **more}


def _error(config: Any) -> SweepConfigError:
    with pytest.raises(SweepConfigError) as caught:
        validate(config)
    return caught.value


@pytest.mark.parametrize("name", sorted(DISTRIBUTIONS))
def test_every_distribution_is_accepted_with_its_parameters(name: str) -> None:
    """Each distribution validates with its keys and gets its name filled in."""
    config = validate(_random({"p": {"distribution": name, **DISTRIBUTIONS[name]}}))
    assert config["parameters"]["p"]["distribution"] == name


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_a_distribution_without_its_parameter_names_the_missing_key(name: str) -> None:
    """Leaving out a required key is an error at parameters.p.<key>."""
    spec = {key: value for key, value in DISTRIBUTIONS[name].items() if key != REQUIRED[name]}
    error = _error(_random({"p": {"distribution": name, **spec}}))
    assert error.path == f"parameters.p.{REQUIRED[name]}"
    assert "required" in str(error)


@pytest.mark.parametrize(("parameter", "path", "expected"), [
    ({"min": 2.0, "max": 1.0}, "parameters.lr.min", "less than max"),
    ({"min": "a", "max": 1.0}, "parameters.lr.min", "a number"),
    ({"distribution": "normal", "sigma": -1}, "parameters.lr.sigma", "greater than 0"),
    ({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}, "parameters.lr.q", "greater than 0"),
    ({"distribution": "log_uniform_values", "min": 0.0, "max": 1.0}, "parameters.lr.min", "greater than 0"),
    ({"distribution": "int_uniform", "min": 0.5, "max": 3}, "parameters.lr.min", "an integer"),
    ({"min": 1, "max": 2, "mu": 3}, "parameters.lr.mu", "unknown key"),
    ({"distribution": "gauss"}, "parameters.lr.distribution", "'normal'"),
    ({"values": []}, "parameters.lr.values", "at least 1"),
    ({"values": [1, 2], "probabilities": [0.5, 0.6]}, "parameters.lr.probabilities", "sum of 1"),
    ({"values": [1, 2], "probabilities": [1.0]}, "parameters.lr.probabilities", "2 probabilities"),
    ({"bogus": 1}, "parameters.lr", "'values'"),
])
def test_a_bad_parameter_names_its_path_and_what_was_expected(parameter: dict[str, Any], path: str,
                                                              expected: str) -> None:
    """The message starts with the bad key's path and says what it should be."""
    error = _error(_random({"lr": parameter}))
    assert error.path == path
    assert str(error).startswith(f"{path}: ")
    assert expected in str(error)


def test_nested_parameters_are_checked_at_their_path() -> None:
    """An error inside nested parameters names the whole path down to the key."""
    error = _error(_random({"opt": {"parameters": {"beta": {"min": 0.9, "max": 0.1}}}}))
    assert error.path == "parameters.opt.parameters.beta.min"


@pytest.mark.parametrize(("config", "path"), [
    ({"parameters": {"a": {"value": 1}}}, "method"),
    ({"method": "annealing", "parameters": {"a": {"value": 1}}}, "method"),
    ({"method": "random"}, "parameters"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "bogus": 1}, "bogus"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "run_cap": 0}, "run_cap"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "metric": {"goal": "maximize"}}, "metric.name"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "metric": {"name": "l", "impute": "mean"}},
     "metric.impute"),
    ({"method": "grid", "parameters": {"a": {"min": 0.0, "max": 1.0}}}, "parameters.a"),
    ({"method": "grid", "parameters": {"a": {"values": [1, 2], "probabilities": [0.5, 0.5]}}}, "parameters.a"),
    ({"method": "bayes", "parameters": {"a": {"min": 0.0, "max": 1.0}}}, "metric"),
    ({"method": "bayes", "metric": {"name": "l"}, "parameters": {"a": {"value": 1}}}, "parameters"),
    ({"method": "random", "parameters": {"a": {"value": 1}}, "early_terminate": {"type": "hyperband",
                                                                                  "min_iter": 3}}, "metric"),
    ({"method": "random", "metric": {"name": "l"}, "parameters": {"a": {"value": 1}},
      "early_terminate": {"type": "hyperband"}}, "early_terminate"),
    ({"method": "random", "metric": {"name": "l"}, "parameters": {"a": {"value": 1}},
      "early_terminate": {"type": "median", "min_iter": 3}}, "early_terminate.type"),
    ({"method": "random", "metric": {"name": "l"}, "parameters": {"a": {"value": 1}},
      "early_terminate": {"type": "hyperband", "max_iter": 2, "s": 1, "eta": 3}}, "early_terminate.max_iter"),
    ({"method": "custom", "metric": {"name": "l"}, "parameters": {"a": {"min": 0.0, "max": 1.0}}}, "scheduler"),
    ({"method": "custom", "metric": {"name": "l"}, "parameters": {"a": {"min": 0.0, "max": 1.0}},
      "scheduler": {"engine": "ax"}}, "scheduler.engine"),
    ({"method": "custom", "metric": {"name": "l"}, "parameters": {"a": {"min": 0.0, "max": 1.0}},
      "scheduler": {"engine": "optuna", "settings": {"sampler": {"type": "NoSuchSampler"}}}},
     "scheduler.settings.sampler.type"),
    ({"method": "random", "random": {"replacement": False}, "parameters": {"a": {"min": 0.0, "max": 1.0}}},
     "parameters.a"),
    ({"method": "grid", "random": {"replacement": False}, "parameters": {"a": {"values": [1]}}},
     "random.replacement"),
    ({"method": "random", "parameters": {"1st": {"value": 1}}}, "parameters"),
])
def test_configuration_errors_name_the_key(config: dict[str, Any], path: str) -> None:
    """Top-level and cross-field rules raise SweepConfigError at the key concerned."""
    assert _error(config).path == path


def test_defaults_are_filled_as_wandb_fills_them() -> None:
    """Distributions are inferred from the keys; metric, hyperband and distribution defaults filled."""
    config = validate({
        "method": "bayes", "metric": {"name": "loss"},
        "early_terminate": {"type": "hyperband", "min_iter": 2},
        "parameters": {"i": {"min": 1, "max": 3}, "f": {"min": 1, "max": 3.0}, "v": {"values": [1]},
                       "c": {"value": 2}, "n": {"distribution": "normal"},
                       "o": {"parameters": {"b": {"distribution": "q_beta"}}}},
    })
    params = config["parameters"]
    assert params["i"]["distribution"] == "int_uniform"
    assert params["f"]["distribution"] == "uniform"
    assert params["v"]["distribution"] == "categorical"
    assert params["c"]["distribution"] == "constant"
    assert params["n"] == {"distribution": "normal", "mu": 0.0, "sigma": 1.0}
    assert params["o"]["parameters"]["b"] == {"distribution": "q_beta", "a": 1.0, "b": 1.0, "q": 1.0}
    assert config["metric"] == {"name": "loss", "goal": "minimize", "impute": "worst", "impute_while_running": "false"}
    assert config["early_terminate"] == {"type": "hyperband", "min_iter": 2, "eta": 3, "strict": True}


def test_validate_does_not_change_its_argument() -> None:
    """The caller's dict is left as it was."""
    original = {"method": "random", "parameters": {"a": {"min": 0.0, "max": 1.0}}}
    validate(original)
    assert original == {"method": "random", "parameters": {"a": {"min": 0.0, "max": 1.0}}}


def test_wandb_keys_are_accepted() -> None:
    """program, command, name, description, run_cap, entity, project are W&B's keys and pass."""
    validate({"method": "grid", "program": "train.py", "command": ["${env}", "${interpreter}", "${program}", "${args}"],
              "name": "s", "description": "d", "run_cap": 5, "entity": "e", "project": "p",
              "parameters": {"a": {"values": [1, 2]}}})


def test_load_reads_yaml_and_json_files_and_functions(tmp_path: Path) -> None:
    """A YAML path, a JSON path, a dict and a function all give the same configuration."""
    config = {"method": "grid", "parameters": {"lr": {"values": [0.1, 0.01]}}}
    (tmp_path / "s.yaml").write_text("method: grid\nparameters:\n  lr:\n    values: [0.1, 0.01]\n")
    (tmp_path / "s.json").write_text(json.dumps(config))
    assert load(tmp_path / "s.yaml") == config
    assert load(str(tmp_path / "s.json")) == config
    assert load(lambda: config) == config
    loaded = load(config)
    assert loaded == config and loaded is not config


def test_load_errors_are_sweep_config_errors(tmp_path: Path) -> None:
    """A missing file, a parse error and a non-mapping each raise SweepConfigError."""
    with pytest.raises(SweepConfigError, match="cannot read"):
        load(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("method: [grid\n")
    with pytest.raises(SweepConfigError, match="cannot parse"):
        load(tmp_path / "bad.yaml")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(SweepConfigError, match="mapping"):
        load(tmp_path / "list.json")
