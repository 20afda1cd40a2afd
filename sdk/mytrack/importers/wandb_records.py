"""W&B record messages translated into the records of an imported run.

The messages are the installed ``wandb``'s ``Record``s; they are read here
by field name only (typed ``Any``), so no W&B module is imported.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from mytrack._internal.run.metric import make_metric
from mytrack.errors import Error
from mytrack.importers import wandb_artifacts, wandb_stats
from mytrack.importers.source import Ending
from mytrack.importers.staging import StagedRun

# Keys W&B keeps for itself in config and summary; mytrack sets its own _step, _runtime, _timestamp.
_INTERNAL_KEYS = frozenset({"_wandb", "_step", "_runtime", "_timestamp"})
_STREAMS = {0: "stderr", 1: "stdout"}  # W&B's OutputType: STDERR 0, STDOUT 1
_LINES_PER_RECORD = 1000
_SAMPLES_PER_RECORD = 1000
_MAX_ALERTS = 100  # as many as the service keeps of a run's own alerts
# Record kinds with nothing to carry: W&B's own bookkeeping.
_IGNORED = frozenset({"header", "footer", "final", "telemetry", "request", "preempting", "output_logger"})
_NOT_CARRIED = {
    "use_artifact": "artifact uses (W&B records them only for runs that were online)",
    "noop_link_artifact": "artifact links",
    "tbrecord": "TensorBoard sync records (import the TensorBoard logs with `mytrack import tensorboard`)",
}
_SUMMARY_FLAGS = ("min", "max", "mean", "best", "last", "none", "copy", "first")
_GOALS = {1: "minimize", 2: "maximize"}


def value(item: Any) -> Any:
    """The value of a W&B config/summary/history item (``value_json``)."""
    return json.loads(item.value_json)


def item_path(item: Any) -> list[str]:
    return list(item.nested_key) if item.nested_key else [item.key]


def config_items(config: Any) -> dict[str, Any]:
    """A ConfigRecord's updates as a dict, W&B's own keys left out."""
    out: dict[str, Any] = {}
    for item in config.update:
        path = item_path(item)
        if path[0] not in _INTERNAL_KEYS:
            _set(out, path, value(item))
    return out


def run_fields(run: Any) -> dict[str, Any]:
    """Name, notes and tags of a RunRecord, where it sets them."""
    fields: dict[str, Any] = {}
    if run.display_name:
        fields["name"] = run.display_name
    if run.notes:
        fields["notes"] = run.notes
    if run.tags:
        fields["tags"] = list(run.tags)
    return fields


def _set(target: dict[str, Any], path: list[str], new: Any) -> None:
    for key in path[:-1]:
        child = target.get(key)
        if not isinstance(child, dict):
            child = target[key] = {}
        target = child
    target[path[-1]] = new


def _remove(target: dict[str, Any], path: list[str]) -> None:
    for key in path[:-1]:
        target = target.get(key)  # type: ignore[assignment]
        if not isinstance(target, dict):
            return
    target.pop(path[-1], None)


class RecordTranslator:
    """Applies one W&B record after another to a `StagedRun`."""

    def __init__(self, staged: StagedRun, start_time: float) -> None:
        self.staged = staged
        self.start_time = start_time
        self.last_time = start_time
        self.summary: dict[str, Any] = {}
        self.exit: Any = None
        self.console_lines = 0
        self._runs_seen = 0
        self._partial: dict[str, tuple[float, str]] = {}  # stream -> (time of first chunk, text)
        self._lines: list[tuple[float, str, str]] = []
        self._not_carried: Counter[str] = Counter()
        self._found_metadata: dict[str, Any] = {}
        self._samples: list[dict[str, Any]] = []
        self._alerts: list[dict[str, Any]] = []

    def apply(self, record: Any) -> None:
        kind = record.WhichOneof("record_type")
        handler = getattr(self, f"_{kind}", None)
        if handler is not None:
            handler(getattr(record, kind))
        elif kind in _NOT_CARRIED:
            self._not_carried[kind] += 1
        elif kind not in _IGNORED:
            self._not_carried[kind or "empty"] += 1

    def close(self) -> None:
        for stream, (ts, text) in self._partial.items():
            if text:
                self._lines.append((ts, stream, text))
        self._partial.clear()
        self._flush_lines()
        self._flush_samples()
        if self._alerts:
            # Kept where run.alert() keeps them, never sent again to a webhook (they are history).
            self._found_metadata["alerts"] = self._alerts[-_MAX_ALERTS:]
        if self._found_metadata:
            self.staged.environment(self._found_metadata)
        final = {k: v for k, v in self.summary.items() if k not in _INTERNAL_KEYS}
        if final:
            self.staged.summary(final)
        for kind, count in sorted(self._not_carried.items()):
            what = _NOT_CARRIED.get(kind, f"{kind} records (not understood)")
            self.staged.problems.append(f"{count} {kind} record(s) not carried: {what}")

    def ending(self) -> Ending:
        if self.exit is None:
            return Ending("crashed", None, self.last_time)
        end = max(self.last_time, self.start_time + self.exit.runtime)
        code = int(self.exit.exit_code)
        return Ending("finished" if code == 0 else "failed", code, end)

    # -- one method per record kind -----------------------------------------

    def _run(self, run: Any) -> None:
        self._runs_seen += 1
        if self._runs_seen > 1:  # the first one opened the run; later ones change it
            fields = run_fields(run)
            if fields:
                self.staged.update_fields(**fields)
            self._config(run.config)

    def _config(self, config: Any) -> None:
        update = config_items(config)
        if update:
            self.staged.config(update)

    def _history(self, history: Any) -> None:
        row: dict[str, Any] = {}
        step, ts = int(history.step.num), 0.0
        for item in history.item:
            path = item_path(item)
            if path == ["_step"]:
                step = int(value(item))
            elif path == ["_timestamp"]:
                ts = float(value(item))
            elif path[0] not in _INTERNAL_KEYS:
                _set(row, path, value(item))
        ts = ts or self.last_time
        self.last_time = max(self.last_time, ts)
        self.staged.log(row, step, ts)

    def _summary(self, summary: Any) -> None:
        for item in summary.update:
            _set(self.summary, item_path(item), value(item))
        for item in summary.remove:
            _remove(self.summary, item_path(item))

    def _output_raw(self, output: Any) -> None:
        stream = _STREAMS.get(int(output.output_type), "stdout")
        ts = output.timestamp.ToMicroseconds() / 1e6 if output.HasField("timestamp") else self.last_time
        self.last_time = max(self.last_time, ts)
        first, text = self._partial.get(stream, (ts, ""))
        text += output.line
        *lines, rest = text.split("\n")
        for line in lines:
            self._lines.append((first, stream, line))
            first = ts
        self._partial[stream] = (first if rest else ts, rest)
        if len(self._lines) >= _LINES_PER_RECORD:
            self._flush_lines()

    def _output(self, output: Any) -> None:
        self._output_raw(output)

    def _metric(self, metric: Any) -> None:
        if metric.expanded_from_glob:
            return
        summary = ",".join(f for f in _SUMMARY_FLAGS if getattr(metric.summary, f))
        try:
            definition = make_metric(
                metric.name or metric.glob_name, metric.step_metric or None,
                metric.options.step_sync or None, metric.options.hidden or None,
                summary or None, _GOALS.get(int(metric.goal)), None,
            )
        except Error as exc:
            self.staged.problems.append(f"define_metric({metric.name or metric.glob_name!r}) left out: {exc}")
            return
        self.staged.metric(definition.to_dict())

    def _stats(self, stats: Any) -> None:
        found = wandb_stats.sample(stats)
        if found is None:
            return
        self._samples.append(found)
        if len(self._samples) >= _SAMPLES_PER_RECORD:
            self._flush_samples()

    def _alert(self, alert: Any) -> None:
        # W&B's record has no time of its own: the time of the last record before it.
        self._alerts.append({
            "title": alert.title, "text": alert.text, "level": alert.level or "INFO",
            "wait_duration": alert.wait_duration / 1000.0,  # W&B records milliseconds
            "timestamp": self.last_time,
        })

    def _artifact(self, artifact: Any) -> None:
        found = wandb_artifacts.to_artifact(artifact)
        if isinstance(found, str):
            self.staged.problems.append(f"{found}: left out")
            return
        self.staged.artifact(found[0], found[1], self.last_time)

    def _exit(self, exit_record: Any) -> None:
        self.exit = exit_record

    def _files(self, files: Any) -> None:
        pass  # the files themselves are in the run folder's files/, carried at the end

    def _environment(self, environment: Any) -> None:
        self._found_metadata.update(_metadata(environment))

    def _flush_samples(self) -> None:
        if self._samples:
            self.staged.system(self._samples)
            self._samples = []

    def _flush_lines(self) -> None:
        if self._lines:
            self.console_lines += len(self._lines)
            self.staged.output(self._lines)
            self._lines = []


def _metadata(env: Any) -> dict[str, Any]:
    """W&B's EnvironmentRecord under the names of mytrack's run metadata."""
    out: dict[str, Any] = {}
    for source, target in (
        ("os", "os"), ("python", "python"), ("host", "hostname"), ("program", "program"),
        ("executable", "executable"), ("root", "cwd"), ("username", "user"), ("docker", "docker"),
        ("cuda_version", "cuda_version"),
    ):
        if getattr(env, source):
            out[target] = getattr(env, source)
    if env.args:
        out["argv"] = [env.program, *env.args] if env.program else list(env.args)
    if env.cpu_count_logical or env.cpu_count:
        out["cpu_count"] = int(env.cpu_count_logical or env.cpu_count)
    if env.HasField("memory") and env.memory.total:
        out["memory_total_mb"] = int(env.memory.total) // 2**20
    if env.HasField("git") and (env.git.commit or env.git.remote_url):
        out["git"] = {"commit": env.git.commit, "remote": env.git.remote_url}
    if env.gpu_nvidia:
        out["gpu"] = {"devices": [{"name": g.name, "memory_total": int(g.memory_total)} for g in env.gpu_nvidia]}
    return out
