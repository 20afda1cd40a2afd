"""``mytrack.sweep()``: registers a sweep with the service's controller."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

from mytrack._internal.sweeps.service import SweepService
from mytrack.errors import SweepConfigError
from mytrack.settings import Settings


def load_config(source: dict[str, Any] | Callable[[], dict[str, Any]] | str) -> dict[str, Any]:
    """The configuration from a dict, a function returning one, or a YAML/JSON file, validated."""
    module = importlib.import_module("mytrack_common.sweep_config")
    try:
        config: dict[str, Any] = module.validate(module.load(source))
    except (ValueError, OSError) as exc:
        raise SweepConfigError(f"invalid sweep configuration: {exc}") from None
    return config


def sweep(
    sweep: dict[str, Any] | Callable[[], dict[str, Any]] | str, entity: str | None = None,
    project: str | None = None, prior_runs: Sequence[str] | None = None, *,
    name: str | None = None, program: str | None = None, quiet: bool = False,
) -> str:
    """Creates a sweep and returns its id (W&B's ``wandb.sweep``).

    Raises:
        SweepConfigError: the configuration is invalid (the message names the key).
        CommError: the service cannot be reached.
    """
    config = load_config(sweep)
    if program is not None:
        config["program"] = program
    settings = Settings().resolve({"entity": entity or config.get("entity"),
                                   "project": project or config.get("project")})
    entity, project = settings.entity or "", settings.project or ""
    service = SweepService.connect(settings)
    doc = service.call("create", {
        "entity": entity, "project": project, "config": config, "name": name or "",
        "prior_runs": list(prior_runs or []),
    })
    sweep_id = str(doc["id"])
    if not quiet:
        page = service.page(entity, project, sweep_id)
        lines = [f"mytrack: created sweep {doc['name']} with id {sweep_id}"]
        if page:
            lines.append(f"mytrack: view the sweep at {page}")
        lines.append(f"mytrack: start agents with: mytrack agent {entity}/{project}/{sweep_id}")
        print("\n".join(lines), file=sys.stderr)
    return sweep_id
