"""W&B's init() keywords, config rules and run names, asserted on what the store holds."""

from __future__ import annotations

import argparse
import dataclasses
import sys
import types
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mytrack
from mytrack.errors import InvalidKeyError, PreInitError, UsageError

QUIET = mytrack.Settings(quiet=True)


@pytest.fixture(autouse=True)
def _no_current_run(workdir: Path) -> Iterator[None]:
    mytrack.finish()
    yield
    mytrack.finish()


def start(project: str, **kwargs: Any) -> mytrack.Run:
    kwargs.setdefault("settings", QUIET)
    return mytrack.init(project=project, **kwargs)


def stored(run: mytrack.Run) -> Any:
    run.finish()
    return mytrack.Api().run(run.path)


def test_config_keys_that_are_not_strings_become_strings(project: str) -> None:
    """id2label-style int keys are stored as strings, nested ones too (W&B's rule)."""
    run = start(project, config={1: "one", "id2label": {0: "NEG", 1: "POS"}})
    run.config.update({"label2id": {"NEG": 0}, 2.5: True})
    run.config[7] = "seven"
    assert stored(run).config == {
        "1": "one", "id2label": {"0": "NEG", "1": "POS"}, "label2id": {"NEG": 0},
        "2.5": True, "7": "seven",
    }


def test_config_underscore_keys_are_kept_reserved_ones_refused_naming_config(project: str) -> None:
    """_name_or_path is the user's; _wandb/_mytrack keys are refused, the error saying config."""
    run = start(project, config={"_name_or_path": "bert", "__cached__": 1})
    with pytest.raises(InvalidKeyError, match=r"config key '_wandb'.*reserved"):
        run.config.update({"_wandb": {}})
    with pytest.raises(InvalidKeyError, match="config"):
        run.config["_mytrack_x"] = 1
    assert stored(run).config == {"_name_or_path": "bert", "__cached__": 1}


@dataclasses.dataclass
class Hparams:
    lr: float = 0.1
    layers: int = 2


def test_config_from_objects_with_attributes(project: str) -> None:
    """argparse.Namespace, SimpleNamespace and dataclasses are config sources."""
    run = start(project, config=types.SimpleNamespace(batch=32, name="x"))
    run.config.update(argparse.Namespace(epochs=3))
    run.config.update(Hparams())
    assert stored(run).config == {"batch": 32, "name": "x", "epochs": 3, "lr": 0.1, "layers": 2}


def test_config_include_and_exclude_keys(project: str) -> None:
    """config_include_keys keeps only those keys; config_exclude_keys drops them."""
    source = {"lr": 0.1, "seed": 1, "debug": True}
    included = start(project, config=source, config_include_keys=["lr", "seed"])
    assert stored(included).config == {"lr": 0.1, "seed": 1}
    excluded = start(project, config=source, config_exclude_keys=["debug"])
    assert stored(excluded).config == {"lr": 0.1, "seed": 1}
    with pytest.raises(UsageError, match="config_include_keys"):
        start(project, config=source, config_include_keys=["lr"], config_exclude_keys=["seed"])


def test_allow_val_change_at_init_allows_later_changes(project: str) -> None:
    """init(allow_val_change=True): changing a config value later does not raise."""
    run = start(project, config={"lr": 0.1}, allow_val_change=True)
    run.config.lr = 0.2
    run.config["lr"] = 0.3
    assert stored(run).config == {"lr": 0.3}
    strict = start(project, config={"lr": 0.1})
    with pytest.raises(UsageError, match="allow_val_change"):
        strict.config.lr = 0.2


def test_unsupported_keywords_are_accepted_with_one_warning_naming_them(project: str) -> None:
    """monitor_gym/fork_from... are accepted; one warning names the ones given a value."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = start(project, monitor_gym=True, magic=True, anonymous=None, force=True,
                    fork_from=None, sync_tensorboard=False)
    messages = [str(w.message) for w in caught if "W&B init() argument" in str(w.message)]
    assert len(messages) == 1
    assert "'monitor_gym'" in messages[0] and "'magic'" in messages[0]
    assert "anonymous" not in messages[0] and "force" not in messages[0]
    run.log({"x": 1})
    assert [r["x"] for r in stored(run).scan_history()] == [1]


def test_save_code_saves_the_main_script(project: str, workdir: Path, run_script: Any) -> None:
    """init(save_code=True) saves the program's main file with the run."""
    script = workdir / "train.py"
    script.write_text(
        "import sys, mytrack\n"
        f"run = mytrack.init(project={project!r}, save_code=True, settings=mytrack.Settings(quiet=True))\n"
        "print(run.path)\nrun.finish()\n"
    )
    import subprocess

    result = subprocess.run([sys.executable, str(script)], cwd=workdir, capture_output=True, text=True,
                            timeout=120, check=True)
    path = result.stdout.strip().splitlines()[-1]
    names = [f.name for f in mytrack.Api().run(path).files()]
    assert "train.py" in names


def test_log_with_no_data_commits_the_pending_step(project: str) -> None:
    """W&B's idiom: log(commit=False) parts, then log({}) commits them as one row."""
    run = start(project)
    run.log({"a": 1}, commit=False)
    run.log({"b": 2}, commit=False)
    run.log({})
    run.log({"c": 3})
    rows = [{k: v for k, v in r.items() if not k.startswith("_")} for r in stored(run).scan_history()]
    assert rows == [{"a": 1, "b": 2}, {"c": 3}]


def test_step_starting_step_urls_and_label(project: str) -> None:
    """run.step follows log(); starting_step is 0 for a new run; get_*_url() match the properties."""
    run = start(project)
    assert run.step == 0 and run.starting_step == 0
    run.log({"x": 1})
    run.log({"x": 2}, step=5)
    assert run.step == 5
    run.log({"x": 3})
    assert run.step == 6
    assert run.get_url() == run.url and run.get_project_url() == run.project_url
    assert run.get_sweep_url() is None
    assert run._label(code="transformers_trainer") is None
    # The step=5 row stays pending until the next log() without a step commits it.
    assert [(r["_step"], r["x"]) for r in stored(run).scan_history()] == [(0, 1), (5, 3)]


def test_resumed_run_starting_step(project: str) -> None:
    """A resumed run's starting_step is the step it goes on from."""
    first = start(project, id=f"r{abs(hash(project)) % 10**8}")
    first.log({"x": 1})
    first.log({"x": 2})
    first.finish()
    again = start(project, id=first.id, resume="allow")
    assert again.starting_step == 2 and again.step == 2


def test_module_level_define_metric_and_preinit(project: str) -> None:
    """mytrack.define_metric acts on the current run; before init it raises PreInitError."""
    with pytest.raises(PreInitError):
        mytrack.define_metric("loss", summary="min")
    run = start(project)
    mytrack.define_metric("loss", summary="min")
    for value in (3.0, 1.0, 2.0):
        run.log({"loss": value})
    assert stored(run).summary["loss"] == {"min": 1.0}
