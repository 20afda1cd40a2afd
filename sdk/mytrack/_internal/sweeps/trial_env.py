"""A sweep trial's identity, passed to ``mytrack.init()`` through the environment, as W&B's agent does.

The agent sets ``MYTRACK_SWEEP_ID``, ``MYTRACK_RUN_ID``, ``MYTRACK_ENTITY``,
``MYTRACK_PROJECT`` and ``MYTRACK_SWEEP_PARAM_PATH`` (a JSON file of the
sampled parameters, ``{"lr": {"value": 0.1}}`` as W&B's YAML file holds them)
for a command's process, and in its own process around a function trial.
``init()`` then opens the trial's run, whatever project or id it was given,
with the sampled values in its config, locked.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

PARAM_PATH = "MYTRACK_SWEEP_PARAM_PATH"
_WANDB_PARAM_PATH = "WANDB_SWEEP_PARAM_PATH"


@dataclass(frozen=True)
class TrialIdentity:
    sweep_id: str
    run_id: str
    entity: str
    project: str
    params: dict[str, Any]

    def environ(self, param_path: str) -> dict[str, str]:
        return {
            "MYTRACK_SWEEP_ID": self.sweep_id, "MYTRACK_RUN_ID": self.run_id,
            "MYTRACK_ENTITY": self.entity, "MYTRACK_PROJECT": self.project, PARAM_PATH: param_path,
        }


def write_params(path: str, params: dict[str, Any]) -> None:
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        json.dump({key: {"value": value} for key, value in params.items()}, f)


def current() -> TrialIdentity | None:
    """The trial this process runs, from the environment; None outside a sweep."""
    path = os.environ.get(PARAM_PATH) or os.environ.get(_WANDB_PARAM_PATH)
    sweep_id = os.environ.get("MYTRACK_SWEEP_ID") or os.environ.get("WANDB_SWEEP_ID")
    run_id = os.environ.get("MYTRACK_RUN_ID") or os.environ.get("WANDB_RUN_ID")
    if not path or not sweep_id or not run_id:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except (OSError, ValueError):
        return None
    params = {key: item.get("value") if isinstance(item, dict) else item for key, item in doc.items()}
    return TrialIdentity(
        sweep_id, run_id, os.environ.get("MYTRACK_ENTITY") or os.environ.get("WANDB_ENTITY") or "",
        os.environ.get("MYTRACK_PROJECT") or os.environ.get("WANDB_PROJECT") or "", params,
    )


def claim(trial: TrialIdentity, args: dict[str, Any]) -> dict[str, Any]:
    """``init()``'s entity, project and id replaced by the trial's, with a warning
    for each one given otherwise (W&B ignores them in a sweep too)."""
    ours = {"entity": trial.entity, "project": trial.project, "id": trial.run_id}
    for name, value in ours.items():
        given = args.get(name)
        if given is not None and given != value and value:
            warnings.warn(
                f"init({name}={given!r}) ignored: this run is trial {trial.run_id} of sweep "
                f"{trial.sweep_id}", UserWarning, stacklevel=4,
            )
    return {name: value or args.get(name) for name, value in ours.items()}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """``os.environ`` with ``values`` set for the block, then exactly as before."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def locked_message(key: str) -> str:
    """W&B's words for a script's write to a key the sweep set."""
    return f"Config item '{key}' was locked by 'sweep' (ignored update)."


def merged_config(source: Any, params: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """``init(config=...)`` with the trial's values in place of its own, and the keys warned about.

    Nested parameters merge into the script's nested dicts as W&B's ``merge_locked`` does:
    ``{"opt": {"beta": 0.5, "eps": 1e-8}}`` with the sweep's ``opt.beta = 0.9`` gives
    ``{"opt": {"beta": 0.9, "eps": 1e-8}}``. One warning per value replaced, naming its path
    (``opt.beta``); the top-level keys it was under are reported as warned, so that their
    lock (which covers the whole key, nested values included, as W&B's) does not warn again.
    """
    from mytrack._internal.run.config import config_from_source, sanitize

    config = sanitize(config_from_source(source)) if source is not None else {}
    replaced: list[str] = []
    merged = _merge(config, params, "", replaced)
    for path in replaced:
        warnings.warn(locked_message(path), UserWarning, stacklevel=4)
    return merged, {path.split(".", 1)[0] for path in replaced}


def _merge(ours: dict[str, Any], sweep: dict[str, Any], prefix: str, replaced: list[str]) -> dict[str, Any]:
    out = dict(ours)
    for key, value in sweep.items():
        path = f"{prefix}{key}"
        mine = ours.get(key)
        if isinstance(mine, dict) and isinstance(value, dict):
            out[key] = _merge(mine, value, path + ".", replaced)
        else:
            if key in ours:
                replaced.append(path)
            out[key] = value
    return out
