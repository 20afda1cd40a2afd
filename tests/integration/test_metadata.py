"""Run metadata: config (every input form), summary, run properties, Settings
precedence and disabled mode, checked against what the real service stores.

Live checks flush the run's sender (records acked = in the WAL) and then poll
the store through ``mytrack.Api`` until the uploader has applied them.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import mytrack
from mytrack.errors import UsageError
from mytrack_common.address import service_address
from tests.helpers import wait_for

QUIET = mytrack.Settings(quiet=True)


def _web() -> Any:
    """The web UI (address and token) of the session's service, as run.url uses it."""
    from mytrack._internal.transport import launcher, webui

    client = launcher.connect(os.environ["MYTRACK_DIR"])
    try:
        return webui.web_address(client)
    finally:
        client.close()
Script = Callable[..., subprocess.CompletedProcess[str]]
_ENV_OVERRIDES = (
    "MYTRACK_ENTITY", "MYTRACK_PROJECT", "MYTRACK_RUN_DIR", "MYTRACK_MODE", "MYTRACK_SILENT",
    "MYTRACK_RUN_ID", "MYTRACK_NAME", "MYTRACK_NOTES", "MYTRACK_TAGS", "MYTRACK_RUN_GROUP",
    "MYTRACK_JOB_TYPE", "MYTRACK_RESUME", "MYTRACK_SWEEP_ID", "MYTRACK_UI_PORT",
)


@pytest.fixture(autouse=True)
def _clean(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No current run and no identity/settings overrides from the environment."""
    for name in _ENV_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    mytrack.finish()
    yield
    mytrack.finish()


def start(project: str, **kwargs: Any) -> mytrack.Run:
    kwargs.setdefault("settings", QUIET)
    return mytrack.init(project=project, **kwargs)


def settled(run: mytrack.Run, read: Callable[[Any], Any], expected: Any, timeout: float = 20) -> Any:
    """Flushes ``run`` and polls the store until ``read(ApiRun) == expected``; returns the ApiRun."""
    assert run._sender is not None and run._sender.flush(30), "records were not acked"
    api = mytrack.Api()
    last: dict[str, Any] = {}

    def probe() -> Any:
        last["run"] = api.run(run.path)
        return last["run"] if read(last["run"]) == expected else None

    try:
        return wait_for(probe, timeout=timeout, message="the store to show the change")
    except AssertionError:
        assert read(last["run"]) == expected  # fails with a diff
        raise


def user_keys(summary: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in summary.items() if not k.startswith("_")}


def last_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, f"no JSON line in stdout:\n{result.stdout}\n{result.stderr}"
    out: dict[str, Any] = json.loads(lines[-1])
    return out


# -- config: input forms ------------------------------------------------------------------

FIRST = {
    "lr": 0.01, "layers": [64, 32], "optim": {"name": "adam", "betas": [0.9, 0.999]},
    "use_bn": True, "seed": None, "arch": "resnet",
}
SECOND = {"epochs": 5, "schedule": {"kind": "cosine", "warmup": 2}}


def make_source(form: str, data: dict[str, Any], folder: Path, stem: str) -> Any:
    if form == "dict":
        return dict(data)
    if form == "namespace":
        return argparse.Namespace(**data)
    if form == "dataclass":
        return dataclasses.make_dataclass(f"Cfg_{stem}", list(data))(**data)
    if form == "yaml":
        path = folder / f"{stem}.yaml"
        path.write_text(yaml.safe_dump(data))
        return str(path)
    if form == "json":
        path = folder / f"{stem}.json"
        path.write_text(json.dumps(data))
        return path  # an os.PathLike works as well as a str
    if form == "wandb-yaml":
        path = folder / f"{stem}.yml"
        path.write_text(yaml.safe_dump({k: {"desc": f"about {k}", "value": v} for k, v in data.items()}))
        return str(path)
    raise AssertionError(form)


@pytest.mark.parametrize("form", ["dict", "namespace", "dataclass", "yaml", "json", "wandb-yaml"])
def test_config_round_trips_from_each_input_form(project: str, workdir: Path, form: str) -> None:
    """init(config=SRC) and config.update(SRC) read back exactly, live and after finish, for every source form."""
    run = start(project, config=make_source(form, FIRST, workdir, "first"))
    assert run.config.as_dict() == FIRST
    settled(run, lambda r: r.config, FIRST)
    run.config.update(make_source(form, SECOND, workdir, "second"))
    merged = {**FIRST, **SECOND}
    assert run.config.as_dict() == merged
    settled(run, lambda r: r.config, merged)
    run.finish()
    stored = mytrack.Api().run(run.path)
    assert stored.config == merged
    assert stored.state == "finished"


def test_wandb_config_file_header_is_not_a_config_key(project: str, workdir: Path) -> None:
    """A config.yaml as W&B writes it ('wandb_version: 1' + value-form keys) gives only the user's keys."""
    path = workdir / "config.yaml"
    path.write_text(
        "wandb_version: 1\n\nlr:\n  desc: learning rate\n  value: 0.001\n"
        "batch_size:\n  desc: null\n  value: 32\n"
    )
    run = start(project, config=str(path))
    assert run.config.as_dict() == {"lr": 0.001, "batch_size": 32}


def test_unusable_config_sources_raise_clear_errors(project: str, workdir: Path) -> None:
    """A missing file, a file without a mapping at the top, or an unsupported object raises naming the problem."""
    listing = workdir / "list.json"
    listing.write_text("[1, 2]")
    broken = workdir / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match="missing.yaml"):
        start(project, config=str(workdir / "missing.yaml"))
    with pytest.raises(ValueError, match="mapping"):
        start(project, config=str(listing))
    with pytest.raises(ValueError, match="JSON"):
        start(project, config=str(broken))
    with pytest.raises(TypeError, match="config must be"):
        start(project, config=42)
    assert mytrack.run is None
    assert mytrack.Api().runs(project) == []


def test_config_attribute_and_item_access_read_and_write(project: str) -> None:
    """config.x and config["x"] read the same values and both write new keys that reach the store."""
    run = start(project, config={"lr": 0.1, "model": {"depth": 4, "widths": [8, 16]}})
    assert run.config.lr == 0.1 and run.config["lr"] == 0.1
    assert run.config.model == {"depth": 4, "widths": [8, 16]}
    assert run.config["model"]["widths"] == [8, 16]
    assert run.config.get("missing", "dflt") == "dflt"
    run.config.batch = 32
    run.config["dropout"] = 0.25
    run.config["nested"] = {"a": {"b": [1, 2]}}
    assert run.config["batch"] == 32 and run.config.dropout == 0.25
    assert run.config.nested == {"a": {"b": [1, 2]}}
    with pytest.raises(AttributeError, match="missing"):
        _ = run.config.missing
    with pytest.raises(KeyError):
        _ = run.config["missing"]
    expected = {
        "lr": 0.1, "model": {"depth": 4, "widths": [8, 16]}, "batch": 32, "dropout": 0.25,
        "nested": {"a": {"b": [1, 2]}},
    }
    settled(run, lambda r: r.config, expected)
    run.finish()
    assert mytrack.Api().run(run.path).config == expected


def test_changing_a_config_value_needs_allow_val_change(project: str) -> None:
    """Changing an existing key raises UsageError (store unchanged) unless allow_val_change=True."""
    run = start(project, config={"lr": 0.1, "opt": {"name": "sgd"}})
    with pytest.raises(UsageError, match="'lr'"):
        run.config.update({"lr": 0.2})
    with pytest.raises(UsageError, match="allow_val_change"):
        run.config.lr = 0.3
    with pytest.raises(UsageError, match="'opt'"):
        run.config["opt"] = {"name": "adam"}
    with pytest.raises(UsageError, match="'lr'"):  # nothing of the refused call is applied
        run.config.update({"fresh": 1, "lr": 0.4})
    assert "fresh" not in run.config
    run.config.update({"lr": 0.1, "opt": {"name": "sgd"}})  # the same values: no error
    assert run.config.as_dict() == {"lr": 0.1, "opt": {"name": "sgd"}}
    settled(run, lambda r: r.config, {"lr": 0.1, "opt": {"name": "sgd"}})
    run.config.update({"lr": 0.5, "opt": {"name": "adam"}, "new": True}, allow_val_change=True)
    expected = {"lr": 0.5, "opt": {"name": "adam"}, "new": True}
    assert run.config.as_dict() == expected and run.config.lr == 0.5
    settled(run, lambda r: r.config, expected)
    run.finish()
    assert mytrack.Api().run(run.path).config == expected


def test_setdefaults_sets_only_missing_keys(project: str) -> None:
    """setdefaults() adds the keys that are missing and never overwrites (nor raises on) existing ones."""
    run = start(project, config={"lr": 0.1, "batch": 16})
    run.config.setdefaults({"lr": 9.0, "batch": 64, "epochs": 3, "sched": {"kind": "step"}})
    expected = {"lr": 0.1, "batch": 16, "epochs": 3, "sched": {"kind": "step"}}
    assert run.config.as_dict() == expected
    settled(run, lambda r: r.config, expected)
    run.finish()


def test_non_serialisable_config_value_raises_type_error_naming_the_key(project: str) -> None:
    """An unserialisable value raises TypeError naming the key, at init() and at update(); nothing is applied."""
    with pytest.raises(TypeError, match="'callback'"):
        start(project, config={"lr": 0.1, "callback": object()})
    assert mytrack.run is None
    run = start(project, config={"lr": 0.1})
    with pytest.raises(TypeError, match="'ids'.*set"):
        run.config.update({"ok": 1, "ids": {1, 2}})
    with pytest.raises(TypeError, match="opt.fn"):
        run.config["opt"] = {"fn": print}
    with pytest.raises(TypeError, match="'handle'"):
        run.config.handle = open  # noqa: SIM115 - a builtin function, not a file
    assert run.config.as_dict() == {"lr": 0.1}
    run.config.update({"after": 2})  # the config keeps working
    settled(run, lambda r: r.config, {"lr": 0.1, "after": 2})
    run.finish()
    assert len(mytrack.Api().runs(project)) == 1  # the refused init() created no run


def test_config_static_is_a_read_only_view(project: str) -> None:
    """config_static reads the live config and raises UsageError on attribute or item assignment."""
    run = start(project, config={"lr": 0.1})
    static = run.config_static
    assert static.lr == 0.1 and static["lr"] == 0.1
    with pytest.raises(UsageError, match="read-only"):
        static.lr = 0.2
    with pytest.raises(UsageError, match="read-only"):
        static["new"] = 1
    run.config.update({"depth": 3})
    assert static.depth == 3 and "depth" in static and len(static) == 2
    assert list(static.keys()) == ["lr", "depth"]
    assert static.as_dict() == {"lr": 0.1, "depth": 3}
    settled(run, lambda r: r.config, {"lr": 0.1, "depth": 3})
    run.finish()


def test_config_in_len_keys_items_values(project: str) -> None:
    """`in`, len(), keys(), items(), values(), iteration and as_dict() agree with what was set."""
    run = start(project, config={"a": 1, "b": [2, 3]})
    run.config.update({"c": {"d": 4}})
    assert "a" in run.config and "c" in run.config and "d" not in run.config
    assert len(run.config) == 3
    assert list(run.config.keys()) == ["a", "b", "c"]
    assert list(run.config) == ["a", "b", "c"]
    assert dict(run.config.items()) == {"a": 1, "b": [2, 3], "c": {"d": 4}}
    assert list(run.config.values()) == [1, [2, 3], {"d": 4}]
    copy = run.config.as_dict()
    copy["c"]["d"] = 99  # a deep copy: the run's config is untouched
    assert run.config.c == {"d": 4}
    assert mytrack.config is run.config
    run.finish()


def test_config_change_after_finish_raises_and_changes_nothing(project: str) -> None:
    """After finish(), a config change raises RunFinishedError and leaves run.config and the store as they were."""
    run = start(project, config={"a": 1})
    run.finish()
    with pytest.raises(mytrack.errors.RunFinishedError):
        run.config.update({"b": 2})
    assert mytrack.Api().run(run.path).config == {"a": 1}
    assert run.config.as_dict() == {"a": 1}


# -- summary ---------------------------------------------------------------------------------


def test_summary_defaults_to_the_last_logged_value(project: str) -> None:
    """Without define_metric each key's summary is its last logged value, readable live and in Api."""
    run = start(project)
    run.log({"loss": 0.9, "acc": 0.1})
    run.log({"loss": -0.4})
    run.log({"acc": 0.7, "text": "hi", "nested": {"x": 1, "y": [1, 2]}})
    expected = {"loss": -0.4, "acc": 0.7, "text": "hi", "nested": {"x": 1, "y": [1, 2]}}
    assert user_keys(dict(run.summary)) == expected
    assert run.summary["loss"] == -0.4 and run.summary["nested"]["y"] == [1, 2]
    live = settled(run, lambda r: user_keys(r.summary), expected)
    assert live.summary["_step"] == 2
    run.finish()
    assert user_keys(mytrack.Api().run(run.path).summary) == expected


def test_user_set_summary_wins_until_the_key_is_logged_again(project: str) -> None:
    """run.summary[k] = v overrides the automatic value, survives logs of other keys, and yields to a new log of k."""
    run = start(project)
    run.log({"acc": 0.5})
    run.summary["acc"] = 0.99
    run.summary["best_epoch"] = 7
    assert run.summary["acc"] == 0.99
    run.log({"loss": 1.0})  # another key: the user value stays
    assert run.summary["acc"] == 0.99
    settled(run, lambda r: user_keys(r.summary), {"acc": 0.99, "best_epoch": 7, "loss": 1.0})
    run.log({"acc": 0.6})  # the key is logged again: automatic value again
    assert run.summary["acc"] == 0.6
    assert run.summary["best_epoch"] == 7
    run.finish()
    assert user_keys(mytrack.Api().run(run.path).summary) == {"acc": 0.6, "best_epoch": 7, "loss": 1.0}


def test_summary_update_del_and_nested_values_reach_the_store_live(project: str) -> None:
    """update() (dict and kwargs), nested values and del are applied in the store while the run is live."""
    run = start(project)
    run.log({"loss": 0.3})
    run.summary.update({"eval": {"top1": 0.8, "top5": [0.9, 0.95]}, "tmp": 1}, note="n")
    expected = {"loss": 0.3, "eval": {"top1": 0.8, "top5": [0.9, 0.95]}, "tmp": 1, "note": "n"}
    assert user_keys(dict(run.summary)) == expected
    settled(run, lambda r: user_keys(r.summary), expected)
    del run.summary["tmp"]
    del run.summary["loss"]
    assert "tmp" not in run.summary and "loss" not in run.summary
    with pytest.raises(KeyError):
        del run.summary["never-set"]
    expected = {"eval": {"top1": 0.8, "top5": [0.9, 0.95]}, "note": "n"}
    assert sorted(k for k in run.summary.keys() if not k.startswith("_")) == ["eval", "note"]
    settled(run, lambda r: user_keys(r.summary), expected)
    with pytest.raises(TypeError, match="'bad'"):
        run.summary["bad"] = object()
    run.finish()
    assert user_keys(mytrack.Api().run(run.path).summary) == expected


# -- properties --------------------------------------------------------------------------------


def test_properties_of_an_online_run(project: str, workdir: Path) -> None:
    """Every property of a live online run is what the reference says, settings is frozen, urls are the service's web UI
    pages with its token."""
    before = time.time()
    run = mytrack.init(
        entity="team-m", project=project, id="propsm01", name="first-name", group="grp",
        job_type="train", tags=["a", "b"], notes="n1", config={"lr": 0.1},
        settings=mytrack.Settings(quiet=True, ui_port=7123),
    )
    after = time.time()
    web = _web()
    base = f"{web.base}/team-m/{project}"
    assert (run.entity, run.project, run.id) == ("team-m", project, "propsm01")
    assert run.path == f"team-m/{project}/propsm01"
    assert (run.name, run.group, run.job_type, run.tags, run.notes) == (
        "first-name", "grp", "train", ("a", "b"), "n1",
    )
    assert run.url == f"{base}/runs/propsm01?token={web.token}"
    assert run.project_url == f"{base}?token={web.token}"
    assert run.sweep_id is None and run.sweep_url is None
    assert run.disabled is False and run.offline is False and run.resumed is False
    assert before <= run.start_time <= after
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(run.start_time))
    assert run.dir == str(workdir / "mytrack-runs" / f"run-{stamp}-propsm01" / "files")  # W&B: <run>/files
    assert Path(run.dir).is_dir()
    settings = run.settings
    assert isinstance(settings, mytrack.Settings)
    assert (settings.mode, settings.project, settings.entity, settings.ui_port, settings.quiet) == (
        "online", project, "team-m", 7123, True,
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.settings.project = "other"  # type: ignore[misc]
    assert run.settings.project == project
    run.finish()
    # resume: same identity, resumed is True, config comes back
    again = mytrack.init(entity="team-m", project=project, id="propsm01", resume="must", settings=QUIET)
    assert again.resumed is True and again.name == "first-name"
    assert again.config.as_dict() == {"lr": 0.1} and again.tags == ("a", "b")
    assert again.url == f"{base}/runs/propsm01?token={web.token}"
    again.finish()


def test_sweep_id_from_settings_or_environment(project: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """sweep_id comes from Settings(sweep_id=) or MYTRACK_SWEEP_ID (the argument wins); sweep_url and Api agree."""
    monkeypatch.setenv("MYTRACK_SWEEP_ID", "sweep-env")
    run = start(project)
    entity = getpass.getuser()
    assert run.sweep_id == "sweep-env"
    web = _web()
    assert run.sweep_url == f"{web.base}/{entity}/{project}/sweeps/sweep-env?token={web.token}"
    run.finish()
    assert mytrack.Api().run(run.path).sweep_id == "sweep-env"
    other = start(project, settings=mytrack.Settings(quiet=True, sweep_id="sweep-arg"))
    assert other.sweep_id == "sweep-arg"
    assert other.sweep_url == f"{web.base}/{entity}/{project}/sweeps/sweep-arg?token={web.token}"
    other.finish()
    assert mytrack.Api().run(other.path).sweep_id == "sweep-arg"


def test_offline_run_has_no_urls(project: str) -> None:
    """An offline run reports offline=True and None for url, project_url and sweep_url (sweep_id kept)."""
    run = mytrack.init(project=project, mode="offline", settings=mytrack.Settings(quiet=True, sweep_id="sw1"))
    assert run.offline is True and run.disabled is False
    assert (run.url, run.project_url, run.sweep_url) == (None, None, None)
    assert run.sweep_id == "sw1"
    assert run.settings.mode == "offline"
    run.finish()


def test_assigned_name_notes_tags_group_job_type_reach_the_store(project: str) -> None:
    """Assigning name/notes/tags/group/job_type on a live run changes the property and the stored run."""
    run = start(project, name="before", tags=["old"], group="g0", job_type="j0", notes="n0")
    settled(run, lambda r: (r.name, r.tags, r.group, r.job_type, r.notes),
            ("before", ["old"], "g0", "j0", "n0"))
    run.name = "after"
    run.notes = "line 1\nline 2 with $x^2$"
    run.tags = ["x", "y"]
    run.group = "g1"
    run.job_type = "eval"
    assert (run.name, run.notes, run.tags, run.group, run.job_type) == (
        "after", "line 1\nline 2 with $x^2$", ("x", "y"), "g1", "eval",
    )
    expected = ("after", "line 1\nline 2 with $x^2$", ["x", "y"], "g1", "eval")
    read = lambda r: (r.name, r.notes, r.tags, r.group, r.job_type)  # noqa: E731
    live = settled(run, read, expected)
    assert live.state == "running"
    run.tags = ()
    run.notes = ""  # clearing is a change too
    settled(run, lambda r: (r.tags, r.notes), ([], ""))
    run.finish()
    assert read(mytrack.Api().run(run.path)) == ("after", "", [], "g1", "eval")
    assert [r.id for r in mytrack.Api().runs(project, filters={"group": "g1"})] == [run.id]


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", 5), ("notes", None), ("group", ["g"]), ("job_type", 1.5), ("tags", "a,b"),
     ("tags", ["ok", 3]), ("tags", ["ok", ""])],
)
def test_bad_types_for_assignable_properties_raise_type_error(project: str, field: str, value: Any) -> None:
    """A wrong type assigned to name/notes/group/job_type/tags raises TypeError and changes nothing."""
    run = start(project, name="n", notes="o", group="g", job_type="j", tags=["t"])
    with pytest.raises(TypeError, match=field):
        setattr(run, field, value)
    assert (run.name, run.notes, run.group, run.job_type, run.tags) == ("n", "o", "g", "j", ("t",))
    run.log({"a": 1})
    run.finish()
    stored = mytrack.Api().run(run.path)
    assert (stored.name, stored.notes, stored.group, stored.job_type, stored.tags) == ("n", "o", "g", "j", ["t"])


# -- settings ------------------------------------------------------------------------------------

_PRECEDENCE_SCRIPT = """
import json, mytrack
run = mytrack.init(**json.loads({args!r}))
print(json.dumps({{"project": run.project, "entity": run.entity, "mode": run.settings.mode,
                   "offline": run.offline, "disabled": run.disabled, "quiet": run.settings.quiet,
                   "path": run.path}}))
run.finish()
"""


@pytest.mark.parametrize(
    ("case", "env", "args", "expected"),
    [
        ("default", {}, {}, {"project": "uncategorized", "entity": None, "mode": "online", "quiet": False}),
        ("env", {"MYTRACK_PROJECT": "p-env", "MYTRACK_ENTITY": "e-env", "MYTRACK_MODE": "offline",
                 "MYTRACK_SILENT": "true"}, {},
         {"project": "p-env", "entity": "e-env", "mode": "offline", "quiet": True}),
        ("argument", {"MYTRACK_PROJECT": "p-env", "MYTRACK_ENTITY": "e-env", "MYTRACK_MODE": "offline",
                      "MYTRACK_SILENT": "true"},
         {"project": "p-arg", "entity": "e-arg", "mode": "online", "settings": {"quiet": False}},
         {"project": "p-arg", "entity": "e-arg", "mode": "online", "quiet": False}),
        ("env-mode-only", {"MYTRACK_MODE": "disabled", "MYTRACK_SILENT": "0"}, {"project": "p-arg"},
         {"project": "p-arg", "entity": None, "mode": "disabled", "quiet": False}),
    ],
)
def test_settings_precedence_argument_env_default(
    run_script: Script, project: str, case: str, env: dict[str, str], args: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    """project/entity/mode/quiet resolve as argument > MYTRACK_* variable > default in a fresh process."""
    # Unique names in the shared store: suffix the test's project.
    env = {k: f"{v}-{project}" if k in ("MYTRACK_PROJECT", "MYTRACK_ENTITY") else v for k, v in env.items()}
    args = {k: f"{v}-{project}" if k in ("project", "entity") else v for k, v in args.items()}
    expected = dict(expected)
    for key in ("project", "entity"):
        if expected[key] is None:
            expected[key] = getpass.getuser()
        elif expected[key] != "uncategorized":
            expected[key] = f"{expected[key]}-{project}"
    result = run_script(_PRECEDENCE_SCRIPT.format(args=json.dumps(args)), env=env)
    out = last_json(result)
    assert {k: out[k] for k in expected} == expected
    assert out["offline"] is (expected["mode"] == "offline")
    assert out["disabled"] is (expected["mode"] == "disabled")
    printed = "mytrack: run" in result.stderr
    assert printed is (not expected["quiet"] and expected["mode"] != "disabled"), result.stderr
    if expected["mode"] == "online":
        assert mytrack.Api().run(out["path"]).state == "finished"


_INVALID_SCRIPT = """
import json, mytrack
try:
    mytrack.init({call})
except Exception as exc:
    print(json.dumps({{"type": type(exc).__name__, "value_error": isinstance(exc, ValueError),
                       "type_error": isinstance(exc, TypeError),
                       "mytrack_error": isinstance(exc, mytrack.Error), "message": str(exc),
                       "current": mytrack.run is not None}}))
else:
    print(json.dumps({{"type": None}}))
"""


@pytest.mark.parametrize(
    ("env", "call", "named"),
    [
        ({"MYTRACK_MODE": "sideways"}, "project='p'", "MYTRACK_MODE"),
        ({}, "project='p', mode='sideways'", "'mode'"),
        ({"MYTRACK_SILENT": "perhaps"}, "project='p'", "MYTRACK_SILENT"),
        ({"MYTRACK_UI_PORT": "http"}, "project='p'", "MYTRACK_UI_PORT"),
        ({}, "project='p', settings=mytrack.Settings(finish_timeout=-1)", "'finish_timeout'"),
        ({}, "project='p', settings=mytrack.Settings(ui_port=70000)", "'ui_port'"),
        ({}, "project=5", "'project'"),
    ],
)
def test_invalid_setting_raises_at_init_naming_it(
    run_script: Script, env: dict[str, str], call: str, named: str
) -> None:
    """An invalid value (argument or variable) raises a ValueError at init() naming the setting or variable."""
    out = last_json(run_script(_INVALID_SCRIPT.format(call=call), env=env))
    assert out["type"] == "InvalidValueError", out
    assert out["value_error"] and out["mytrack_error"]
    assert named in out["message"], out["message"]
    assert out["current"] is False


# -- disabled mode ---------------------------------------------------------------------------------------


def test_disabled_mode_accepts_every_metadata_call_and_does_nothing(
    run_script: Script, workdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """In disabled mode config/summary/define_metric/property calls work locally; no service, no files."""
    home = tmp_path_factory.mktemp("disabled-meta") / "fresh-home"
    address = service_address(str(home))
    result = run_script(
        """
        import json, mytrack
        run = mytrack.init(project="p", mode="disabled", config={"lr": 0.1},
                           settings=mytrack.Settings(sweep_id="sw"))
        run.config.update({"a": 1})
        run.config.update({"lr": 0.2}, allow_val_change=True)
        run.config.setdefaults({"lr": 9, "b": 2})
        run.config.c = 3
        run.config["d"] = {"e": [1, 2]}
        run.summary["s"] = 1
        run.summary.update({"t": 2})
        epoch = run.define_metric("epoch")
        m = run.define_metric("loss", summary="min,max", step_metric=epoch)
        run.define_metric("train/*", hidden=True, overwrite=True)
        run.name = "renamed"; run.notes = "notes"; run.tags = ["x"]
        run.group = "grp"; run.job_type = "jt"
        run.log({"loss": 1.0, "epoch": 1})
        mytrack.log({"loss": 0.5})
        out = {
            "config": run.config.as_dict(), "static_lr": run.config_static.lr, "len": len(run.config),
            "props": [run.name, run.notes, list(run.tags), run.group, run.job_type],
            "urls": [run.url, run.project_url, run.sweep_url], "sweep_id": run.sweep_id,
            "disabled": run.disabled, "offline": run.offline, "resumed": run.resumed,
            "metric": [m.name, m.step_metric, m.summary, m.step_sync],
        }
        run.finish()
        run.finish()
        print(json.dumps(out))
        """,
        env={"MYTRACK_DIR": str(home), "MYTRACK_SILENT": "false"},
    )
    out = last_json(result)
    assert out["config"] == {"lr": 0.2, "a": 1, "b": 2, "c": 3, "d": {"e": [1, 2]}}
    assert out["static_lr"] == 0.2 and out["len"] == 5
    assert out["props"] == ["renamed", "notes", ["x"], "grp", "jt"]
    assert out["urls"] == [None, None, None] and out["sweep_id"] == "sw"
    assert (out["disabled"], out["offline"], out["resumed"]) == (True, False, False)
    assert out["metric"] == ["loss", "epoch", "min,max", True]
    assert result.stderr == ""
    assert not home.exists()
    assert not os.path.exists(address.socket)
    assert list(workdir.iterdir()) == []


def test_disabled_mode_accepts_summary_del(project: str) -> None:
    """del run.summary[k] after setting k is accepted by a disabled run."""
    run = mytrack.init(project=project, mode="disabled")
    run.summary["s"] = 1
    del run.summary["s"]
    run.finish()
