"""One run's page data: overview, config, summary, files, alerts, and what to chart.

Every flattened history key (`MetadataStore.history_keys`) becomes a chart, a
media panel or nothing, judged by its value in the summary: a media
descriptor (``{"_type": ...}``, or a list of them) is a panel, a string is
neither, anything else a chart (the browser drops a chart with no numeric
point). A chart's x axis is its ``define_metric`` step metric, and a hidden
metric is marked hidden, with the same glob rules as the service's summaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mytrack_common.secrets import redact_argv, redact_mapping
from mytrack_service.apply.metric_definitions import MetricRegistry
from mytrack_service.store.base import MetadataStore, RunKey, RunRow
from mytrack_service.web.responses import ApiError
from mytrack_service.web.table import shown_config, table_row

LIVE_STATES = ("running", "preempting")
_PRIVATE_METADATA = ("alerts", "writers", "alerts_suppressed")
_AGGREGATES = {"min", "max", "mean", "last", "first", "best"}


def run_detail(store: MetadataStore, key: RunKey) -> dict[str, Any]:
    run = store.get_run(key)
    if run is None:
        raise ApiError(404, f"run {key.path} not found")
    charts, media = classify(store.history_keys(key), run)
    metadata = _shown_metadata(run.metadata if isinstance(run.metadata, Mapping) else {})
    overview = table_row(run)
    overview.update(
        path=key.path, notes=run.notes, exit_code=run.exit_code, run_dir=run.run_dir,
        pid=run.pid, live=run.state in LIVE_STATES, command=_command(metadata),
        python=metadata.get("python", ""), git=metadata.get("git") or {},
    )
    return {
        "run": overview,
        "config": shown_config(run),
        "summary": {k: v for k, v in run.summary.items() if not str(k).startswith("_")},
        "metadata": {k: v for k, v in metadata.items() if k not in _PRIVATE_METADATA},
        "alerts": list(metadata.get("alerts") or []),
        "alerts_suppressed": metadata.get("alerts_suppressed", 0),
        "writers": _writers(run, metadata),
        "metrics": list(run.service_state.get("metrics") or []),
        "charts": charts,
        "media": media,
        "files": _files(store, key),
    }


def classify(names: list[str], run: RunRow) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(charts, media panels) for the run's history keys, in key order."""
    registry = MetricRegistry(list(run.service_state.get("metrics") or []), {})
    charts: list[dict[str, Any]] = []
    media: list[dict[str, Any]] = []
    for name in names:
        if name.startswith("_"):
            continue
        value = lookup(run.summary, name)
        section = name.split("/", 1)[0] if "/" in name else ""
        kind = media_type(value)
        if kind:
            media.append({"key": name, "type": kind, "section": section})
            continue
        if isinstance(value, str) or (isinstance(value, Mapping) and not set(value) <= _AGGREGATES):
            continue
        definition = registry.resolve(name) or {}
        step_metric = definition.get("step_metric") or ""
        charts.append({
            "key": name, "section": section, "hidden": bool(definition.get("hidden")),
            "step_metric": step_metric if step_metric != name else "",
        })
    return charts, media


def media_type(value: Any) -> str:
    """The ``_type`` of a media descriptor, or of a list of them; "" for anything else."""
    if isinstance(value, (list, tuple)) and value:
        value = value[0]
    if isinstance(value, Mapping) and isinstance(value.get("_type"), str):
        return str(value["_type"])
    return ""


def lookup(values: Mapping[str, Any], name: str) -> Any:
    """A flattened key's value in nested dicts ("a.b" is values["a"]["b"] or values["a.b"])."""
    if name in values:
        return values[name]
    head, dot, rest = name.partition(".")
    while dot:
        inner = values.get(head)
        if isinstance(inner, Mapping):
            found = lookup(inner, rest)
            if found is not None:
                return found
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return None


def _shown_metadata(metadata: Mapping[str, Any]) -> Mapping[str, Any]:
    """The metadata as shown: the command line and variables redacted again, for runs
    recorded before the SDK redacted them (a run that opted out says so)."""
    if metadata.get("redact_secrets") is False:
        return metadata
    shown = dict(metadata)
    if isinstance(shown.get("argv"), list):
        shown["argv"] = redact_argv([str(a) for a in shown["argv"]])
    if isinstance(shown.get("scheduler"), Mapping):
        shown["scheduler"] = redact_mapping(shown["scheduler"])
    return shown


def _command(metadata: Mapping[str, Any]) -> str:
    argv = metadata.get("argv")
    program = metadata.get("program") or ""
    if isinstance(argv, list) and argv:
        return " ".join(str(a) for a in [program or argv[0], *argv[1:]])
    return str(program)


def _writers(run: RunRow, metadata: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A shared run's writers: label, primary, and how each ended (once it did)."""
    ended = metadata.get("writers") if isinstance(metadata.get("writers"), Mapping) else {}
    known = run.service_state.get("writers") or {}
    out: dict[str, dict[str, Any]] = {}
    for info in known.values():
        label = str(info.get("label", ""))
        out[label] = {"label": label, "primary": bool(info.get("primary")), "state": "running"}
    for label, info in (ended or {}).items():
        entry = out.setdefault(str(label), {"label": str(label), "primary": False})
        entry.update(state=info.get("state", ""), exit_code=info.get("exit_code"),
                     time=info.get("time"))
    if len(out) <= 1 and not run.service_state.get("shared"):
        return []  # a plain run: one writer, nothing to show
    return sorted(out.values(), key=lambda w: (not w.get("primary"), w["label"]))


def _files(store: MetadataStore, key: RunKey) -> list[dict[str, Any]]:
    from mytrack_service.query import console_file

    rows = [
        {"name": f.name, "size": f.size, "mime": f.mime, "updated_at": f.updated_at,
         "pending": f.pending and not f.digest, "digest": f.digest, "policy": f.policy}
        for f in store.list_files(key)
    ]
    if not any(r["name"] == console_file.NAME for r in rows) and next(
        iter(store.read_console(key, None, None, 0)), None
    ) is not None:
        rows.append({"name": console_file.NAME, "size": None, "mime": "text/plain",
                     "updated_at": None, "pending": False, "digest": "", "policy": "console"})
    return sorted(rows, key=lambda r: str(r["name"]))
