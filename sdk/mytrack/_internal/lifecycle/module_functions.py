"""Module-level forms of run methods that W&B code calls on the module.

``wandb.define_metric(...)``, ``wandb.log_artifact(...)``... act on the
current run; each one delegates (STYLE.md: module-level functions only
delegate) and raises `PreInitError` before ``init()``, as W&B does.
"""

from __future__ import annotations

from collections.abc import Callable

from mytrack._internal.artifacts.client import default_exclude, default_include
from mytrack._internal.lifecycle.init import _require_run
from mytrack._internal.run.metric import Metric
from mytrack.artifacts import Artifact


def define_metric(
    name: str, step_metric: str | Metric | None = None, step_sync: bool | None = None,
    hidden: bool | None = None, summary: str | None = None, goal: str | None = None,
    overwrite: bool | None = None,
) -> Metric:
    """Customises a metric of the current run; see `Run.define_metric`."""
    return _require_run("define_metric").define_metric(
        name, step_metric=step_metric, step_sync=step_sync, hidden=hidden, summary=summary,
        goal=goal, overwrite=overwrite,
    )


def log_artifact(
    artifact_or_path: Artifact | str, name: str | None = None, type: str | None = None,  # noqa: A002
    aliases: list[str] | None = None, tags: list[str] | None = None,
) -> Artifact:
    """Logs an artifact as an output of the current run; see `Run.log_artifact`."""
    return _require_run("log_artifact").log_artifact(
        artifact_or_path, name=name, type=type, aliases=aliases, tags=tags)


def use_artifact(
    artifact_or_name: Artifact | str, type: str | None = None,  # noqa: A002
    aliases: list[str] | None = None, use_as: str | None = None,
) -> Artifact:
    """Declares an artifact as an input of the current run; see `Run.use_artifact`."""
    return _require_run("use_artifact").use_artifact(
        artifact_or_name, type=type, aliases=aliases, use_as=use_as)


def log_model(path: str, name: str | None = None, aliases: list[str] | None = None) -> None:
    """Logs a model artifact from the current run; see `Run.log_model`."""
    _require_run("log_model").log_model(path, name=name, aliases=aliases)


def use_model(name: str) -> str:
    """Downloads a model artifact for the current run; see `Run.use_model`."""
    return _require_run("use_model").use_model(name)


def link_model(
    path: str, registered_model_name: str, name: str | None = None,
    aliases: list[str] | None = None,
) -> Artifact | None:
    """Logs and links a model version; see `Run.link_model`."""
    return _require_run("link_model").link_model(path, registered_model_name, name=name, aliases=aliases)


def log_code(
    root: str = ".", name: str | None = None,
    include_fn: Callable[..., bool] = default_include,
    exclude_fn: Callable[..., bool] = default_exclude,
) -> Artifact | None:
    """Saves code as an artifact of the current run; see `Run.log_code`."""
    return _require_run("log_code").log_code(root, name=name, include_fn=include_fn, exclude_fn=exclude_fn)


def mark_preempting() -> None:
    """Marks the current run as preempting; see `Run.mark_preempting`."""
    _require_run("mark_preempting").mark_preempting()
